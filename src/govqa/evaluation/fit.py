"""Fit the extractive answerer's sentence model and its not-found threshold on the DEV split of the gold set.

    python -m govqa.evaluation.fit --index index        # prints FITTED_* for qa/sentence_model.py

Every sentence of the passages the answerer reads for a dev question is an example: positive when it states a
gold key fact or overlaps a gold evidence string of the gold report, negative otherwise (all of them, for an
unanswerable question). A logistic regression over sentence_model.FEATURES is fitted on them; then the threshold on
the best sentence's probability is chosen to maximise answer hit + no-answer accuracy on the same dev questions.
The test split is never read here: `python -m govqa.bench` reports on it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..engine import GovQA, build
from ..qa.answering import FEATURES, ExtractiveAnswerer, Sentence
from ..qa.questions import focus_text
from .goldset import GoldQuestion, answer_hit, load_gold

THRESHOLDS = tuple(round(t, 3) for t in np.arange(0.05, 0.96, 0.01))


@dataclass(frozen=True)
class Fit:
    weights: tuple[float, ...]
    bias: float
    min_evidence: float
    examples: int
    positives: int
    dev_answer_hit: float
    dev_no_answer_accuracy: float


def is_positive(q: GoldQuestion, s: Sentence) -> bool:
    if any(a in s.text for a in q.answers):
        return True
    return s.hit.chunk.doc_id in q.docs and any(e in s.text or s.text in e for e in q.evidence)


def examples(answerer: ExtractiveAnswerer, gold: list[GoldQuestion]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    retriever = answerer.retriever
    for q in gold:
        filters = retriever.resolve_filters(q.question, None)
        hits = retriever.search(q.question, k=answerer.config.k, filters=filters, infer=False)
        for s in answerer.candidates(focus_text(q.question, filters), hits, q.question):
            xs.append(s.features)
            ys.append(q.answerable and is_positive(q, s))
    return np.array(xs, dtype=np.float64).reshape(-1, len(FEATURES)), np.array(ys, dtype=bool)


def fit(qa: GovQA, gold: list[GoldQuestion]) -> Fit:
    from sklearn.linear_model import LogisticRegression

    dev = [q for q in gold if q.split == "dev"]
    x, y = examples(qa.answerer, dev)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    weights = tuple(round(float(w), 4) for w in model.coef_[0])
    bias = round(float(model.intercept_[0]), 4)
    fitted = replace(qa.answerer.config, weights=weights, bias=bias)
    threshold, hit, no_answer = choose_threshold(ExtractiveAnswerer(qa.retriever, fitted), dev)
    return Fit(weights, bias, threshold, len(y), int(y.sum()), hit, no_answer)


def choose_threshold(answerer: ExtractiveAnswerer, dev: list[GoldQuestion]) -> tuple[float, float, float]:
    """The threshold maximising answer hit + no-answer accuracy on dev (the middle of the longest run of ties)."""
    permissive = ExtractiveAnswerer(answerer.retriever, replace(answerer.config, min_evidence=float("-inf")))
    strict = ExtractiveAnswerer(answerer.retriever, replace(answerer.config, min_evidence=float("inf")))
    rows = []  # (answerable, hit when answered, score the threshold is compared with; inf: not thresholded)
    for q in dev:
        fixed = strict.answer(q.question)
        if fixed.supported:  # a glossary entry, an outline or a comparison: no threshold applies
            rows.append((q.answerable, answer_hit(q, fixed), float("inf")))
            continue
        answer = permissive.answer(q.question)
        scores = [
            s.score
            for s in permissive.rank_sentences(
                focus_text(answer.resolved_question, answer.filters),
                list(answer.hits),
                answer.resolved_question,
            )
        ]
        rows.append((q.answerable, answer.supported and answer_hit(q, answer), max(scores, default=-1.0)))
    n_ans = sum(a for a, _, _ in rows) or 1
    n_un = (len(rows) - sum(a for a, _, _ in rows)) or 1
    scored = []
    for t in THRESHOLDS:
        hit = sum(1 for a, h, s in rows if a and h and s >= t) / n_ans
        no_answer = sum(1 for a, _, s in rows if not a and s < t) / n_un
        scored.append((hit + no_answer, t, hit, no_answer))
    top = max(x[0] for x in scored)
    # The middle of the best run of thresholds, not its edge: the edge sits right on a dev question's score.
    best_run: list[tuple[float, float, float, float]] = []
    run: list[tuple[float, float, float, float]] = []
    for x in scored:
        run = [*run, x] if x[0] == top else []
        if len(run) > len(best_run):
            best_run = run
    _, t, hit, no_answer = best_run[len(best_run) // 2]
    return t, hit, no_answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govqa.evaluation.fit", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="a built index of --corpus (default: build one in a temp folder)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--gold", type=Path, default=Path("tests/data/gold.jsonl"))
    args = parser.parse_args(argv)
    work = None
    index = args.index
    if index is None:
        work = Path(tempfile.mkdtemp(prefix="govqa-fit-"))
        index = work / "index"
        build(args.corpus, index)
    try:
        result = fit(GovQA.open(index), load_gold(args.gold))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"# {result.examples} dev sentences ({result.positives} positive); dev answer hit "
        f"{result.dev_answer_hit:.3f}, no-answer accuracy {result.dev_no_answer_accuracy:.3f}"
    )
    print(f"FITTED_WEIGHTS: tuple[float, ...] = {result.weights}")
    print(f"FITTED_BIAS = {result.bias}")
    print(f"FITTED_MIN_EVIDENCE = {result.min_evidence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
