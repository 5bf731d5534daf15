"""Read a report file of any supported format into normalised lines, or fail with a reason that names the file.

Each format has its own module (pdf, word, web, ocr); this one picks the module by suffix, decodes text
files, and applies the normalisation every format shares (`cleaning.normalize_text`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..errors import LoadError  # noqa: F401  (raised here; importable from here as before)
from .cleaning import Line, normalize_text, rejoin_wrapped
from .source import Source

log = logging.getLogger("govqa.ingest")

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
WORD_SUFFIXES = (".docx", ".doc", ".wps")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + WORD_SUFFIXES + (".pdf",) + IMAGE_SUFFIXES
# A UTF-8 file with at most this many bad sequences (or 5 per 10,000 bytes) is UTF-8 with damage, not
# another encoding: text in GBK fails on nearly every Chinese character.
MAX_BAD_UTF8 = 8
MAX_BAD_UTF8_PER_10K = 5


def read_text(path: Path) -> str:
    """Return the normalised text of `path`; raise LoadError for empty, binary or undecodable files."""
    return load_source(path).text


def load_source(path: Path) -> Source:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(path, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if path.is_symlink() and not path.exists():
        raise LoadError(path, f"broken symbolic link (its target {path.readlink()} does not exist)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise LoadError(path, "file is empty")
    if suffix in WORD_SUFFIXES:
        from .word import load_word

        source = load_word(path, data)
    elif suffix == ".pdf":
        from .pdf import load_pdf

        source = load_pdf(path, data)
    elif suffix in IMAGE_SUFFIXES:
        from .ocr import load_image

        source = load_image(path, data)
    else:
        text, warnings = decode_text(path, data)
        if suffix in HTML_SUFFIXES:
            from .web import load_html

            source = load_html(path, text)
            source.warnings[:0] = warnings
        else:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            lines = [Line(normalize_text(t).strip()) for t in text.split("\n")]
            source = Source(rejoin_wrapped(lines), warnings=warnings, normalized=True)
    source.lines = [
        Line(t, line.page, line.heading, line.table) if t != line.text else line
        for line in source.lines
        if (t := (line.text if source.normalized else normalize_text(line.text)).strip())
    ]
    if source.title:
        source.title = normalize_text(source.title).strip() or None
    if not source.lines:
        raise LoadError(path, "no text found in file")
    for warning in source.warnings:
        log.warning("%s: %s", path, warning)
    return source


def decode_text(path: Path | str, data: bytes) -> tuple[str, list[str]]:
    """Decode UTF-8 (with or without BOM), UTF-16, or GBK/GB18030 and other encodings by detection.

    Returns the text and warnings: a UTF-8 file with a few damaged bytes is decoded with U+FFFD in
    their place, and the warning gives their byte offsets.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _checked(path, data.decode("utf-16", errors="replace"), "UTF-16"), []
    try:
        text = data.decode("utf-8-sig")
        # Valid UTF-8 can still be binary, or UTF-16 (its NUL bytes are valid UTF-8): read on if unreadable.
        if _mostly_cjk_or_ascii(text):
            return text, []
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        # UTF-16 without a BOM: ASCII and CJK text put NUL in every other byte of one parity.
        text = _utf16_without_bom(data)
        if text is None:
            raise LoadError(path, "binary file (contains NUL bytes), not a text report")
        return text, []
    bad = _bad_utf8_offsets(data, limit=max(MAX_BAD_UTF8, MAX_BAD_UTF8_PER_10K * len(data) // 10_000))
    if bad is not None:
        shown = ", ".join(str(o) for o in bad[:10]) + (" ..." if len(bad) > 10 else "")
        return data.decode("utf-8-sig", errors="replace"), [
            f"{len(bad)} invalid UTF-8 sequence(s) replaced with U+FFFD at byte offset(s) {shown}"
        ]
    # GB18030 is a superset of GBK and GB2312: try it before asking a detector, which can
    # mistake short Chinese texts for other legacy encodings.
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _mostly_cjk_or_ascii(text):
        return text, []
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise LoadError(path, "cannot detect the text encoding (tried UTF-8, GB18030 and a detector)")
    return _checked(path, str(best), best.encoding), []


def _checked(path: Path | str, text: str, encoding: str) -> str:
    if not _mostly_cjk_or_ascii(text):
        raise LoadError(path, f"decoded as {encoding} but the result is not readable text; is it binary?")
    return text


def _utf16_without_bom(data: bytes) -> str | None:
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _mostly_cjk_or_ascii(text):
            return text
    return None


def _bad_utf8_offsets(data: bytes, limit: int) -> list[int] | None:
    """Byte offsets of invalid UTF-8 sequences; None if there are more than `limit` (not UTF-8 at all)."""
    bad: list[int] = []
    pos = 0
    while len(bad) <= limit:
        try:
            data[pos:].decode("utf-8")
            return bad
        except UnicodeDecodeError as exc:
            bad.append(pos + exc.start)
            pos += exc.end
    return None


# Printable ASCII and whitespace, CJK ideographs, CJK and full-width punctuation, typographic quotes and dashes.
_ODD_CHAR = re.compile("[^\x20-\x7e\n\t\r\u4e00-\u9fff\u3000-\u303f\uff00-\uffef“”‘’—…·•]")


def _mostly_cjk_or_ascii(text: str) -> bool:
    """Reject decodings that yield mostly control characters or rare symbols (a sign of binary or wrong codec)."""
    sample = text[:5000]
    if not sample:
        return False
    good = len(sample) - len(_ODD_CHAR.findall(sample))
    return good / len(sample) > 0.9
