"""Read a report file of any supported format into plain text, or fail with a reason that names the file."""

from __future__ import annotations

import io
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".docx", ".pdf")


class LoadError(Exception):
    """A corpus file that cannot be read. The rest of the corpus still indexes."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def read_text(path: Path) -> str:
    """Return the text of `path`; raise LoadError for empty, binary or undecodable files."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            path, f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise LoadError(path, "file is empty")
    if suffix == ".docx":
        text = _docx_text(path, data)
    elif suffix == ".pdf":
        text = _pdf_text(path, data)
    else:
        text = decode_text(path, data)
        if suffix in (".html", ".htm"):
            text = _html_text(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoadError(path, "no text found in file")
    return text


def decode_text(path: Path | str, data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), or GBK/GB18030 and other encodings by detection."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError(path, "binary file (contains NUL bytes), not a text report")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # GB18030 is a superset of GBK and GB2312: try it before asking a detector, which can
    # mistake short Chinese texts for other legacy encodings.
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _mostly_cjk_or_ascii(text):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise LoadError(path, "cannot detect the text encoding (tried UTF-8, GB18030 and a detector)")
    decoded = str(best)
    if not _mostly_cjk_or_ascii(decoded):
        raise LoadError(
            path, f"decoded as {best.encoding} but the result is not readable text; is it binary?"
        )
    return decoded


def _mostly_cjk_or_ascii(text: str) -> bool:
    """Reject decodings that yield mostly control characters or rare symbols (a sign of binary or wrong codec)."""
    sample = text[:5000]
    if not sample:
        return False
    good = sum(
        1
        for ch in sample
        if ch.isascii()
        and (ch.isprintable() or ch in "\n\t")
        or "\u4e00" <= ch <= "\u9fff"
        or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef"
        or ch in "“”‘’—…·•"
    )
    return good / len(sample) > 0.9


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer"]):
        tag.decompose()
    # Block elements become their own lines so paragraphs survive.
    return soup.get_text("\n")


def _docx_text(path: Path, data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types for a broken zip or XML
        raise LoadError(path, f"not a readable .docx file ({type(exc).__name__})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            # One cell per line, as flattened tables arrive in text reports; cleaning rebuilds rows.
            lines.extend(f"{cell.text.strip()} |" for cell in row.cells)
    return "\n".join(lines)


def _pdf_text(path: Path, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise LoadError(path, f"not a readable PDF ({exc})") from exc
