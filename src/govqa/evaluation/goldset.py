"""The hand-written gold set (tests/data/gold.jsonl) and how govqa is scored on it.

Each question names its report and one or more verbatim evidence strings from the gold paragraph; a
retrieved chunk is relevant when it is from that report and contains an evidence string. Unanswerable
questions have no evidence: the right answer to them is 未在报告中找到相关依据.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..index.local import Index
from ..qa.answering import ExtractiveAnswerer
from ..qa.retrieval import Retriever
from ..records import Answer, Chunk
from .metrics import first_relevant, mrr_at, recall_at


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    type: str
    docs: tuple[str, ...]  # the report(s) holding the evidence: one, or several for a cross-street question
    evidence: tuple[str, ...]  # verbatim substrings of the cleaned text of one of `docs`
    answers: tuple[str, ...]
    street: str | None
    split: str = "dev"  # "dev": thresholds and weights may be fitted on it; "test": reported, never tuned on
    kind: str = "other"  # the kind of question (qa.questions.KINDS), labelled by hand

    @property
    def doc(self) -> str | None:
        return self.docs[0] if self.docs else None

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)

    def is_relevant(self, chunk: Chunk) -> bool:
        return chunk.doc_id in self.docs and any(e in chunk.text for e in self.evidence)


SPLITS = ("dev", "test")


def load_gold(path: Path | str, split: str | None = None) -> list[GoldQuestion]:
    """The gold questions, all of them or one split's."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown gold split {split!r}; choose one of {SPLITS}")
    questions = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            doc = raw.get("doc")
            docs = tuple(doc) if isinstance(doc, list) else (doc,) if doc else ()
            questions.append(
                GoldQuestion(
                    raw["id"],
                    raw["question"],
                    raw["type"],
                    docs,
                    tuple(raw.get("evidence", ())),
                    tuple(raw.get("answer", ())),
                    raw.get("street"),
                    raw.get("split", "dev"),
                    raw.get("kind", "other"),
                )
            )
    return [q for q in questions if split is None or q.split == split]


@dataclass(frozen=True)
class RetrievalScores:
    mode: str
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float
    misses: tuple[str, ...]  # ids of questions with no relevant chunk in the top 5


def score_retrieval(retriever: Retriever, gold: Sequence[GoldQuestion], mode: str) -> RetrievalScores:
    ranks: list[int | None] = []
    misses: list[str] = []
    for q in gold:
        if not q.answerable:
            continue
        hits = retriever.search(q.question, k=10, mode=mode)
        rank = first_relevant([q.is_relevant(h.chunk) for h in hits])
        ranks.append(rank)
        if rank is None or rank > 5:
            misses.append(q.id)
    return RetrievalScores(mode, recall_at(ranks, 1), recall_at(ranks, 5), mrr_at(ranks, 10), tuple(misses))


@dataclass(frozen=True)
class KindScores:
    questions: int  # answerable questions of this kind
    answer_hit: float
    false_refusals: float


@dataclass(frozen=True)
class AnswerScores:
    answer_hit: float  # answerable questions whose answer contains a gold key fact
    citation_precision: float  # citations that quote a gold paragraph or contain a gold key fact
    no_answer_accuracy: float  # unanswerable questions answered with "not found"
    false_refusals: float  # answerable questions answered with "not found"
    answered: int
    unanswerable: int
    per_kind: dict[str, KindScores] = field(default_factory=dict)  # by the gold `kind` label
    misses: tuple[str, ...] = ()  # ids of answerable questions without a hit, and unanswerable ones answered


def answer_hit(q: GoldQuestion, answer: Answer) -> bool:
    """The answer states a gold key fact; a question over several reports needs facts from two of them."""
    needed = min(2, len(q.docs)) if q.kind == "cross_street" else 1
    return answer.supported and sum(a in answer.text for a in q.answers) >= needed


def gold_paragraphs(q: GoldQuestion, index: Index) -> set[tuple[str, int]]:
    """(report, paragraph number) of each paragraph of the gold reports that contains an evidence string."""
    return {
        (doc, p.number)
        for doc in q.docs
        if q.answerable and doc in index.metas
        for p in index.document(doc).paragraphs
        if any(e in p.text for e in q.evidence)
    }


def citation_ok(q: GoldQuestion, answer: Answer, gold_paras: set[tuple[str, int]]) -> list[bool]:
    """Per citation: does it quote a gold paragraph, or state a gold key fact?"""
    return [(c.doc_id, c.paragraph) in gold_paras or any(a in c.quote for a in q.answers) for c in answer.citations]


def score_answers(answerer: ExtractiveAnswerer, gold: Sequence[GoldQuestion]) -> tuple[AnswerScores, list[Answer]]:
    answers = [answerer.answer(q.question) for q in gold]
    return score_given(answerer.retriever.index, gold, answers), answers


def score_given(index: Index, gold: Sequence[GoldQuestion], answers: Sequence[Answer]) -> AnswerScores:
    """Score answers already given to the gold questions (in the same order)."""
    cited: list[bool] = []
    misses: list[str] = []
    by_kind: dict[str, list[tuple[bool, bool]]] = {}
    correct_refusals = 0
    for q, answer in zip(gold, answers, strict=True):
        if q.answerable:
            hit = answer_hit(q, answer)
            by_kind.setdefault(q.kind, []).append((hit, not answer.supported))
            cited.extend(citation_ok(q, answer, gold_paragraphs(q, index)))
            if not hit:
                misses.append(q.id)
        else:
            correct_refusals += not answer.supported
            if answer.supported:
                misses.append(q.id)
    rows = [r for kind in by_kind.values() for r in kind]
    n_ans = len(rows)
    n_un = len(gold) - n_ans
    return AnswerScores(
        answer_hit=sum(h for h, _ in rows) / n_ans if n_ans else 0.0,
        citation_precision=sum(cited) / len(cited) if cited else 0.0,
        no_answer_accuracy=correct_refusals / n_un if n_un else 0.0,
        false_refusals=sum(r for _, r in rows) / n_ans if n_ans else 0.0,
        answered=n_ans,
        unanswerable=n_un,
        per_kind={
            kind: KindScores(len(r), sum(h for h, _ in r) / len(r), sum(x for _, x in r) / len(r))
            for kind, r in sorted(by_kind.items())
        },
        misses=tuple(misses),
    )
