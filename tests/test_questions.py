"""Question kinds and follow-up resolution: pure functions over the question text and the corpus metadata."""

from __future__ import annotations

import pytest

from govqa.evaluation.goldset import load_gold
from govqa.qa.questions import KINDS, question_kind, quoted_terms, resolve_follow_up
from govqa.records import DocMeta
from testpaths import GOLD

METAS = [
    DocMeta("2019年长寿路街道社区代表会议上的报告", "长寿路街道", "普陀区", 2018, 2018),
    DocMeta("2020年塘桥街道社代会报告", "塘桥街道", "浦东新区", 2019, 2019),
    DocMeta("安康和美·活力长白行动计划(2021-2023年)", "长白新村街道", "杨浦区", 2021, 2023),
]

GOLD_KINDS = set(KINDS) - {"which_street"}  # written before that kind existed: the blind set has it


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("塘桥街道2019年拆除了多少违章建筑?", "quantity"),
        ("塘桥报告里说的“三会”是哪三个会?", "definition"),
        ("什么是两网融合?", "definition"),
        ("长寿路街道2018年在垃圾分类减量方面做了哪些工作?", "list"),
        ("万里街道2021年的工作重点是什么", "summary"),
        ("哪些街道提到了垃圾分类?", "cross_street"),
        ("环上理发展共同体是什么时候成立的?", "time"),
        ("塘桥街道是否完成了老旧小区雨污水分类改造?", "yes_no"),
        ("长宁区第一条沿街店招全部登记备案的马路是哪条?", "other"),
        ("“三张清单”的定义是什么?", "definition"),
        ("阿阇黎的意思是什么?", "definition"),
        # Not quantities: 那几年 (a few), 科罗拉多大学 (多大 inside a name), 数量为什么 (a why question).
        ("他成立之初的那几年做了什么?", "list"),
        ("他从科罗拉多大学获得了什么学位?", "other"),
        ("雉的数量为什么变少?", "other"),
        ("新增睦邻点的数量?", "quantity"),
        ("这款列车被配属予哪几个铁道?", "other"),  # which ones, not how many
    ],
)
def test_question_kind(question, kind):
    assert question_kind(question) == kind


def test_two_named_streets_make_a_comparison():
    assert question_kind("塘桥街道和长寿路街道的垃圾分类", ["塘桥街道", "长寿路街道"]) == "cross_street"


def test_classifier_agrees_with_the_hand_labels():
    """The gold kinds were labelled by hand; the classifier should agree on most (it is not fitted to them)."""
    gold = [q for q in load_gold(GOLD) if q.answerable]
    agree = sum(question_kind(q.question) == q.kind for q in gold)
    assert {q.kind for q in gold} == GOLD_KINDS
    assert agree / len(gold) >= 0.8


def test_quoted_terms():
    assert quoted_terms("塘桥报告里说的“三会”是哪三个会?") == ["三会"]
    assert quoted_terms("什么是两网融合?") == ["两网融合"]
    assert quoted_terms("五件套是什么?") == ["五件套"]
    assert quoted_terms("三张清单是指什么?") == ["三张清单"]
    assert quoted_terms("胜任力的定义是什么?") == ["胜任力"]


@pytest.mark.parametrize(
    ("previous", "question", "resolved"),
    [
        ("长白新村街道的旧区改造进展如何?", "那长寿路街道呢?", "长寿路街道旧区改造进展如何?"),
        ("塘桥街道2019年拆除了多少违章建筑?", "那2020年呢?", "塘桥街道2020年拆除了多少违章建筑?"),
        ("长寿路街道2018年在垃圾分类方面做了哪些工作?", "它和塘桥比呢?", "长寿路街道和塘桥街道垃圾分类比较"),
        ("塘桥街道2019年垃圾分类做了哪些工作?", "具体数字是多少?", "塘桥街道2019年垃圾分类，具体数字是多少?"),
    ],
)
def test_follow_up_resolution(previous, question, resolved):
    result = resolve_follow_up(question, previous, METAS)
    assert result.followed and result.question == resolved


def test_standalone_questions_are_left_alone():
    for question in ("新华路街道有多少个居民区获评示范社区?", "塘桥街道2019年拆除了多少违章建筑?"):
        assert resolve_follow_up(question, "长寿路街道2018年拆除了多少套群租房?", METAS).question == question
    assert not resolve_follow_up("那长寿路街道呢?", None, METAS).followed


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("长寿路街道为什么要健全矛盾纠纷预警机制?", True),
        ("怎样推进美丽家园建设?", True),
        ("什么是羊水栓塞?", True),
        ("溶组织内阿米巴致病的症状有哪些?", True),
        ("塘桥街道2019年拆除了多少违章建筑?", False),
        ("万里街道有没有开展垃圾分类?", False),
    ],
)
def test_explanation_questions(question, expected):
    from govqa.qa.questions import asks_explanation

    assert asks_explanation(question) is expected
