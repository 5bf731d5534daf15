"""The gold set itself: every evidence string is verbatim in its report's cleaned text, and the set has the
size and balance the answer benchmark relies on (every kind in both splits, enough near-miss questions)."""

from __future__ import annotations

from collections import Counter

import pytest

from govqa.evaluation.goldset import SPLITS, load_gold
from govqa.ingest.documents import load_corpus
from govqa.qa.questions import KINDS
from testpaths import CORPUS, GOLD

GOLD_KINDS = set(KINDS) - {"which_street"}  # written before that kind existed: the blind set has it


@pytest.fixture(scope="module")
def cleaned() -> dict[str, str]:
    return {d.doc_id: d.text for d in load_corpus(CORPUS).documents}


def test_every_evidence_string_is_in_its_reports_cleaned_text(cleaned):
    missing = []
    for q in load_gold(GOLD):
        for doc in q.docs:
            assert doc in cleaned, f"{q.id}: no report {doc}"
        for e in q.evidence:
            if not any(e in cleaned[doc] for doc in q.docs):
                missing.append(f"{q.id}: {e}")
    assert not missing, "evidence not found verbatim:\n" + "\n".join(missing)


def test_single_report_answers_are_in_that_report(cleaned):
    """A key fact of a one-report question is written in that report (else no extractive answer can hit)."""
    for q in load_gold(GOLD):
        if q.answerable and len(q.docs) == 1:
            assert any(a in cleaned[q.doc] for a in q.answers), q.id


def test_size_and_balance():
    gold = load_gold(GOLD)
    assert len({q.id for q in gold}) == len(gold)
    answerable = [q for q in gold if q.answerable]
    assert len(answerable) >= 150
    assert {q.kind for q in gold} <= GOLD_KINDS
    per_kind = Counter(q.kind for q in answerable)
    assert all(per_kind[k] >= 15 for k in GOLD_KINDS), per_kind
    for split in SPLITS:
        part = load_gold(GOLD, split)
        assert {q.kind for q in part if q.answerable} == GOLD_KINDS, split
        assert sum(not q.answerable for q in part) >= 12, split
