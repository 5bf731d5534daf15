"""Read a document's title, issuing street and district, covered years, publish date and type.

A city's corpus mixes 街道 work reports with district notices, bureau announcements and news items, and their
bodies name other places in passing (各街镇…, 家住康健街道的市民…). So every field is read from where a
document states it, never guessed from words in its body:

* street and district: from where an issuer is named - the title's leading words (2019年长寿路街道…,
  普陀区万里街道…, …办事处关于…), labelled header fields (发文机构/发布机构/来源), an organisation line in the
  header, the issuer-and-date lines at the end (…街道办事处 2020年2月1日), or the document speaking for itself
  at its opening (我代表…街道办事处; …街道党工委、办事处在区委…领导下). A street must be a township-level
  division in the gazetteer (`gazetteer.py`), so a fragment such as 由乡镇 or 个街镇 never is one; what no
  issuer position names stays None.
* title: the first heading-like line or, for a text without line breaks, its leading title-like span (up to
  the document-type word after 关于, a gap, a date or a sentence end), never over TITLE_LIMIT characters.
* type: from the title (通知, 公告, 方案 … 工作报告, 工作计划), or 新闻 for a news item; year: from the title
  and the date lines, with the publish date kept apart.

A sidecar file `<report file>.meta.toml` beside the report overrides any field, e.g.::

    street = "塘桥街道"
    year_start = 2019
"""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..records import DocMeta
from ..zh import YEAR
from .gazetteer import Gazetteer, gazetteer

SIDECAR_SUFFIX = ".meta.toml"
# Part of a document's content hash: a chunk's search text starts with its document's title, so when the
# reader finds other titles (a one-line text's title was all of it), an index must embed its chunks anew.
METADATA_VERSION = "2"

# Shanghai's 16 districts; the short form is how reports usually name them (来源: 上海普陀).
DISTRICTS = {
    "黄浦": "黄浦区",
    "徐汇": "徐汇区",
    "长宁": "长宁区",
    "静安": "静安区",
    "普陀": "普陀区",
    "虹口": "虹口区",
    "杨浦": "杨浦区",
    "闵行": "闵行区",
    "宝山": "宝山区",
    "嘉定": "嘉定区",
    "浦东": "浦东新区",
    "金山": "金山区",
    "松江": "松江区",
    "青浦": "青浦区",
    "奉贤": "奉贤区",
    "崇明": "崇明区",
}
# The word that ends a title names its type (关于印发…工作方案的通知 is a 通知); the longest wins (行动计划
# over 计划).
DOC_TYPES = (
    ("行动计划", "行动计划"),
    ("工作计划", "工作计划"),
    ("工作要点", "工作要点"),
    ("工作总结", "工作总结"),
    ("工作报告", "工作报告"),
    ("社代会报告", "工作报告"),
    ("代表会议上的报告", "工作报告"),
    ("政府工作报告", "工作报告"),
    ("报告", "工作报告"),
    ("总结", "工作总结"),
    ("计划", "工作计划"),
    ("规划", "规划"),
    ("规划纲要", "规划"),
    ("通知", "通知"),
    ("通告", "通告"),
    ("公告", "公告"),
    ("意见", "意见"),
    ("实施方案", "方案"),
    ("工作方案", "方案"),
    ("方案", "方案"),
    ("办法", "办法"),
    ("细则", "办法"),
    ("通报", "通报"),
    ("公示", "公示"),
    ("简报", "简报"),
    ("决定", "决定"),
    ("批复", "批复"),
    ("倡议书", "倡议书"),
    ("公开信", "公开信"),
    ("指南", "指南"),
)
PLAN_TYPES = {"行动计划", "工作计划", "工作要点", "规划"}
NEWS = "新闻"

TITLE_LIMIT = 80  # no title is longer; a span cut without a clear end stops at TITLE_SPAN
TITLE_SPAN = 60
MIN_TITLE = 6  # a cut that would leave fewer characters is not the title's end
HEADER_LINES = 8  # title, source and date lines sit at the top of every report seen so far
HEADER_CHARS = 160  # a text without line breaks: how far after the title its source and date labels may be
SHORT_LINE = 40  # a header line this short can be a date or organisation line; longer is body text

_DATE = re.compile(r"(20\d\d|19\d\d)\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})\s*日?")
_DATE_LABEL = re.compile(r"(发布日期|发布时间|成文日期|印发日期|发文日期|日期|时间)\s*[|:：]?\s*[|]?\s*")
# Narrower than zh.YEAR_RANGE (no 年 after the first year, no ～): built indexes hold the covered years it read,
# and a wider pattern would change them.
_YEAR_RANGE = re.compile(r"((?:19|20)\d\d)\s*[-—–~至到]\s*((?:19|20)\d\d)\s*年?")
_REVIEW_YEAR = re.compile(r"((?:19|20)\d\d)\s*年度?\s*(?:工作)?回顾")
_CN = "\u4e00-\u9fff"

# ---------------------------------------------------------------------------------------------- title
_NAV_LINE = re.compile(r"^(首页|您?当前的?位置|您所在的位置|您的位置|位置[:：])")
# A red-head document's first lines: its issuer (…人民政府文件) and number (徐府发〔2020〕5号), then the title.
_RED_HEAD = re.compile(r"^(?:中共)?\S{2,40}文件$|^\S{0,20}[〔\[（(]\s*(?:19|20)\d\d\s*[〕\]）)]\s*\d+\s*号$")
# What a page flattened to one line may carry before its title: the navigation trail (您当前的位置：首页 >
# 新闻中心 > 街镇动态) and labelled fields (索引号：… 发布机构：… 发布日期：…).
_LEADING_FIELDS = re.compile(
    r"^(?:(?:您?当前的?位置|您所在的位置|您的位置)[:：]\s*(?:[^\s>＞»]+\s*[>＞»]\s*)*[^\s>＞»]+\s+"
    r"|(?:索引号|发布机构|发文机构|发布日期|发布时间|成文日期|公开类别|主题分类|文号)\s*[:：]\s*\S+\s+)+"
)
_TYPE_WORDS = "|".join(sorted({w for w, _ in DOC_TYPES} | {"请示", "函"}, key=len, reverse=True))
_TYPE_WORD = re.compile(_TYPE_WORDS)
# What follows a title's type word when the body starts right after it: 通知各居委会：… / 报告 各位代表：…
_BODY_START = re.compile(r"[\s:：]|各|全体|广大|根据|为了?|按照|近日|(?:19|20)\d\d年|\d{1,2}月\d{1,2}日")
# A type word inside the title, not its end: 关于印发…方案的通知, 《…办法》, 通知和公告
_NOT_END = re.compile(r"[的》」”、和及与]")
_LABEL = re.compile(r"(发布时间|发布日期|成文日期|来源|信息来源|文章来源|作者|浏览次数|点击数|字号|责任编辑)\s*[:：]")
_GAP = re.compile(r"\s+|\u3000+")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_DAY = re.compile(r"(?:(?:19|20)\d\d\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*日")
_NEWS_LEAD = re.compile(r"本报讯|本台讯|记者(?:从|获悉|了解到|近日|日前)|据悉|近日，|日前，|连日来")
_SOFT_CUT = re.compile(r"[，,：:]")


def split_title(line: str, one_line: bool = False) -> tuple[str, str]:
    """(title, the rest) of a document's first line. A title-sized first line of a text with line breaks is
    all title; a longer one, or the line of a text without breaks, is cut after its leading title-like span,
    and the rest is that text's header and body."""
    line = line.strip()
    whole = len(line) <= TITLE_SPAN and not _SENTENCE_END.search(line[:-1])
    cut = len(line) if whole and not one_line else _title_end(line)
    title = clean_title(line[:cut]) if cut < len(line) else clean_title(line)
    return title, line[cut:].strip()


def _title_end(line: str) -> int:
    head = line[: TITLE_LIMIT + 1]
    # 1. A notice: the type word that ends the 关于 phrase (…关于暂停接待群众来访的通知).
    if (about := head.find("关于")) >= 0:
        for m in _TYPE_WORD.finditer(head, about + 2):
            in_book_title = head.count("《", 0, m.end()) > head.count("》", 0, m.end())  # 《…方案》
            if not in_book_title and not _NOT_END.match(line, m.end()):
                return m.end()
    # 2. Where the page puts a gap or a label between title and text (标题 发布时间：…).
    gaps = [m.start() for p in (_LABEL, _GAP) for m in p.finditer(head) if MIN_TITLE <= m.start()]
    if gaps:
        return min(gaps)
    # 3. A type word the body starts right after (…2021年工作计划各居委会：…).
    for m in _TYPE_WORD.finditer(head):
        if m.end() >= MIN_TITLE and (m.end() == len(line) or _BODY_START.match(line, m.end())):
            return m.end()
    # 4. A news item's dateline or its first sentence's end.
    ends = [m.start() for p in (_DAY, _SENTENCE_END, _NEWS_LEAD) for m in p.finditer(head) if m.start() >= MIN_TITLE]
    if ends and min(ends) <= TITLE_SPAN:
        return min(ends)
    # 5. No clear end: the last clause break before TITLE_SPAN, else TITLE_SPAN characters.
    soft = [m.start() for m in _SOFT_CUT.finditer(line, 0, TITLE_SPAN) if m.start() >= MIN_TITLE]
    return soft[-1] if soft else min(len(line), TITLE_SPAN)


def clean_title(line: str) -> str:
    # "安康和美·活力长白行动计划(2021-2023年) 2021-08-31": the date belongs to the header, not the title.
    title = _DATE.sub("", line).strip(" |,，:：。") or line.strip()
    if len(title) > TITLE_LIMIT:  # a loader's stated title (a page's <title>) can be anything
        title = title[: _title_end(title)].strip(" ,，:：。")
    return title


def _title_index(lines: list[str]) -> int:
    """The first heading-like line: not a page's navigation trail."""
    heading = (i for i, line in enumerate(lines[:HEADER_LINES]) if not (_NAV_LINE.match(line) or _RED_HEAD.match(line)))
    return next(heading, 0)


# ---------------------------------------------------------------------------------------------- issuer
_ISSUER_LABEL = re.compile(
    r"(发文机构|发布机构|发文机关|发文单位|发布单位|信息来源|文章来源|来源|发布者)(?:\s*[|:：]\s*\|?|\s+)\s*"
)
_ISSUER_VALUE = re.compile(rf"[{_CN}（）()·]{{2,40}}")
_ORG_END = (
    "办事处|人民政府|政府|办公厅|党工委|工作委员会|委员会|工委|办公室|指挥部|领导小组|管理委员会|管委会|"
    "局|委|中心|街道|镇|乡"
)
_ORG_LINE = re.compile(rf"^(?:中共)?[{_CN}（）()·\s]{{2,40}}?(?:{_ORG_END})(?:文件|通知)?$")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0}
_CN_DATE = re.compile(
    r"([〇○零O一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,2})\s*月\s*([一二三四五六七八九十]{1,3})\s*日"
)
_CLOSING_DATE = re.compile(r"((?:19|20)\d\d)\s*[年/.-]\s*(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?\s*[)）]?\s*$")
_SIGNATURE = re.compile(rf"(?:^|[。！？；;，,：:\n])\s*((?:[{_CN}（）()·]+\s*){{1,4}})$")
_SIGNER = re.compile(rf"^(?:中共)?[{_CN}（）()·]{{2,40}}?(?:{_ORG_END})$")
_ON_BEHALF = re.compile(rf"我代表([{_CN}（）()·]{{2,40}}?)(?:办事处|人民政府|党工委)")
# At the start of a paragraph, the subject of the sentence: the street's own organs (a name mid-sentence is
# a place the text talks about).
_OWN_ORGANS = re.compile(rf"^\s*([{_CN}]{{2,14}}?)(?:党工委|办事处|党委)[、和与](?:党工委|办事处|党委)", re.M)
_LEAD_TAG = re.compile(r"^(?:【[^】]{0,12}】|\[[^\]]{0,12}\]|(?:19|20)\d\d\s*年度?|中共|\s)+")
OPENING_CHARS = 2000  # where a report says who speaks (我代表…街道办事处)


@dataclass(frozen=True)
class _Issuer:
    street: str | None = None
    district: str | None = None


def _leading_issuer(title: str, gz: Gazetteer) -> _Issuer:
    """The street and district a title or an issuer's name leads with: [year][province][city][district][人民政府]
    street ….

    Only the leading words: a title that names a place further on (…在康健新村街道召开…) is about it, and a
    notice's issuer precedes its 关于."""
    s = _LEAD_TAG.sub("", title)
    district = None
    while True:
        upper = next((s[:k] for k in range(min(len(s), 10), 1, -1) if s[:k] in gz.upper), None)
        county = next((s[:k] for k in range(min(len(s), 10), 1, -1) if s[:k] in gz.counties), None)
        if county and (not upper or len(county) >= len(upper)):
            district, s = county, s[len(county) :]
        elif upper:
            s = s[len(upper) :]
        elif s.startswith(("人民政府", "政府")):
            s = s.removeprefix("人民").removeprefix("政府")
        else:
            break
    street = gz.township_at(s)
    if street and re.match(r"[、等和与及]", s[len(street) :]):
        street = None  # 康健新村街道、漕河泾街道入选…: a list of places the title is about
    return _Issuer(street, district)


def _places(org: str, gz: Gazetteer) -> _Issuer:
    """The street and district that lead an issuer's name (上海市长宁区人民政府新华路街道办事处); for joint
    issuers (徐汇区民政局 徐汇区财政局) each name counts, and the street only when they agree on one. A
    name that does not lead with its place (化肥送到星桥镇) names no issuer."""
    streets, districts = set(), []
    for name in org.split():
        found = _leading_issuer(name, gz)
        if found.street:
            streets.add(found.street)
        if found.district:
            districts.append(found.district)
        elif shanghai := next((full for s, full in DISTRICTS.items() if name.startswith("上海" + s)), None):
            districts.append(shanghai)  # 来源: 上海普陀
    return _Issuer(streets.pop() if len(streets) == 1 else None, districts[0] if districts else None)


def _header_issuer(header: list[str], gz: Gazetteer) -> _Issuer:
    """Labelled issuer fields (发文机构:…, 来源: 上海普陀) and organisation lines (…街道办事处文件)."""
    found = _Issuer()
    for line in header:
        orgs = [v.group(0) for m in _ISSUER_LABEL.finditer(line) if (v := _ISSUER_VALUE.match(line, m.end()))]
        if len(line) <= SHORT_LINE and _ORG_LINE.match(line):
            orgs.append(line)
        for org in orgs:
            found = _merge(found, _places(org, gz))
    return found


def _cn_number(text: str) -> int:
    """十二 -> 12, 三十一 -> 31, 二〇二〇 -> 2020: the numerals official documents date themselves in."""
    if "十" not in text:
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _closing(raw: str) -> tuple[str | None, str | None]:
    """(signature, ISO date) of the issuer-and-date lines that end a notice: …街道办事处 2020年2月1日."""
    tail = raw.rstrip()[-200:]
    date = _CLOSING_DATE.search(tail)
    if date:
        year, month, day = (int(g) for g in date.groups())
    elif (date := _CN_DATE.search(tail)) and not tail[date.end() :].strip(" )）"):
        year, month, day = (_cn_number(g) for g in date.groups())
    else:
        return None, None
    iso = _iso(year, month, day)
    before = tail[: date.start()].rstrip()
    sig = _SIGNATURE.search(before)
    if not sig:
        return None, iso
    signers = sig.group(1).split()
    if not signers or not all(_SIGNER.match(s) for s in signers):
        return None, iso
    return " ".join(signers), iso


def _opening_issuer(raw: str, gz: Gazetteer) -> _Issuer:
    """The document speaking for its issuer in its opening: 我代表普陀区人民政府长寿路街道办事处…, or
    长白新村街道党工委、办事处在区委、区政府的坚强领导下…"""
    opening = raw[:OPENING_CHARS]
    if m := _ON_BEHALF.search(opening):
        return _places(m.group(1), gz)
    if m := _OWN_ORGANS.search(opening):
        name = m.group(1)
        street = next((name[i:] for i in range(len(name) - 1) if name[i:] in gz.townships), None)
        return _Issuer(street)
    return _Issuer()


def _merge(first: _Issuer, then: _Issuer) -> _Issuer:
    return _Issuer(first.street or then.street, first.district or then.district)


def _district_of(street: str, gz: Gazetteer, context: str) -> str | None:
    """The district of a street the gazetteer knows: its only one, or the one whose district or city the
    document's title, header or signature names (新华路街道 is in 12 places)."""
    places = gz.townships.get(street, ())
    districts = {t.district for t in places if t.district}
    if len(districts) > 1:
        named = {t.district for t in places if t.district and (t.district in context or (t.city or "-") in context)}
        districts = named
    return districts.pop() if len(districts) == 1 else None


# ---------------------------------------------------------------------------------------------- document
_NEWS_MARKS = re.compile(r"本报讯|本台讯|记者|通讯员|据悉|近日|日前|连日来|日上午|日下午|日晚|日讯|新华社|报道")
# Only a news item says this in its opening: its title's last word is no type (口罩预约购买有了新办法).
_REPORTER = re.compile(r"本报讯|本台讯|记者|通讯员|新华社")


def extract_metadata(raw: str, fallback_title: str) -> DocMeta:
    gz = gazetteer()
    lines = [line.strip() for line in raw.split("\n") if line.strip()]
    if not lines:
        return DocMeta(title=fallback_title)
    first = _title_index(lines)
    one_line = len(lines) == 1
    lead = _LEADING_FIELDS.match(lines[first]) if one_line else None
    title, rest = split_title(lines[first][lead.end() if lead else 0 :], one_line)
    title = title or fallback_title
    # A text without line breaks carries its header (来源, 发布时间) right after its title.
    header = ([rest[:HEADER_CHARS]] if rest else []) + lines[first + 1 : first + HEADER_LINES]
    header += lines[:first] + ([lead.group(0)] if lead else [])  # red-head lines, fields before the title
    signature, signed = _closing(raw)

    issuer = _merge(_leading_issuer(title, gz), _header_issuer(header, gz))
    if signature:
        issuer = _merge(issuer, _places(signature, gz))
    issuer = _merge(issuer, _opening_issuer(raw, gz))
    district = issuer.district
    if district is None and issuer.street:
        district = _district_of(issuer.street, gz, " ".join([title, *header, signature or ""]))

    title_part = lines[first][: len(lines[first]) - len(rest)]  # a one-line text's title, not its body
    published = _published(title_part, rest, header) or signed
    doc_type = _doc_type(title, rest or " ".join(lines[first + 1 : first + 4]), published is not None)
    year_start, year_end = _covered_years(title, raw, doc_type, published)
    return DocMeta(
        title=title,
        street=issuer.street,
        district=district,
        year_start=year_start,
        year_end=year_end,
        published=published,
        doc_type=doc_type,
    )


_TITLE_TAIL = re.compile(r"(?:[(（〔\[][^)）〕\]]{0,20}[)）〕\]]|\s)+$")


def _doc_type(title: str, lead: str, dated: bool) -> str | None:
    """The type the title ends with (关于印发…方案的通知 is a 通知); else 新闻 for a news item: a title that
    names no type, on a dated page or over a lead that reads like news (记者, 近日, 2月3日上午)."""
    # The type word ends the title, but for a bracketed span or number: 行动计划(2021-2023年), 公告（第3号）.
    if "关于" not in title and _REPORTER.search(lead[:200]):
        return NEWS
    end = _TITLE_TAIL.sub("", title)
    best = max(((len(w), kind) for w, kind in DOC_TYPES if end.endswith(w)), default=None)
    if best:
        return best[1]
    return NEWS if dated or _NEWS_MARKS.search(lead[:200]) else None


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def _published(title_line: str, rest: str, header: list[str]) -> str | None:
    """The publish date: a labelled one (发布日期: …), else one on the title line, right after a one-line
    text's title, or on a short header line (2019年01月30日 来源: 上海普陀); never a date in the body's
    sentences."""
    for line in header:
        for label in _DATE_LABEL.finditer(line):
            if m := _DATE.match(line, label.end()):
                return _iso(*(int(g) for g in m.groups()))
    if m := _DATE.match(rest):
        return _iso(*(int(g) for g in m.groups()))
    for line in [title_line, *header[1 if rest else 0 :]]:
        if (line is title_line or len(line) <= SHORT_LINE) and (m := _DATE.search(line)):
            return _iso(*(int(g) for g in m.groups()))
    return None


def _covered_years(title: str, raw: str, doc_type: str | None, published: str | None) -> tuple[int | None, int | None]:
    if m := _YEAR_RANGE.search(title):
        return int(m.group(1)), int(m.group(2))
    pub_year = int(published[:4]) if published else None
    if doc_type in PLAN_TYPES or doc_type == "工作总结":
        # 2019年工作总结和2020年工作计划 covers both years.
        if years := [int(y) for y in YEAR.findall(title)]:
            return min(years), max(years)
    if doc_type == "工作报告":
        # A 社代会 report is given early in a year and reviews the year before.
        if m := _REVIEW_YEAR.search(raw[:5000]):
            year = int(m.group(1))
            return year, year
        if pub_year:
            return pub_year - 1, pub_year - 1
    if m := YEAR.search(title):
        year = int(m.group(1))
        return year, year
    return (pub_year, pub_year) if pub_year else (None, None)


def sidecar_path(report: Path) -> Path:
    return report.with_name(report.name + SIDECAR_SUFFIX)


def apply_sidecar(meta: DocMeta, report: Path) -> DocMeta:
    """Override extracted fields with those in the report's sidecar file, if it has one."""
    path = sidecar_path(report)
    if not path.exists():
        return meta
    try:
        overrides = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid metadata sidecar: {exc}") from exc
    unknown = set(overrides) - set(DocMeta.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"{path}: unknown metadata fields {sorted(unknown)}; known: {list(DocMeta.__dataclass_fields__)}"
        )
    merged = meta.with_overrides(**{name: _checked(path, name, value) for name, value in overrides.items()})
    if merged.year_start is not None and merged.year_end is not None and merged.year_end < merged.year_start:
        raise ValueError(
            f"{path}: year_end {merged.year_end} is before year_start {merged.year_start}; set both in the sidecar"
        )
    return merged


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
YEARS = range(1949, 2101)  # what a year of a government report can plausibly be


def _checked(path: Path, name: str, value: object) -> object:
    """A sidecar value of the type its DocMeta field needs, or ValueError naming the file and field."""
    if name in ("year_start", "year_end"):
        # bool is an int subclass: `year_start = true` is not a year.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{path}: {name} must be a whole number such as 2019, not {value!r} (write {name} = 2019, no quotes)"
            )
        if value not in YEARS:
            raise ValueError(f"{path}: {name} = {value} is not a plausible year ({YEARS.start}-{YEARS.stop - 1})")
        return value
    if name == "published":
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()  # TOML's bare date: published = 2020-01-16
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            try:
                return datetime.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise ValueError(f"{path}: published must be a date such as 2020-01-16, not {value!r}")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'{path}: {name} must be a non-empty text such as "塘桥街道", not {value!r}')
    return value.strip()
