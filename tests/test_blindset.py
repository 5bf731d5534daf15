"""The blind question set (tests/data/blind_*.jsonl): written from the reports alone, never beside the code.

Its facts must be verbatim in the cleaned reports (or no extractive answer could state them), and it must keep
the size the issue asks for: 200+ questions, 20+ answerable ones of every kind, 40+ near misses. The test part
is only loaded here to be checked, never printed or tuned on."""

from __future__ import annotations

from collections import Counter

import pytest

from govqa.evaluation.goldset import load_gold
from govqa.ingest.documents import load_corpus
from testpaths import BLIND_DEV, BLIND_TEST, CORPUS

BLIND_KINDS = {
    "quantity",
    "list",
    "definition",
    "summary",
    "cross_street",
    "which_street",
    "time",
    "yes_no",
    "why_how",
}


@pytest.fixture(scope="module")
def cleaned() -> dict[str, str]:
    return {d.doc_id: d.text for d in load_corpus(CORPUS).documents}


@pytest.fixture(scope="module")
def blind():
    return load_gold(BLIND_DEV) + load_gold(BLIND_TEST)


def test_every_fact_is_verbatim_in_its_reports(cleaned, blind):
    missing = []
    for q in blind:
        for doc in q.docs:
            assert doc in cleaned, f"{q.id}: no report {doc}"
        for text in (*q.evidence, *q.answers):
            if not any(text in cleaned[doc] for doc in q.docs):
                missing.append(f"{q.id}: {text}")
        for doc in q.docs:  # a cross-street question has evidence in every report it names
            assert any(e in cleaned[doc] for e in q.evidence), f"{q.id}: nothing in {doc}"
    assert not missing, "not found verbatim in the cleaned reports:\n" + "\n".join(missing)


def test_size_and_balance(blind):
    assert len({q.id for q in blind}) == len(blind) >= 200
    answerable = Counter(q.kind for q in blind if q.answerable)
    assert set(answerable) == BLIND_KINDS
    assert all(n >= 20 for n in answerable.values()), answerable
    assert sum(not q.answerable for q in blind) >= 40
    # which_street questions never name the street they ask for
    for q in blind:
        if q.kind == "which_street" and q.street:
            assert q.street.removesuffix("街道") not in q.question, q.id
