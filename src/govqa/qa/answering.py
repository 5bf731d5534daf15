"""Extractive answers: ExtractiveAnswerer gives each kind of question the answer shape it asks for.

No model writes anything here: every quoted span is copied from a report's cleaned text and cited as [n],
so it cannot be unsupported. The shape follows the kind of question (see questions.question_kind); this
module dispatches, answers with sentences and refuses, and its parts supply the rest:

* quantity / time / yes_no / other: the best sentences, scored by the sentence model (sentence_model.py: a
  logistic model over word, character and passage-meaning signals fitted on the gold set's dev split);
* list: the same, but a sentence is widened to the whole enumeration it belongs to (up to its 。);
* definition: the 名词解释 glossary entry of the term asked about (a quoted term, or one a footnote mark in
  the best sentence points to), quoted with its own citation (glossary.py);
* summary: the report's outline under the section the question is about: each sub-heading, cited (outline.py);
* cross_street: one finding per street from the comparison engine (compare.py), or that street's own answer to
  the question where the topic's words do not reach it, or "报告中未涉及该主题";
* a time question about a report itself (《…》是什么时候编制的?): the dated lines of its front matter
  (glossary.py).

A paragraph's short lead sentence (聚力满足养老需求。) is quoted with the body it heads. A quantity question
whose quoted sentences state no amount of the kind asked (money, area, share, length, else any count; see
amounts.py) is answered "the report gives no number", pointing to the nearest sentence, never with an
unrelated figure.

When the best evidence is weak the answer says so rather than quoting something near; a street or year
that no report covers is named in the refusal. What all of these share (Sentence, citing, the fixed answer
texts, the reports read once) is in extract.py, which imports none of them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from ..ingest.structure import in_glossary
from ..records import Answer, Citation, Filters, Hit, Turn
from .amounts import states_amount as _states_amount
from .compare import NOT_COVERED, Comparison, compare_streets
from .extract import NO_NUMBER, NOT_FOUND, Reports, Sentence, cite, distinct
from .glossary import Glossary, GlossaryEntry
from .outline import Summaries
from .query import Query, analyse, restricted
from .questions import dated_reports, topic_of
from .retrieval import Retriever
from .sentence_model import (
    FEATURES,
    FITTED_BIAS,
    FITTED_MIN_EVIDENCE,
    FITTED_WEIGHTS,
    AnswerConfig,
    SentenceModel,
)

# Callers (engine, evaluation, generation, tests) import these from here, where they were before the split.
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


def _street_lines(parts: Sequence[tuple[str, str, tuple[Citation, ...]]]) -> tuple[str, tuple[Citation, ...]]:
    """One line per street (its finding, or NOT_COVERED), the [n] marks renumbered over the whole answer."""
    citations: list[Citation] = []
    lines = []
    for street, finding, cited in parts:
        if not cited:
            lines.append(f"{street}：{NOT_COVERED}。")
            continue
        for c in cited:
            n = len(citations) + 1
            finding = finding.replace(f"[{c.n}]", f"[#{n}]")
            citations.append(dataclasses.replace(c, n=n))
        lines.append(f"{street}：{finding.replace('[#', '[')}")
    return "\n".join(lines), tuple(citations)


class ExtractiveAnswerer:
    """Answers questions over a retriever's index; holds the sentence model, the glossary and the summaries,
    which share its config and the reports it has read."""

    def __init__(self, retriever: Retriever, config: AnswerConfig | None = None):
        self.retriever = retriever
        self.config = config or AnswerConfig()
        self.reports = Reports(retriever)
        self.model = SentenceModel(retriever, self.config, self.reports)
        self._summaries = Summaries(self.model, self.reports)
        self._glossary = Glossary(self.model, self.reports)

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

    def glossary(self) -> list[GlossaryEntry]:
        """Every 名词解释 entry of the corpus (read once)."""
        return self._glossary.entries()

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
        if query.inferred and (unknown := self._glossary.unquoted_terms(query)):
            # A name given in quotes is asked for by that name: reports that never write it do not answer.
            names = "、".join(f"“{t}”" for t in unknown)
            return self._refusal(question, asked, kind, resolved, text=f"{NOT_FOUND}（所查报告中没有提到{names}。）")
        if kind == "cross_street" and query.foreign and not query.streets:
            # 江宁路和石门二路各做了什么: the corpus has neither; answering from other streets would mislead.
            names = "、".join(query.foreign)
            return self._refusal(question, asked, kind, resolved, text=f"语料中没有{names}的报告。")
        if kind == "cross_street" and query.inferred:
            answer = self._cross_street(query)
            if answer is not None:
                return answer
            kind = "list"
        hits = self.retriever.search(query, k=self.config.k)
        if kind == "summary":
            answer = self._summaries.summary(query, hits)
            if answer is not None:
                return answer
        if kind == "definition" or (kind in ("other", "list") and self._glossary.entries_for(query, hits)):
            # A quoted term the reports define (“五件套”都是些什么设备?) is answered by its definition,
            # however the question is worded.
            answer = self._glossary.definition(query, hits)
            if answer is not None:
                return answer
        if kind == "time" and (reports := dated_reports(asked, self.retriever.index.metas, resolved)) is not None:
            answer = self._glossary.publication_date(question, asked, resolved, hits, reports)
            if answer is not None:
                return answer
        return self._sentences(query, kind, hits)

    # ------------------------------------------------------------------------------------ sentence answers

    def _sentences(self, query: Query, kind: str, hits: list[Hit]) -> Answer:
        question, asked, filters = query.question, query.text, query.filters
        sentences = self.rank_sentences(query.focus, hits, asked)
        if kind == "quantity":
            # A glossary entry defines a term; the figures of a year are in the report's body.
            sentences = [s for s in sentences if not in_glossary(s.hit.chunk.section_path)]
        if not sentences or sentences[0].score < self._min_evidence(kind, asked, sentences[0]):
            return self._refusal(question, asked, kind, filters, hits)
        # A year asked is the year answered: 2019年做了什么 from the review of 2019, not from the same report's
        # plan for 2020; and 那2020年呢 is not answered with 2019's figure.
        mismatched = FEATURES.index("year_mismatch")
        of_the_year = [s for s in sentences if not s.features[mismatched]]
        # The year's best sentence may score a little under the threshold while the topic's best (of another
        # year) passes it: evidence as close as the sentences an answer keeps (relative_cutoff) still answers.
        close = of_the_year and of_the_year[0].score >= self.config.relative_cutoff * sentences[0].score
        if not of_the_year or (of_the_year[0].score < self._min_evidence(kind, asked, of_the_year[0]) and not close):
            other = sentences[0]
            nearest = cite(1, other.hit, other.paragraph, other.text, other.start)
            years = "、".join(f"{y}年" for y in dict.fromkeys(query.years))
            text = f"报告没有给出{years}的相关内容；最接近的是其他年份的记载：{nearest.quote.strip()}[1]"
            return Answer(question, text, (nearest,), False, tuple(hits), filters, (), asked, kind)
        sentences = of_the_year
        chosen = [s for s in sentences if s.score >= self.config.relative_cutoff * sentences[0].score]
        chosen = distinct(chosen)[: self.config.max_sentences]
        if kind == "list":
            chosen = distinct([self.model.enumeration(s) for s in chosen])
        chosen = distinct([self.model.with_body(s) for s in chosen])
        if kind in ("definition", "other", "list") and query.wants_explanation:
            # A reason, a manner or a description seldom ends with its first sentence (阿米巴…会导致痢疾。
            # 症状包括…): the best sentence is quoted with the ones after it.
            best = self.model.with_next(chosen[0], self.config.explanation_sentences)
            chosen = distinct([best, *chosen[1:]])
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

    # -------------------------------------------------------------------------------------- cross-street

    def _cross_street(self, query: Query) -> Answer | None:
        """Street by street, from the comparison engine; None: the question names no topic to compare on."""
        question, asked, year = query.question, query.text, query.year
        comparison = self._comparison(query, year)
        if comparison is None:
            return None
        # A street whose clauses do not hold the topic is asked the question itself, on its own reports
        # (垃圾分类的硬件设施, 老楼装电梯的进展 are answered in the report's own words). Where some street does
        # hold the topic, that answer must still name its most specific word (充电 of 电瓶车充电安全): else the
        # street is a gap, not a paraphrase, and a near sentence would be passed off as coverage.
        # 各有多少 wants each street's figure: there the street's own quantity answer (an amount of the kind
        # asked, or nothing) comes before the comparison's topic sentence, which need not state one.
        caught = any(f.found for f in comparison.findings)
        specific = self._specific_word(comparison.topic) or comparison.topic
        numbers = query.wants_quantity
        parts: list[tuple[str, str, tuple[Citation, ...]]] = []  # street, finding with [n] marks, citations
        for f in comparison.findings:
            own = self._street_answer(query, f.street, year) if numbers or not f.found else None
            if own is not None and (not caught or specific in own.text):
                parts.append((f.street, own.text, own.citations))
            else:
                parts.append((f.street, f.finding, f.citations) if f.found else (f.street, "", ()))
        if not any(cited for _, _, cited in parts):
            text = f"各街道的报告中均未涉及“{comparison.topic}”。"
            return Answer(question, text, (), False, (), Filters(), (), asked, "cross_street")
        text, citations = _street_lines(sorted(parts, key=lambda p: not p[2]))
        text += "".join(f"\n{name}：语料中没有该街道的报告。" for name in query.foreign)
        hits = tuple(h for f in comparison.findings for h in f.passages[:1])
        return Answer(question, text, citations, True, hits, Filters(), (), asked, "cross_street")

    def _comparison(self, query: Query, year: int | None) -> Comparison | None:
        """The comparison on the question's topic: its words less places, years and the question's frame."""
        topic = self._without_places(_COMPARE_WORDS.sub(" ", topic_of(query.text, Filters(year=year))))
        # The words that frame the question (为了…想了什么办法, 采取了什么措施) are not what is searched for.
        words = self.retriever.index.tokenizer.words(re.sub(r"\s+", "", topic))
        topic = "".join(w for w in words if w not in _FRAME_WORDS)
        if len(topic) < 2:
            return None
        streets = list(query.streets) or None
        try:
            comparison = compare_streets(self, topic, streets, year=year)
            if sum(f.found for f in comparison.findings) < 2 and (specific := self._specific_word(topic)):
                # 停车管理措施 is rarely written whole; its most specific word (停车) still names the topic.
                comparison = compare_streets(self, f"{topic}/{specific}", streets, year=year)
        except ValueError:
            return None
        return comparison

    def _street_answer(self, query: Query, street: str, year: int | None) -> Answer | None:
        """The question answered from one street's reports alone, as a question about that street would be."""
        metas = self.retriever.index.metas.values()
        filters = Filters(street=street, year=year)
        if not any(filters.matches(m) for m in metas):
            filters = Filters(street=street)
        one = restricted(query, filters)
        focus = self._without_places(one.focus)
        one = dataclasses.replace(one, focus=focus if len(focus) >= 2 else one.focus)
        hits = self.retriever.search(one, k=self.config.k)
        kind = "quantity" if query.wants_quantity else "list"
        answer = self._sentences(one, kind, hits)
        return answer if answer.supported else None

    # ------------------------------------------------------------------------------------------- helpers

    def _min_evidence(self, kind: str, asked: str, best: Sentence) -> float:
        """The score below which the reports are taken not to answer. A quantity question whose best sentence
        states an amount of the kind asked may be answered from weaker word evidence: everyday wording (砸了多少钱
        for 投入资金…万元) shares few words with the report, and the amount is evidence of its own."""
        if kind == "quantity" and _states_amount(asked, best.text):
            return min(self.config.min_evidence, self.config.min_amount_evidence)
        return self.config.min_evidence

    def _without_places(self, text: str) -> str:
        """`text` without the corpus's place names (a comparison's other streets are not what it asks)."""
        for name in sorted(self.model.place_words, key=len, reverse=True):
            text = text.replace(name, " ")
        return re.sub(r"\s+", " ", text).strip(" ,，、的和与")

    def _specific_word(self, topic: str) -> str | None:
        """The topic's rarest word of two or more characters, when it has other words besides."""
        # Only words the reports use: one they never write (电瓶车) names nothing to look for.
        idf = self.model.idf
        words = {t for t in self.retriever.index.tokenizer.tokens(topic) if len(t) >= 2 and t != topic and t in idf}
        if len(words) < 2:
            return None
        return max(sorted(words), key=lambda t: self.model.idf_of(t))

    def _missing_reports(self, filters: Filters) -> str | None:
        """A refusal naming what the corpus lacks: a street (or district) it has no report of, or a year."""
        metas = list(self.retriever.index.metas.values())
        if any(filters.matches(m) for m in metas):
            return None
        place = filters.street or filters.district
        if place and not any(Filters(street=filters.street, district=filters.district).matches(m) for m in metas):
            return f"语料中没有{place}的报告。"
        if filters.year is not None:
            return f"语料中没有{place or ''}{filters.year}年的报告。"
        return None

    def _refusal(
        self,
        question: str,
        asked: str,
        kind: str,
        filters: Filters,
        hits: Sequence[Hit] = (),
        text: str = NOT_FOUND,
    ) -> Answer:
        return Answer(question, text, (), False, tuple(hits), filters, (), asked, kind)
