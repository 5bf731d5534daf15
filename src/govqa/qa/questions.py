"""What a question asks for beyond its words: the street, district and year it names, checked for size."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from ..ingest.metadata import DISTRICTS
from ..records import DocMeta, Filters

MAX_QUESTION_CHARS = 1000
MAX_K = 100  # passages one search may return: more is a dump of the index, not an answer
_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")
_STREET = re.compile(r"([^\W\d_a-zA-Z年区市省的在和与及各个哪该本这那全每]{2,6}?(?:街道|镇))")
_SUFFIX = re.compile(r"(街道|镇)$")


class QuestionError(ValueError):
    """A question that cannot be searched as given (empty, or too long)."""


def check_question(question: object) -> str:
    """The question stripped, or a QuestionError saying what is wrong. Every entry point calls this."""
    if question is None:
        question = ""
    if not isinstance(question, str):
        raise QuestionError(
            f"问题必须是文本。 (the question must be a string, not {type(question).__name__})"
        )
    text = question.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from JSON "\ud800" or a bad decode
        raise QuestionError(
            f"问题含有无效字符（第 {exc.start + 1} 个字符）。 "
            f"(the question holds an invalid character at position {exc.start + 1}: {text[exc.start]!r})"
        ) from None
    if not text:
        raise QuestionError("问题为空：请输入一个问题。 (the question is empty)")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"问题过长：{len(text)} 个字符，上限为 {MAX_QUESTION_CHARS}。请缩短问题。 "
            f"(the question has {len(text)} characters; the limit is {MAX_QUESTION_CHARS})"
        )
    return text


def check_k(k: object) -> int:
    """The number of passages to return, checked: a whole number from 1 to MAX_K."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise QuestionError(f"k 必须是整数。 (k must be a whole number, not {k!r})")
    if not 1 <= k <= MAX_K:
        raise QuestionError(f"k 必须在 1 到 {MAX_K} 之间。 (k must be from 1 to {MAX_K}, got {k})")
    return k


def infer_filters(question: str, metas: Iterable[DocMeta]) -> Filters:
    """The street, district and year a question names. A street outside the corpus is kept: it matches nothing."""
    metas = list(metas)
    streets = {m.street for m in metas if m.street}
    street = next((s for s in sorted(streets, key=len, reverse=True) if _stem(s) in question), None)
    if street is None and (m := _STREET.search(question)):
        street = m.group(1)
    district = None
    if street is None:
        district = next((full for short, full in DISTRICTS.items() if short in question), None)
    years = _YEAR.findall(question)
    year = int(years[0]) if len(years) == 1 else None
    return Filters(street=street, district=district, year=year)


def relax(filters: Filters, metas: Iterable[DocMeta]) -> Filters:
    """Drop an inferred year that no report of the named place covers.

    A 2019 社代会 report reviews 2018 and plans 2019: "长寿路街道2019年..." should still find it.
    """
    metas = list(metas)
    if filters.year is None or any(filters.matches(m) for m in metas):
        return filters
    without_year = replace(filters, year=None)
    return without_year if any(without_year.matches(m) for m in metas) else filters


def _stem(street: str) -> str:
    return _SUFFIX.sub("", street)


def focus_text(question: str, filters: Filters) -> str:
    """The question without the places and year it was filtered on.

    Once results are restricted to 塘桥街道 in 2019, the words 塘桥街道 and 2019年 match every passage of that
    report equally (the title above all) and only add noise to both retrievers.
    """
    text = question
    for place in (filters.street, filters.district):
        if place:
            for name in sorted(
                {place, _stem(place), place.removesuffix("新区").removesuffix("区")}, key=len, reverse=True
            ):
                if len(name) >= 2:
                    text = text.replace(name, " ")
    if filters.street or filters.district:  # a street's district adds nothing once the street is fixed
        for short, full in DISTRICTS.items():
            text = text.replace(full, " ").replace(short, " ")
    if filters.year is not None:
        text = re.sub(rf"{filters.year}\s*年度?", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" ,，、的")
    return text if len(text) >= 2 else question


def place_words(metas: Iterable[DocMeta]) -> frozenset[str]:
    """Street and district names of the corpus, whole and short (塘桥街道, 塘桥), and the word 街道 itself.

    They decide which report a passage comes from, not what it says, so they are never evidence.
    """
    words = {"街道"}
    for meta in metas:
        for name in (meta.street, meta.district):
            if name:
                words |= {name, name.removesuffix("新区").removesuffix("区"), _stem(name)}
    return frozenset(w for w in words if len(w) >= 2)
