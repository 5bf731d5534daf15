"""What every kind of extractive answer shares: the fixed answer texts, a quoted `Sentence` and its citation,
a paragraph's sentence spans, and the reports an answerer reads (each once).

The answerer (answering.py) and its parts (sentence_model, outline, glossary) import this module and none of
them is imported by it, so the parts never import one another in a circle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ingest.chunking import sentence_spans
from ..records import Citation, Document, Filters, Hit
from .questions import near_same
from .retrieval import Retriever

NOT_FOUND = "未在报告中找到相关依据。"
NO_NUMBER = "报告谈到了这一内容，但没有给出具体数字。"

HAN = re.compile(r"[\u4e00-\u9fff]")
# Characters of question words and of the report genre: present in every sentence or none, never evidence.
FUNCTION_CHARS = frozenset(
    "的了是在和与及或有多少几个什么哪些如何怎样么呢吗年月日中对为把被将从于到以这那其该各等也都就还又"
)


@dataclass(frozen=True)
class Sentence:
    hit: Hit
    text: str
    start: int  # in the document's cleaned text
    end: int
    paragraph: int
    score: float
    features: tuple[float, ...] = ()


def replace_score(s: Sentence, score: float) -> Sentence:
    return Sentence(s.hit, s.text, s.start, s.end, s.paragraph, score, s.features)


def cite(n: int, hit: Hit, paragraph: int, quote: str, start: int) -> Citation:
    return Citation(
        n,
        hit.chunk.doc_id,
        hit.meta.title,
        hit.meta.street,
        hit.chunk.section_path,
        paragraph,
        quote,
        start,
        start + len(quote),
    )


def line_sentences(text: str) -> list[tuple[int, int]]:
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


def distinct(sentences: list[Sentence]) -> list[Sentence]:
    kept: list[Sentence] = []
    for s in sentences:
        if any(
            near_same(s.text, k.text)
            or (s.hit.chunk.doc_id == k.hit.chunk.doc_id and (s.start < k.end and k.start < s.end))
            for k in kept
        ):
            continue
        kept.append(s)
    return kept


class Reports:
    """The reports of the retriever's index, each read once and shared by the answerer's parts."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        self._documents: dict[str, Document] = {}

    def document(self, doc_id: str) -> Document:
        if doc_id not in self._documents:
            self._documents[doc_id] = self.retriever.index.document(doc_id)
        return self._documents[doc_id]

    def matching(self, filters: Filters) -> set[str]:
        return {d for d, m in self.retriever.index.metas.items() if filters.matches(m)}
