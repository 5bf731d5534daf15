"""Extractive answers: pick the retrieved sentences that answer the question, each cited as [n].

No model writes anything here: every sentence of an answer is copied from a report, so it cannot be
unsupported. When the best evidence is weak the answer says so rather than quoting something near.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ingest.chunking import sentence_spans
from ..ingest.structure import is_heading_line
from ..records import Answer, Citation, Filters, Hit
from .questions import focus_text, place_words
from .retrieval import Retriever

NOT_FOUND = "未在报告中找到相关依据。"
_QUANTITY_QUESTION = re.compile(
    r"多少|几[个家项次名处条所座万千百]|数量|面积|金额|比例|人数|户数|规模|多大|多长|多高|哪一年|何时|什么时候"
)
_ASKED_UNIT = re.compile(
    r"(?:多少|几)(家次|人次|平方米|万元|[个家名人户次项处条所座栋辆块场批期套台张件元万亿台])"
)
_QUANTITY = re.compile(
    r"\d[\d.,]*\s*(%|％|个|家|人|名|户|次|项|处|条|所|座|栋|辆|块|场|批|期|平方米|平米|万|亿|元|米|公里|小时|天|年|余|多)"
)


@dataclass(frozen=True)
class AnswerConfig:
    k: int = 6  # hits read for candidate sentences
    max_sentences: int = 3
    relative_cutoff: float = 0.6  # keep sentences scoring at least this share of the best one
    # Below this evidence score the reports are taken not to answer. Calibrated on tests/data/gold.jsonl by
    # `python -m govqa.bench` (it prints the sweep); see README.
    min_evidence: float = 0.6
    # e5 cosine similarities sit in a narrow band (~0.80-0.95 here); this centre and slope turn the passage's
    # dense score into a term comparable with the word-coverage share.
    dense_centre: float = 0.87
    dense_slope: float = 2.0
    context_weight: float = 0.5  # share of a word's weight when only the title or headings hold it


@dataclass(frozen=True)
class Sentence:
    hit: Hit
    text: str
    start: int  # in the document's cleaned text
    end: int
    paragraph: int
    score: float


class ExtractiveAnswerer:
    def __init__(self, retriever: Retriever, config: AnswerConfig | None = None):
        self.retriever = retriever
        self.config = config or AnswerConfig()
        self._idf = retriever.index.token_idf
        self._idf_unseen = max(self._idf.values(), default=1.0)
        self._place_words = place_words(retriever.index.metas.values())

    def answer(self, question: str, filters: Filters | None = None, infer: bool = True) -> Answer:
        """infer=False: search with `filters` only, not the street/year the question names (external data)."""
        resolved = self.retriever.resolve_filters(question.strip(), filters, infer)
        hits = self.retriever.search(question, k=self.config.k, filters=resolved, infer=False)
        sentences = self.rank_sentences(focus_text(question, resolved), hits)
        if not sentences or sentences[0].score < self.config.min_evidence:
            return Answer(question, NOT_FOUND, (), False, tuple(hits), resolved)
        chosen = [s for s in sentences if s.score >= self.config.relative_cutoff * sentences[0].score]
        chosen = _distinct(chosen)[: self.config.max_sentences]
        citations = tuple(
            Citation(n, s.hit.chunk.doc_id, s.hit.meta.title, s.hit.meta.street, s.hit.chunk.section_path,
                     s.paragraph, s.text, s.start, s.end)
            for n, s in enumerate(chosen, start=1)
        )  # fmt: skip
        text = "".join(f"{c.quote.strip()}[{c.n}]" for c in citations)
        return Answer(question, text, citations, True, tuple(hits), resolved)

    def evidence_score(self, question: str, hits: list[Hit]) -> float:
        """The best sentence's score: what the not-found threshold is compared with."""
        ranked = self.rank_sentences(question, hits)
        return ranked[0].score if ranked else 0.0

    def rank_sentences(self, question: str, hits: list[Hit]) -> list[Sentence]:
        tokenizer = self.retriever.index.tokenizer
        q_tokens = {t for t in tokenizer.tokens(question) if t not in self._place_words}
        if not q_tokens:
            return []
        weights = {t: self._idf.get(t, self._idf_unseen) for t in q_tokens}
        total = sum(weights.values())
        wants_quantity = bool(_QUANTITY_QUESTION.search(question))
        unit = m.group(1) if (m := _ASKED_UNIT.search(question)) else None
        cfg = self.config
        out: list[Sentence] = []
        for hit in hits:
            chunk = hit.chunk
            # Sentences often name neither the report's subject nor the topic: the title and headings above
            # them do, so their words count too, at a discount.
            context = set(tokenizer.tokens(" ".join((hit.meta.title, *chunk.section_path))))
            for a, b in _line_sentences(chunk.text):
                stripped = chunk.text[a:b]
                if len(stripped) < 6 or is_heading_line(stripped):
                    continue
                s_tokens = set(tokenizer.tokens(stripped))
                coverage = (
                    sum(
                        w if t in s_tokens else cfg.context_weight * w if t in context else 0.0
                        for t, w in weights.items()
                    )
                    / total
                )
                score = coverage + 0.15 / hit.rank
                # Paraphrases share few words with the text: the passage's meaning match carries them.
                score += cfg.dense_slope * (hit.dense_score - cfg.dense_centre) if hit.dense_score else -0.1
                if wants_quantity:
                    if unit and re.search(rf"\d\s*{unit}", stripped):
                        score += 0.25
                    elif _QUANTITY.search(stripped):
                        score += 0.1
                    else:
                        score -= 0.1
                paragraph = chunk.para_start + chunk.text.count("\n", 0, a)
                start = chunk.char_start + a
                out.append(Sentence(hit, stripped, start, start + len(stripped), paragraph, score))
        out.sort(key=lambda s: -s.score)
        return out


def _line_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed; a sentence never runs from one paragraph into the next."""
    spans = []
    offset = 0
    for line in text.split("\n"):
        for a, b in sentence_spans(line):
            piece = line[a:b]
            lead = len(piece) - len(piece.lstrip())
            spans.append((offset + a + lead, offset + a + len(piece.rstrip())))
        offset += len(line) + 1
    return [(a, b) for a, b in spans if b > a]


def _distinct(sentences: list[Sentence]) -> list[Sentence]:
    kept: list[Sentence] = []
    for s in sentences:
        if any(
            s.text == k.text or (s.hit.chunk.doc_id == k.hit.chunk.doc_id and s.start == k.start)
            for k in kept
        ):
            continue
        kept.append(s)
    return kept
