"""Corpus -> Documents: read each report, clean it, recover its outline and metadata."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..records import DocMeta, Document
from .cleaning import CLEANING_VERSION, Line, clean_lines
from .gazetteer import gazetteer
from .loaders import SUPPORTED_SUFFIXES, LoadError, load_source
from .metadata import METADATA_VERSION, SIDECAR_SUFFIX, apply_sidecar, clean_title, extract_metadata
from .structure import build_paragraphs


@dataclass
class CorpusLoad:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "<file>: <what was repaired or is doubtful>"


def document_from_text(
    doc_id: str, raw: str | list[Line], meta: DocMeta | None = None, source: bytes | None = None
) -> Document:
    """Build a Document from text (or a loader's lines) already in memory; also used for external
    evaluation passages."""
    blocks = clean_lines(raw)
    if not blocks:
        raise LoadError(doc_id, "no text left after cleaning")
    text, paragraphs = build_paragraphs(blocks)
    plain = raw if isinstance(raw, str) else "\n".join(line.text for line in raw)
    meta = meta or extract_metadata(plain, fallback_title=doc_id)
    digest = hashlib.sha256(
        (source if source is not None else plain.encode("utf-8"))
        + CLEANING_VERSION.encode()
        + METADATA_VERSION.encode()
    )
    return Document(doc_id, meta, text, paragraphs, digest.hexdigest())


def load_document(path: Path, root: Path | None = None, warnings: list[str] | None = None) -> Document:
    """Read one report; raise LoadError with the reason if it cannot be used. What the loader repaired
    or doubts is appended to `warnings` as "<file>: <warning>"."""
    loaded = load_source(path)
    if warnings is not None:
        warnings.extend(f"{path}: {w}" for w in loaded.warnings)
    doc_id = path.relative_to(root).as_posix() if root else path.name
    try:
        meta = extract_metadata(loaded.text, fallback_title=path.stem)
        # A format that states its title and date (a web page's metadata) beats reading them from the text.
        stated = {"title": clean_title(loaded.title) if loaded.title else None, "published": loaded.published}
        meta = apply_sidecar(meta.with_overrides(**{k: v for k, v in stated.items() if v}), path)
    except ValueError as exc:
        raise LoadError(path, str(exc)) from exc
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    source = path.read_bytes() + (sidecar.read_bytes() if sidecar.exists() else b"")
    doc = document_from_text(doc_id, loaded.lines, meta, source)
    return Document(doc.doc_id, doc.meta, doc.text, doc.paragraphs, doc.content_hash, str(path))


def corpus_files(root: Path) -> Iterator[Path]:
    """Every report file under root, in a stable order; sidecars and hidden files are not reports."""
    for path in sorted(root.rglob("*")):
        # A dangling symlink is no file, but it is a report the user meant to index: load_document says so.
        dangling = path.is_symlink() and not path.exists()
        if not (path.is_file() or dangling) or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        yield path


PARALLEL_MIN_FILES = 200  # fewer load faster in one process than a pool starts
_FILES_PER_TASK = 16


def load_corpus(root: Path | str, workers: int | Callable[[], int] = 1) -> CorpusLoad:
    """Load every report under root. A file that cannot be read is reported, and the rest still load.

    With workers > 1 and many files, reports are read in that many processes (a city's thousands of
    reports: reading them was a sixth of a build outside the embedder); the result is the same, in the same
    order. `workers` may be a function, asked only when there are files enough to share (the idle cores).
    Workers are forked (they start with everything imported, whatever script called this), and only from a
    process running one thread: a fork copies no other thread, so a lock one held (a PDF or OCR library's)
    would never be released in the child."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    paths = list(corpus_files(root))
    forkable = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    if len(paths) >= PARALLEL_MIN_FILES and forkable:
        n = workers() if callable(workers) else workers
        if n > 1:
            gazetteer()  # read once here, so that no worker reads it again
            tasks = [(paths[i : i + _FILES_PER_TASK], root) for i in range(0, len(paths), _FILES_PER_TASK)]
            with multiprocessing.get_context("fork").Pool(n) as pool:
                return _merged(pool.imap(_load_part, tasks))
    return _load_part((paths, root))


def _load_part(task: tuple[list[Path], Path]) -> CorpusLoad:
    paths, root = task
    result = CorpusLoad()
    for path in paths:
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            result.errors.append(LoadError(path, f"unsupported file type {path.suffix or '(none)'}, skipped"))
            continue
        try:
            result.documents.append(load_document(path, root, result.warnings))
        except LoadError as exc:
            result.errors.append(exc)
    return result


def _merged(parts: Iterator[CorpusLoad]) -> CorpusLoad:
    result = CorpusLoad()
    for part in parts:
        result.documents += part.documents
        result.errors += part.errors
        result.warnings += part.warnings
    return result
