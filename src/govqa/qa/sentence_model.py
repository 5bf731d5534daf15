"""The sentence model: each sentence of the retrieved passages scored by a logistic model over FEATURES
(word, character and passage-meaning signals, fitted on the gold set's dev split; see FITTED_WEIGHTS), and a
chosen sentence widened to what answers with it: the body a short lead phrase heads, the sentence after it,
or the whole enumeration it is one item of.

AnswerConfig is here because its defaults are the fitted model; the answerer and its other parts read it.
Comparisons (compare.py) rank with the same model, through the answerer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ..ingest.chunking import sentence_spans
from ..ingest.structure import is_heading_line
from ..records import Chunk, Hit
from ..zh import YEAR
from .amounts import ASKED_UNIT, DAY_OR_MONTH, HAS_NUMBER
from .extract import FUNCTION_CHARS, HAN, Reports, Sentence, line_sentences, replace_score
from .questions import asks_quantity, asks_time, place_words, years_in
from .retrieval import Retriever

# A sentence that opens on a pronoun (它是无色晶体, 本站共两层) is about what the sentence before it named.
_ANAPHOR = re.compile(r"\s*(?:它|牠|其|该|本|此|他|她|这)")
_SENTENCE_STOP = re.compile(r"[。！？!?]")

# Logistic-regression weights over Sentence features, in FEATURES order, and the bias; fitted on the dev split
# of tests/data/gold.jsonl by `python -m govqa.evaluation.fit` (which prints these lines). A sentence's
# score is the model's probability that it holds the answer.
FEATURES = (
    "word_coverage",  # IDF share of the question's content words in the sentence (title/headings at a discount)
    "char_coverage",  # IDF share of its content characters: 老人 ~ 老年人, 加梯 ~ 加装电梯, 旧区改造 ~ 旧房改造
    "dense",  # the passage's cosine similarity to the question (the embedder's meaning match), centred, x10
    "dense_missing",  # 1 when the dense retriever did not return the passage
    "inverse_rank",  # 1 / the passage's fused rank
    "bm25_inverse_rank",  # 1 / its BM25 rank (0 when BM25 did not return it)
    "unit_match",  # a quantity question, and the sentence has a number with the unit asked for
    "has_number",  # a quantity question, and the sentence has a number with some unit
    "no_number",  # a quantity question, and the sentence has none
    "has_date",  # a time question: 1 if the sentence has a month or day, 0.5 if only a year
    "log_length",  # log of the sentence's length in characters
    "year_match",  # the sentence or its headings name a year the question names
    "year_mismatch",  # they name years, none of them the question's (a plan section, asked about a review)
)
# A refit after the retrieval merge (and with title/heading matches as separate features) scored higher on
# dev but lower on CMRC 2018 trial questions 250-1001, used for nothing else (answer hit 0.791 vs 0.825): these
# earlier weights generalise better and are kept.
FITTED_WEIGHTS: tuple[float, ...] = (
    2.2531,
    3.0895,
    1.9155,
    -0.1335,
    0.9906,
    1.077,
    0.6923,
    -0.4116,
    -1.5502,
    0.951,
    0.0528,
    -0.8218,
    -1.9414,
)
FITTED_BIAS = -5.4293
FITTED_MIN_EVIDENCE = 0.11

# Character IDF is estimated from at most this many chunks, spread over the index: exact for corpora up to this
# size, and a large index need not read every chunk (and keep it in memory) to answer its first question.
CHAR_IDF_SAMPLE = 20_000


@dataclass(frozen=True)
class AnswerConfig:
    k: int = 6  # hits read for candidate sentences
    max_sentences: int = 3
    relative_cutoff: float = 0.6  # keep sentences scoring at least this share of the best one
    # Below this probability the reports are taken not to answer (fitted with the weights; see FITTED_WEIGHTS).
    min_evidence: float = FITTED_MIN_EVIDENCE
    # ... or this, for a quantity question whose best sentence states an amount of the kind asked. Swept on the
    # dev questions the kind model calls quantity (blind dev + gold dev, 58 answerable, 52 near misses): 0.11 ->
    # 0.04 answers 4 more and refuses every near miss still; 0.03 answers a near miss.
    min_amount_evidence: float = 0.04
    weights: tuple[float, ...] = FITTED_WEIGHTS
    bias: float = FITTED_BIAS
    dense_centre: float = 0.85  # e5 cosines sit in a narrow band (~0.80-0.95 here)
    context_weight: float = 0.5  # share of a word's weight when only the title or headings hold it
    max_list_chars: int = 320  # an enumeration longer than this keeps whole items (；-pieces) around the best one
    # Sentences after the best one quoted for a why/how question (a reason often follows its measure: 推行…交叉任职。
    # 在…选入业委会。不仅减少了…摩擦): blind dev 1 -> 2 answers one more, 3 no more; gold dev unchanged.
    explanation_sentences: int = 2
    max_lead_chars: int = 20  # a paragraph's first sentence this short is a topic phrase: quote its body too
    max_outline: int = 12  # headings listed in a summary answer
    min_outline_match: float = 0.3  # IDF share of the question's subject words a section heading must hold


class SentenceModel:
    """Scores and widens the sentences of an index's passages; built once per answerer (it reads the index's
    word IDF, and estimates a character IDF from a sample of its chunks)."""

    def __init__(self, retriever: Retriever, config: AnswerConfig, reports: Reports):
        self.retriever = retriever
        self.config = config
        self.reports = reports
        index = retriever.index
        self.idf = index.token_idf
        self.idf_unseen = max(self.idf.values(), default=1.0)
        self.place_words = place_words(index.metas.values())
        self._place_chars = frozenset("".join(self.place_words)) | {"街", "道", "区", "镇"}
        sample = _spread(len(index.chunks), CHAR_IDF_SAMPLE)
        for start in range(0, len(sample), 1000):
            index.chunks.fetch(sample[start : start + 1000])  # read a thousand at a time, not one by one
        self._char_idf = _char_idf(index.chunks[i].text for i in sample)
        self._char_idf_unseen = max(self._char_idf.values(), default=1.0)
        self._sentence_cache: dict[str, list[tuple[int, int, frozenset[str]]]] = {}

    def idf_of(self, token: str) -> float:
        return self.idf.get(token, self.idf_unseen)

    def evidence_score(self, question: str, hits: list[Hit]) -> float:
        """The best sentence's score: what the not-found threshold is compared with."""
        ranked = self.rank_sentences(question, hits)
        return ranked[0].score if ranked else 0.0

    def rank_sentences(self, question: str, hits: list[Hit], asked: str | None = None) -> list[Sentence]:
        """Every sentence of the hits, scored by the fitted model, best first.

        `question` is what the words are matched on (the focus); `asked`, the whole question, names its year."""
        out = [replace_score(s, self._probability(s.features)) for s in self.candidates(question, hits, asked)]
        out.sort(key=lambda s: -s.score)
        return out

    def candidates(self, question: str, hits: list[Hit], asked: str | None = None) -> list[Sentence]:
        """The hits' sentences with their FEATURES (score 0): what the model scores and is fitted on."""
        tokenizer = self.retriever.index.tokenizer
        q_tokens = {t for t in tokenizer.tokens(question) if t not in self.place_words}
        q_chars = {c for c in question if HAN.match(c)} - FUNCTION_CHARS - self._place_chars
        if not q_tokens:
            return []
        weights = {t: self.idf_of(t) for t in q_tokens}
        total = sum(weights.values())
        char_weights = {c: self._char_idf.get(c, self._char_idf_unseen) for c in q_chars}
        char_total = sum(char_weights.values()) or 1.0
        wants_quantity = asks_quantity(question)
        wants_time = asks_time(question)
        unit = m.group(1) if (m := ASKED_UNIT.search(question)) else None
        years = {int(y) for y in YEAR.findall(asked or question)}  # as asked: no ranges
        cfg = self.config
        out: list[Sentence] = []
        for hit in hits:
            chunk = hit.chunk
            # Sentences often name neither the report's subject nor the topic: the title and headings above
            # them do, so their words count too, at a discount.
            context_text = " ".join((hit.meta.title, *chunk.section_path))
            heading_tokens = set(tokenizer.tokens(context_text))
            previous: tuple[str, set[str]] = ("", set())
            for a, b, s_tokens in self._chunk_sentences(chunk):
                stripped = chunk.text[a:b]
                context, context_chars = heading_tokens, context_text
                if _ANAPHOR.match(stripped):
                    context, context_chars = heading_tokens | previous[1], context_text + previous[0]
                previous = (stripped, s_tokens)
                coverage = (
                    sum(
                        w if t in s_tokens else cfg.context_weight * w if t in context else 0.0
                        for t, w in weights.items()
                    )
                    / total
                )
                chars = set(stripped)
                char_coverage = (
                    sum(
                        w if c in chars else cfg.context_weight * w if c in context_chars else 0.0
                        for c, w in char_weights.items()
                    )
                    / char_total
                )
                has_number = bool(HAS_NUMBER.search(stripped))
                # A report reviews one year and plans the next, under headings that say which: 2019年工作回顾.
                # The section's and sentence's own years first, else the years the report covers: the title of
                # 2020年塘桥街道社代会报告 names the year it was given, not the year its review covers.
                around = years_in(" ".join(chunk.section_path) + stripped) or _covered(hit.meta)
                features = (
                    coverage,
                    char_coverage,
                    # x10: cosines differ in the second decimal; on this scale the fit need not shrink them away
                    10 * (hit.dense_score - cfg.dense_centre) if hit.dense_score is not None else 0.0,
                    0.0 if hit.dense_score is not None else 1.0,
                    1.0 / hit.rank if hit.rank else 0.0,
                    1.0 / hit.bm25_rank if hit.bm25_rank else 0.0,
                    float(
                        wants_quantity
                        and unit is not None
                        and bool(re.search(rf"[\d二两三四五六七八九十百千万]\s*{unit}", stripped))
                    ),
                    float(wants_quantity and has_number),
                    float(wants_quantity and not has_number),
                    (1.0 if DAY_OR_MONTH.search(stripped) else 0.5 if YEAR.search(stripped) else 0.0)
                    if wants_time
                    else 0.0,
                    math.log(len(stripped)),
                    float(bool(years & around)),
                    float(bool(years) and bool(around) and not years & around),
                )
                paragraph = chunk.para_start + chunk.text.count("\n", 0, a)
                start = chunk.char_start + a
                out.append(Sentence(hit, stripped, start, start + len(stripped), paragraph, 0.0, features))
        return out

    def _chunk_sentences(self, chunk: Chunk) -> list[tuple[int, int, frozenset[str]]]:
        """A chunk's quotable sentences with their tokens, computed once (tokenizing is most of the work)."""
        cached = self._sentence_cache.get(chunk.chunk_id)
        if cached is None:
            tokenizer = self.retriever.index.tokenizer
            cached = [
                (a, b, frozenset(tokenizer.tokens(chunk.text[a:b])))
                for a, b in line_sentences(chunk.text)
                if b - a >= 6 and not is_heading_line(chunk.text[a:b])
            ]
            self._sentence_cache[chunk.chunk_id] = cached
        return cached

    def _probability(self, features: tuple[float, ...]) -> float:
        z = self.config.bias + sum(w * f for w, f in zip(self.config.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def enumeration(self, s: Sentence) -> Sentence:
        """The whole enumeration a sentence belongs to: its ；-separated siblings up to the 。 that ends them.

        sentence_spans cuts at ；, which splits "一是…；二是…；三是…。" into pieces; a list question wants them
        all. A run longer than max_list_chars keeps whole pieces around the chosen one."""
        doc = self.reports.document(s.hit.chunk.doc_id)
        para = doc.paragraph(s.paragraph)
        text = para.text
        a, b = s.start - para.char_start, s.end - para.char_start
        lo = max((m.end() for m in _SENTENCE_STOP.finditer(text, 0, a)), default=0)
        stop = _SENTENCE_STOP.search(text, b - 1)
        hi = stop.end() if stop else len(text)
        pieces = [(lo + x, lo + y) for x, y in sentence_spans(text[lo:hi])]
        if len(pieces) <= 1:
            return s
        chosen = [i for i, (x, y) in enumerate(pieces) if x <= a < y or x < b <= y]
        first = last = chosen[0] if chosen else 0
        budget = self.config.max_list_chars
        while last + 1 < len(pieces) and pieces[last + 1][1] - pieces[first][0] <= budget:
            last += 1
        while first > 0 and pieces[last][1] - pieces[first - 1][0] <= budget:
            first -= 1
        x, y = pieces[first][0], pieces[last][1]
        while x < y and text[x].isspace():
            x += 1
        while y > x and text[y - 1].isspace():
            y -= 1
        if (x, y) == (a, b):
            return s
        start = para.char_start + x
        return Sentence(s.hit, text[x:y], start, para.char_start + y, s.paragraph, s.score, s.features)

    def with_body(self, s: Sentence) -> Sentence:
        """A paragraph's short lead sentence with the body it heads: 聚力满足养老需求。优化社区养老服务布局,….

        Reports open a paragraph with a topic phrase that works as its heading; alone it answers nothing."""
        if len(s.text) > self.config.max_lead_chars:
            return s
        para = self.reports.document(s.hit.chunk.doc_id).paragraph(s.paragraph)
        text = para.text
        a, b = s.start - para.char_start, s.end - para.char_start
        if text[:a].strip() or not text[b:].strip():
            return s
        y = b
        for x, end in line_sentences(text):
            if x >= b and (y == b or end - a <= self.config.max_list_chars):
                y = end
            elif x >= b:
                break
        if y == b:
            return s
        return Sentence(s.hit, text[a:y], s.start, para.char_start + y, s.paragraph, s.score, s.features)

    def with_next(self, s: Sentence, most: int = 1) -> Sentence:
        """The sentence and up to `most` sentences after it in its paragraph, within max_list_chars."""
        para = self.reports.document(s.hit.chunk.doc_id).paragraph(s.paragraph)
        text = para.text
        a, y = s.start - para.char_start, s.end - para.char_start
        for _ in range(most):
            nxt = next(((x, z) for x, z in line_sentences(text) if x >= y), None)
            if nxt is None or nxt[1] - a > self.config.max_list_chars or is_heading_line(text[nxt[0] : nxt[1]]):
                break
            y = nxt[1]
        if y == s.end - para.char_start:
            return s
        return Sentence(s.hit, text[a:y], s.start, para.char_start + y, s.paragraph, s.score, s.features)


def _covered(meta) -> set[int]:
    """The years a report covers, by its metadata (else by its title)."""
    if meta.year_start is not None:
        return set(range(meta.year_start, (meta.year_end or meta.year_start) + 1))
    return years_in(meta.title)


def _spread(n: int, most: int) -> range:
    """At most `most` positions spread evenly over range(n) (all of them when n is small)."""
    return range(0, n, max(1, -(-n // most)))


def _char_idf(texts) -> dict[str, float]:
    df: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        df.update({c for c in text if HAN.match(c)})
    return {c: math.log(1 + n / d) for c, d in df.items()}
