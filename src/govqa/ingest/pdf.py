"""PDF reports: the text layer read with its layout (pdfplumber), scanned pages by OCR.

pdfplumber (MIT, on pdfminer.six and pypdfium2) gives every character with its font, size and position
and finds ruled tables; `layout` turns that into paragraphs, headings and table rows. A page without a
text layer is rendered (pypdfium2) and read by OCR (`ocr`), so a scanned report indexes too.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

from ..errors import LoadError
from .cleaning import normalize_text
from .layout import PageBox, TableBox, TextLine, assemble, drop_running_lines
from .source import Source

# A page with fewer characters than this in its text layer is a scan (perhaps with a stamped page number).
MIN_TEXT_CHARS = 10
# Longer PDFs are rejected rather than tying up a build for hours; GOVQA_MAX_PDF_PAGES raises the limit.
DEFAULT_MAX_PAGES = 300
# Noto/Source Han CJK fonts draw these pairs with one glyph, and PDF writers (Chromium's among them) map the
# glyph back to the lower code point: a Simplified Chinese report's 户 and — come out as 戶 (or the radical
# ⼾, which normalises to 戶) and ―. Applied after normalisation, which maps the radicals.
_GLYPH_ALIASES = str.maketrans({"戶": "户", "―": "—", "⸺": "——"})


def _text_layer(text: str) -> str:
    return normalize_text(text).translate(_GLYPH_ALIASES)


_BOLD_FONT = re.compile(r"bold|heavy|black|semibold|demi|粗|黑", re.IGNORECASE)


def max_pages() -> int:
    return int(os.environ.get("GOVQA_MAX_PDF_PAGES", DEFAULT_MAX_PAGES))


# pdfminer logs every odd font descriptor it meets; the loader reports what matters itself.
logging.getLogger("pdfminer").setLevel(logging.ERROR)


def load_pdf(path: Path, data: bytes) -> Source:
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfplumber.utils.exceptions import PdfminerException

    if b"%PDF" not in data[:1024]:  # readers accept junk before the header, as long as it comes early
        raise LoadError(path, "not a PDF file (no %PDF header)")
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
        count = len(pdf.pages)
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect):
            raise LoadError(path, "encrypted PDF that needs a password; save an unprotected copy") from exc
        raise LoadError(path, f"not a readable PDF ({_describe(cause)})") from exc
    except Exception as exc:  # pdfminer raises many types for truncated or malformed files
        raise LoadError(path, f"not a readable PDF ({_describe(exc)})") from exc
    with pdf:
        if count > max_pages():
            raise LoadError(
                path, f"{count} pages, over the limit of {max_pages()}; split it or set GOVQA_MAX_PDF_PAGES"
            )
        warnings: list[str] = []
        confidence: dict[int, float] = {}
        pages: list[PageBox] = []
        scanned: list[int] = []
        for number, page in enumerate(pdf.pages, start=1):
            try:
                if len(page.chars) >= MIN_TEXT_CHARS:
                    pages.append(_text_page(page, number))
                else:
                    scanned.append(number)
                    pages.append(_scanned_page(page, number, warnings, confidence))
            except LoadError:
                raise
            except Exception as exc:  # one damaged page (bad stream, bad font) should not lose the others
                warnings.append(f"page {number} could not be read ({_describe(exc)}), skipped")
            finally:
                page.close()  # drop the page's parsed objects: a long report would otherwise hold them all
    if scanned:
        warnings.insert(0, f"{len(scanned)} of {count} pages have no text layer and were read by OCR")
    drop_running_lines(pages)
    return Source(assemble(pages), warnings=warnings, ocr_confidence=confidence)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _text_page(page, number: int) -> PageBox:
    tables = []
    for table in page.find_tables():
        rows = _fill_spans(table.extract())
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            tables.append((table.bbox, TableBox(rows, number, table.bbox[1])))
    outside = page
    for bbox, _ in tables:
        outside = outside.outside_bbox(bbox)
    lines = []
    for raw in outside.extract_text_lines(return_chars=True, strip=True):
        chars = [c for c in raw["chars"] if c["text"].strip()]
        if not chars or not raw["text"].strip():
            continue
        sizes = sorted(c["size"] for c in chars)
        bold = sum(bool(_BOLD_FONT.search(c["fontname"])) for c in chars) > len(chars) / 2
        lines.append(
            TextLine(
                _text_layer(raw["text"]),
                number,
                raw["x0"],
                raw["x1"],
                raw["top"],
                raw["bottom"],
                sizes[len(sizes) // 2],
                bold,
            )
        )
    return PageBox(number, float(page.width), float(page.height), lines, [t for _, t in tables])


def _fill_spans(rows: list[list[str | None]]) -> list[list[str]]:
    """A merged cell is text in its first row and None below it: carry the text down, as a reader would."""
    filled: list[list[str]] = []
    for r, row in enumerate(rows):
        cells = []
        for c, cell in enumerate(row):
            if cell is None:
                above = filled[r - 1][c] if r and c < len(filled[r - 1]) else ""
                cell = above
            cells.append(_text_layer(_cell_text(cell)))
        filled.append(cells)
    return filled


def _cell_text(cell: str) -> str:
    # A cell's text wraps inside its box: the line breaks are layout, not content.
    parts = [p.strip() for p in cell.split("\n") if p.strip()]
    text = ""
    for part in parts:
        if text and text[-1].isascii() and text[-1].isalnum() and part[0].isascii() and part[0].isalnum():
            text += " "
        text += part
    return text


def _scanned_page(page, number: int, warnings: list[str], confidence: dict[int, float]) -> PageBox:
    from .ocr import LOW_CONFIDENCE, OCR_HEADING_RATIO, ocr_page

    # 200 dpi: small print (10.5 pt) stays legible to the recogniser, and a page stays under 2000 pixels.
    image = page.to_image(resolution=200).original
    scale = float(page.width) / image.width
    result = ocr_page(image, number)
    if result.confidence is not None:
        confidence[number] = result.confidence
    if result.confidence is not None and result.confidence < LOW_CONFIDENCE:
        warnings.append(f"page {number}: low OCR confidence {result.confidence:.2f}; check the text")
    lines = [
        TextLine(
            line.text,
            number,
            line.x0 * scale,
            line.x1 * scale,
            line.top * scale,
            line.bottom * scale,
            line.size * scale,
        )
        for line in result.lines
    ]
    return PageBox(number, float(page.width), float(page.height), lines, [], OCR_HEADING_RATIO)
