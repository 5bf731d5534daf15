"""The learned question-kind model (qa.kinds): shipped, fitted on dev only, and better than the cue rules alone."""

from __future__ import annotations

import pytest

from govqa.evaluation.fit_kinds import dev_questions, fit
from govqa.qa.kinds import KindModel, default_model, masked
from govqa.qa.questions import KINDS


def test_masking_keeps_the_wording_and_drops_the_subject():
    assert masked("塘桥2019年拆了多少套?", ["塘桥"]) == "SY年拆了多少套?"
    assert masked("江宁路街道有 3 个?") == "S有0个?"


def test_the_shipped_model_knows_every_kind_and_loads():
    model = default_model()
    assert model is not None and set(model.classes) == set(KINDS)
    assert KindModel.from_json(model.to_json()).weights == model.weights


@pytest.mark.parametrize(
    "question",
    [
        "塘桥街道2020年工作的重点是哪几块?",
        "长寿路街道2018年的工作可以分为哪几个部分?",
        "万里街道明年打算主要抓哪几件事?",
    ],
)
def test_ways_of_asking_for_the_parts_of_a_years_work_are_one_kind(qa, question):
    assert qa.analyse(question).kind == "summary"


def test_two_streets_named_is_a_comparison_however_worded(qa):
    assert qa.analyse("长寿路和塘桥街道拆了多少违建?").kind == "cross_street"


def test_cross_validated_model_agrees_with_the_labels_more_than_the_rules(qa):
    _, report = fit(dev_questions(), qa.index.metas.values())
    assert report["questions"] >= 350
    assert report["model_agrees_cross_validated"] >= report["rules_agree"] + 15, report
