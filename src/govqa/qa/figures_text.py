"""A figures table as files and text: CSV and XLSX exports, the CLI's plain-text table, the JSON shape.

Kept apart from qa/figures.py, which finds the figures: these only lay out a FigureTable already made."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import TYPE_CHECKING

from ..index.figures import DONE, PLANNED

if TYPE_CHECKING:
    from .figures import FigureTable

STATUS_LABELS = {DONE: "完成", PLANNED: "计划"}

EXPORT_COLUMNS = {
    "street": "街道",
    "year": "年份",
    "status": "完成/计划",
    "value_text": "原文数值",
    "value": "数值",
    "value_high": "上限",
    "approx": "约数",
    "unit": "单位",
    "counted": "统计对象",
    "note": "说明",
    "citation": "引文",
    "title": "报告",
    "doc_id": "文件",
    "paragraph": "段落",
    "page": "页",
    "quote": "原文",
}


def to_csv(table: FigureTable) -> str:
    """The table as CSV (UTF-8 text; Chinese headers), one line per figure, then one per gap."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS.values())
    for record in table.records():
        writer.writerow(_export_value(k, v) for k, v in record.items())
    return buffer.getvalue()


def to_xlsx(table: FigureTable) -> bytes:
    """The table as an XLSX workbook: sheet 数字 (one line per figure and gap) and sheet 街道×年份."""
    from openpyxl import Workbook  # only exports need it

    book = Workbook()
    sheet = book.active
    sheet.title = "数字"
    sheet.append(list(EXPORT_COLUMNS.values()))
    for record in table.records():
        sheet.append([_export_value(k, v) for k, v in record.items()])
    grid = book.create_sheet("街道×年份")
    years = sorted({r.year for r in table.rows}, key=lambda y: (y is None, y or 0))
    grid.append(["街道", *[str(y) if y is not None else "年份不明" for y in years]])
    cells = table.cells()
    for street in table.streets:
        line = [street]
        for year in years:
            found = cells.get((street, year), [])
            line.append("\n".join(f"{r.counted} {r.value_text} [{r.citation.n}]" for r in found))
        gap = next((g.reason for g in table.gaps if g.street == street), None)
        grid.append(line if gap is None else [street, gap])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _export_value(key: str, value: object) -> object:
    if key == "status" and value:
        return STATUS_LABELS.get(str(value), value)
    if key == "approx":
        return "是" if value else ("" if value is None else "否")
    return "" if value is None else value


def format_table(table: FigureTable) -> str:
    """A plain-text street × year table (figures with their counted phrase and [n]), then the citations."""
    lines = [f"主题: {table.topic}"]
    filters = [f"{table.year}年" if table.year else "", STATUS_LABELS.get(table.status or "", "")]
    if any(filters):
        lines[0] += f"  ({' '.join(f for f in filters if f)})"
    cells = table.cells()
    for street in table.streets:
        gap = next((g.reason for g in table.gaps if g.street == street), None)
        years = [y for y in table.years if (street, y) in cells]
        if not years:
            lines.append(f"{street}: {gap or '无匹配数字'}")
            continue
        lines.append(f"{street}:")
        for y in years:
            label = f"{y}年" if y is not None else "年份不明"
            items = "；".join(
                f"{r.counted} {r.value_text}（{STATUS_LABELS[r.status]}）[{r.citation.n}]" for r in cells[(street, y)]
            )
            lines.append(f"  {label}: {items}")
    if table.rows:
        lines.append("")
        lines.append("引文:")
        for r in table.rows:
            c = r.citation
            lines.append(f"[{c.n}] {c.street} · {c.title} · 第{c.paragraph}段: {c.quote}")
    return "\n".join(lines)


def table_json(table: FigureTable) -> dict:
    """The table as JSON-ready data: rows with their citation, and the gaps."""
    return {
        "topic": table.topic,
        "streets": list(table.streets),
        "year": table.year,
        "status": table.status,
        "matched_by": table.matched_by,
        "rows": [
            {
                **{k: v for k, v in asdict(r).items() if k != "citation"},
                "measure": r.measure,
                "citation": asdict(r.citation),
            }
            for r in table.rows
        ],
        "gaps": [asdict(g) for g in table.gaps],
    }
