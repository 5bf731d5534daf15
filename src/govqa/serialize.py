"""The JSON shape of every record govqa returns, written once for the CLI's --json and the HTTP API.

The TypedDicts below are the documentation: the HTTP API publishes them as its OpenAPI schemas, and the
functions build exactly these dicts from the dataclass records in `records.py`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from typing_extensions import TypedDict  # pydantic reads these as API schemas; it needs this one before 3.12

from .records import Answer, Citation, Document, Hit, Paragraph

if TYPE_CHECKING:
    from .index.local import Index
    from .qa.compare import Comparison, CoverageMatrix


class HitJSON(TypedDict):
    rank: int
    score: float
    dense_score: float | None
    dense_rank: int | None
    bm25_score: float | None
    bm25_rank: int | None
    doc_id: str
    title: str
    street: str | None
    section_path: list[str]
    paragraphs: list[int]  # [first, last], 1-based, inclusive
    char_start: int  # offsets of `text` in the document's cleaned text
    char_end: int
    text: str


class CitationJSON(TypedDict):
    n: int  # the [n] mark in the answer text
    doc_id: str
    title: str
    street: str | None
    section_path: list[str]
    paragraph: int
    quote: str  # verbatim from the cleaned document: text[char_start:char_end]
    char_start: int
    char_end: int
    page: int | None  # 第N页 of the source, where it has pages (PDF, scans)


class FiltersJSON(TypedDict):
    street: str | None
    district: str | None
    year: int | None
    doc_type: str | None


class AnswerJSON(TypedDict):
    question: str
    resolved_question: str  # the standalone question answered (a follow-up completed from the conversation)
    kind: str  # quantity, definition, list, summary, cross_street, time, yes_no or other
    answer: str  # sentences with [n] marks
    supported: bool  # False: the reports do not support an answer, and `answer` says so
    filters: FiltersJSON  # as applied: given ones plus those the question names
    citations: list[CitationJSON]
    flagged: list[str]  # sentences a language model wrote that no cited passage supports (dropped)
    hits: list[HitJSON]


class FindingJSON(TypedDict):
    street: str
    district: str | None
    found: bool
    finding: str
    citations: list[CitationJSON]
    passages: list[HitJSON]


class ComparisonJSON(TypedDict):
    topic: str
    findings: list[FindingJSON]


class CoverageCellJSON(TypedDict):
    topic: str
    street: str
    score: float
    passages: list[HitJSON]


class CoverageJSON(TypedDict):
    topics: list[str]
    streets: list[str]
    cells: list[CoverageCellJSON]


class DocumentSummaryJSON(TypedDict):
    doc_id: str
    title: str
    street: str | None
    district: str | None
    year_start: int | None
    year_end: int | None
    published: str | None
    doc_type: str | None
    chunks: int


class FootnoteJSON(TypedDict):
    marker: str
    term: str
    definition: str


class ParagraphJSON(TypedDict):
    number: int
    text: str
    section_path: list[str]
    char_start: int
    char_end: int
    kind: str  # text, heading or table
    footnotes: list[FootnoteJSON]


class SectionJSON(TypedDict):
    title: str
    path: list[str]
    paragraph: int  # the first paragraph of the section (its heading, where it has one)
    children: list[SectionJSON]


class DocumentJSON(TypedDict):
    doc_id: str
    title: str
    street: str | None
    district: str | None
    year_start: int | None
    year_end: int | None
    published: str | None
    doc_type: str | None
    paragraph_count: int
    sections: list[SectionJSON]
    paragraph: ParagraphJSON | None  # the one asked for with ?paragraph=N


def hit_json(hit: Hit) -> HitJSON:
    c = hit.chunk
    return {
        "rank": hit.rank,
        "score": hit.score,
        "dense_score": hit.dense_score,
        "dense_rank": hit.dense_rank,
        "bm25_score": hit.bm25_score,
        "bm25_rank": hit.bm25_rank,
        "doc_id": c.doc_id,
        "title": hit.meta.title,
        "street": hit.meta.street,
        "section_path": list(c.section_path),
        "paragraphs": [c.para_start, c.para_end],
        "char_start": c.char_start,
        "char_end": c.char_end,
        "text": c.text,
    }


def citation_json(citation: Citation) -> CitationJSON:
    data = asdict(citation)
    data["section_path"] = list(citation.section_path)
    return data  # type: ignore[return-value]


def answer_json(answer: Answer) -> AnswerJSON:
    return {
        "question": answer.question,
        "resolved_question": answer.resolved_question or answer.question,
        "kind": answer.kind,
        "answer": answer.text,
        "supported": answer.supported,
        "filters": asdict(answer.filters),  # type: ignore[typeddict-item]
        "citations": [citation_json(c) for c in answer.citations],
        "flagged": list(answer.flagged),
        "hits": [hit_json(h) for h in answer.hits],
    }


def comparison_json(comparison: Comparison) -> ComparisonJSON:
    findings: list[FindingJSON] = [
        {
            "street": f.street,
            "district": f.district,
            "found": f.found,
            "finding": f.finding,
            "citations": [citation_json(c) for c in f.citations],
            "passages": [hit_json(h) for h in f.passages],
        }
        for f in comparison.findings
    ]
    return {"topic": comparison.topic, "findings": findings}


def coverage_json(matrix: CoverageMatrix) -> CoverageJSON:
    cells: list[CoverageCellJSON] = [
        {
            "topic": c.topic,
            "street": c.street,
            "score": c.score,
            "passages": [hit_json(h) for h in c.passages],
        }
        for c in matrix.cells
    ]
    return {"topics": list(matrix.topics), "streets": list(matrix.streets), "cells": cells}


def document_summaries(index: Index) -> list[DocumentSummaryJSON]:
    """Every indexed report's metadata and chunk count (`govqa info --json`, `GET /v1/documents`)."""
    counts: dict[str, int] = {}
    for chunk in index.chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    return [{"doc_id": d, **asdict(index.metas[d]), "chunks": counts.get(d, 0)} for d in index.doc_ids()]  # type: ignore[misc]


def paragraph_json(p: Paragraph) -> ParagraphJSON:
    return {
        "number": p.number,
        "text": p.text,
        "section_path": list(p.section_path),
        "char_start": p.char_start,
        "char_end": p.char_end,
        "kind": p.kind,
        "footnotes": [asdict(f) for f in p.footnotes],  # type: ignore[misc]
    }


def section_outline(doc: Document) -> list[SectionJSON]:
    """The section tree: a node per distinct section path, at the paragraph where it starts."""
    roots: list[SectionJSON] = []
    nodes: dict[tuple[str, ...], SectionJSON] = {}
    for p in doc.paragraphs:
        for depth in range(1, len(p.section_path) + 1):
            path = p.section_path[:depth]
            if path in nodes:
                continue
            node: SectionJSON = {"title": path[-1], "path": list(path), "paragraph": p.number, "children": []}
            nodes[path] = node
            (nodes[path[:-1]]["children"] if depth > 1 else roots).append(node)
    return roots


def document_json(doc: Document, paragraph: int | None = None) -> DocumentJSON:
    """A report's metadata and outline, plus paragraph `paragraph` (1-based) when one is asked for.

    Raises IndexError for a paragraph number the document does not have.
    """
    para = None
    if paragraph is not None:
        if not 1 <= paragraph <= len(doc.paragraphs):
            raise IndexError(f"{doc.doc_id} has paragraphs 1-{len(doc.paragraphs)}; there is no paragraph {paragraph}")
        para = paragraph_json(doc.paragraph(paragraph))
    return {
        "doc_id": doc.doc_id,
        **asdict(doc.meta),  # type: ignore[typeddict-item]
        "paragraph_count": len(doc.paragraphs),
        "sections": section_outline(doc),
        "paragraph": para,
    }
