"""Positioned text lines of a page (from a PDF text layer or from OCR) -> paragraphs, headings and tables.

A page layout breaks paragraphs into lines and adds running headers, footers and page numbers. What the
page looks like tells them apart: a paragraph's first line is indented or follows a gap, its last line
stops short of the right margin; a heading is set larger or bold; a running header repeats at the same
place on page after page.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .cleaning import Line
from .headings import heading_level

# Lines in these top and bottom shares of a page are where running headers, footers and page numbers sit.
MARGIN_BAND = 0.08
_PAGE_NUMBER = re.compile(
    r"^([-—–\s]*\d{1,4}[-—–\s]*|第\s*\d{1,4}\s*页(\s*[/,，]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*/\s*\d{1,4}"
    r"|(page\s*)?\d{1,4}\s*(of\s*\d{1,4})?)$",
    re.IGNORECASE,
)
_LATIN_END = re.compile(r"[A-Za-z0-9]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9]")
HEADING_SIZE_RATIO = 1.08  # a line this much larger than the body text is a heading


@dataclass
class TextLine:
    """One visual line: its text, box (PDF points or pixels, y down), font size and weight."""

    text: str
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool = False


@dataclass
class TableBox:
    """A table found on a page, placed in reading order by its top edge."""

    rows: list[list[str]]
    page: int
    top: float


@dataclass
class PageBox:
    number: int
    width: float
    height: float
    lines: list[TextLine]
    tables: list[TableBox]
    # How much larger than body text a heading is. OCR boxes vary in height from line to line, so a page
    # read by OCR needs a clearer difference than font sizes from a text layer.
    heading_ratio: float = HEADING_SIZE_RATIO


def drop_running_lines(pages: list[PageBox]) -> None:
    """Remove page numbers and headers/footers repeated near the top or bottom of most pages."""

    def key(line: TextLine) -> str:
        return re.sub(r"\d+", "#", line.text.replace(" ", ""))

    def in_band(line: TextLine, page: PageBox) -> bool:
        return line.top < page.height * MARGIN_BAND or line.bottom > page.height * (1 - MARGIN_BAND)

    seen = Counter(key(line) for page in pages for line in {key(x): x for x in page.lines if in_band(x, page)}.values())
    repeated = {k for k, n in seen.items() if len(pages) >= 2 and n >= max(2, len(pages) // 2)}
    for page in pages:
        page.lines = [
            line
            for line in page.lines
            if not (in_band(line, page) and (key(line) in repeated or _PAGE_NUMBER.match(line.text.strip())))
        ]


def assemble(pages: list[PageBox]) -> list[Line]:
    """Join the lines of every page into paragraphs (across page breaks too) and place tables among them."""
    body_lines = [line for page in pages for line in page.lines]
    if not body_lines and not any(page.tables for page in pages):
        return []
    # The body size is the median size per character: most characters of a report are body text.
    sizes = sorted(round(line.size * 2) / 2 for line in body_lines for _ in line.text)
    body_size = sizes[len(sizes) // 2] if sizes else 10.0
    lowest = min((page.heading_ratio for page in pages), default=HEADING_SIZE_RATIO)
    heading_sizes = sorted({s for s in sizes if s >= body_size * lowest}, reverse=True)

    def level(line: TextLine, ratio: float) -> int | None:
        size = round(line.size * 2) / 2
        if size >= body_size * ratio:
            return heading_sizes.index(size) + 1
        return len(heading_sizes) + 1 if line.bold else None

    out: list[Line] = []
    current: TextLine | None = None  # the last line of the paragraph being built
    text = ""
    start_page = 0
    current_level: int | None = None
    table_no = 0

    def flush() -> None:
        nonlocal current, text
        if current is not None and text.strip():
            out.append(Line(text.strip(), start_page, current_level))
        current, text = None, ""

    for page in pages:
        left = _mode([round(line.x0) for line in page.lines]) if page.lines else 0.0
        # The right margin is where most full lines end (a few may run past it: a long word, an OCR box).
        ends = sorted(line.x1 for line in page.lines)
        right = ends[int(len(ends) * 0.9)] if ends else page.width
        items: list[TextLine | TableBox] = sorted([*page.lines, *page.tables], key=lambda item: item.top)
        previous_bottom: float | None = None
        for item in items:
            if isinstance(item, TableBox):
                flush()
                table_no += 1
                out.extend(Line(f"{cell} |", item.page, table=table_no) for row in item.rows for cell in row)
                previous_bottom = None
                continue
            line = item
            lvl = level(line, page.heading_ratio)
            if (
                lvl is not None
                and page.heading_ratio > HEADING_SIZE_RATIO
                and (line.x1 >= right - 3 * line.size or line.text.endswith("。"))
            ):
                # OCR boxes grow with tall glyphs (quotes, brackets): a line that fills the measure or
                # ends a sentence is body text, whatever its box.
                lvl = None
            indented = line.x0 - left > 0.8 * line.size
            gap = line.top - previous_bottom if previous_bottom is not None else 0.0
            if current is None or lvl != current_level:
                joins = False
            elif lvl is not None:  # a heading wrapped over lines (perhaps centred): only the spacing tells
                joins = gap < line.size
            else:
                # The line before ran (nearly: a full stop may not open a line, so a character or two move
                # down) to the right margin, and this one is not indented as a paragraph's first line is.
                # A short line led by an outline marker (一、 (一) 1.) opens a section whatever the layout.
                joins = (
                    not indented
                    and current.x1 >= right - 3 * current.size
                    and gap < 1.2 * line.size
                    and not (heading_level(line.text) and line.x1 < right - 3 * line.size)
                )
            if not joins:
                flush()
                start_page, current_level = line.page, lvl
            elif _LATIN_END.search(text) and _LATIN_START.match(line.text):
                text += " "  # a line broken at the space between two words
            text += line.text
            current = line
            previous_bottom = line.bottom
        # A paragraph may run on to the next page: `current` stays open unless a table intervenes.
    flush()
    return _merge_tables(out)


def _merge_tables(lines: list[Line]) -> list[Line]:
    """A table broken by a page break arrives as two tables with nothing between them: one table again."""
    merged: list[Line] = []
    alias: dict[int, int] = {}
    for line in lines:
        if line.table is not None:
            if line.table not in alias:
                before = merged[-1] if merged else None
                joins = before is not None and before.table is not None and before.page != line.page
                alias[line.table] = before.table if joins else line.table
            line = Line(line.text, line.page, line.heading, alias[line.table])
        merged.append(line)
    return merged


def _mode(values: list[float]) -> float:
    return Counter(values).most_common(1)[0][0]
