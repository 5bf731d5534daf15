"""The on-disk index: FAISS vectors, a SQLite store of documents and chunks, BM25 over jieba tokens.

Layout under the index folder::

    CURRENT                 name of the live generation, replaced atomically
    gen-<stamp>/            one complete build
        manifest.json       versions, embedder, chunking, content hashes of documents and files
        chunks.sqlite       documents (metadata, cleaned text, paragraphs) and chunks (text, offsets, vector)
        vectors.faiss
        bm25/               bm25s files
        words.txt           extra jieba words (street names, glossary terms) used for BM25

A build writes a new generation beside the live one and only then points CURRENT at it, so a crash
mid-build leaves the previous index untouched. Opening checks every file against the manifest's hashes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import bm25s
import faiss
import numpy as np

from .. import __version__
from ..ingest.chunking import ChunkConfig, chunk_document
from ..records import SEARCH_TEXT_VERSION, Chunk, DocMeta, Document, Footnote, Paragraph
from .embedders import Embedder
from .tokenize import Tokenizer

FORMAT_VERSION = 2  # 2: paragraphs.page
FAISS_KINDS = ("flat", "hnsw", "ivf")
CURRENT = "CURRENT"
Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


class IndexUnavailableError(Exception):
    """Base for index problems; the message says what to do."""


class IndexNotFoundError(IndexUnavailableError):
    pass


class IndexCorruptedError(IndexUnavailableError):
    pass


class EmbedderMismatchError(IndexUnavailableError):
    pass


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks embedded in this build
    reused: int = 0  # chunks whose vectors came from the previous build
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: str = ""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(gen: Path) -> list[Path]:
    return sorted(p for p in gen.rglob("*") if p.is_file() and p.name != "manifest.json")


def current_generation(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise IndexNotFoundError(
            f"no index in {index_dir}/. Build it with: govqa index --corpus corpus --index {index_dir}"
        )
    gen = index_dir / pointer.read_text(encoding="utf-8").strip()
    if not gen.is_dir() or not (gen / "manifest.json").exists():
        raise IndexCorruptedError(
            f"{index_dir}/{CURRENT} points to a missing build; rebuild with: govqa index"
        )
    return gen


class Index:
    """A loaded index. Chunks and document metadata live in memory; document texts are read on demand."""

    def __init__(self, gen: Path, manifest: dict, chunks: list[Chunk], metas: dict[str, DocMeta],
                 vectors: faiss.Index, bm25: bm25s.BM25, tokenizer: Tokenizer):  # fmt: skip
        self.path = gen
        self.manifest = manifest
        self.chunks = chunks
        self.metas = metas
        self.vectors = vectors
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self._chunk_doc = np.array([c.doc_id for c in chunks], dtype=object)

    @cached_property
    def token_idf(self) -> dict[str, float]:
        """IDF of every BM25 vocabulary token, from the document frequencies the BM25 index holds."""
        indptr = np.asarray(self.bm25.scores["indptr"])
        df = np.diff(
            indptr
        )  # the score matrix is column-compressed by token: column length = document frequency
        n = max(1, int(self.bm25.scores["num_docs"]))
        return {
            t: math.log(1 + (n - df[i] + 0.5) / (df[i] + 0.5))
            for t, i in self.bm25.vocab_dict.items()
            if i < len(df)
        }

    @property
    def embedder_name(self) -> str:
        return self.manifest["embedder"]["name"]

    @classmethod
    def open(cls, index_dir: Path | str, verify: bool = True) -> Index:
        gen = current_generation(Path(index_dir))
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptedError(
                f"{gen}/manifest.json is unreadable ({exc}); rebuild with: govqa index"
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            found = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise IndexCorruptedError(
                f"index format {found} is not {FORMAT_VERSION}; rebuild with: govqa index"
            )
        missing = {"files", "embedder", "chunking", "documents"} - set(manifest)
        if missing:
            raise IndexCorruptedError(
                f"{gen}/manifest.json lacks {sorted(missing)}; rebuild with: govqa index"
            )
        if verify:
            for name, digest in manifest["files"].items():
                path = gen / name
                if not path.exists():
                    raise IndexCorruptedError(f"index file {path} is missing; rebuild with: govqa index")
                if _sha256(path) != digest:
                    raise IndexCorruptedError(
                        f"index file {path} is corrupted (hash mismatch); rebuild with: govqa index"
                    )
        try:
            with _connect(gen / "chunks.sqlite") as db:
                metas = {
                    row[0]: DocMeta(**json.loads(row[1]))
                    for row in db.execute("SELECT doc_id, meta FROM documents")
                }
                chunks = [
                    _chunk_from_row(row)
                    for row in db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks ORDER BY vec_id")
                ]
            vectors = faiss.read_index(str(gen / "vectors.faiss"))
            bm25 = bm25s.BM25.load(str(gen / "bm25"), show_progress=False)
        except (sqlite3.DatabaseError, RuntimeError, ValueError, OSError) as exc:
            raise IndexCorruptedError(
                f"index in {gen} cannot be read ({exc}); rebuild with: govqa index"
            ) from exc
        words = (gen / "words.txt").read_text(encoding="utf-8").split("\n")
        return cls(gen, manifest, chunks, metas, vectors, bm25, Tokenizer(words))

    def check_embedder(self, embedder: Embedder) -> None:
        if embedder.name != self.embedder_name:
            raise EmbedderMismatchError(
                f"this index was built with embedder '{self.embedder_name}', not '{embedder.name}': "
                f"query it with --embedder {self.embedder_name}, or rebuild it with govqa index --embedder {embedder.name}"
            )

    def document(self, doc_id: str) -> Document:
        with _connect(self.path / "chunks.sqlite") as db:
            row = db.execute(
                "SELECT meta, text, content_hash, source FROM documents WHERE doc_id=?", (doc_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no document {doc_id!r} in the index")
            paras = [
                Paragraph(n, "", tuple(json.loads(path)), a, b, kind, _footnotes(notes), page)
                for n, path, a, b, kind, notes, page in db.execute(
                    "SELECT number, section_path, char_start, char_end, kind, footnotes, page FROM paragraphs "
                    "WHERE doc_id=? ORDER BY number",
                    (doc_id,),
                )
            ]
        text = row[1]
        paragraphs = tuple(Paragraph(p.number, text[p.char_start : p.char_end], p.section_path, p.char_start,
                                     p.char_end, p.kind, p.footnotes, p.page) for p in paras)  # fmt: skip
        return Document(doc_id, DocMeta(**json.loads(row[0])), text, paragraphs, row[2], row[3])

    def doc_ids(self) -> list[str]:
        return sorted(self.metas)

    def stored_vectors(self) -> np.ndarray:
        with _connect(self.path / "chunks.sqlite") as db:
            blobs = [row[0] for row in db.execute("SELECT vector FROM chunks ORDER BY vec_id")]
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)

    def chunk_mask(self, allowed_docs: set[str]) -> np.ndarray:
        return np.isin(self._chunk_doc, list(allowed_docs))


_CHUNK_COLUMNS = "chunk_id, doc_id, section_path, para_start, para_end, char_start, char_end, text, footnotes"


def _chunk_from_row(row: tuple) -> Chunk:
    chunk_id, doc_id, path, p0, p1, c0, c1, text, notes = row
    return Chunk(chunk_id, doc_id, tuple(json.loads(path)), p0, p1, c0, c1, text, _footnotes(notes))


def _footnotes(raw: str) -> tuple[Footnote, ...]:
    return tuple(Footnote(**f) for f in json.loads(raw))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    return db


def _make_faiss(vectors: np.ndarray, kind: str) -> faiss.Index:
    n, dim = vectors.shape
    if kind == "flat" or (kind == "ivf" and n < 1000):
        index = faiss.IndexFlatIP(dim)  # exact; IVF needs enough points to train its centroids
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    elif kind == "ivf":
        nlist = max(1, int(4 * np.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 8)
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}; choose one of {FAISS_KINDS}")
    if len(vectors):
        index.add(vectors)
    return index


def build_index(
    documents: Sequence[Document],
    index_dir: Path | str,
    embedder: Embedder,
    *,
    chunk_config: ChunkConfig | None = None,
    faiss_kind: str = "flat",
    progress: Progress | None = None,
) -> BuildReport:
    """Write a new index generation for `documents`, reusing the vectors of unchanged documents."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    chunk_config = chunk_config or ChunkConfig()
    if faiss_kind not in FAISS_KINDS:
        raise ValueError(f"unknown FAISS index kind {faiss_kind!r}; choose one of {FAISS_KINDS}")
    ids = [d.doc_id for d in documents]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate document ids in the corpus")

    previous = _reusable(index_dir, embedder, chunk_config)
    report = BuildReport(documents=len(documents))
    old_hashes: dict[str, str] = previous.manifest["documents"] if previous else {}
    report.removed = sorted(set(old_hashes) - set(ids))

    chunks: list[Chunk] = []
    vectors: list[np.ndarray | None] = []
    reuse = _old_vectors_by_doc(
        previous, {d.doc_id for d in documents if old_hashes.get(d.doc_id) == d.content_hash}
    )
    for doc in documents:
        doc_chunks = chunk_document(doc, chunk_config)
        old = reuse.get(doc.doc_id)
        if old is not None and len(old) == len(doc_chunks):
            report.unchanged.append(doc.doc_id)
            vectors.extend(old)
            report.reused += len(doc_chunks)
        else:
            (report.changed if doc.doc_id in old_hashes else report.added).append(doc.doc_id)
            vectors.extend([None] * len(doc_chunks))
        chunks.extend(doc_chunks)

    todo = [i for i, v in enumerate(vectors) if v is None]
    if todo:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, len(todo))

        fresh = embedder.embed_passages([chunks[i].search_text() for i in todo], progress=advance)
        for i, vec in zip(todo, fresh, strict=True):
            vectors[i] = vec
    elif progress:
        progress(0, 0)
    report.embedded = len(todo)
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, embedder.dim), np.float32)

    gen_name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    staging = index_dir / f".staging-{gen_name}"
    staging.mkdir()
    try:
        words = _write_generation(staging, documents, chunks, matrix, faiss_kind)
        manifest = {
            "format_version": FORMAT_VERSION,
            "govqa_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedder": {"name": embedder.name, "dim": int(embedder.dim)},
            "chunking": asdict(chunk_config),
            "search_text_version": SEARCH_TEXT_VERSION,
            "faiss": faiss_kind,
            "counts": {"documents": len(documents), "chunks": len(chunks), "extra_words": len(words)},
            "documents": {d.doc_id: d.content_hash for d in documents},
            "files": {p.relative_to(staging).as_posix(): _sha256(p) for p in _files(staging)},
        }
        _write_atomic(staging / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        _fsync_tree(staging)
        final = index_dir / gen_name
        staging.rename(final)
        _write_atomic(index_dir / CURRENT, gen_name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep=gen_name)
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    report.path = str(final)
    return report


def _reusable(index_dir: Path, embedder: Embedder, chunk_config: ChunkConfig) -> Index | None:
    """The live index, if its vectors can be reused by this build (same embedder and chunking)."""
    try:
        index = Index.open(index_dir)
    except IndexUnavailableError:
        return None  # nothing to reuse: a missing or broken index is simply rebuilt
    same_input = index.manifest.get("search_text_version") == SEARCH_TEXT_VERSION
    if (
        index.embedder_name != embedder.name
        or index.manifest["chunking"] != asdict(chunk_config)
        or not same_input
    ):
        return None
    return index


def _old_vectors_by_doc(previous: Index | None, doc_ids: set[str]) -> dict[str, list[np.ndarray]]:
    if previous is None or not doc_ids:
        return {}
    matrix = previous.stored_vectors()
    by_doc: dict[str, list[np.ndarray]] = {}
    for chunk, vec in zip(previous.chunks, matrix, strict=True):
        if chunk.doc_id in doc_ids:
            by_doc.setdefault(chunk.doc_id, []).append(vec)
    return by_doc


def _write_generation(
    gen: Path, documents: Sequence[Document], chunks: list[Chunk], matrix: np.ndarray, faiss_kind: str
) -> list[str]:
    with sqlite3.connect(gen / "chunks.sqlite") as db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?)",
            [(d.doc_id, json.dumps(asdict(d.meta), ensure_ascii=False), d.text, d.content_hash, d.source_path)
             for d in documents],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO paragraphs VALUES (?,?,?,?,?,?,?,?)",
            [(d.doc_id, p.number, json.dumps(p.section_path, ensure_ascii=False), p.char_start, p.char_end, p.kind,
              json.dumps([asdict(f) for f in p.footnotes], ensure_ascii=False), p.page)
             for d in documents for p in d.paragraphs],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(i, c.chunk_id, c.doc_id, json.dumps(c.section_path, ensure_ascii=False), c.para_start, c.para_end,
              c.char_start, c.char_end, c.text, json.dumps([asdict(f) for f in c.footnotes], ensure_ascii=False),
              matrix[i].tobytes())
             for i, c in enumerate(chunks)],
        )  # fmt: skip
    db.close()
    faiss.write_index(_make_faiss(matrix, faiss_kind), str(gen / "vectors.faiss"))

    words = sorted(_domain_words(documents))
    tokenizer = Tokenizer(words)
    retriever = bm25s.BM25()
    corpus_tokens = [tokenizer.tokens(c.search_text()) or [""] for c in chunks]
    retriever.index(corpus_tokens, show_progress=False)
    retriever.save(str(gen / "bm25"), show_progress=False)
    (gen / "words.txt").write_text("\n".join(words), encoding="utf-8")
    return words


def _domain_words(documents: Sequence[Document]) -> set[str]:
    """Names BM25 should keep whole: streets, districts and glossary terms of this corpus."""
    words: set[str] = set()
    for doc in documents:
        words.update(w for w in (doc.meta.street, doc.meta.district) if w)
        for para in doc.paragraphs:
            words.update(f.term for f in para.footnotes if 1 < len(f.term) <= 12)
    return words


_SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, meta TEXT NOT NULL, text TEXT NOT NULL,
                        content_hash TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE paragraphs (doc_id TEXT NOT NULL, number INTEGER NOT NULL, section_path TEXT NOT NULL,
                         char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, kind TEXT NOT NULL,
                         footnotes TEXT NOT NULL, page INTEGER, PRIMARY KEY (doc_id, number));
CREATE TABLE chunks (vec_id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
                     section_path TEXT NOT NULL, para_start INTEGER NOT NULL, para_end INTEGER NOT NULL,
                     char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, text TEXT NOT NULL,
                     footnotes TEXT NOT NULL, vector BLOB NOT NULL);
"""


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if (
            path.is_dir()
            and path.name != keep
            and (path.name.startswith("gen-") or path.name.startswith(".staging-"))
        ):
            shutil.rmtree(path, ignore_errors=True)
