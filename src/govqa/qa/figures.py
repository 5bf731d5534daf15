"""Figures across streets and years: the stated quantities on one topic, street by street, each cited.

    >>> from govqa.qa import figures
    >>> t = figures.figure_table(qa, "加装电梯", streets=["塘桥", "新华路"])    # doctest: +SKIP
    >>> [(r.street, r.year, r.value_text, r.counted) for r in t.rows]           # doctest: +SKIP
    [('塘桥街道', 2019, '1台', '辖区内正在施工(山泉花苑4号楼)'), ...]

The figures themselves were extracted at index time (index.figures) and are only read here. A figure belongs
to the topic when its paragraph's inline title (which names the topic of every sentence under it:
"3、生活垃圾分类工作成效显著。…安装探头71个"), its sentence's opening clause or its own clause is relevant by the
comparison's own test (compare.relevance: a clause holding the topic's content words, so 电梯加装 finds 加装电梯);
see _topic_text. Two further paths find paraphrases that test misses, in this order of trust:

* short forms: the topic's short form where the reports use it as a word (加梯 for 加装电梯, 违建 for 违法建筑),
  and the long forms of a short topic (加梯 finds 加装电梯), both searched as alternatives of the topic;
* meaning: when no figure matches at all, and for each street whose reports discuss the topic but whose
  figures do not match it, the dense retriever's passages nearest the topic, and in them the figures whose
  sentence holds most (``MIN_CHAR_COVERAGE``) of the topic's characters (给老楼装电梯; 拆除违章建筑点位32个 for
  违法建筑).

Honest gaps: a street without a matching figure is listed with NO_FIGURE when its reports discuss the topic
(the comparison finds a relevant passage) and with NOT_COVERED when they do not. Figures are never added up:
each keeps its own counted phrase and unit, and `measures` groups only figures that count the same thing in
the same unit.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import FiguresUnavailableError  # noqa: F401  (raised here; importable from here as before)
from ..index.figures import DONE, PLANNED, StoredFigure
from ..records import Answer, Citation, Filters, same_place
from . import compare
from .questions import (
    QuestionError,
    check_question,
    place_words,
)

if TYPE_CHECKING:
    from ..index.local import Index
    from .query import Query
    from .retrieval import Retriever


class OpenIndex(Protocol):
    """What the figures table reads of an opened index: `GovQA` is one. A protocol, so that this module (below
    the front door) never imports the door that calls it."""

    index: Index
    retriever: Retriever
    answerer: compare.SentenceRanker


NO_FIGURE = "未给出具体数字"  # the street's reports discuss the topic, without a figure
NOT_COVERED = "报告中未涉及"  # the street's reports do not discuss the topic
STATUSES = (DONE, PLANNED)
# Share of the topic's characters a sentence must hold on the meaning path (see the module doc).
MIN_CHAR_COVERAGE = 0.6
# Passages the meaning path reads: the nearest ones only, a paraphrase's figures sit in the top few.
MEANING_PASSAGES = 10
_ALTERNATIVES = re.compile(r"[/／|｜]")
# Clauses of a sentence, for a figure's topic (see _topic_text): 、 joins the items of one list, not clauses.
_CLAUSE_BREAK = re.compile(r"[,，;；:：]")
_OPENING = re.compile(r"[^,，;；:：]+")
_WORDY = re.compile(r"[^\s共计约合达近超]")
# Characters that carry no topic: 给老楼装电梯 is about 老楼, 装, 电梯.
_FUNCTION_CHARS = set("给的了把在和与及对为将被让各个哪些多少几共是有吗呢")


@dataclass(frozen=True)
class FigureRow:
    street: str
    year: int | None
    status: str  # "done" or "planned"
    value_text: str  # as written: 80余家
    value: float  # 80.0; a range's lower end
    value_high: float | None
    approx: bool
    unit: str
    counted: str  # what it counts: 拆除群租房
    citation: Citation  # the sentence stating it, verbatim, numbered 1.. over the table
    value_start: int  # offsets of value_text in the cited document's cleaned text
    value_end: int

    @property
    def measure(self) -> str:
        """The column this figure belongs in: what it counts and in which unit. Never summed across."""
        return f"{self.counted}（{self.unit}）"


@dataclass(frozen=True)
class StreetGap:
    street: str
    reason: str  # NO_FIGURE or NOT_COVERED


@dataclass(frozen=True)
class FigureTable:
    topic: str
    streets: tuple[str, ...]  # every street asked about, in order
    rows: tuple[FigureRow, ...]  # by street (in `streets` order), then year, then reading order
    gaps: tuple[StreetGap, ...]  # streets without a matching figure, and why
    year: int | None = None
    status: str | None = None
    matched_by: str = "lexical"  # lexical or meaning: how the topic found its figures (see the module doc)
    years: tuple[int | None, ...] = field(default=())

    def cells(self) -> dict[tuple[str, int | None], list[FigureRow]]:
        """The street × year table: each cell's figures, in reading order."""
        out: dict[tuple[str, int | None], list[FigureRow]] = {}
        for row in self.rows:
            out.setdefault((row.street, row.year), []).append(row)
        return out

    def measures(self) -> dict[str, list[FigureRow]]:
        """Figures grouped by what they count and their unit (FigureRow.measure), the only safe grouping."""
        out: dict[str, list[FigureRow]] = {}
        for row in self.rows:
            out.setdefault(row.measure, []).append(row)
        return out

    def records(self) -> list[dict]:
        """One flat dict per figure, then one per gap: what CSV, XLSX and JSON exports write."""
        out = []
        for row in self.rows:
            c = row.citation
            out.append(
                {
                    "street": row.street,
                    "year": row.year,
                    "status": row.status,
                    "value_text": row.value_text,
                    "value": row.value,
                    "value_high": row.value_high,
                    "approx": row.approx,
                    "unit": row.unit,
                    "counted": row.counted,
                    "note": "",
                    "citation": c.n,
                    "title": c.title,
                    "doc_id": c.doc_id,
                    "paragraph": c.paragraph,
                    "page": c.page,
                    "quote": c.quote,
                }
            )
        for gap in self.gaps:
            out.append(
                {
                    "street": gap.street,
                    "year": None,
                    "status": None,
                    "value_text": "",
                    "value": None,
                    "value_high": None,
                    "approx": None,
                    "unit": "",
                    "counted": "",
                    "note": gap.reason,
                    "citation": None,
                    "title": "",
                    "doc_id": "",
                    "paragraph": None,
                    "page": None,
                    "quote": "",
                }
            )
        return out


# ----------------------------------------------------------------------------------------------- public API


def figure_table(
    qa: OpenIndex,
    topic: str,
    streets: Sequence[str] | None = None,
    year: int | None = None,
    status: str | None = None,
    gaps: bool = True,
) -> FigureTable:
    """The figures every street's reports state on `topic`, cited, as a street × year table.

    `streets`: names as in compare (塘桥 for 塘桥街道); default every street in the index. `year`, `status`
    ("done" or "planned"): keep only those figures. `gaps`: say why a street has no figure (NO_FIGURE or
    NOT_COVERED); that test searches each such street (compare.compare_streets), so an index of thousands of
    streets may pass gaps=False for the figures alone. Raises QuestionError for an empty topic, ValueError
    for an unknown street or status, FiguresUnavailableError for an index without figures.
    """
    label = check_question(topic)
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    cache = _cache(qa)
    names = _resolve_streets(qa, streets)
    matched, how, query = _matching(qa, cache, label)
    alternatives = [p for p in _ALTERNATIVES.split(label) if p.strip()]
    chosen = _chosen(cache, matched, set(names), year, status)
    gap_rows: list[StreetGap] = []
    found = {cache.street_of[cache.figures[i].figure.doc_id] for i in chosen}
    missing = [name for name in names if name not in found]
    if gaps and missing:
        for gap in _gaps(qa, query, missing):
            # The reports discuss the topic, but no figure's words match it: a paraphrased figure (拆除违章建筑点位32个
            # for 违法建筑) is looked for by meaning in that street's passages before the gap is declared.
            more = _by_meaning(qa, cache, label, alternatives, gap.street) if gap.reason == NO_FIGURE else []
            more = _chosen(cache, more, {gap.street}, year, status)
            if more:
                chosen += more
                how = f"{how}+meaning" if "meaning" not in how else how
            else:
                gap_rows.append(gap)
    order = {name: n for n, name in enumerate(names)}
    chosen.sort(
        key=lambda i: (
            order[cache.street_of[cache.figures[i].figure.doc_id]],
            _year_key(cache.figures[i].figure.year),
            i,
        )
    )
    table_rows = tuple(_row(qa, cache, n, cache.figures[i]) for n, i in enumerate(chosen, start=1))
    years = tuple(sorted({r.year for r in table_rows}, key=_year_key))
    return FigureTable(label, tuple(names), table_rows, tuple(gap_rows), year, status, how, years)


def _chosen(
    cache: _Cache, matched: Sequence[int], streets: set[str], year: int | None, status: str | None
) -> list[int]:
    out = []
    for i in matched:
        f = cache.figures[i].figure
        if cache.street_of[f.doc_id] not in streets or (year is not None and f.year != year):
            continue
        if status is None or f.status == status:
            out.append(i)
    return out


# ------------------------------------------------------------------------------------------------ internals


class _Cache:
    """Per index: the stored figures, each one's street, and their topic texts joined for substring search."""

    def __init__(self, qa: OpenIndex):
        figures = getattr(qa.index, "figures", None)  # a Milvus index has none (see index.milvus)
        if figures is None:
            raise FiguresUnavailableError(
                "this index holds no figures (built before figures were extracted, or a Milvus index): "
                "rebuild it with: govqa index"
            )
        self.figures: list[StoredFigure] = figures
        self.street_of = {d: m.street or "" for d, m in qa.index.metas.items()}
        self.title_of = {d: m.title for d, m in qa.index.metas.items()}
        # One string of every figure's topic text (lead + sentence), so that finding the figures that mention
        # a word is one C-level scan, not a Python loop over every figure.
        texts = [_topic_text(s) for s in figures]
        self.texts = texts
        self.joined = "\n".join(texts)
        self.starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]]) if texts else np.zeros(0, np.int64)
        self.by_chunk_doc: dict[str, list[int]] = {}
        for i, s in enumerate(figures):
            self.by_chunk_doc.setdefault(s.figure.doc_id, []).append(i)
        self._long_forms: dict[str, list[str]] | None = None
        self.clauses: dict[int, tuple] = {}  # a figure's topic text in words, once cut

    def long_forms(self, qa: OpenIndex, short: str) -> list[str]:
        """The index's four-character words whose short form `short` is (加梯: 加装电梯), found once per index."""
        if self._long_forms is None:
            forms: dict[str, list[str]] = {}
            for word in qa.index.token_idf:
                if len(word) == 4:
                    for s in _short_forms(word):
                        forms.setdefault(s, []).append(word)
            self._long_forms = forms
        return self._long_forms.get(short, [])


def _topic_text(stored: StoredFigure) -> str:
    """What decides a figure's topic: its paragraph's inline title, its sentence's opening clause and its own.

    The opening clause names what a sentence reports on ("深入推进“群租”整治,开展整治59次,拆除群租房1580套"), so its
    topic covers every figure after it; a topic named only in a later clause covers that clause's figure alone
    ("…开展消防安全隐患排查整治,…检查单位1766家,整治群租18起": 1766家 is not a 群租 figure)."""
    f, sentence = stored.figure, stored.sentence
    at = f.char_start - f.sentence_start
    first = _OPENING.match(sentence)
    opening = first.group() if first else ""
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(sentence, 0, at)]
    start = breaks[-1] if breaks else 0
    if len(breaks) >= 2 and not _WORDY.search(sentence[start:at]):
        start = breaks[-2]  # "…点位32个,共4184平方米": a bare number continues the clause before it
    end = m.start() if (m := _CLAUSE_BREAK.search(sentence, at)) else len(sentence)
    own = sentence[start:end]
    parts = [p for p in (f.lead, opening if start else "", own) if p]
    return "。".join(parts)


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cache(qa: OpenIndex) -> _Cache:
    return compare.per_index(_CACHES, qa.index, lambda: _Cache(qa))


def _year_key(year: int | None) -> tuple[bool, int]:
    return (year is None, year or 0)


def _containing(cache: _Cache, needles: Sequence[str]) -> list[int]:
    """Figures whose topic text contains one of `needles`."""
    needles = [n for n in dict.fromkeys(needles) if n]
    if not needles or not cache.texts:
        return []
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    positions = [m.start() for m in pattern.finditer(cache.joined)]
    if not positions:
        return []
    rows = np.searchsorted(cache.starts, np.asarray(positions), side="right") - 1
    return sorted(set(rows.tolist()))


def _matching(qa: OpenIndex, cache: _Cache, topic: str) -> tuple[list[int], str, str]:
    """Figures on `topic`, the path that found them (see the module doc), and the topic as searched, which the
    gap test searches too: with the short forms the reports use (加装电梯/加梯, 违法建筑/违建) and the long forms
    of a short topic (加梯/加装电梯)."""
    alternatives = [p.strip() for p in _ALTERNATIVES.split(topic) if p.strip()]
    vocabulary = qa.index.token_idf
    extra = [w for alt in alternatives if len(alt) == 2 for w in cache.long_forms(qa, alt)]
    extra += [w for alt in alternatives for w in _short_forms(alt) if w in vocabulary]
    query = "/".join(dict.fromkeys(alternatives + extra))
    tokenizer = qa.index.tokenizer
    words = alternatives + extra
    # Candidates hold every word of one alternative (a relevant clause holds them all, see compare); the
    # comparison's own test then decides. Scanning for words first keeps the test off most figures.
    candidates: set[int] = set()
    for word in words:
        tokens = {t for t in tokenizer.tokens(word) if len(t) >= 2 or t == word}
        parts = {t for t in tokens if not any(o != t and o in t for o in tokens)} or tokens
        rows: set[int] | None = None
        for part in sorted(parts, key=len, reverse=True):
            rows = set(_containing(cache, [part])) if rows is None else rows & set(_containing(cache, [part]))
            if not rows:
                break
        candidates |= rows or set()
    try:
        found = _relevant(qa, cache, query, sorted(candidates))
    except QuestionError:  # only place names or function words: nothing to match lexically
        found = []
    if found:
        return found, "lexical", query
    return _by_meaning(qa, cache, topic, alternatives), "meaning", query


def _relevant(qa: OpenIndex, cache: _Cache, query: str, rows: Sequence[int]) -> list[int]:
    """The rows whose topic text is relevant to `query`: compare.relevance(answerer, query, text) >= its threshold,
    taken in its two steps so that a figure's text is cut into words once per index, not once per query
    (cutting is three quarters of the test's time: ~1 ms a figure on a busy machine)."""
    engine = compare._Engine.of(qa.answerer)
    topic = compare._Topic.parse(engine, query)
    out = []
    for i in rows:
        clauses = cache.clauses.get(i)
        if clauses is None:
            clauses = cache.clauses[i] = compare._clause_tokens(engine, cache.texts[i])
        if topic.relevance(clauses) >= compare.MIN_TOPIC_COVERAGE:
            out.append(i)
    return out


def _short_forms(alternative: str) -> tuple[str, ...]:
    """违法建筑 -> 违建, 加装电梯 -> 加梯: the first character with the third or the last, the usual short forms
    of a four-character term; its halves swapped too (电梯加装 is said 加梯 as well)."""
    t = re.sub(r"\s+", "", alternative)
    return (t[0] + t[2], t[0] + t[3], t[2] + t[0], t[2] + t[1]) if len(t) == 4 else ()


def _by_meaning(
    qa: OpenIndex, cache: _Cache, topic: str, alternatives: Sequence[str], street: str | None = None
) -> list[int]:
    """Figures in the passages nearest the topic (of `street`, if given) whose topic text holds most of one
    alternative's characters."""
    where = Filters(street=street) if street else None
    hits = qa.retriever.search(topic, k=MEANING_PASSAGES, filters=where, mode="dense", infer=False)
    found: set[int] = set()
    for hit in hits:
        chunk = hit.chunk
        for i in cache.by_chunk_doc.get(chunk.doc_id, ()):
            f = cache.figures[i].figure
            if not (chunk.char_start <= f.char_start < chunk.char_end):
                continue
            chars = set(cache.texts[i])
            for alt in alternatives:
                wanted = [c for c in alt if not c.isspace() and c not in _FUNCTION_CHARS]
                if wanted and sum(c in chars for c in wanted) / len(wanted) >= MIN_CHAR_COVERAGE:
                    found.add(i)
    return sorted(found)


def _resolve_streets(qa: OpenIndex, streets: Sequence[str] | None) -> list[str]:
    known = sorted({m.street for m in qa.index.metas.values() if m.street})
    if streets is None:
        return known
    names: list[str] = []
    for given in streets:
        given = given.strip()
        matches = [s for s in known if given and same_place(given, s)]
        if len(matches) != 1:
            what = "matches several streets" if matches else "is not a street in the index"
            raise ValueError(f"{given!r} {what}; streets: {', '.join(known)}")
        if matches[0] not in names:
            names.append(matches[0])
    return names


def _row(qa: OpenIndex, cache: _Cache, n: int, stored: StoredFigure) -> FigureRow:
    f = stored.figure
    street = cache.street_of[f.doc_id]
    citation = Citation(
        n,
        f.doc_id,
        cache.title_of[f.doc_id],
        street or None,
        f.section_path,
        f.paragraph,
        stored.sentence,
        f.sentence_start,
        f.sentence_end,
        f.page,
    )
    return FigureRow(
        street,
        f.year,
        f.status,
        f.value_text,
        f.value,
        f.value_high,
        f.approx,
        f.unit,
        f.counted,
        citation,
        f.char_start,
        f.char_end,
    )


def _gaps(qa: OpenIndex, topic: str, streets: Sequence[str]) -> list[StreetGap]:
    """Why each street has no figure: its reports discuss the topic (NO_FIGURE) or not (NOT_COVERED)."""
    try:
        comparison = compare.compare_streets(qa.answerer, topic, streets, k=1)
    except QuestionError:
        return [StreetGap(s, NOT_COVERED) for s in streets]
    return [StreetGap(f.street, NO_FIGURE if f.found else NOT_COVERED) for f in comparison.findings]


# ------------------------------------------------------------------------------------- quantity questions

# What a cross-street quantity question wraps its topic in: 各街道…完成了多少台?
_QUESTION_WORDS = re.compile(
    r"各个?街道|各街镇|哪些街道|哪个街道|每个街道|分别|一共|总共|"
    r"多少[个台套户人名家次项处所场间张起份元]?|几[个台套户人名家次项处所场间张起份]|数量|数字|"
    r"完成了|完成|计划|实现了|达到了|有|是|了|吗|呢|的|[?？。，,、]"
)


def quantity_answer(qa: OpenIndex, query: Query) -> Answer | None:
    """A quantity question across every street (各街道加装电梯完成了多少台?) answered as the figures table, one
    line per street, each figure cited in the clause that states it, verbatim; None when the question is not
    one, or fewer than two streets state a figure on its topic (the comparison then answers it, quoting what
    each street says).

    A question that names its streets (长寿路、塘桥的拆违数字各是多少?) is not one: the comparison answers it
    with each named street's own quantity answer, which matches the question's meaning where the table matches
    the topic's words (blind dev: 2 more of 34 cross-street questions right, none lost; a street whose report
    writes 违建 was called 报告中未涉及 by the table)."""
    metas = qa.index.metas.values()
    question, streets = query.text, list(query.streets)
    if query.kind != "cross_street" or not query.wants_quantity or query.streets:
        return None
    status = DONE if re.search(r"完成|实现|做了|已", question) else None
    status = PLANNED if re.search(r"计划|将|打算|目标", question) else status
    topic = _QUESTION_WORDS.sub("", question)  # first: 各街道 is one question word, not 各 + a place
    for name in sorted(place_words(metas), key=len, reverse=True):
        topic = topic.replace(name, "")
    topic = topic.strip("各 ")
    if len(topic) < 2:
        return None
    try:
        table = figure_table(qa, topic, streets or None, status=status)
    except (ValueError, FiguresUnavailableError):
        return None
    if len({r.street for r in table.rows}) < 2:
        return None  # a table of one street compares nothing: the comparison answers, as before
    lines = []
    cells = table.cells()
    for street in table.streets:
        gap = next((g.reason for g in table.gaps if g.street == street), None)
        parts = [f"{y}年" * (y is not None) + _clauses(rows) for (s, y), rows in cells.items() if s == street]
        lines.append(f"{street}：{'；'.join(parts)}。" if parts else f"{street}：{gap or NO_FIGURE}。")
    citations = tuple(r.citation for r in table.rows)
    return Answer(
        query.question,
        "\n".join(lines),
        citations,
        True,
        (),
        Filters(),
        (),
        query.resolved_question,
        "cross_street",
    )


_CLAUSE_END = "，,；;。！？!?"


def _clauses(rows: Sequence[FigureRow]) -> str:
    """Each figure in the clause of its sentence that states it, verbatim, marked with its [n]; figures of one
    clause share it (选举产生居委会主任32名、委员134名[3][4])."""
    marks: dict[str, list[int]] = {}
    for r in rows:
        quote, at = r.citation.quote, r.value_start - r.citation.char_start
        if not 0 <= at < len(quote):
            marks.setdefault(r.counted + r.value_text, []).append(r.citation.n)
            continue
        a = max((quote.rfind(p, 0, at) for p in _CLAUSE_END), default=-1) + 1
        ends = [i for p in _CLAUSE_END if (i := quote.find(p, at)) >= 0]
        b = min(ends, default=len(quote))
        marks.setdefault(quote[a:b].strip(), []).append(r.citation.n)
    return "；".join(clause + "".join(f"[{n}]" for n in ns) for clause, ns in marks.items())
