"""Turn the raw lines of a report into clean blocks: no table of contents, tables rebuilt, repeats dropped.

Reports arrive as text copied from web pages and PDFs. Three kinds of noise matter for retrieval:
- table-of-contents lines ("二、专项行动......46") that match queries but say nothing;
- tables flattened to one `cell |` per line, unreadable to a reader and an embedder alike;
- blocks repeated verbatim (one table pasted several times), which would crowd the results.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .headings import heading_level

# Bump when cleaning changes what a document looks like: it invalidates reused embeddings.
CLEANING_VERSION = "4"

_TOC_LEADER = re.compile(r"(\.{2,}|…+|·{3,}|-{3,})\s*\d{1,4}\s*$")
_TOC_TITLE = re.compile(r"^(总\s*)?目\s*录$")
_PAGE_NUMBER_END = re.compile(r"\D\s*\.?\s*\d{1,4}\s*$")
_NUMERIC = re.compile(r"^\d{1,4}$")
_KEY_COLUMN = re.compile(r"^(序号|编号|年份|年度)")
MAX_HEADER_CELL = 10
_YEAR_COLUMN = re.compile(r"年份|年度")
# Short repeated lines (a heading such as 一、总体要求 in several sub-plans) are legitimate.
MIN_REPEAT_CHARS = 16


@dataclass(frozen=True)
class Line:
    """A line as a loader reads it, with what the source's layout says about it.

    Plain text has only `text`. Paged formats add the page; formats with styles or fonts say which lines
    are headings (`heading` is the level the layout suggests); real tables arrive as `cell |` lines
    like flattened text tables, with the same `table` number for every cell of one table.
    """

    text: str
    page: int | None = None
    heading: int | None = None
    table: int | None = None


@dataclass(frozen=True)
class Block:
    text: str
    kind: str = "text"  # "text" or "table" (one rebuilt row)
    table: int | None = None  # rows of the same table share this number
    page: int | None = None  # the page the block starts on, where the source has pages
    heading: int | None = None  # heading level from the source's layout (see Line)
    grid: Grid | None = None  # for a table row: the table it was rendered from


# C0/C1 control characters (NUL, ESC of terminal escape sequences...) except tab and newline, and the
# zero-width characters PDFs and web pages scatter through text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
# What is left of an ANSI escape sequence once its ESC is gone would still read as text: drop it whole.
_ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")


@cache
def _equivalent_ideographs() -> dict[int, str]:
    """Unicode's Equivalent_Unified_Ideograph property: CJK radicals (Kangxi and supplement) and strokes
    -> the unified ideograph they look like. PDF text layers use them for shared glyphs (⻓ for 长)."""
    table: dict[int, str] = {}
    data = resources.files("govqa").joinpath("data/EquivalentUnifiedIdeograph.txt").read_text("utf-8")
    for line in data.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) != 2:
            continue
        source, target = fields[0].strip(), chr(int(fields[1], 16))
        first, _, last = source.partition("..")
        for code in range(int(first, 16), int(last or first, 16) + 1):
            table[code] = target
    return table


@cache
def _radicals() -> re.Pattern[str]:
    """Any character _equivalent_ideographs replaces."""
    return re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_equivalent_ideographs())) + "]")


def normalize_text(text: str) -> str:
    """One normal form for every format: radicals to ideographs, NFKC (full-width letters, digits and
    punctuation to their plain forms, as the bundled reports are), no control characters."""
    text = _ANSI_ESCAPE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if _radicals().search(text):  # rare: translating every line char by char was a tenth of ingest time
        text = text.translate(_equivalent_ideographs())
    text = unicodedata.normalize("NFKC", text)
    return _CONTROL.sub("", text)


def clean_lines(raw: str | list[Line]) -> list[Block]:
    if isinstance(raw, str):
        lines = rejoin_wrapped([Line(t) for t in raw.split("\n")])
    else:
        lines = raw
    lines = [Line(line.text.strip(), line.page, line.heading, line.table) for line in lines]
    lines = [line for line in lines if line.text]
    lines = drop_toc(lines)
    blocks = rebuild_tables(lines)
    return drop_repeats(blocks)


_SENTENCE_OPEN = re.compile(r"[。！？!?；;:：”’」』)）]$")
MIN_WRAP_WIDTH = 20
WRAPPED_SHARE = 0.3


def rejoin_wrapped(lines: list[Line]) -> list[Line]:
    """Rejoin paragraphs that text copied from a page layout breaks into lines of one fixed width.

    Such text has many lines of the same length (the wrap width). A line of that width that does not end
    a sentence continues on the next line, unless the next line opens a section or a table. Text written
    one paragraph per line has no common width, and is left alone.
    """
    widths = [len(line.text.strip()) for line in lines]
    long = [w for w in widths if w >= MIN_WRAP_WIDTH]
    if len(long) < 5:
        return lines
    width = max(set(long), key=long.count)
    if sum(width - 1 <= w <= width + 1 for w in long) < WRAPPED_SHARE * len(long):
        return lines

    joined: list[Line] = []
    last_width = 0  # of the last physical line: a joined paragraph is longer than any one line
    for line, w in zip(lines, widths, strict=True):
        text = line.text.strip()
        if (
            joined
            and last_width >= width - 1
            and not _SENTENCE_OPEN.search(joined[-1].text)
            and text
            and not _is_cell(text)
            and heading_level(text) is None
        ):
            prev = joined[-1]
            joined[-1] = Line(prev.text + text, prev.page, prev.heading, prev.table)
        else:
            joined.append(Line(text, line.page, line.heading, line.table))
        last_width = w
    return joined


def drop_toc(lines: list[Line]) -> list[Line]:
    """Drop dot-leader TOC lines anywhere, and short page-numbered lines right after a 目录 title."""
    kept: list[Line] = []
    in_toc = False
    for line in lines:
        text = line.text
        if _TOC_TITLE.match(text):
            in_toc = True
            continue
        if _TOC_LEADER.search(text):
            continue
        if in_toc and len(text) <= 60 and _PAGE_NUMBER_END.search(text):
            continue
        in_toc = False
        kept.append(line)
    return kept


def _is_cell(line: str) -> bool:
    return line.endswith("|") and line.count("|") == 1


def rebuild_tables(lines: list[Line]) -> list[Block]:
    """Group runs of `cell |` lines into tables and render each row as one readable line."""
    blocks: list[Block] = []
    table_no = 0
    i = 0
    while i < len(lines):
        if not _starts_cells(lines, i):
            line = lines[i]
            blocks.append(Block(line.text, page=line.page, heading=line.heading))
            i += 1
            continue
        first = lines[i]
        cells: list[str] = []
        pending = ""
        while i < len(lines) and (_starts_cells(lines, i) or pending) and lines[i].table == first.table:
            text = lines[i].text
            if _is_cell(text):
                cells.append((pending + text[:-1]).strip())
                pending = ""
            else:  # a cell broken over two lines: text now, its "|" on the next line
                pending += text
            i += 1
        if pending:
            cells.append(pending)
        for grid in table_grids(cells):
            table_no += 1
            blocks.extend(Block(row, "table", table_no, first.page, grid=grid) for row in grid.rendered())
    return blocks


def _starts_cells(lines: list[Line], i: int) -> bool:
    return _is_cell(lines[i].text) or (i + 1 < len(lines) and lines[i + 1].text == "|")


@dataclass(frozen=True)
class Grid:
    """One table as rows of cells; `header` names the columns (None: cells without a recognised header)."""

    header: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]

    def rendered(self) -> list[str]:
        return [
            render_row(list(self.header), list(row)) if self.header and len(row) == len(self.header) else " ".join(row)
            for row in self.rows
        ]


def split_tables(cells: list[str]) -> list[list[str]]:
    """Render flattened cells as rows like '2019年: 总项目数 34个, 总金额 587.4万元' (see `table_grids`)."""
    return [grid.rendered() for grid in table_grids(cells)]


def table_grids(cells: list[str]) -> list[Grid]:
    """Recover the tables in a run of flattened cells.

    The header ends where the first row's key column (序号 or 年份) shows its first number. Rows of
    tables whose first column spans several rows (类别 | 序号 | ...) arrive without that column:
    it is carried down from the row above. Empty cells are flattening artefacts and are dropped.
    """
    first_number = next((i for i, c in enumerate(cells) if _NUMERIC.match(c)), None)
    if first_number is None:
        return [Grid(None, tuple((c,) for c in cells if c))] if any(cells) else []
    head_cells = cells[:first_number]
    key = next((j for j, c in enumerate(head_cells) if _is_key_header(c)), 0)
    width = first_number - key
    if width < 2:
        return [Grid(None, tuple((c,) for c in cells if c))]
    header = tuple(cells[:width])
    data = [c for c in cells[width:] if c]
    tables: list[list[tuple[str, ...]]] = [[]]
    carry: list[str] = []
    pos = 0
    while pos < len(data):
        if tuple(data[pos : pos + width]) == header:  # the same table starts again
            tables.append([])
            pos += width
            continue
        if pos > 0 and _is_key_header(data[pos]):  # another table follows without a break
            return [Grid(header, tuple(rows)) for rows in tables if rows] + table_grids(data[pos:])
        # A row never runs into the header of a following table.
        end = next((j for j in range(pos + 1, len(data)) if _is_key_header(data[j])), len(data))
        if key and _NUMERIC.match(data[pos]):
            row = carry + data[pos : min(pos + width - key, end)]
            pos = min(pos + width - key, end)
        else:
            row = data[pos : min(pos + width, end)]
            carry = row[:key]
            pos = min(pos + width, end)
        tables[-1].append(tuple(row))
    return [Grid(header, tuple(rows)) for rows in tables if rows]


def _is_key_header(cell: str) -> bool:
    return len(cell) <= MAX_HEADER_CELL and bool(_KEY_COLUMN.match(cell))


def render_row(header: list[str], row: list[str]) -> str:
    label = row[0]
    if _YEAR_COLUMN.search(header[0]) and re.fullmatch(r"(19|20)\d\d", label):
        label += "年"
    pairs = [f"{name} {value}" for name, value in zip(header[1:], row[1:], strict=False) if value]
    return f"{label}: {', '.join(pairs)}" if pairs else label


def drop_repeats(blocks: list[Block]) -> list[Block]:
    """Keep the first copy of every block repeated verbatim (tables pasted twice, copied paragraphs)."""
    seen: set[str] = set()
    kept: list[Block] = []
    for block in blocks:
        if len(block.text) >= MIN_REPEAT_CHARS or block.kind == "table":
            if block.text in seen:
                continue
            seen.add(block.text)
        kept.append(block)
    return kept
