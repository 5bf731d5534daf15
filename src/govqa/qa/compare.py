"""Comparing streets: what each street's reports say on one topic, side by side, and how much they say.

    >>> from govqa import compare
    >>> c = compare.compare_streets(qa, "垃圾分类", ["塘桥街道", "长白新村街道"])   # doctest: +SKIP
    >>> [(f.street, f.found, f.finding) for f in c.findings]                       # doctest: +SKIP
    >>> m = compare.coverage_matrix(qa)                                             # doctest: +SKIP
    >>> m.cell("垃圾分类", "塘桥街道").score                                         # doctest: +SKIP

A street whose reports do not discuss the topic is reported as such (``found=False``), never filled with the
nearest passage the retriever happens to return. The test is lexical and measurable:

* A topic is one or more alternatives separated by ``/`` ("为老服务/养老"). Each alternative is cut into its
  content tokens by the index's own tokenizer; a compound that its parts spell out (垃圾分类 = 垃圾 + 分类) is
  dropped so that "电梯加装" counts as well as "加装电梯". Street and district names are not content.
* A sentence is **relevant** when one of its clauses (the text between ，、；： marks) holds tokens
  carrying at least ``MIN_TOPIC_COVERAGE`` of one alternative's IDF weight: in practice all its content words.
* A street covers the topic when any sentence of its reports is relevant.

``MIN_TOPIC_COVERAGE`` was measured on the bundled five-report corpus over DEFAULT_TOPICS, 加装电梯, 疫情防控
and 河长制: clauses holding only part of a topic score at most 0.82 (教育 alone for 社区教育: 主题教育,
宣传教育; 老 alone for 为老服务: 老企业, 老教师; 治理 alone for 社区治理: 河道治理), while a clause naming the
topic scores 1.0, so any threshold in (0.82, 1.0] separates them; 0.9 sits in the middle of that gap.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from ..index.embedders import Embedder
from ..index.local import Index
from ..ingest.chunking import sentence_spans
from ..ingest.structure import in_glossary, is_heading_line
from ..records import Chunk, Citation, DocMeta, Filters, Hit
from .query import Query, analyse, restricted
from .questions import QuestionError, check_k, check_question, place_words, sense_of, years_in
from .retrieval import Retriever


class SentenceRanker(Protocol):
    """What a comparison needs of the answerer: its retriever and its fitted sentence model.

    A protocol, not the answerer's class: the answerer routes cross-street questions here, so this module
    must not import it back."""

    retriever: Retriever
    config: object  # AnswerConfig: relative_cutoff

    def rank_sentences(self, question: str, hits: list[Hit], asked: str | None = None) -> list: ...


@dataclass(frozen=True)
class _Engine:
    """The parts of an opened index a comparison reads, taken from the answerer."""

    index: Index
    embedder: Embedder
    retriever: Retriever
    answerer: SentenceRanker

    @classmethod
    def of(cls, answerer: SentenceRanker) -> _Engine:
        r = answerer.retriever
        return cls(r.index, r.embedder, r, answerer)


NOT_COVERED = "报告中未涉及该主题"

# Policy topics these reports are organised around; "/" separates alternatives that all count for the topic.
DEFAULT_TOPICS: tuple[str, ...] = (
    "垃圾分类",
    "为老服务/养老",
    "营商环境",
    "党建引领",
    "平安建设/消防安全",
    "旧区改造/美丽家园",
    "就业/创业",
    "社区治理/自治",
    "卫生健康/医疗/家庭医生",
    "公共文化/社区教育/文体活动",
)

# Share of an alternative's IDF weight a clause must hold to be relevant (measured; see the module doc).
MIN_TOPIC_COVERAGE = 0.9
# A street none of whose clauses names the topic still covers it when its best evidence sentence, by the
# answerer's sentence model over its own hybrid search, scores at least this (fitted on the blind dev set's
# cross-street questions: see README "Answers on everyday wording").
MIN_MEANING_EVIDENCE = 0.5
# Quoted characters in one finding line: a longer sentence is cut to its relevant clauses.
MAX_FINDING_CHARS = 100
MAX_FINDING_SENTENCES = 2

_ALTERNATIVES = re.compile(r"[/／|｜]")
_CLAUSE = re.compile(r"[^，,、；;：:]+[，,、；;：:]*")
_CLAUSE_PUNCT = "，,、；;：: "


@dataclass(frozen=True)
class StreetFinding:
    street: str
    district: str | None
    found: bool  # False: this street's reports say nothing on the topic
    finding: str  # one-line extractive finding ending with [n] marks, or NOT_COVERED
    citations: tuple[Citation, ...]  # verbatim quotes with paragraph numbers, numbered per street from 1
    passages: tuple[Hit, ...]  # its most relevant passages, ranked 1..k (empty when not found)


@dataclass(frozen=True)
class Comparison:
    topic: str
    findings: tuple[StreetFinding, ...]  # one per street, in the order of `streets`


@dataclass(frozen=True)
class CoverageCell:
    topic: str
    street: str
    score: float  # 0..1: how much that street's reports say on the topic (see coverage_matrix)
    passages: tuple[Hit, ...]  # every relevant passage of that street, best first


@dataclass(frozen=True)
class CoverageMatrix:
    topics: tuple[str, ...]
    streets: tuple[str, ...]
    cells: tuple[CoverageCell, ...]  # topic-major: all streets of topics[0], then of topics[1], ...

    def cell(self, topic: str, street: str) -> CoverageCell:
        for c in self.cells:
            if c.topic == topic and c.street == street:
                return c
        raise KeyError(f"no cell for topic {topic!r} and street {street!r}")


# ----------------------------------------------------------------------------------------------- public API


def compare_streets(
    answerer: SentenceRanker,
    topic: str,
    streets: Sequence[str] | None = None,
    k: int = 3,
    year: int | None = None,
) -> Comparison:
    """What each street's reports say on `topic`: one extractive, cited finding per street.

    Each street is searched on its own (Filters(street=...), no filters inferred from the topic). Only
    passages holding a relevant sentence (see the module doc) count; a street with none gets found=False,
    the finding NOT_COVERED and no passages. Otherwise `passages` are its k best relevant passages
    (retrieval order; a relevant passage the retriever did not return comes after those it did) and the
    finding quotes up to two of their best sentences verbatim, each followed by its [n] mark; a sentence too
    long for one line is cut to its relevant clauses (shown with …), and the citation's quote and offsets
    are that verbatim span. Citations are numbered per street from 1.

    `year`: only what a report says of that year counts (a sentence whose section, text or report names
    other years only is passed over): a street that says nothing of that year is not covered for it.

    `streets` default: every street in the index, sorted. A name may be short (塘桥 for 塘桥街道); a name that
    matches no report, or several streets, raises ValueError. An empty topic raises QuestionError.
    """
    qa = _Engine.of(answerer)
    k = check_k(k)
    query = _Topic.parse(qa, topic)
    names = _resolve_streets(qa, streets)
    retriever = _retriever(qa, [query.text])
    return Comparison(query.label, tuple(_finding(qa, retriever, query, name, k, year) for name in names))


def coverage_matrix(
    answerer: SentenceRanker, topics: Sequence[str] | None = None, streets: Sequence[str] | None = None
) -> CoverageMatrix:
    """How much each street's reports say on each topic.

    score: the share of a street's passages (index chunks) that hold a relevant sentence (see the module doc),
    divided by the largest such share among the streets for the same topic - so 1.0 marks the street whose
    reports give the topic the most room relative to their length, 0.0 a street whose reports never discuss
    it, and a topic no street discusses is 0.0 throughout. Shares, not counts: a 500-passage action plan would
    otherwise outscore a 25-passage summary on every topic.

    A cell's passages are all of that street's relevant passages, best first (retrieval order for the topic,
    then the rest), so len(cell.passages) is the count behind the share.
    `topics` default: DEFAULT_TOPICS; `streets` default: every street in the index, sorted.
    """
    qa = _Engine.of(answerer)
    queries = [_Topic.parse(qa, t) for t in dict.fromkeys(t.strip() for t in (topics or DEFAULT_TOPICS))]
    names = _resolve_streets(qa, streets)
    retriever = _retriever(qa, [q.text for q in queries])
    sizes = {name: sum(1 for c in qa.index.chunks if c.doc_id in _street_docs(qa, name)) for name in names}
    cells: list[CoverageCell] = []
    for query in queries:
        relevant = {name: _relevant_passages(qa, retriever, query, name) for name in names}
        shares = {name: len(relevant[name]) / sizes[name] if sizes[name] else 0.0 for name in names}
        top = max(shares.values(), default=0.0)
        for name in names:
            score = shares[name] / top if top > 0 else 0.0
            cells.append(CoverageCell(query.label, name, round(score, 4), tuple(relevant[name])))
    return CoverageMatrix(tuple(q.label for q in queries), tuple(names), tuple(cells))


def relevance(answerer: SentenceRanker, topic: str, text: str) -> float:
    """0..1: the largest share of a topic alternative's IDF weight that one clause of `text` holds.

    At least MIN_TOPIC_COVERAGE: the text is relevant to the topic."""
    qa = _Engine.of(answerer)
    return _Topic.parse(qa, topic).relevance(_clause_tokens(qa, text))


# ------------------------------------------------------------------------------------------------ internals


@dataclass(frozen=True)
class _Topic:
    label: str  # as given, stripped
    text: str  # what is searched: the alternatives joined by spaces
    alternatives: tuple[dict[str, float], ...]  # content token -> IDF weight, one dict per alternative
    query: Query  # the text analysed once, no filters inferred; each street searches it restricted to itself

    @classmethod
    def parse(cls, qa: _Engine, topic: str) -> _Topic:
        label = check_question(topic)
        parts = [p.strip() for p in _ALTERNATIVES.split(label) if p.strip()]
        cache = _cache(qa)
        alternatives = []
        for part in parts:
            # Words no report uses (啥, 各有) can be held by no clause: they would make every street silent.
            tokens = {t for t in qa.index.tokenizer.tokens(part) if t not in cache.place_words and t in cache.idf}
            atoms = _atoms(tokens)
            if atoms:
                alternatives.append({t: cache.idf.get(t, cache.idf_unseen) for t in atoms})
        if not alternatives:
            raise QuestionError(f"主题「{label}」没有可检索的实词。 (the topic has no content words)")
        text = " ".join(parts)
        return cls(label, text, tuple(alternatives), analyse(text, qa.index.metas.values(), infer=False))

    def relevance(self, clauses: Sequence[_Clause]) -> float:
        best = 0.0
        for weights in self.alternatives:
            total = sum(weights.values())
            for clause in clauses:
                best = max(best, sum(w for t, w in weights.items() if clause.holds(t)) / total)
        return best


@dataclass(frozen=True)
class _Clause:
    text: str
    tokens: frozenset[str]

    def holds(self, term: str) -> bool:
        """The clause has the term as a word, or (two characters or more) inside a word: the tokenizer cuts
        老年助餐点 as one word, and a report that has it must not be called silent on 助餐."""
        return term in self.tokens or (len(term) >= 2 and term in self.text)


@dataclass(frozen=True)
class _Sentence:
    start: int  # offsets in the chunk text, whitespace stripped
    end: int
    heading: bool  # quoted only when no other sentence is relevant
    clauses: tuple[_Clause, ...]


class _Cache:
    """Per-index data computed once: IDF weights, place words, every chunk's sentences as clause tokens."""

    def __init__(self, qa: _Engine):
        self.idf = qa.index.token_idf
        self.idf_unseen = max(self.idf.values(), default=1.0)
        self.place_words = place_words(qa.index.metas.values())
        self.position = {id(c): i for i, c in enumerate(qa.index.chunks)}
        self._sentences: dict[int, tuple[_Sentence, ...]] = {}

    def sentences(self, qa: _Engine, i: int) -> tuple[_Sentence, ...]:
        if i not in self._sentences:
            self._sentences[i] = tuple(_split(qa, qa.index.chunks[i]))
        return self._sentences[i]


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def per_index(caches: weakref.WeakKeyDictionary, index: object, make: Callable[[], object]):
    """One value per opened index, made on first use and dropped with the index (a reload gets a new one)."""
    value = caches.get(index)
    if value is None:
        value = caches[index] = make()
    return value


def _cache(qa: _Engine) -> _Cache:
    return per_index(_CACHES, qa.index, lambda: _Cache(qa))


def _split(qa: _Engine, chunk: Chunk) -> list[_Sentence]:
    """The chunk's sentences, line by line (a heading line is a sentence of its own)."""
    out = []
    offset = 0
    for line in chunk.text.split("\n"):
        for a, b in sentence_spans(line):
            text = line[a:b]
            stripped = text.strip()
            if len(stripped) < 2:
                continue
            start = offset + a + len(text) - len(text.lstrip())
            clauses = _clause_tokens(qa, stripped)
            out.append(_Sentence(start, start + len(stripped), is_heading_line(stripped), clauses))
        offset += len(line) + 1
    return out


def _clause_tokens(qa: _Engine, text: str) -> tuple[_Clause, ...]:
    tokenizer = qa.index.tokenizer
    return tuple(_Clause(m.group(), frozenset(tokenizer.tokens(m.group()))) for m in _CLAUSE.finditer(text))


def _atoms(tokens: set[str]) -> set[str]:
    """Drop a compound whose every character is covered by the other tokens (垃圾分类 given 垃圾 and 分类)."""
    atoms = set(tokens)
    for t in sorted(tokens, key=len, reverse=True):
        others = [o for o in atoms if o != t and o in t]
        covered = [False] * len(t)
        for o in others:
            for m in re.finditer(re.escape(o), t):
                covered[m.start() : m.end()] = [True] * len(o)
        if others and all(covered):
            atoms.discard(t)
    return atoms


class _QueryCache:
    """An embedder that embeds each query text once: one topic is searched once per street."""

    def __init__(self, inner):
        self._inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._vectors: dict[str, np.ndarray] = {}

    def prefetch(self, texts: Sequence[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vec in zip(missing, self._inner.embed_queries(missing), strict=True):
                self._vectors[text] = vec

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.prefetch(texts)
        return np.stack([self._vectors[t] for t in texts]) if texts else self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self._inner.embed_passages(texts, progress)


def _retriever(qa: _Engine, texts: Sequence[str]) -> Retriever:
    embedder = _QueryCache(qa.embedder)
    embedder.prefetch(texts)
    return Retriever(qa.index, embedder, qa.retriever.config)


def _streets(qa: _Engine) -> list[str]:
    return sorted({m.street for m in qa.index.metas.values() if m.street})


def _resolve_streets(qa: _Engine, streets: Sequence[str] | None) -> list[str]:
    known = _streets(qa)
    if streets is None:
        return known
    names: list[str] = []
    for given in streets:
        given = given.strip()
        wanted = Filters(street=given)
        matches = [s for s in known if wanted.matches(DocMeta(title="", street=s))] if given else []
        if len(matches) != 1:
            what = "matches several streets" if matches else "is not a street in the index"
            raise ValueError(f"{given!r} {what}; streets: {', '.join(known)}")
        if matches[0] not in names:
            names.append(matches[0])
    return names


def _street_docs(qa: _Engine, street: str) -> set[str]:
    return {doc_id for doc_id, meta in qa.index.metas.items() if meta.street == street}


def _district(qa: _Engine, street: str) -> str | None:
    districts = {m.district for m in qa.index.metas.values() if m.street == street and m.district}
    return districts.pop() if len(districts) == 1 else None


def _relevant_passages(
    qa: _Engine, retriever: Retriever, query: _Topic, street: str, limit: int | None = None
) -> list[Hit]:
    """All chunks of `street` holding a relevant sentence: those the retriever ranks first, in its order, then
    the rest by relevance and position. Ranks are renumbered 1..n; a chunk the retriever did not return has
    score 0.0."""
    cache = _cache(qa)
    docs = _street_docs(qa, street)
    relevant: dict[int, float] = {}
    for i, chunk in enumerate(qa.index.chunks):
        if chunk.doc_id in docs:
            best = max((query.relevance(s.clauses) for s in cache.sentences(qa, i)), default=0.0)
            if best >= MIN_TOPIC_COVERAGE:
                relevant[i] = best
    if not relevant:
        return []
    retrieved = retriever.search(restricted(query.query, Filters(street=street)), k=retriever.config.candidates)
    hits: list[Hit] = []
    seen: set[int] = set()
    for hit in retrieved:
        i = cache.position.get(id(hit.chunk))
        if i in relevant and i not in seen:
            seen.add(i)
            hits.append(hit)
    for i in sorted(set(relevant) - seen, key=lambda i: (-relevant[i], i)):
        chunk = qa.index.chunks[i]
        hits.append(Hit(chunk, qa.index.metas[chunk.doc_id], 0.0, 0))
    hits = hits[:limit] if limit is not None else hits
    return [replace(h, rank=n) for n, h in enumerate(hits, start=1)]


@dataclass(frozen=True)
class _Quote:
    hit: Hit
    text: str  # the whole sentence, verbatim
    start: int  # of the sentence in the document's cleaned text
    paragraph: int


def _finding(
    qa: _Engine, retriever: Retriever, query: _Topic, street: str, k: int, year: int | None = None
) -> StreetFinding:
    district = _district(qa, street)
    passages = _relevant_passages(qa, retriever, query, street, limit=k)
    quotes = [q for q in _choose(qa, query, passages) if _of_year(q, year)] if passages else []
    if not quotes:
        # No clause names the topic: the street may still discuss it in other words (老人吃饭 -> 助餐).
        passages, quotes = _by_meaning(qa, retriever, query, street, k)
        quotes = [q for q in quotes if _of_year(q, year)]
    if not quotes:
        return StreetFinding(street, district, False, NOT_COVERED, (), ())
    citations: list[Citation] = []
    parts: list[str] = []
    budget = MAX_FINDING_CHARS
    for n, quote in enumerate(quotes, start=1):
        if n > 1 and len(quote.text) > budget:
            break  # only the first sentence is ever cut; a second one comes whole or not at all
        a, b = _clip(qa, query, quote.text, budget)
        text = quote.text[a:b]
        chunk = quote.hit.chunk
        meta = quote.hit.meta
        citations.append(
            Citation(
                n,
                chunk.doc_id,
                meta.title,
                meta.street,
                chunk.section_path,
                quote.paragraph,
                text,
                quote.start + a,
                quote.start + b,
            )
        )
        label = _LABELS.get(_sense(quote.hit), "")
        parts.append(f"{label}{'…' if a > 0 else ''}{text}{'…' if b < len(quote.text) else ''}[{n}]")
        budget -= len(text)
    return StreetFinding(street, district, True, "".join(parts), tuple(citations), tuple(passages))


_LABELS = {"review": "（已完成）", "plan": "（计划）"}


def _sense(hit: Hit) -> str | None:
    """Whether a passage reports what was done or what is planned: by its section, else its report's title."""
    return sense_of(" ".join(hit.chunk.section_path), heading=True) or sense_of(hit.meta.title, heading=True)


def _of_year(quote: _Quote, year: int | None) -> bool:
    """The quote may speak of `year`: its section and text name that year, or no year (then its report's)."""
    if year is None:
        return True
    named = years_in(" ".join(quote.hit.chunk.section_path) + quote.text) or years_in(quote.hit.meta.title)
    return not named or year in named


def _by_meaning(
    qa: _Engine, retriever: Retriever, query: _Topic, street: str, k: int
) -> tuple[tuple[Hit, ...], list[_Quote]]:
    """The street's own best evidence for the topic by the answerer's sentence model over a street-filtered
    hybrid search: up to two sentences scoring at least MIN_MEANING_EVIDENCE (else none: not covered)."""
    hits = retriever.search(restricted(query.query, Filters(street=street)), k=k)
    ranked = [s for s in qa.answerer.rank_sentences(query.text, hits) if not in_glossary(s.hit.chunk.section_path)]
    if not ranked or ranked[0].score < MIN_MEANING_EVIDENCE:
        return (), []
    cutoff = qa.answerer.config.relative_cutoff * ranked[0].score
    chosen: list[_Quote] = []
    for s in ranked:
        if s.score < cutoff or len(chosen) == MAX_FINDING_SENTENCES:
            break
        if not any(s.text == c.text for c in chosen):
            chosen.append(_Quote(s.hit, s.text, s.start, s.paragraph))
    used = {id(c.hit) for c in chosen}
    return tuple(h for h in hits if id(h) in used), chosen


def _choose(qa: _Engine, query: _Topic, passages: list[Hit]) -> list[_Quote]:
    """Up to two distinct relevant sentences, best first.

    The answerer ranks the passages' sentences (topic-word coverage plus a bonus for the passage's rank); only
    relevant ones are kept, and a second one only if it scores at least the answerer's relative cutoff of the
    first. The answerer skips headings and spans that cross a line; when that leaves nothing relevant, the
    first relevant line-level sentence of the best passage is quoted (body text before headings)."""
    answerer = qa.answerer
    ranked = [
        s
        for s in answerer.rank_sentences(query.text, passages)
        if query.relevance(_clause_tokens(qa, s.text)) >= MIN_TOPIC_COVERAGE
    ]
    # A glossary entry defines the topic; what the street did with it is in the body, if anywhere.
    ranked = [s for s in ranked if not in_glossary(s.hit.chunk.section_path)] or ranked
    # What a street did comes before what it plans (a 2019 review before the same report's 2020 tasks).
    ranked.sort(key=lambda s: _sense(s.hit) == "plan")
    chosen: list[_Quote] = []
    for s in ranked:
        if any(s.text == c.text or (s.hit.chunk.doc_id, s.start) == (c.hit.chunk.doc_id, c.start) for c in chosen):
            continue
        if chosen and s.score < answerer.config.relative_cutoff * ranked[0].score:
            break
        chosen.append(_Quote(s.hit, s.text, s.start, s.paragraph))
        if len(chosen) == MAX_FINDING_SENTENCES:
            break
    if chosen:
        return chosen
    cache = _cache(qa)
    lines = []
    for hit in passages:
        chunk = hit.chunk
        i = cache.position.get(id(chunk))
        for s in cache.sentences(qa, i) if i is not None else _split(qa, chunk):
            if query.relevance(s.clauses) >= MIN_TOPIC_COVERAGE:
                paragraph = chunk.para_start + chunk.text.count("\n", 0, s.start)
                quote = _Quote(hit, chunk.text[s.start : s.end], chunk.char_start + s.start, paragraph)
                lines.append((s.heading, hit.rank, quote))
    return [min(lines, key=lambda x: x[:2])[2]] if lines else []


def _clip(qa: _Engine, query: _Topic, text: str, budget: int) -> tuple[int, int]:
    """The span of `text` to quote: all of it when it fits `budget`, else its most relevant clause widened
    by neighbouring clauses on both sides while they fit (one clause longer than the budget is cut there)."""
    if len(text) <= budget:
        return 0, len(text)
    spans = [(m.start(), m.end()) for m in _CLAUSE.finditer(text)]
    scores = [query.relevance(_clause_tokens(qa, text[a:b])) for a, b in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    lo = hi = best
    grew = True
    while grew:  # widen on both sides in turn, so the relevant clause stays near the middle
        grew = False
        if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= budget:
            hi, grew = hi + 1, True
        if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= budget:
            lo, grew = lo - 1, True
    a, b = spans[lo][0], min(spans[hi][1], spans[lo][0] + budget)
    while b > a and text[b - 1] in _CLAUSE_PUNCT:
        b -= 1
    while a < b and text[a].isspace():
        a += 1
    return a, b
