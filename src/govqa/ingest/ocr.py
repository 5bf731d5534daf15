"""OCR for scanned pages and images, offline: RapidOCR with the PP-OCRv4 Chinese models that ship inside
its wheel (rapidocr-onnxruntime), run by onnxruntime on the CPU. Nothing is downloaded at run time.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import LoadError
from .layout import PageBox, TextLine, assemble
from .source import Source

# Pages whose mean recognition score is below this are reported: their text needs a human look.
LOW_CONFIDENCE = 0.85
# A line box this much taller than the body's is a heading (boxes of body lines vary by ~10%).
OCR_HEADING_RATIO = 1.25
# Recognised pieces scored below this are noise (stains, stamps, table rules), not text.
MIN_PIECE_SCORE = 0.5


@dataclass
class OcrLine:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    score: float

    @property
    def size(self) -> float:
        return self.bottom - self.top


@dataclass
class OcrPage:
    lines: list[OcrLine]
    confidence: float | None  # mean score per character; None: no text found


def ocr_threads() -> int:
    """Threads for one OCR run: GOVQA_OCR_THREADS, else every core (onnxruntime's own default)."""
    return int(os.environ.get("GOVQA_OCR_THREADS", "0")) or (os.cpu_count() or 1)


@cache
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # an optional dependency: text PDFs and every other format work without it
        raise RuntimeError("OCR needs the rapidocr-onnxruntime package (pip install rapidocr-onnxruntime)") from exc
    threads = ocr_threads()
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


def ocr_page(image, page: int | None = None) -> OcrPage:
    """Recognise the text of one page image (PIL image); lines come in reading order."""
    import numpy as np

    # Scans are upright: the text-direction classifier would only cost time.
    result, _ = _engine()(np.asarray(image.convert("RGB")), use_cls=False)
    pieces: list[OcrLine] = []
    for box, text, score in result or []:
        score = float(score)
        if score < MIN_PIECE_SCORE or not text.strip():
            continue
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        pieces.append(OcrLine(text.strip(), min(xs), max(xs), min(ys), max(ys), score))
    lines = _into_lines(pieces)
    chars = sum(len(line.text) for line in lines)
    confidence = sum(line.score * len(line.text) for line in lines) / chars if chars else None
    return OcrPage(lines, confidence)


def _into_lines(pieces: list[OcrLine]) -> list[OcrLine]:
    """The detector may cut one visual line into pieces (table cells, wide gaps): put them back together."""
    lines: list[list[OcrLine]] = []
    for piece in sorted(pieces, key=lambda p: (p.top + p.bottom) / 2):
        middle = (piece.top + piece.bottom) / 2
        if lines and lines[-1][0].top < middle < lines[-1][0].bottom:
            lines[-1].append(piece)
        else:
            lines.append([piece])
    joined = []
    for parts in lines:
        parts.sort(key=lambda p: p.x0)
        text = parts[0].text
        for before, part in zip(parts, parts[1:], strict=False):
            text += (" " if part.x0 - before.x1 > before.size else "") + part.text
        chars = sum(len(p.text) for p in parts)
        joined.append(
            OcrLine(
                text,
                parts[0].x0,
                max(p.x1 for p in parts),
                min(p.top for p in parts),
                max(p.bottom for p in parts),
                sum(p.score * len(p.text) for p in parts) / chars,
            )
        )
    return joined


def load_image(path: Path, data: bytes) -> Source:
    """A scanned page saved as an image (.png/.jpg/.tif; every frame of a multi-page TIFF)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    # A decompression bomb (a tiny file that expands to gigapixels) is refused by Pillow's own limit.
    try:
        image = Image.open(io.BytesIO(data))
        frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise LoadError(path, f"not a readable image ({type(exc).__name__}: {exc})") from exc
    pages: list[PageBox] = []
    warnings: list[str] = []
    confidence: dict[int, float] = {}
    for number, frame in enumerate(frames, start=1):
        result = ocr_page(frame, number)
        if result.confidence is not None:
            confidence[number] = result.confidence
        if result.confidence is not None and result.confidence < LOW_CONFIDENCE:
            warnings.append(f"page {number}: low OCR confidence {result.confidence:.2f}; check the text")
        lines = [TextLine(x.text, number, x.x0, x.x1, x.top, x.bottom, x.size) for x in result.lines]
        pages.append(PageBox(number, float(frame.width), float(frame.height), lines, [], OCR_HEADING_RATIO))
    lines = assemble(pages)
    if not lines:
        raise LoadError(path, "no text found in the image (OCR recognised nothing)")
    return Source(lines, warnings=warnings, ocr_confidence=confidence)
