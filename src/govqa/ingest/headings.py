"""How a line marks a heading (一、 / (一) / 1. / (1), 前言, 名词解释 ...) and at what depth.

Its own module: cleaning reads it to keep headings out of wrapped-line repair, and structure builds the outline
from it, while structure also reads cleaning's blocks."""

from __future__ import annotations

import re

_CN_NUM = "一二三四五六七八九十"
# Outline markers in the order of their depth.
HEADING_LEVELS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"^[{_CN_NUM}]+、"),
    re.compile(rf"^[(（][{_CN_NUM}]+[)）]"),
    re.compile(r"^\d{1,2}(、|[.．](?!\d))"),
    re.compile(r"^[(（]\d{1,2}[)）]"),
)
_SPECIAL_HEADING = re.compile(r"^(前\s*言|名词解释[:：]?|附件\s*\d+\s*[:：].{0,40}|结\s*语)$")


def heading_level(line: str) -> int | None:
    if _SPECIAL_HEADING.match(line):
        return 1
    for level, pattern in enumerate(HEADING_LEVELS, start=1):
        if pattern.match(line):
            return level
    return None
