"""Summary answers from a report's outline: the parts of the section a question is about, each cited.

A section's parts are its sub-headings, else the short lead phrases its paragraphs open with; which section
is chosen by the question's subject words, its year and its sense (done or planned), see Summaries.summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..records import Answer, Citation, Document, Hit, Paragraph
from .extract import HAN, Reports, line_sentences
from .query import Query
from .questions import sense_of, years_in
from .sentence_model import SentenceModel

_SKIPPED_SECTIONS = re.compile(r"名词解释|附件|目\s*录|前\s*言|\.{4}|…{2}")  # also table-of-contents lines
# The asking part of a summary question, around its subject.
_SUMMARY_ASKING = re.compile(
    r"(主要|具体|一共|大致|概括起来|总的来说)?(包括|包含|分为|分成|分|有|做了|是|提出了?)?(哪几个|哪几|哪些|几个|几)"
    r"(大?块|方面|点|部分|类|件大?事)(的?工作)?|"
    r"工作重点|重点工作|主要任务|重点任务|主要内容|工作思路|是什么|有哪些|概括起来|[?？，,。的在]"
)


@dataclass
class _Outline:
    """One section of a report with the sections directly under it."""

    path: tuple[str, ...]
    opener: Paragraph | None  # the paragraph that opens it (None: the report as a whole)
    children: list[_Outline] = field(default_factory=list)


class Summaries:
    """Summary answers over the reports, with the answerer's model (its word IDF, place names, config)."""

    def __init__(self, model: SentenceModel, reports: Reports):
        self.model = model
        self.config = model.config
        self.retriever = model.retriever
        self.reports = reports

    def summary(self, query: Query, hits: list[Hit]) -> Answer | None:
        """The parts of the section the question is about, each cited; None: no section fits.

        A section's parts are its sub-headings, or, where it has none, the short lead phrases its paragraphs
        open with (“平战结合”科学精准抓好疫情防控。). The section is chosen by three things: the question's
        subject words that the report's outline uses (塘桥2019年民生服务这块包括哪几部分 -> 民生服务; words no
        heading has, such as 哪几块 or 大事, say nothing about which part), the year asked against the years
        the section names, and whether the question asks what was done (review) or what is planned (tasks)
        against the section's own sense. A question with no subject gets the top-level section that fits its
        year and sense, else the report's top-level outline."""
        if not hits:
            return None
        question, asked, filters = query.question, query.text, query.filters
        tokenizer = self.retriever.index.tokenizer
        doc_id = hits[0].chunk.doc_id
        doc = self.reports.document(doc_id)
        root = _outline(doc)
        nodes = [n for n in _walk(root) if len(self._parts(doc, n)) >= 2]
        if not nodes:
            return None
        # Words of the report's title (行动计划, 工作总结) say which report, not which part of it.
        title_words = set(tokenizer.tokens(doc.meta.title))
        outline_words = {t for n in _walk(root) if n.path for t in tokenizer.tokens(n.path[-1])}
        focus = query.focus

        def heading_weights(text: str) -> dict[str, float]:
            return {
                t: self.model.idf_of(t)
                for t in tokenizer.tokens(text)
                if t in outline_words and t not in self.model.place_words and t not in title_words and HAN.search(t)
            }

        weights = heading_weights(_SUMMARY_ASKING.sub(" ", focus))
        total = sum(weights.values()) or 1.0
        # What the asking itself names (主要任务, 保障措施) picks among sections when no subject is left.
        aims = heading_weights(focus)
        years = set(query.years)
        sense = sense_of(asked)
        hit_paras = [p for h in hits if h.chunk.doc_id == doc_id for p in h.chunk.paragraphs]

        def match(text: str) -> float:
            tokens = set(tokenizer.tokens(text))
            return sum(w for t, w in weights.items() if t in tokens) / total

        def fit(node: _Outline) -> float:
            """Year and sense: +1 for the year asked, -1 for other years only; +0.5 / -0.5 for the sense."""
            path = " ".join(node.path) if node.path else doc.meta.title
            named = years_in(path) or years_in(doc.meta.title)  # a section naming no year is of its report's
            score = (1.0 if years & named else -1.0) if years and named else 0.0
            own_sense = sense_of(path, heading=True) or (
                sense_of(doc.meta.title, heading=True) if not node.path else None
            )
            if sense and own_sense:
                score += 0.5 if sense == own_sense else -0.5
            return score

        best: tuple[float, _Outline] | None = None
        for node in nodes:
            named = years_in(" ".join(node.path)) or years_in(doc.meta.title)
            if years and named and not years & named:
                continue  # a section (or report) of other years only: 2024年的重点任务 is not its plan for 2023
            if weights:
                if not node.path:
                    continue
                own = match(node.path[-1])
                parts = max((match(t) for t in self._part_texts(doc, node)), default=0.0)
                if max(own, parts) < self.config.min_outline_match:
                    continue
                inside = sum(1 for n in hit_paras if _within(doc, n, node.path)) / max(1, len(hit_paras))
                score = own + 0.3 * parts + 0.2 * inside + 0.5 * fit(node)
            else:
                if len(node.path) > 1:
                    continue  # no subject: a top-level section or the report as a whole
                aimed = sum(w for t, w in aims.items() if t in tokenizer.tokens(node.path[-1])) if node.path else 0.0
                aimed /= sum(aims.values()) or 1.0
                # A fitting section before the whole report
                score = fit(node) + aimed + (0.1 if node.path else 0.0)
            if best is None or score > best[0]:
                best = (score, node)
        if best is None:
            return None
        node = best[1]
        if not weights and node.path and best[0] <= 0.1:
            node = root if root in nodes else node  # no section fits the year or sense: the whole outline
        meta = self.retriever.index.metas[doc_id]
        citations = []
        spans = ([(node.opener, _heading_span(node.opener))] if node.opener is not None else []) + [
            (p, text) for p, text in self._parts(doc, node)[: self.config.max_outline]
        ]
        for n, (p, text) in enumerate(spans, start=1):
            start = p.char_start + p.text.index(text)
            citations.append(
                Citation(
                    n,
                    doc_id,
                    meta.title,
                    meta.street,
                    p.section_path,
                    p.number,
                    text,
                    start,
                    start + len(text),
                )
            )
        head, items = (citations[0], citations[1:]) if node.opener is not None else (None, citations)
        lines = ([f"{head.quote}[{head.n}]："] if head else [f"{meta.title}："]) + [f"{c.quote}[{c.n}]" for c in items]
        return Answer(question, "\n".join(lines), tuple(citations), True, tuple(hits), filters, (), asked, "summary")

    def _parts(self, doc: Document, node: _Outline) -> list[tuple[Paragraph, str]]:
        """A section's parts as (paragraph, verbatim text): its sub-headings, else its paragraphs' lead phrases."""
        if len(node.children) >= 2:
            return [(c.opener, _heading_span(c.opener)) for c in node.children if c.opener is not None]
        if not node.path or node.opener is None:
            return []
        leads = []
        for p in doc.paragraphs[node.opener.number :]:
            if p.section_path[: len(node.path)] != node.path:
                break
            if p.kind != "text" or p.section_path != node.path:
                continue
            first = next(iter(line_sentences(p.text)), None)
            if first and first[0] == 0 and first[1] <= self.config.max_lead_chars + 10 and first[1] < len(p.text):
                leads.append((p, p.text[first[0] : first[1]]))
        return leads

    def _part_texts(self, doc: Document, node: _Outline) -> list[str]:
        return [text for _, text in self._parts(doc, node)]


def _outline(doc: Document) -> _Outline:
    """The report's sections as a tree; glossary, appendix, preface and table-of-contents sections left out."""
    root = _Outline((), None)
    nodes = {(): root}
    previous: tuple[str, ...] = ()
    for p in doc.paragraphs:
        path = p.section_path
        if path and path != previous and p.text.startswith(path[-1]) and path not in nodes:
            if not any(_SKIPPED_SECTIONS.search(h) for h in path):
                node = _Outline(path, p)
                nodes[path] = node
                parent = next((nodes[path[:i]] for i in range(len(path) - 1, -1, -1) if path[:i] in nodes), root)
                parent.children.append(node)
        previous = path
    return root


def _walk(node: _Outline):
    yield node
    for child in node.children:
        yield from _walk(child)


def _within(doc: Document, number: int, path: tuple[str, ...]) -> bool:
    return doc.paragraph(number).section_path[: len(path)] == path


def _heading_span(p: Paragraph) -> str:
    """What of the opening paragraph is its heading: the whole of a bare heading, the title of an inline one."""
    if p.kind == "heading":
        return p.text.strip()
    return p.text[: len(p.section_path[-1])]
