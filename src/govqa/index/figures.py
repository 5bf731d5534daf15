"""Figures: every stated quantity of a report as a row, extracted once at index time.

A figure is a number with its unit or measure word (1580套, 9.94万平方米, 81%, 80余家, 1-2次, 近百个), what it
counts (the clause it sits in, without the number: 拆除群租房), the year it belongs to, whether it was achieved
or is planned, and where it stands (document, paragraph, sentence) so that it can be cited verbatim.

    >>> [(f.value, f.unit, f.counted) for f in extract_figures(doc)]       # doctest: +SKIP
    [(1580.0, '套', '拆除群租房'), ...]

What is deliberately *not* a figure:

* a number without a unit or measure word: dates and years (2019年, 10月底), list numbering (19、, (3)),
  codes (“151030”办结机制), table cells such as 序号 10;
* addresses and names: 295弄, 4号楼, 15分钟生活圈 (分钟, 弄 and 号 are not units here);
* numbers inside quotation marks or book titles: “七个一”行动, “六个一批”, 《壮丽70年》 are names;
* ordinals (第一家) and the determiners 一 and 两 written in characters (开展一次…, 两个层级), which in these
  reports almost never state a quantity.

Years come from the sentence first (2020年…整治群租18起, 力争2023年底建成…), then from the section heading
(一、2019年工作回顾 / 二、2020年主要任务), then from a table's caption (表3:…2022年重点任务清单), then from the
document when it covers a single year. Status comes from the section's sense (回顾, 成效 vs 任务, 计划, 建议),
overridden by a sentence's own words (力争, 计划, 拟 ...), and from the document's type where no section says.

Rows are stored in the index's SQLite (table ``figures``) by the build, reused for unchanged documents like
their vectors, so a figures query reads a table and never parses text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from ..ingest.chunking import sentence_spans
from ..records import Document, Paragraph

# Bump when extraction changes: the next build extracts every document again instead of reusing rows.
FIGURES_VERSION = "2"  # 2: a year named in a sentence carries to the next ones of its paragraph

DONE = "done"
PLANNED = "planned"

# Units and measure words, longest first so that 平方米 wins over 平方 and 人次 over 人.
UNITS: tuple[str, ...] = tuple(
    sorted(
        (
            "平方公里 平方千米 平方米 平方 立方米 公顷 亩 公里 千米 米 吨 "
            "万元 亿元 千元 元 "
            "人次 户次 场次 批次 车次 家次 "
            "台 套 个 户 人 名 位 家 次 场 项 条 处 所 支 批 件 间 张 起 轮 份 具 栋 幢 座 辆 部 块 棵 株 "
            "只 本 册 篇 种 类 期 组 门 盏 根 把 床 处次 单 笔 余件 "
            "% 倍 千瓦"
        ).split(),
        key=len,
        reverse=True,
    )
)
_UNIT = "|".join(re.escape(u) for u in UNITS)
_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_ALL = _CN_DIGITS + "十百千万亿"
# A number: Arabic (with thousands separators and decimals) or Chinese numerals, optionally a range.
_ARABIC = r"\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER = re.compile(
    rf"(?P<a>{_ARABIC}|[{_CN_ALL}]+)"
    rf"(?:\s*(?P<dash>[-~～—–至到])\s*(?P<b>{_ARABIC}|[{_CN_ALL}]+))?"
    rf"(?P<mult>万|亿)?"
    rf"(?P<approx>余|多|左右)?"
    rf"\s*(?P<unit>{_UNIT})"
    rf"(?P<approx2>余|多)?"
)
# Words before a number that make it a bound or a round figure (近百, 约6300起, 超80%). Looked up behind a match
# rather than matched: a pattern that starts with a character class lets the regex engine skip ahead fast.
_APPROX_BEFORE = ("超过", "达到", "近", "约", "超", "逾")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年")
_YEAR_RANGE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*[-~～—–至到]\s*((?:19|20)\d\d)\s*年?")
_CAPTION = re.compile(r"^表\s*\d+")
_DURATION_OR_NAME = re.compile(r"工作日|月|小时|季度|年度|全会|规定|届")
_QUOTED = re.compile(r"“[^”]{0,30}”|《[^》]{0,60}》|\"[^\"]{0,30}\"")
_CLAUSE = re.compile(r"[^,，、;；:：]+")
_CELL_HEADER = re.compile(r"^[^\s\d]{1,8}\s+(?=\S)")

# Section headings that say what their sentences report.
_DONE_SECTION = re.compile(r"回顾|总结|成效|成绩|做法|基本情况|主要特点|过去|工作情况|完成情况|一年来")
_PLANNED_SECTION = re.compile(r"任务|计划|目标|举措|建议|对策|思路|打算|安排|展望|要点|行动|保障措施|形势|清单")
# A sentence's own words override its section: a review may mention a target, a plan a finished step.
_PLANNED_WORDS = re.compile(r"力争|计划|拟|争取|预计|目标|将于|将在|将进一步|将继续|将全面|到\d{4}年")
_DONE_WORDS = re.compile(r"完成|累计|共计|已|建成|实现|达到|新增|开展|举办|发布|截[至止]")
_PLANNED_DOC_TYPES = ("计划", "规划", "要点", "方案")


@dataclass(frozen=True)
class Figure:
    """One stated quantity. Offsets are into the cleaned document text, as a Citation's are."""

    doc_id: str
    paragraph: int  # 1-based paragraph number
    value_text: str  # as written: 80余家, 9.94万平方米
    value: float  # 9.94万 -> 99400; a range's lower end
    value_high: float | None  # a range's upper end (1-2次), else None
    approx: bool  # 余, 多, 近, 约, 超 ...: the value is a bound or a round number
    unit: str  # 台, 套, 平方米, 万元, %, 人次 ... (万元 and 亿元 stay units: money is counted in them)
    counted: str  # what it counts: its clause without the number (拆除群租房)
    year: int | None
    status: str  # DONE or PLANNED
    char_start: int  # of value_text
    char_end: int
    sentence_start: int  # of the sentence holding it: the citation's quote
    sentence_end: int
    lead: str  # the paragraph's inline title (3、生活垃圾分类工作成效显著), when it has one: topic context
    section_path: tuple[str, ...] = ()
    page: int | None = None


def extract_figures(doc: Document) -> list[Figure]:
    """Every figure stated in `doc`, in reading order."""
    figures: list[Figure] = []
    caption_year: int | None = None
    for para in doc.paragraphs:
        if para.kind != "table":
            if _CAPTION.match(para.text):
                caption_year = _single_year(para.text)
            elif para.kind == "heading":
                caption_year = None
        if para.kind == "heading" or _is_glossary(para):
            continue
        figures.extend(_paragraph_figures(doc, para, caption_year if para.kind == "table" else None))
    return figures


def _is_glossary(para: Paragraph) -> bool:
    # 名词解释 entries define terms (“五违四必”:...); their numbers are names, not figures.
    return any("名词解释" in h for h in para.section_path)


def _paragraph_figures(doc: Document, para: Paragraph, caption_year: int | None) -> Iterator[Figure]:
    # One scan of the whole paragraph first: most sentences state no number, and only those that do are
    # cut out and read closely (this keeps extraction a small share of a build without a model).
    starts = [m.start() for m in _NUMBER.finditer(para.text)]
    if not starts:
        return
    lead = _lead(para)
    section_year, section_status = _section_sense(para.section_path)
    carried: int | None = None  # a year one sentence names holds for the next ones of its paragraph
    for a, b in _sentences(para):
        sentence = para.text[a:b]
        named = _sentence_year(sentence, len(sentence))
        if not any(a <= x < b for x in starts):
            carried = named or carried
            continue
        names = [m.span() for m in _QUOTED.finditer(sentence)]
        for m in _NUMBER.finditer(sentence):
            if any(x <= m.start() < y for x, y in names) or not _is_quantity(sentence, m):
                continue
            value, high = _values(m)
            if value is None:
                continue
            unit = m.group("unit")
            if unit == "平方":
                unit = "平方米"
            year = (
                _sentence_year(sentence, m.start())
                or carried
                or section_year
                or caption_year
                or (doc.meta.year_start if doc.meta.year_start == doc.meta.year_end else None)
            )
            yield Figure(
                doc_id=doc.doc_id,
                paragraph=para.number,
                value_text=m.group(0),
                value=value,
                value_high=high,
                approx=bool(_approx_word(sentence, m.start()) or m.group("approx") or m.group("approx2")),
                unit=unit,
                counted=_counted(sentence, m),
                year=year,
                status=_status(sentence, section_status, doc.meta.doc_type),
                char_start=para.char_start + a + m.start(),
                char_end=para.char_start + a + m.end(),
                sentence_start=para.char_start + a,
                sentence_end=para.char_start + b,
                lead=lead,
                section_path=para.section_path,
                page=para.page,
            )
        carried = named or carried


def _sentences(para: Paragraph) -> list[tuple[int, int]]:
    """Sentence spans, whitespace trimmed. A rebuilt table row ("标题: 列 值, 列 值") is cut into its cells."""
    text = para.text
    if para.kind == "table":
        spans, start = [], 0
        for m in re.finditer(r":\s|,\s", text):
            spans.append((start, m.start()))
            start = m.end()
        spans.append((start, len(text)))
        spans = [s for a, b in spans for s in _shift(sentence_spans(text[a:b]), a)]
    else:
        spans = sentence_spans(text)
    out = []
    for a, b in spans:
        piece = text[a:b]
        stripped = piece.strip()
        if stripped:
            start = a + len(piece) - len(piece.lstrip())
            out.append((start, start + len(stripped)))
    return out


def _shift(spans: list[tuple[int, int]], by: int) -> list[tuple[int, int]]:
    return [(a + by, b + by) for a, b in spans]


def _is_quantity(sentence: str, m: re.Match[str]) -> bool:
    a = m.group("a")
    before = sentence[max(0, m.start() - 1) : m.start()]
    after = sentence[m.end() : m.end() + 2]
    if before == "第" or (before and (before.isdigit() or before == ".")):
        return False  # an ordinal, or the tail of a longer number the pattern started inside
    if not a[0].isdigit():
        # 一 and 两 alone are determiners (开展一次…, 两个层级), and a run of numerals + 个 followed by a numeral
        # is a slogan (七个一, 三个一批).
        if a in ("一", "两", "二", "〇", "零") and not m.group("b") and not m.group("mult"):
            return False
        if a in ("十", "百", "千", "万") and _approx_word(sentence, m.start()) != "近":
            return False  # 十大, 百姓, 千家万户: words, not counts (近百 keeps its 近)
        if after[:1] in _CN_ALL:
            return False
    if m.group("unit") == "%" and not a[0].isdigit():
        return False
    if _DURATION_OR_NAME.match(sentence, m.end()):
        return False  # 10个工作日, 3个月: durations; 十次全会, 八项规定: names
    if m.group("unit") == "期" and not a[0].isdigit():
        return False  # 东新村四期: a project's phase
    # 2019年 never reaches here (年 is not a unit); a year followed by a measure word is a date: 2020年10月.
    if a.isdigit() and len(a) == 4 and a.startswith(("19", "20")) and m.group("unit") in ("个", "期"):
        return False
    return True


def _approx_word(text: str, start: int) -> str:
    word = next((w for w in _APPROX_BEFORE if text.startswith(w, start - len(w))), "") if start else ""
    if word == "约" and start >= 2 and text[start - 2] in "签合预制公条节契违履":
        return ""  # 签约16台: signed, not about
    return word


def _cn_number(text: str) -> float | None:
    """一百二十 -> 120, 三十五 -> 35, 两千 -> 2000, 二〇一九 -> 2019; None if it is not a numeral."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    units = {"十": 10, "百": 100, "千": 1000}
    if all(c in digits for c in text):
        return float("".join(str(digits[c]) for c in text)) if len(text) > 1 else float(digits[text])
    total, section, number = 0, 0, 0
    for c in text:
        if c in digits:
            number = digits[c]
        elif c in units:
            section += (number or 1) * units[c]
            number = 0
        elif c == "万":
            total += (section + number) * 10_000
            section = number = 0
        elif c == "亿":
            total = (total + section + number) * 100_000_000
            section = number = 0
        else:
            return None
    return float(total + section + number)


def _number(text: str) -> float | None:
    if text[0].isdigit():
        return float(text.replace(",", ""))
    return _cn_number(text)


def _values(m: re.Match[str]) -> tuple[float | None, float | None]:
    scale = {"万": 10_000, "亿": 100_000_000}.get(m.group("mult") or "", 1)
    value = _number(m.group("a"))
    high = _number(m.group("b")) if m.group("b") else None
    if value is None:
        return None, None
    return value * scale, (high * scale if high is not None else None)


def _counted(sentence: str, m: re.Match[str]) -> str:
    """The clause the figure sits in, without the figure and the padding words around it. A bare number after
    another ("违建累计销项1145处、9.94万平方米", "拆除违章建筑点位32个,共4184平方米") counts what the clause before it
    counts, in another unit."""
    clauses = list(_CLAUSE.finditer(sentence))
    for n, c in enumerate(clauses):
        if c.start() <= m.start() < c.end():
            text = _phrase(sentence[c.start() : m.start()] + sentence[m.end() : c.end()])
            if not text and n:  # 拆除违章建筑点位32个,共4184平方米: the area of the same thing
                previous = clauses[n - 1]
                text = _phrase(_NUMBER.sub("", previous.group()))
            return text
    return ""


def _phrase(text: str) -> str:
    text = _CELL_HEADER.sub("", text.strip())  # 主要内容 持续推进…: a rebuilt table cell's column name
    text = re.sub(r"^(其中|并|共|全年共|全年|累计|截至目前|目前)", "", text)
    return text.strip(" 。;.,")


def _lead(para: Paragraph) -> str:
    """The paragraph's inline title ('3、生活垃圾分类工作成效显著'), which names the topic of all its sentences."""
    if para.section_path and para.text.startswith(para.section_path[-1]):
        return para.section_path[-1]
    return ""


def _single_year(text: str) -> int | None:
    """The one year `text` names outside spans: 2022 of "行动计划(2021-2023):2022年重点任务清单"."""
    years = {int(y) for y in _YEAR.findall(_YEAR_RANGE.sub("", text))}
    return years.pop() if len(years) == 1 else None


def _sentence_year(sentence: str, before: int) -> int | None:
    """The last year named before the figure in its sentence (2020年…整治群租18起), unless it names a span."""
    head = sentence[:before]
    if _YEAR_RANGE.search(head):
        return None
    years = _YEAR.findall(head)
    return int(years[-1]) if years else None


@lru_cache(maxsize=4096)
def _section_sense(path: tuple[str, ...]) -> tuple[int | None, str | None]:
    """The year and status a section's headings give, innermost heading first."""
    year: int | None = None
    status: str | None = None
    for heading in reversed(path):
        if year is None:
            year = _single_year(heading)
        if status is None:
            planned = _PLANNED_SECTION.search(heading)
            done = _DONE_SECTION.search(heading)
            if planned and not done:
                status = PLANNED
            elif done and not planned:
                status = DONE
    return year, status


def _status(sentence: str, section: str | None, doc_type: str | None) -> str:
    if _PLANNED_WORDS.search(sentence):
        return PLANNED
    if section is not None:
        return section
    if doc_type and any(t in doc_type for t in _PLANNED_DOC_TYPES):
        return PLANNED
    return DONE


# ------------------------------------------------------------------------------------------------ storage

SCHEMA = """
CREATE TABLE figures (doc_id TEXT NOT NULL, paragraph INTEGER NOT NULL, value_text TEXT NOT NULL,
                      value REAL NOT NULL, value_high REAL, approx INTEGER NOT NULL, unit TEXT NOT NULL,
                      counted TEXT NOT NULL, year INTEGER, status TEXT NOT NULL,
                      char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
                      sentence_start INTEGER NOT NULL, sentence_end INTEGER NOT NULL, lead TEXT NOT NULL,
                      section_path TEXT NOT NULL, page INTEGER, sentence TEXT NOT NULL);
"""
_COLUMNS = (
    "doc_id, paragraph, value_text, value, value_high, approx, unit, counted, year, status, "
    "char_start, char_end, sentence_start, sentence_end, lead, section_path, page, sentence"
)


@dataclass(frozen=True)
class StoredFigure:
    """A figure as the index holds it: the Figure and the verbatim sentence it is cited by."""

    figure: Figure
    sentence: str


@lru_cache(maxsize=4096)
def _path(raw: str) -> tuple[str, ...]:
    # A report's few hundred headings recur on all of its figures: decode each path once.
    return tuple(json.loads(raw))


def figure_rows(doc: Document) -> list[tuple]:
    """`doc`'s figures as rows of the figures table."""
    return [_row(f, doc.text[f.sentence_start : f.sentence_end]) for f in extract_figures(doc)]


def _row(f: Figure, sentence: str) -> tuple:
    return (
        f.doc_id,
        f.paragraph,
        f.value_text,
        f.value,
        f.value_high,
        int(f.approx),
        f.unit,
        f.counted,
        f.year,
        f.status,
        f.char_start,
        f.char_end,
        f.sentence_start,
        f.sentence_end,
        f.lead,
        json.dumps(f.section_path, ensure_ascii=False),
        f.page,
        sentence,
    )


def write_rows(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany(f"INSERT INTO figures ({_COLUMNS}) VALUES ({','.join('?' * 18)})", rows)


def read_rows(db: sqlite3.Connection, doc_ids: set[str] | None = None) -> dict[str, list[tuple]]:
    """Stored rows by document (of `doc_ids` only, if given); {} when the index has no figures table."""
    by_doc: dict[str, list[tuple]] = {}
    try:
        rows = db.execute(f"SELECT {_COLUMNS} FROM figures ORDER BY rowid")
        for row in rows:
            if doc_ids is None or row[0] in doc_ids:
                by_doc.setdefault(row[0], []).append(row)
    except sqlite3.OperationalError:  # an index built before figures were extracted
        return {}
    return by_doc


def load_figures(db: sqlite3.Connection) -> list[StoredFigure] | None:
    """Every stored figure in reading order; None when the index was built before figures existed."""
    try:
        rows = db.execute(f"SELECT {_COLUMNS} FROM figures ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:
        return None
    out = []
    for r in rows:
        figure = Figure(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            bool(r[5]),
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            _path(r[15]),
            r[16],
        )
        out.append(StoredFigure(figure, r[17]))
    return out
