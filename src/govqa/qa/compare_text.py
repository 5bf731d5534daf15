"""Comparisons and coverage matrices as plain-text tables, for a terminal: CJK characters count two columns."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compare import Comparison, CoverageMatrix


def format_comparison(comparison: Comparison, width: int = 60) -> str:
    """A plain-text side-by-side table (street | finding | citations), then every citation in full."""
    rows = [("街道 street", "发现 finding", "引用 citations")]
    for f in comparison.findings:
        cites = " ".join(f"[{c.n}]第{c.paragraph}段" for c in f.citations) or "-"
        rows.append((f.street, f.finding, cites))
    street_w = max(_width(r[0]) for r in rows)
    cite_w = max(_width(r[2]) for r in rows)
    line = "+" + "-" * (street_w + 2) + "+" + "-" * (width + 2) + "+" + "-" * (cite_w + 2) + "+"
    out = [f"主题 topic: {comparison.topic}", line]
    for i, (street, finding, cites) in enumerate(rows):
        wrapped = _wrap(finding, width)
        for j, piece in enumerate(wrapped):
            left = street if j == 0 else ""
            right = cites if j == 0 else ""
            out.append(f"| {_pad(left, street_w)} | {_pad(piece, width)} | {_pad(right, cite_w)} |")
        if i == 0:
            out.append(line)
    out.append(line)
    for f in comparison.findings:
        if not f.citations:
            continue
        out.append("")
        out.append(f"{f.street}{f' ({f.district})' if f.district else ''}:")
        for c in f.citations:
            out.append(f"  [{c.n}] {c.title} · {' > '.join(c.section_path) or '(正文)'} · 第{c.paragraph}段")
            out.append(f"      “{c.quote}”")
    return "\n".join(out)


def format_matrix(matrix: CoverageMatrix) -> str:
    """A plain-text topics × streets table of scores, each with its count of relevant passages."""
    topic_w = max([_width("主题 topic"), *(_width(t) for t in matrix.topics)])
    col_w = [max(_width(s), 10) for s in matrix.streets]
    out = [
        _pad("主题 topic", topic_w) + "  " + "  ".join(_pad(s, w) for s, w in zip(matrix.streets, col_w, strict=True))
    ]
    for topic in matrix.topics:
        cells = []
        for street, w in zip(matrix.streets, col_w, strict=True):
            c = matrix.cell(topic, street)
            cells.append(_pad(f"{c.score:.2f} ({len(c.passages)})" if c.passages else "-", w))
        out.append(_pad(topic, topic_w) + "  " + "  ".join(cells))
    out.append("")
    out.append(
        "score: share of the street's passages on the topic, relative to the highest street (1.00); "
        "(n): relevant passages; -: not covered"
    )
    return "\n".join(out)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


# What a line must not be broken inside: a number or Latin word (100弄, 33000户, 3.5%, Hello); else a character.
_UNBREAKABLE = re.compile(r"[0-9A-Za-z]+(?:[.%][0-9A-Za-z%]*)*|.", re.S)


def _wrap(text: str, width: int) -> list[str]:
    lines, current = [], ""
    for piece in _UNBREAKABLE.findall(text):
        if current and _width(current + piece) > width:
            lines.append(current)
            current = ""
        while _width(piece) > width:  # a run longer than a whole line: split it after all
            cut = max((i for i in range(1, len(piece) + 1) if _width(piece[:i]) <= width), default=1)
            lines.append(piece[:cut])
            piece = piece[cut:]
        current += piece
    return [*lines, current] if current or not lines else lines
