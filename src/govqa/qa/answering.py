"""Extractive answers: the retrieved sentences, glossary entries or outline headings that answer a question.

No model writes anything here: every quoted span is copied from a report's cleaned text and cited as [n],
so it cannot be unsupported. The shape follows the kind of question (see questions.question_kind):

* quantity / time / yes_no / other: the best sentences, scored by a logistic model over word, character and
  passage-meaning signals (fitted on the gold set's dev split; see FITTED_WEIGHTS);
* list: the same, but a sentence is widened to the whole enumeration it belongs to (up to its 。);
* definition: the 名词解释 glossary entry of the term asked about (a quoted term, or one a footnote mark in
  the best sentence points to), quoted with its own citation;
* summary: the report's outline under the section the question is about: each sub-heading, cited;
* cross_street: one finding per street from the comparison engine, or "报告中未涉及该主题";
* a time question about a report itself (《…》是什么时候编制的?): the dated lines of its front matter.

A paragraph's short lead sentence (聚力满足养老需求。) is quoted with the body it heads. A quantity question
whose quoted sentences state no amount of the kind asked (money, area, share, length, else any count) is
answered "the report gives no number", pointing to the nearest sentence, never with an unrelated figure.

When the best evidence is weak the answer says so rather than quoting something near; a street or year
that no report covers is named in the refusal.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..index.tokenize import simplified
from ..ingest.structure import in_glossary
from ..records import Answer, Citation, Filters, Hit, Paragraph, Turn
from .amounts import states_amount as _states_amount
from .compare import NOT_COVERED, compare_streets
from .extract import (
    NO_NUMBER,
    NOT_FOUND,
    YEAR_NUMBER,
    Reports,
    Sentence,
    cite,
    distinct,
)
from .outline import Summaries
from .query import Query, analyse
from .questions import (
    asks_explanation,
    dated_reports,
    focus_text,
    quoted_terms,
    topic_of,
)
from .retrieval import Retriever
from .sentence_model import (
    FEATURES,
    FITTED_BIAS,
    FITTED_MIN_EVIDENCE,
    FITTED_WEIGHTS,
    AnswerConfig,
    SentenceModel,
)

# Where the answerer's callers have always found them (the model's weights, the fixed answer texts).
__all__ = [
    "FEATURES",
    "FITTED_BIAS",
    "FITTED_MIN_EVIDENCE",
    "FITTED_WEIGHTS",
    "NO_NUMBER",
    "NOT_FOUND",
    "AnswerConfig",
    "ExtractiveAnswerer",
    "GlossaryEntry",
    "Sentence",
]

# A date as reports and portals print it: 2019年01月30日, 2021年8月, 2021-08-31.
_DATE = re.compile(r"(?:19|20)\d\d\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|(?:19|20)\d\d-\d{1,2}-\d{1,2}")
_QUOTED_TERM = re.compile(r"[“\"「『]([^”\"」』]{2,20})[”\"」』]")
_GLOSSARY_ENTRY = re.compile(r"^(?:\d{1,3}[、.．]\s*)?(.{1,40}?)[:：]")
# What a cross-street question says around its topic: 各街道在(旧区改造)方面有什么进展?
_COMPARE_WORDS = re.compile(
    r"哪些街道|哪几个街道|各个?街道|各街镇|街道|分别|都|比较|对比|相比|比呢|差异|异同|有何不同|有什么不同|不同之处|不同|"
    r"提到了?|谈到了?|涉及了?|开展了?|做了|推进了?|进展|成绩|成效|举措|措施|做法|特点|亮点|的|在|方面|工作|情况|如何|怎样|"
    r"有哪些|哪些|什么|有|[?？，,。、和与跟同呢]"
)

# Words that frame a comparison question rather than name its topic, as the tokenizer cuts them.
_FRAME_WORDS = frozenset(
    "为了 为 让 把 搞 做 干 想 想了 办法 方法 采取 采取了 措施 举措 做法 拿到 拿到过 得到 过 认可 几个 各有 各 都 一年 每年 "
    "上 分别 各自 情况 怎样 怎么 如何 什么 哪些 方面 工作 有 是".split()
)


# A question's quoted names are looked for in the text of the reports it is asked of when they are this few.
MAX_TERM_SCAN_DOCS = 50
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class GlossaryEntry:
    doc_id: str
    term: (
        str  # the text before the entry's colon, number and quotes stripped: 三会, 五违四必, 151030”办结机制
    )
    paragraph: Paragraph


class ExtractiveAnswerer:
    def __init__(self, retriever: Retriever, config: AnswerConfig | None = None):
        self.retriever = retriever
        self.config = config or AnswerConfig()
        self.reports = Reports(retriever)
        self.model = SentenceModel(retriever, self.config, self.reports)
        self._summaries = Summaries(self.model, self.reports)
        self._plain: dict[str, str] = {}
        self._glossary: list[GlossaryEntry] | None = None

    # ------------------------------------------------------------------------------------------ sentence model

    def rank_sentences(self, question: str, hits: list[Hit], asked: str | None = None) -> list[Sentence]:
        """Every sentence of the hits, scored by the fitted model, best first (see SentenceModel)."""
        return self.model.rank_sentences(question, hits, asked)

    def candidates(self, question: str, hits: list[Hit], asked: str | None = None) -> list[Sentence]:
        """The hits' sentences with their FEATURES (score 0): what the model scores and is fitted on."""
        return self.model.candidates(question, hits, asked)

    def evidence_score(self, question: str, hits: list[Hit]) -> float:
        """The best sentence's score: what the not-found threshold is compared with."""
        return self.model.evidence_score(question, hits)

    # ------------------------------------------------------------------------------------------ entry point

    def answer(
        self,
        question: str,
        filters: Filters | None = None,
        infer: bool = True,
        history: Sequence[Turn] | None = None,
    ) -> Answer:
        """The question analysed (see qa.query), then answered: for callers that hold only its text.

        infer=False: search with `filters` only, not the street/year the question names (external data).
        `history`: the conversation so far, oldest first; a follow-up question is completed from the last turn
        and the answer's resolved_question says what was answered."""
        metas = self.retriever.index.metas.values()
        return self.answer_query(analyse(question, metas, filters, history or (), infer))

    def answer_query(self, query: Query) -> Answer:
        """The answer to an analysed question, in the shape its kind asks for."""
        answer = self._answer(query)
        if answer.resolved_question != query.resolved_question:
            answer = dataclasses.replace(answer, resolved_question=query.resolved_question)
        return answer

    def _answer(self, query: Query) -> Answer:
        question, asked, kind, resolved = query.question, query.text, query.kind, query.filters
        missing = self._missing_reports(resolved) if query.inferred else None
        if missing:
            return self._refusal(question, asked, kind, resolved, text=missing)
        if query.inferred and (unknown := self._unquoted_terms(asked, resolved)):
            # A name given in quotes is asked for by that name: reports that never write it do not answer.
            names = "、".join(f"“{t}”" for t in unknown)
            return self._refusal(
                question, asked, kind, resolved, text=f"{NOT_FOUND}（所查报告中没有提到{names}。）"
            )
        if kind == "cross_street" and query.inferred:
            year = query.years[0] if len(set(query.years)) == 1 else None
            answer = self._cross_street(question, asked, list(query.streets), year)
            if answer is not None:
                return answer
            kind = "list"
        hits = self.retriever.search(query, k=self.config.k)
        if kind == "summary":
            answer = self._summaries.summary(question, asked, resolved, hits)
            if answer is not None:
                return answer
        if kind == "definition" or (
            kind in ("other", "list") and self._glossary_entries_for(asked, resolved, hits)
        ):
            # A quoted term the reports define (“五件套”都是些什么设备?) is answered by its definition,
            # however the question is worded.
            answer = self._definition(question, asked, resolved, hits)
            if answer is not None:
                return answer
        if (
            kind == "time"
            and (reports := dated_reports(asked, self.retriever.index.metas, resolved)) is not None
        ):
            answer = self._publication_date(question, asked, resolved, hits, reports)
            if answer is not None:
                return answer
        return self._sentences(question, asked, kind, resolved, hits)

    # ------------------------------------------------------------------------------------ sentence answers

    def _sentences(self, question: str, asked: str, kind: str, filters: Filters, hits: list[Hit]) -> Answer:
        sentences = self.rank_sentences(focus_text(asked, filters), hits, asked)
        if kind == "quantity":
            # A glossary entry defines a term; the figures of a year are in the report's body.
            sentences = [s for s in sentences if not in_glossary(s.hit.chunk.section_path)]
        if not sentences or sentences[0].score < self.config.min_evidence:
            return self._refusal(question, asked, kind, filters, hits)
        # A year asked is the year answered: 2019年做了什么 from the review of 2019, not from the same report's
        # plan for 2020; and 那2020年呢 is not answered with 2019's figure.
        mismatched = FEATURES.index("year_mismatch")
        of_the_year = [s for s in sentences if not s.features[mismatched]]
        if not of_the_year or of_the_year[0].score < self.config.min_evidence:
            other = sentences[0]
            nearest = cite(1, other.hit, other.paragraph, other.text, other.start)
            years = "、".join(f"{y}年" for y in dict.fromkeys(YEAR_NUMBER.findall(asked)))
            text = f"报告没有给出{years}的相关内容；最接近的是其他年份的记载：{nearest.quote.strip()}[1]"
            return Answer(question, text, (nearest,), False, tuple(hits), filters, (), asked, kind)
        sentences = of_the_year
        chosen = [s for s in sentences if s.score >= self.config.relative_cutoff * sentences[0].score]
        chosen = distinct(chosen)[: self.config.max_sentences]
        if kind == "list":
            chosen = distinct([self.model.enumeration(s) for s in chosen])
        chosen = distinct([self.model.with_body(s) for s in chosen])
        if kind in ("definition", "other", "list") and asks_explanation(asked):  # simplified: 為什麼 too
            # A reason, a manner or a description seldom ends with its first sentence (阿米巴…会导致痢疾。
            # 症状包括…): the best sentence is quoted with the one after it.
            chosen = distinct([self.model.with_next(chosen[0]), *chosen[1:]])
        citations = [cite(n, s.hit, s.paragraph, s.text, s.start) for n, s in enumerate(chosen, start=1)]
        if kind == "quantity" and not any(_states_amount(asked, c.quote) for c in citations):
            # Asked for a number, and the nearest evidence gives none: say so, and show where it was looked for.
            text = f"{NO_NUMBER}相关内容：{citations[0].quote.strip()}[1]"
            return Answer(question, text, citations[:1], False, tuple(hits), filters, (), asked, kind)
        if kind == "which_street":
            # Asked which street: each quote says whose report it is from.
            text = "\n".join(f"{c.street or c.title}：{c.quote.strip()}[{c.n}]" for c in citations)
        else:
            text = "".join(f"{c.quote.strip()}[{c.n}]" for c in citations)
        return Answer(question, text, tuple(citations), True, tuple(hits), filters, (), asked, kind)

    # ---------------------------------------------------------------------------------------- definitions

    def _definition(self, question: str, asked: str, filters: Filters, hits: list[Hit]) -> Answer | None:
        """The glossary entry of the term asked about, quoted and cited; None: no entry fits."""
        docs = {h.chunk.doc_id for h in hits} if filters.is_empty() else self.reports.matching(filters)
        terms = quoted_terms(asked)
        entries = [e for t in terms for e in self._glossary_entries(t, docs)]
        if not entries:
            # A footnote mark in the best sentences points to an entry: "用好“三会” [17]制度" -> 17、三会:...
            focus = focus_text(asked, filters)
            best = self.rank_sentences(focus, hits, asked)[:1]
            for s in best if best and best[0].score >= self.config.min_evidence else ():
                chunk = s.hit.chunk
                for note in chunk.footnotes:
                    if note.marker.startswith("[") and note.marker in s.text:
                        entries.extend(self._glossary_entries(note.term.strip("“”"), {chunk.doc_id}))
        if not entries:
            return self._quoted_term_sentences(question, asked, filters, hits, terms)
        entries = list(dict.fromkeys(entries))[:2]
        citations = []
        for n, e in enumerate(entries, start=1):
            doc = self.reports.document(e.doc_id)
            meta = self.retriever.index.metas[e.doc_id]
            p = e.paragraph
            citations.append(Citation(n, e.doc_id, meta.title, meta.street, p.section_path, p.number, p.text,
                                      p.char_start, p.char_end))  # fmt: skip
            assert doc.text[p.char_start : p.char_end] == p.text
        text = "".join(f"{c.quote}[{c.n}]" for c in citations)
        return Answer(question, text, tuple(citations), True, tuple(hits), filters, (), asked, "definition")

    def _unquoted_terms(self, asked: str, filters: Filters) -> list[str]:
        """The question's quoted names that no report it is asked of writes (spaces and script aside)."""
        terms = [m.group(1).strip() for m in _QUOTED_TERM.finditer(asked)]
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

    def _glossary_entries_for(self, asked: str, filters: Filters, hits: list[Hit]) -> list[GlossaryEntry]:
        """Glossary entries of the question's quoted terms in the reports it is asked of."""
        terms = [m.group(1).strip() for m in _QUOTED_TERM.finditer(asked)]
        if not terms:
            return []
        docs = {h.chunk.doc_id for h in hits} if filters.is_empty() else self.reports.matching(filters)
        return [e for t in terms for e in self._glossary_entries(t, docs) if e.term == t.strip("“”\"' ")]

    def _quoted_term_sentences(
        self, question: str, asked: str, filters: Filters, hits: list[Hit], terms: list[str]
    ) -> Answer | None:
        """No glossary entry: the best sentence that spells the quoted term out ("“三微治理”(楼栋微整治…)")."""
        if not terms:
            return None
        ranked = [
            s
            for s in self.rank_sentences(focus_text(asked, filters), hits, asked)
            if any(t in s.text for t in terms)
        ]
        spelled = [
            s for s in ranked if any(re.search(re.escape(t) + r"”?\s*[(（:：即指是]", s.text) for t in terms)
        ]
        best = (spelled or ranked)[:1]
        if not best or best[0].score < self.config.min_evidence:
            return None
        s = best[0]
        citation = cite(1, s.hit, s.paragraph, s.text, s.start)
        return Answer(
            question, f"{s.text}[1]", (citation,), True, tuple(hits), filters, (), asked, "definition"
        )

    # ---------------------------------------------------------------------------------- report dates

    def _publication_date(
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
            Citation(
                n, doc_id, meta.title, meta.street, p.section_path, p.number, p.text, p.char_start, p.char_end
            )
            for n, p in enumerate(front[:2], start=1)
        ]
        text = "".join(f"{c.quote.strip()}[{c.n}]" for c in citations)
        return Answer(question, text, tuple(citations), True, tuple(hits), filters, (), asked, "time")

    def _glossary_entries(self, term: str, docs: set[str]) -> list[GlossaryEntry]:
        """Entries of the reports in `docs` for `term`: the exact term first, then ones that hold it or it holds."""
        term = term.strip("“”\"' ")
        entries = [e for e in self.glossary() if e.doc_id in docs]
        exact = [e for e in entries if e.term == term]
        if exact:
            return exact
        within = [e for e in entries if term in e.term or (len(e.term) >= 2 and e.term in term)]
        return sorted(within, key=lambda e: abs(len(e.term) - len(term)))

    def glossary(self) -> list[GlossaryEntry]:
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

    # -------------------------------------------------------------------------------------- cross-street

    def _cross_street(self, question: str, asked: str, streets: list[str], year: int | None) -> Answer | None:
        """Street by street, from the comparison engine; None: the question names no topic to compare on."""
        topic = _COMPARE_WORDS.sub(" ", topic_of(asked, Filters(year=year)))
        for name in sorted(self.model.place_words, key=len, reverse=True):
            topic = topic.replace(name, " ")
        # The words that frame the question (为了…想了什么办法, 采取了什么措施) are not what is searched for.
        words = self.retriever.index.tokenizer.words(re.sub(r"\s+", "", topic))
        topic = "".join(w for w in words if w not in _FRAME_WORDS)
        if len(topic) < 2:
            return None
        try:
            comparison = compare_streets(self, topic, streets or None, year=year)
            if sum(f.found for f in comparison.findings) < 2 and (specific := self._specific_word(topic)):
                # 停车管理措施 is rarely written whole; its most specific word (停车) still names the topic.
                comparison = compare_streets(self, f"{topic}/{specific}", streets or None, year=year)
        except ValueError:
            return None
        findings = sorted(comparison.findings, key=lambda f: not f.found)
        if not any(f.found for f in findings):
            text = f"各街道的报告中均未涉及“{comparison.topic}”。"
            return Answer(question, text, (), False, (), Filters(), (), asked, "cross_street")
        citations: list[Citation] = []
        lines = []
        for f in findings:
            if not f.found:
                lines.append(f"{f.street}：{NOT_COVERED}。")
                continue
            finding = f.finding
            renumbered = []
            for c in f.citations:
                n = len(citations) + 1
                finding = finding.replace(f"[{c.n}]", f"[#{n}]")
                renumbered.append(Citation(n, c.doc_id, c.title, c.street, c.section_path, c.paragraph, c.quote,
                                           c.char_start, c.char_end))  # fmt: skip
                citations.extend(renumbered[-1:])
            lines.append(f"{f.street}：{finding.replace('[#', '[')}")
        hits = tuple(h for f in findings for h in f.passages[:1])
        return Answer(question, "\n".join(lines), tuple(citations), True, hits, Filters(), (), asked,
                      "cross_street")  # fmt: skip

    # ------------------------------------------------------------------------------------------- helpers

    def _specific_word(self, topic: str) -> str | None:
        """The topic's rarest word of two or more characters, when it has other words besides."""
        words = {t for t in self.retriever.index.tokenizer.tokens(topic) if len(t) >= 2 and t != topic}
        if len(words) < 2:
            return None
        return max(sorted(words), key=lambda t: self.model.idf_of(t))

    def _missing_reports(self, filters: Filters) -> str | None:
        """A refusal naming what the corpus lacks: a street (or district) it has no report of, or a year."""
        metas = list(self.retriever.index.metas.values())
        if any(filters.matches(m) for m in metas):
            return None
        place = filters.street or filters.district
        if place and not any(
            Filters(street=filters.street, district=filters.district).matches(m) for m in metas
        ):
            return f"语料中没有{place}的报告。"
        if filters.year is not None:
            return f"语料中没有{place or ''}{filters.year}年的报告。"
        return None

    def _refusal(self, question: str, asked: str, kind: str, filters: Filters, hits: Sequence[Hit] = (),
                 text: str = NOT_FOUND) -> Answer:  # fmt: skip
        return Answer(question, text, (), False, tuple(hits), filters, (), asked, kind)
