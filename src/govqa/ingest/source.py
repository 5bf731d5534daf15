"""What a format's loader hands back: lines in reading order with what the format itself states.

Below the dispatcher (loaders) and every format module (pdf, word, web, ocr), so they share it without
importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cleaning import Line


@dataclass
class Source:
    """What a loader read: lines in reading order, metadata the format states itself, and warnings
    (damage that was repaired, OCR pages of low confidence) to show the user."""

    lines: list[Line]
    title: str | None = None
    published: str | None = None  # ISO date
    warnings: list[str] = field(default_factory=list)
    ocr_confidence: dict[int, float] = field(default_factory=dict)  # page -> mean OCR score, pages read by OCR
    normalized: bool = False  # lines already in normal form (normalize_text), as plain text reads them

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)
