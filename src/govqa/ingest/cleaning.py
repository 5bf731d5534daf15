"""Turn the raw lines of a report into clean blocks: no table of contents, tables rebuilt, repeats dropped.

Reports arrive as text copied from web pages and PDFs. Three kinds of noise matter for retrieval:
- table-of-contents lines ("二、专项行动......46") that match queries but say nothing;
- tables flattened to one `cell |` per line, unreadable to a reader and an embedder alike;
- blocks repeated verbatim (one table pasted several times), which would crowd the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Bump when cleaning changes what a document looks like: it invalidates reused embeddings.
CLEANING_VERSION = "3"

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
class Block:
    text: str
    kind: str = "text"  # "text" or "table" (one rebuilt row)
    table: int | None = None  # rows of the same table share this number


def clean_lines(raw: str) -> list[Block]:
    lines = [line.strip() for line in raw.split("\n")]
    lines = [line for line in lines if line]
    lines = drop_toc(lines)
    blocks = rebuild_tables(lines)
    return drop_repeats(blocks)


def drop_toc(lines: list[str]) -> list[str]:
    """Drop dot-leader TOC lines anywhere, and short page-numbered lines right after a 目录 title."""
    kept: list[str] = []
    in_toc = False
    for line in lines:
        if _TOC_TITLE.match(line):
            in_toc = True
            continue
        if _TOC_LEADER.search(line):
            continue
        if in_toc and len(line) <= 60 and _PAGE_NUMBER_END.search(line):
            continue
        in_toc = False
        kept.append(line)
    return kept


def _is_cell(line: str) -> bool:
    return line.endswith("|") and line.count("|") == 1


def rebuild_tables(lines: list[str]) -> list[Block]:
    """Group runs of `cell |` lines into tables and render each row as one readable line."""
    blocks: list[Block] = []
    table_no = 0
    i = 0
    while i < len(lines):
        if not _starts_cells(lines, i):
            blocks.append(Block(lines[i]))
            i += 1
            continue
        cells: list[str] = []
        pending = ""
        while i < len(lines) and (_starts_cells(lines, i) or pending):
            line = lines[i]
            if _is_cell(line):
                cells.append((pending + line[:-1]).strip())
                pending = ""
            else:  # a cell broken over two lines: text now, its "|" on the next line
                pending += line
            i += 1
        if pending:
            cells.append(pending)
        for rows in split_tables(cells):
            table_no += 1
            blocks.extend(Block(row, "table", table_no) for row in rows)
    return blocks


def _starts_cells(lines: list[str], i: int) -> bool:
    return _is_cell(lines[i]) or (i + 1 < len(lines) and lines[i + 1] == "|")


def split_tables(cells: list[str]) -> list[list[str]]:
    """Render flattened cells as rows like '2019年: 总项目数 34个, 总金额 587.4万元'.

    The header ends where the first row's key column (序号 or 年份) shows its first number. Rows of
    tables whose first column spans several rows (类别 | 序号 | ...) arrive without that column:
    it is carried down from the row above. Empty cells are flattening artefacts and are dropped.
    """
    first_number = next((i for i, c in enumerate(cells) if _NUMERIC.match(c)), None)
    if first_number is None:
        return [[c for c in cells if c]] if any(cells) else []
    head_cells = cells[:first_number]
    key = next((j for j, c in enumerate(head_cells) if _is_key_header(c)), 0)
    width = first_number - key
    if width < 2:
        return [[c for c in cells if c]]
    header = [c for c in cells[:width]]
    data = [c for c in cells[width:] if c]
    tables: list[list[str]] = [[]]
    carry: list[str] = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + width] == header:  # the same table starts again
            tables.append([])
            pos += width
            continue
        if pos > 0 and _is_key_header(data[pos]):  # another table follows without a break
            return [rows for rows in tables if rows] + split_tables(data[pos:])
        # A row never runs into the header of a following table.
        end = next((j for j in range(pos + 1, len(data)) if _is_key_header(data[j])), len(data))
        if key and _NUMERIC.match(data[pos]):
            row = carry + data[pos : min(pos + width - key, end)]
            pos = min(pos + width - key, end)
        else:
            row = data[pos : min(pos + width, end)]
            carry = row[:key]
            pos = min(pos + width, end)
        tables[-1].append(render_row(header, row) if len(row) == width else " ".join(row))
    return [rows for rows in tables if rows]


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
