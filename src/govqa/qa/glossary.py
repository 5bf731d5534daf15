"""Definitions and the reports' own reference parts: the 名词解释 glossary entry of a term a question asks about
(quoted, or pointed to by a footnote mark in the best sentence), else the sentence that spells the quoted term
out; the question's quoted names no report writes (a refusal names them); and when a report was issued, from
the dated lines of its front matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..index.tokenize import simplified
from ..ingest.structure import in_glossary
from ..records import Answer, Citation, Filters, Hit, Paragraph
from .extract import Reports, cite
from .query import Query
from .sentence_model import SentenceModel

# A date as reports and portals print it: 2019年01月30日, 2021年8月, 2021-08-31.
_DATE = re.compile(r"(?:19|20)\d\d\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|(?:19|20)\d\d-\d{1,2}-\d{1,2}")
_GLOSSARY_ENTRY = re.compile(r"^(?:\d{1,3}[、.．]\s*)?(.{1,40}?)[:：]")

# A question's quoted names are looked for in the text of the reports it is asked of when they are this few.
MAX_TERM_SCAN_DOCS = 50
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class GlossaryEntry:
    doc_id: str
    term: str  # the text before the entry's colon, number and quotes stripped: 三会, 五违四必, 151030”办结机制
    paragraph: Paragraph


class Glossary:
    """The corpus's glossary (read once) and the answers drawn from it and from the reports' front matter."""

    def __init__(self, model: SentenceModel, reports: Reports):
        self.model = model
        self.config = model.config
        self.retriever = model.retriever
        self.reports = reports
        self._plain: dict[str, str] = {}
        self._glossary: list[GlossaryEntry] | None = None

    def definition(self, query: Query, hits: list[Hit]) -> Answer | None:
        """The glossary entry of the term asked about, quoted and cited; None: no entry fits."""
        question, asked, filters = query.question, query.text, query.filters
        docs = {h.chunk.doc_id for h in hits} if filters.is_empty() else self.reports.matching(filters)
        terms = list(query.terms)
        entries = [e for t in terms for e in self.entries_of(t, docs)]
        if not entries:
            # A footnote mark in the best sentences points to an entry: "用好“三会” [17]制度" -> 17、三会:...
            best = self.model.rank_sentences(query.focus, hits, asked)[:1]
            for s in best if best and best[0].score >= self.config.min_evidence else ():
                chunk = s.hit.chunk
                for note in chunk.footnotes:
                    if note.marker.startswith("[") and note.marker in s.text:
                        entries.extend(self.entries_of(note.term.strip("“”"), {chunk.doc_id}))
        if not entries:
            return self._quoted_term_sentences(query, hits, terms)
        entries = list(dict.fromkeys(entries))[:2]
        citations = []
        for n, e in enumerate(entries, start=1):
            doc = self.reports.document(e.doc_id)
            meta = self.retriever.index.metas[e.doc_id]
            p = e.paragraph
            citations.append(
                Citation(
                    n,
                    e.doc_id,
                    meta.title,
                    meta.street,
                    p.section_path,
                    p.number,
                    p.text,
                    p.char_start,
                    p.char_end,
                )
            )
            assert doc.text[p.char_start : p.char_end] == p.text
        text = "".join(f"{c.quote}[{c.n}]" for c in citations)
        return Answer(question, text, tuple(citations), True, tuple(hits), filters, (), asked, "definition")

    def unquoted_terms(self, query: Query) -> list[str]:
        """The question's quoted names that no report it is asked of writes (spaces and script aside)."""
        terms, filters = _names(query), query.filters
        if not terms:
            return []
        docs = self.reports.matching(filters) if not filters.is_empty() else set(self.retriever.index.metas)
        if len(docs) > MAX_TERM_SCAN_DOCS:
            return []  # too many to read per question; the retriever and the sentence model still judge
        texts = [self._plain_text(d) for d in docs]
        return [t for t in terms if not any(_SPACES.sub("", t) in text for text in texts)]

    def _plain_text(self, doc_id: str) -> str:
        """A report's text in simplified script without spaces, made once."""
        if doc_id not in self._plain:
            self._plain[doc_id] = _SPACES.sub("", simplified(self.reports.document(doc_id).text))
        return self._plain[doc_id]

    def entries_for(self, query: Query, hits: list[Hit]) -> list[GlossaryEntry]:
        """Glossary entries of the question's quoted terms in the reports it is asked of."""
        terms, filters = _names(query), query.filters
        if not terms:
            return []
        docs = {h.chunk.doc_id for h in hits} if filters.is_empty() else self.reports.matching(filters)
        return [e for t in terms for e in self.entries_of(t, docs) if e.term == t.strip("“”\"' ")]

    def _quoted_term_sentences(self, query: Query, hits: list[Hit], terms: list[str]) -> Answer | None:
        """No glossary entry: the best sentence that spells the quoted term out ("“三微治理”(楼栋微整治…)")."""
        if not terms:
            return None
        ranked = [
            s for s in self.model.rank_sentences(query.focus, hits, query.text) if any(t in s.text for t in terms)
        ]
        spelled = [s for s in ranked if any(re.search(re.escape(t) + r"”?\s*[(（:：即指是]", s.text) for t in terms)]
        best = (spelled or ranked)[:1]
        if not best or best[0].score < self.config.min_evidence:
            return None
        # A term spelled out as an enumeration (“长白8法”:1.…;2.…;) is quoted whole, as a list answer is.
        s = self.model.enumeration(best[0]) if spelled else best[0]
        citation = cite(1, s.hit, s.paragraph, s.text, s.start)
        return Answer(
            query.question, f"{s.text}[1]", (citation,), True, tuple(hits), query.filters, (), query.text, "definition"
        )

    def entries_of(self, term: str, docs: set[str]) -> list[GlossaryEntry]:
        """Entries of the reports in `docs` for `term`: the exact term first, then ones that hold it or it holds."""
        term = term.strip("“”\"' ")
        entries = [e for e in self.entries() if e.doc_id in docs]
        exact = [e for e in entries if e.term == term]
        if exact:
            return exact
        within = [e for e in entries if term in e.term or (len(e.term) >= 2 and e.term in term)]
        return sorted(within, key=lambda e: abs(len(e.term) - len(term)))

    def entries(self) -> list[GlossaryEntry]:
        """Every 名词解释 entry of the corpus (read once)."""
        if self._glossary is None:
            entries = []
            for doc_id in self.retriever.index.metas:
                for p in self.reports.document(doc_id).paragraphs:
                    if p.kind == "heading" or not in_glossary(p.section_path):
                        continue
                    if m := _GLOSSARY_ENTRY.match(p.text):
                        entries.append(GlossaryEntry(doc_id, m.group(1).strip().strip("“”"), p))
            self._glossary = entries
        return self._glossary

    # ---------------------------------------------------------------------------------- report dates

    def publication_date(
        self, question: str, asked: str, filters: Filters, hits: list[Hit], candidates: list[str]
    ) -> Answer | None:
        """When a report was issued: the dated lines of its front matter (before its first heading), cited.

        The report is the one the question names (questions.dated_reports), else the best hit's."""
        metas = self.retriever.index.metas
        ranked = [h.chunk.doc_id for h in hits if not candidates or h.chunk.doc_id in candidates]
        doc_id = ranked[0] if ranked else candidates[0] if len(candidates) == 1 else None
        if doc_id is None:
            return None
        front = []
        for p in self.reports.document(doc_id).paragraphs[:12]:
            if p.kind == "heading" or p.section_path:
                break
            if _DATE.search(p.text):
                front.append(p)
        if not front:
            return None
        meta = metas[doc_id]
        citations = [
            Citation(n, doc_id, meta.title, meta.street, p.section_path, p.number, p.text, p.char_start, p.char_end)
            for n, p in enumerate(front[:2], start=1)
        ]
        text = "".join(f"{c.quote.strip()}[{c.n}]" for c in citations)
        return Answer(question, text, tuple(citations), True, tuple(hits), filters, (), asked, "time")


def _names(query: Query) -> list[str]:
    """The quoted names that can be a report's term: two to twenty characters."""
    return [t for t in query.quoted if 2 <= len(t) <= 20]
