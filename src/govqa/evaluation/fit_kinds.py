"""Fit the question-kind model (qa.kinds) on the labelled dev questions and report its cross-validated agreement.

    python -m govqa.evaluation.fit_kinds --index index            # 5-fold agreement, rules vs model
    python -m govqa.evaluation.fit_kinds --index index --write    # and writes src/govqa/data/kind_model.json

The examples are the dev split of tests/data/gold.jsonl and tests/data/blind_dev.jsonl (the blind set's
why_how kind is the answerer's `other`: a question answered by its explanation). The test parts are never read.
The index is read for its streets only (their names are masked out of the questions).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ..index.opener import open_index
from ..index.tokenize import simplified
from ..qa.kinds import MODEL_FILE, KindModel, features
from ..qa.questions import KINDS, named_streets, question_kind, street_aliases
from .goldset import GoldQuestion, load_gold

DEV_SETS = (Path("tests/data/gold.jsonl"), Path("tests/data/blind_dev.jsonl"))
MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / MODEL_FILE
C = 3.0  # inverse regularisation; 1-10 agree within a question in 5-fold cross-validation
MIN_QUESTIONS = 2  # a feature is learned from the questions of at least this many
MIN_WEIGHT = 0.01  # smaller weights are dropped from the shipped file: they never change a verdict


def label(q: GoldQuestion) -> str:
    return "other" if q.kind == "why_how" else q.kind


def dev_questions() -> list[GoldQuestion]:
    return [q for path in DEV_SETS for q in load_gold(path) if q.split == "dev"]


def fit(questions: list[GoldQuestion], metas) -> tuple[KindModel, dict]:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    metas = list(metas)
    names = [name for name, _ in street_aliases(m.street for m in metas if m.street)]
    rows, rules, labels = [], [], []
    for q in questions:
        text = simplified(q.question)
        streets = named_streets(text, metas)
        rule = question_kind(text, streets)
        rows.append(features(text, rule, names))
        rules.append(rule)
        labels.append(label(q))
    # An n-gram of one question only says which question it is: it would be learned and never seen again.
    seen = Counter(f for row in rows for f in row)
    rows = [{f: v for f, v in row.items() if seen[f] >= MIN_QUESTIONS} for row in rows]
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(rows)
    y = np.array(labels)
    model = LogisticRegression(C=C, max_iter=5000)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    predicted = cross_val_predict(model, x, y, cv=folds)
    model.fit(x, y)
    classes = [str(c) for c in model.classes_]
    weights = {}
    for j, name in enumerate(vectorizer.feature_names_):
        column = model.coef_[:, j]
        if np.abs(column).max() >= MIN_WEIGHT:
            weights[name] = [round(float(w), 4) for w in column]
    fitted = KindModel(classes, [round(float(b), 4) for b in model.intercept_], weights)
    report = {
        "questions": len(y),
        "rules_agree": int(sum(r == t for r, t in zip(rules, labels, strict=True))),
        "model_agrees_cross_validated": int(sum(p == t for p, t in zip(predicted, labels, strict=True))),
        "per_kind": {
            k: f"{sum(p == t == k for p, t in zip(predicted, labels, strict=True))}/{sum(t == k for t in labels)}"
            for k in KINDS
        },
        "features": len(weights),
    }
    return fitted, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govqa.evaluation.fit_kinds", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--write", action="store_true", help=f"write the fitted model to {MODEL_PATH}")
    args = parser.parse_args(argv)
    index = open_index(args.index)
    model, report = fit(dev_questions(), index.metas.values())
    for key, value in report.items():
        print(f"{key}: {value}")
    if args.write:
        MODEL_PATH.write_text(model.to_json() + "\n", encoding="utf-8")
        print(f"written: {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
