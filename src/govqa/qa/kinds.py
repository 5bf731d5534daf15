"""The kind of a question, learned: a linear model over its character n-grams and the cue rules' verdict.

The cue rules (questions.question_kind) name phrases; people word the same kind of question in many ways
(工作重点 / 主要任务 / 分成哪几个方面 / 概括起来有哪几大块 / 打算从哪几方面 are one kind). The model reads every
character 1-3-gram of the question, with its years, digits and street names masked so that it learns the
wording and not the topics of the questions it was fitted on, plus the rules' kind as one more feature. It is
fitted on the labelled dev questions (tests/data/gold.jsonl dev split and tests/data/blind_dev.jsonl) by

    python -m govqa.evaluation.fit_kinds --write      # prints cross-validated agreement, writes the weights

and ships as govqa/data/kind_model.json. Without that file the rules decide alone. Structure the rules read
and wording cannot override stays theirs: two named streets make a comparison.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

from ..zh import STREET
from .questions import KINDS, question_kind

MODEL_FILE = "kind_model.json"
NGRAMS = (1, 2, 3)
RULE_WEIGHT = 3.0  # the rules' verdict counts as this much of a feature: it is one feature among hundreds

_YEARS = re.compile(r"(?:19|20)\d\d")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def masked(question: str, street_names: Iterable[str] = ()) -> str:
    """The question's wording without what it is about: years Y, other digits 0, street names S."""
    text = _SPACE.sub("", question)
    for name in sorted(set(street_names), key=len, reverse=True):
        text = text.replace(name, "S")
    text = STREET.sub("S", text)  # a street the corpus does not know
    return _DIGITS.sub("0", _YEARS.sub("Y", text))


def ngrams(text: str) -> list[str]:
    return [text[i : i + n] for n in NGRAMS for i in range(len(text) - n + 1)]


def features(question: str, rule_kind: str, street_names: Iterable[str] = ()) -> dict[str, float]:
    out = dict.fromkeys(ngrams(masked(question, street_names)), 1.0)
    out[f"rule={rule_kind}"] = RULE_WEIGHT
    return out


class KindModel:
    """Weights per feature and class, and an intercept per class: the fitted logistic regression."""

    def __init__(self, classes: Sequence[str], intercepts: Sequence[float], weights: dict[str, Sequence[float]]):
        unknown = set(classes) - set(KINDS)
        if unknown:
            raise ValueError(f"kind model names unknown kinds: {sorted(unknown)}")
        self.classes = tuple(classes)
        self.intercepts = tuple(intercepts)
        self.weights = {f: tuple(w) for f, w in weights.items()}

    @classmethod
    def from_json(cls, text: str) -> KindModel:
        data = json.loads(text)
        return cls(data["classes"], data["intercepts"], data["weights"])

    def to_json(self) -> str:
        data = {"classes": self.classes, "intercepts": self.intercepts, "weights": self.weights}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def scores(self, feats: dict[str, float]) -> dict[str, float]:
        totals = list(self.intercepts)
        for f, value in feats.items():
            for i, w in enumerate(self.weights.get(f, ())):
                totals[i] += w * value
        return dict(zip(self.classes, totals, strict=True))

    def kind(self, question: str, streets: Sequence[str] = (), street_names: Iterable[str] = ()) -> str:
        rule = question_kind(question, streets)
        if len(set(streets)) >= 2:
            return rule  # two streets named: a comparison, however it is worded
        scores = self.scores(features(question, rule, street_names))
        return max(scores, key=scores.__getitem__)


@lru_cache(maxsize=1)
def default_model() -> KindModel | None:
    path = resources.files("govqa") / "data" / MODEL_FILE
    if not path.is_file():
        return None
    return KindModel.from_json(path.read_text(encoding="utf-8"))


def classify(question: str, streets: Sequence[str] = (), street_names: Iterable[str] = ()) -> str:
    """The question's kind (one of questions.KINDS): by the shipped model, else by the cue rules.

    `streets`: the corpus streets it names; `street_names`: those names as written in it (长白, 塘桥街道)."""
    model = default_model()
    if model is None:
        return question_kind(question, streets)
    return model.kind(question, streets, street_names)
