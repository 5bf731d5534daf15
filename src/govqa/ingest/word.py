"""Word reports: .docx with python-docx (heading styles and list numbering give the outline, tables stay
where they are in the body); legacy .doc through antiword, .doc/.wps through LibreOffice where installed."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ..errors import LoadError
from .cleaning import Line
from .source import Source

# A .docx is a zip: refuse archives that would expand far beyond any real report (zip bombs).
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
CONVERT_TIMEOUT_S = 120
_LEGACY_SIGNATURES = (
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"{\\rtf",
)  # OLE2 compound file (Word 97-2003, WPS), RTF
_HEADING_STYLE = re.compile(r"^(heading|标题)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(title|标题)$", re.IGNORECASE)


def load_word(path: Path, data: bytes) -> Source:
    suffix = path.suffix.lower()
    if suffix == ".docx" or data.startswith(b"PK\x03\x04"):  # a .docx saved under an old name
        return load_docx(path, data)
    if not data.startswith(_LEGACY_SIGNATURES):
        # LibreOffice would import any other bytes as plain text and index the noise.
        raise LoadError(path, f"not a Word or WPS document (no Word 97-2003 or RTF signature) despite its {suffix}")
    return _load_legacy(path, suffix)


def load_docx(path: Path, data: bytes) -> Source:
    import docx
    from docx.table import Table

    _check_zip(path, data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several types for a broken zip or XML
        raise LoadError(path, f"not a readable .docx file ({type(exc).__name__})") from exc
    numbering = _Numbering(document)
    lines: list[Line] = []
    table_no = 0
    # Paragraphs and tables in body order, so a table's rows keep their section and paragraph numbers.
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            table_no += 1
            lines.extend(Line(f"{cell} |", table=table_no) for row in _table_rows(item) for cell in row)
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _heading_level(item)
        label = numbering.label(item)
        lines.append(Line(label + text, heading=level))
    return Source(lines)


def _heading_level(paragraph) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    if m := _HEADING_STYLE.match(name.strip()):
        return int(m.group(2))
    if _TITLE_STYLE.match(name.strip()):
        return 1
    return None


def _table_rows(table) -> list[list[str]]:
    """Rows of cell texts. A merged cell appears once per row it spans (a reader sees it on each row),
    but once only within a row."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append("".join(p.text.strip() for p in cell.paragraphs))
        rows.append(cells)
    return rows


def _check_zip(path: Path, data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise LoadError(path, "not a readable .docx file (not a zip archive)") from exc
    unzipped = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    if unzipped > MAX_UNZIPPED_BYTES or (unzipped > 10 * 1024 * 1024 and unzipped / packed > MAX_RATIO):
        raise LoadError(
            path,
            f"refused: the .docx would expand to {unzipped // (1024 * 1024)} MB "
            f"({unzipped / packed:.0f}x its size), a zip bomb rather than a report",
        )


class _Numbering:
    """Labels Word's automatic list numbering puts before a paragraph (一、 (一) 1.), which are not in its
    text but are how the reader (and the outline) sees the heading."""

    def __init__(self, document) -> None:
        from docx.oxml.ns import qn

        self._qn = qn
        self._formats: dict[tuple[str, int], tuple[str, str, int]] = {}
        self._counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract = {a.get(qn("w:abstractNumId")): a for a in root.findall(qn("w:abstractNum"))}
        for num in root.findall(qn("w:num")):
            ref = num.find(qn("w:abstractNumId"))
            definition = abstract.get(ref.get(qn("w:val"))) if ref is not None else None
            if definition is None:
                continue
            for lvl in definition.findall(qn("w:lvl")):
                fmt = lvl.find(qn("w:numFmt"))
                text = lvl.find(qn("w:lvlText"))
                start = lvl.find(qn("w:start"))
                self._formats[(num.get(qn("w:numId")), int(lvl.get(qn("w:ilvl"))))] = (
                    fmt.get(qn("w:val")) if fmt is not None else "decimal",
                    text.get(qn("w:val")) if text is not None else "",
                    int(start.get(qn("w:val"))) if start is not None else 1,
                )

    def label(self, paragraph) -> str:
        num_pr = self._num_pr(paragraph)
        if num_pr is None:
            return ""
        num_id, ilvl = num_pr
        if (num_id, ilvl) not in self._formats:
            return ""
        counters = self._counters.setdefault(num_id, [0] * 9)
        fmt, text, start = self._formats[(num_id, ilvl)]
        counters[ilvl] = counters[ilvl] + 1 if counters[ilvl] else start
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        if fmt in ("bullet", "none"):
            return ""

        def number(m: re.Match[str]) -> str:
            lvl = int(m.group(1)) - 1
            lvl_fmt = self._formats.get((num_id, lvl), (fmt,))[0]
            return _format_number(counters[lvl] or 1, lvl_fmt)

        return re.sub(r"%(\d)", number, text)

    def _num_pr(self, paragraph) -> tuple[str, int] | None:
        qn = self._qn
        for element in (paragraph._p, paragraph.style.element if paragraph.style is not None else None):
            if element is None:
                continue
            num_pr = element.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
            if num_pr is not None:
                num_id = num_pr.find(qn("w:numId"))
                ilvl = num_pr.find(qn("w:ilvl"))
                if num_id is not None:
                    return num_id.get(qn("w:val")), int(ilvl.get(qn("w:val"))) if ilvl is not None else 0
        return None


_CN_DIGITS = "零一二三四五六七八九"


def _format_number(n: int, fmt: str) -> str:
    if fmt in (
        "chineseCounting",
        "chineseCountingThousand",
        "ideographTraditional",
        "taiwaneseCounting",
        "japaneseCounting",
        "chineseLegalSimplified",
    ):
        return _chinese_number(n)
    if fmt == "lowerLetter":
        return chr(ord("a") + (n - 1) % 26)
    if fmt == "upperLetter":
        return chr(ord("A") + (n - 1) % 26)
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return roman.lower() if fmt == "lowerRoman" else roman
    return str(n)


def _chinese_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out += letters
            n -= value
    return out


def _load_legacy(path: Path, suffix: str) -> Source:
    """.doc via antiword (Debian), or .doc/.wps via LibreOffice when it is installed; else a clear refusal."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice:
        with tempfile.TemporaryDirectory() as out:
            # A profile of its own: LibreOffice instances sharing the default one hand the job to the
            # first and convert nothing, so parallel loads would lose files.
            profile = f"-env:UserInstallation={(Path(out) / 'profile').as_uri()}"
            _run(path, [soffice, profile, "--headless", "--convert-to", "docx", "--outdir", out, str(path)])
            converted = Path(out) / (path.stem + ".docx")
            if not converted.exists():
                raise LoadError(path, "LibreOffice could not convert the file to .docx")
            return load_docx(path, converted.read_bytes())
    if suffix == ".doc" and shutil.which("antiword"):
        text = _run(path, ["antiword", "-w", "0", "-m", "UTF-8.txt", str(path)])
        lines = []
        for raw in text.split("\n"):
            # antiword draws table rows as |cell|cell|: make them the cell lines tables are rebuilt from.
            if raw.startswith("|") and raw.rstrip().endswith("|"):
                lines.extend(Line(f"{cell.strip()} |") for cell in raw.strip().strip("|").split("|"))
            else:
                lines.append(Line(raw))
        return Source(lines)
    tool = "antiword or LibreOffice" if suffix == ".doc" else "LibreOffice"
    raise LoadError(path, f"legacy {suffix} files need {tool} to convert them; or save the report as .docx or PDF")


def _run(path: Path, command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, timeout=CONVERT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(path, f"{Path(command[0]).name} took over {CONVERT_TIMEOUT_S}s, gave up") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LoadError(path, f"{Path(command[0]).name} cannot read it: {message[-1] if message else 'failed'}")
    return done.stdout.decode("utf-8", "replace")
