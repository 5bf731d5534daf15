"""Building the local index: a new generation written batch by batch beside the live one, reusing the vectors,
words and figures of unchanged documents (see index.generations for how it goes live, index.local for what it
holds)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import faiss
import numpy as np

from .. import __version__
from ..atomic import write_atomic
from ..errors import IndexNotWritableError, IndexUnavailableError
from ..ingest.chunking import ChunkConfig, chunk_document
from ..records import SEARCH_TEXT_VERSION, Chunk, Document, Footnote
from .ann import EXACT_MAX, make_vector_index, query_pieces
from .embedders import Embedder, spare_workers
from .figures import FIGURES_VERSION, figure_rows, read_rows, write_rows
from .figures import SCHEMA as FIGURES_SCHEMA
from .generations import (
    CURRENT,
    _fsync_tree,
    _not_a_folder,
    _remove_abandoned,
    _sha256,
    build_lock,
)
from .local import FORMAT_VERSION, Index, _connect
from .postings import PostingsWriter
from .tokenize import (
    PARALLEL_MIN_TEXTS,
    TERM_SEP,
    Segmenting,
    Tokenizer,
    simplified,
)

# auto: exact while small, IVF over float16 with probes tuned to the recall target when large (see ann.py).
FAISS_KINDS = ("auto", "flat", "hnsw", "ivf")
# A report that yields more chunks than this is probably not one report (a dump, a whole year's gazette):
# embedding it takes long (about 10 chunks/s on 2 cores), so the build says so before it starts.
OUTSIZED_CHUNKS = 2000
# Chunks per build batch: what a build holds in memory at once, besides what grows by a number per chunk.
BUILD_BATCH_CHUNKS = 20_000
log = logging.getLogger("govqa")
Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks embedded in this build
    reused: int = 0  # chunks whose vectors came from the previous build
    segmented: int = 0  # chunks cut into words in this build (the others' words came from the previous one)
    figures: int = 0  # stated quantities stored for the figures view (see index.figures)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. outsized reports


def _files(gen: Path) -> list[Path]:
    return sorted(p for p in gen.rglob("*") if p.is_file() and p.name != "manifest.json")


def _make_faiss(vectors: np.ndarray, kind: str, probes: np.ndarray | None = None) -> faiss.Index:
    if kind == "auto":
        return make_vector_index(vectors, probes=probes)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # in memory: FAISS reads a plain array
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
    faiss_kind: str = "auto",
    progress: Progress | None = None,
    wait: float = 0.0,
) -> BuildReport:
    """Write a new index generation for `documents`, reusing the vectors of unchanged documents.

    `wait`: seconds to wait for another build of the same folder to finish (-1: as long as it takes);
    after that IndexBusyError.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    chunk_config = chunk_config or ChunkConfig()
    if faiss_kind not in FAISS_KINDS:
        raise ValueError(f"unknown FAISS index kind {faiss_kind!r}; choose one of {FAISS_KINDS}")
    ids = [d.doc_id for d in documents]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate document ids in the corpus")
    if problem := _not_a_folder(index_dir):
        raise IndexNotWritableError(problem)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexNotWritableError(f"cannot create the index folder {index_dir}: {exc}") from exc
    with build_lock(index_dir, wait):
        _remove_abandoned(index_dir)
        return _build_locked(documents, index_dir, embedder, chunk_config, faiss_kind, progress, started)


def _build_locked(
    documents: Sequence[Document],
    index_dir: Path,
    embedder: Embedder,
    chunk_config: ChunkConfig,
    faiss_kind: str,
    progress: Progress | None,
    started: float,
) -> BuildReport:
    gen_name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    staging = index_dir / f".staging-{gen_name}"
    try:
        # Made before any embedding: an unwritable folder fails now, not after hours of work.
        staging.mkdir()
    except OSError as exc:
        raise IndexNotWritableError(f"cannot write to the index folder {index_dir}: {exc}") from exc
    try:
        report = _build_into(staging, documents, index_dir, embedder, chunk_config, faiss_kind, progress)
        final = index_dir / gen_name
        staging.rename(final)
        write_atomic(index_dir / CURRENT, gen_name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_abandoned(index_dir, keep=gen_name)
    report.seconds = time.perf_counter() - started
    report.path = str(final)
    return report


def plan_chunks(
    documents: Sequence[Document],
    chunk_config: ChunkConfig,
    reuse: dict[str, list[np.ndarray]],
    old_hashes: dict[str, str],
    report: BuildReport,
) -> tuple[list[Chunk], list[np.ndarray | None]]:
    """Every document's chunks, and for each its reused vector or None (to embed); the report records which
    documents were unchanged, changed or added, and warns of outsized ones. Shared by every backend's build."""
    chunks: list[Chunk] = []
    vectors: list[np.ndarray | None] = []
    for doc in documents:
        doc_chunks = chunk_document(doc, chunk_config)
        if len(doc_chunks) > OUTSIZED_CHUNKS:
            message = (
                f"{doc.source_path or doc.doc_id}: {len(doc.text):,} characters make {len(doc_chunks):,} chunks "
                f"(more than {OUTSIZED_CHUNKS:,}); is it really one report? Embedding it will take long."
            )
            report.warnings.append(message)
            log.warning(message)
        old = reuse.get(doc.doc_id)
        if old is not None and len(old) == len(doc_chunks):
            report.unchanged.append(doc.doc_id)
            vectors.extend(old)
            report.reused += len(doc_chunks)
        else:
            (report.changed if doc.doc_id in old_hashes else report.added).append(doc.doc_id)
            vectors.extend([None] * len(doc_chunks))
        chunks.extend(doc_chunks)
    return chunks, vectors


def _build_into(
    staging: Path,
    documents: Sequence[Document],
    index_dir: Path,
    embedder: Embedder,
    chunk_config: ChunkConfig,
    faiss_kind: str,
    progress: Progress | None,
) -> BuildReport:
    """Chunk, embed and write `documents` BUILD_BATCH_CHUNKS at a time: memory holds one batch's texts, words
    and vectors, plus what grows by a number per chunk (vocabularies, vectors on disk), never every chunk's
    tokens at once (which outgrew 24 GB at a million chunks)."""
    ids = [d.doc_id for d in documents]
    previous = _reusable(index_dir, embedder, chunk_config)
    report = BuildReport(documents=len(documents))
    old_hashes: dict[str, str] = previous.manifest["documents"] if previous else {}
    report.removed = sorted(set(old_hashes) - set(ids))

    reuse = old_vectors_by_doc(previous, {d.doc_id for d in documents if old_hashes.get(d.doc_id) == d.content_hash})
    stored_words = _old_words_by_doc(previous, set(reuse))
    old_figures = _old_figures_by_doc(
        previous, {d.doc_id for d in documents if old_hashes.get(d.doc_id) == d.content_hash}
    )
    if previous is not None:
        previous.close()  # its shared lock would keep this build from removing it afterwards
    # Chunking is cheap (~150k chunks/s); doing it once ahead gives the sizes the progress and disk check need.
    sizes = [len(chunk_document(d, chunk_config)) for d in documents]
    total = sum(sizes)
    to_embed = sum(n for d, n in zip(documents, sizes, strict=True) if len(reuse.get(d.doc_id, ())) != n)
    _check_space(index_dir, documents, total, embedder.dim)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, to_embed)

    if progress and not to_embed:
        progress(0, 0)
    writer = _GenerationWriter(staging, documents, total, embedder.dim, stored_words, report, old_figures)
    pending: _BatchWords | None = None
    try:
        start = 0
        for stop in _batch_ends(sizes, BUILD_BATCH_CHUNKS):
            batch = documents[start:stop]
            chunks, vectors = plan_chunks(batch, chunk_config, reuse, old_hashes, report)
            previous = pending  # still `pending` (closed on failure) until this batch's segmenting starts
            if previous is not None:
                previous.result(writer.tokenizer)  # its workers finish before this batch's start
            pending = writer.segment(batch, chunks)  # segmenting in other processes meanwhile
            if previous is not None:
                # The last batch's words are counted while this one is segmented: the cores never wait
                # for the counting, nor the counting for them.
                writer.add_words(previous)
            todo = [i for i, v in enumerate(vectors) if v is None]
            if todo:
                titles = {d.doc_id: d.meta.title for d in batch}
                texts = [passage_text(chunks[i], titles[chunks[i].doc_id]) for i in todo]
                for i, vec in zip(todo, embedder.embed_passages(texts, progress=advance), strict=True):
                    vectors[i] = vec
            report.embedded += len(todo)
            writer.add(batch, chunks, vectors)
            start = stop
        if pending is not None:
            writer.add_words(pending)
            pending = None
        tokenizer = writer.finish(faiss_kind, embedder)
    finally:
        if pending is not None:
            pending.job.close()
        writer.discard_scratch()
    manifest = {
        "format_version": FORMAT_VERSION,
        "govqa_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedder": {"name": embedder.name, "dim": int(embedder.dim)},
        "chunking": asdict(chunk_config),
        "search_text_version": SEARCH_TEXT_VERSION,
        "figures_version": FIGURES_VERSION,
        "faiss": faiss_kind,
        "counts": {
            "documents": len(documents),
            "chunks": total,
            "extra_words": len(tokenizer.extra_words),
            "figures": report.figures,
        },
        "segmentation_key": tokenizer.segmentation_key,
        "documents": {d.doc_id: d.content_hash for d in documents},
        "files": {p.relative_to(staging).as_posix(): _sha256(p) for p in _files(staging)},
    }
    write_atomic(staging / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    _fsync_tree(staging)
    report.chunks = total
    return report


def _batch_ends(sizes: Sequence[int], per_batch: int) -> Iterator[int]:
    """Ends of consecutive runs of whole documents holding about `per_batch` chunks each."""
    held = 0
    for i, n in enumerate(sizes):
        held += n
        if held >= per_batch:
            yield i + 1
            held = 0
    if held or not sizes:
        yield len(sizes)


def _check_space(index_dir: Path, documents: Sequence[Document], n_chunks: int, dim: int) -> None:
    """Fail before embedding when the disk cannot hold the new generation (a rough upper estimate)."""
    text_bytes = sum(len(d.text.encode("utf-8")) for d in documents)
    # Vectors twice (FAISS and SQLite), the text about three times (documents, chunks, BM25), 10 MB slack.
    needed = 2 * n_chunks * dim * 4 + 3 * text_bytes + 10 * 2**20
    free = shutil.disk_usage(index_dir).free
    if free < needed:
        raise IndexNotWritableError(
            f"not enough disk space for the index in {index_dir}: about {needed / 2**20:.0f} MB needed, "
            f"{free / 2**20:.0f} MB free"
        )


def _reusable(index_dir: Path, embedder: Embedder, chunk_config: ChunkConfig) -> Index | None:
    """The live index, if its vectors can be reused by this build (same embedder and chunking)."""
    try:
        index = Index.open(index_dir)
    except IndexUnavailableError:
        return None  # nothing to reuse: a missing or broken index is simply rebuilt
    same_input = index.manifest.get("search_text_version") == SEARCH_TEXT_VERSION
    if index.embedder_name != embedder.name or index.manifest["chunking"] != asdict(chunk_config) or not same_input:
        index.close()
        return None
    return index


def old_vectors_by_doc(previous: Index | None, doc_ids: set[str]) -> dict[str, list[np.ndarray]]:
    if previous is None or not doc_ids:
        return {}
    matrix = previous.stored_vectors()
    by_doc: dict[str, list[np.ndarray]] = {}
    for chunk, vec in zip(previous.chunks, matrix, strict=True):
        if chunk.doc_id in doc_ids:
            by_doc.setdefault(chunk.doc_id, []).append(vec)
    return by_doc


def _old_figures_by_doc(previous: Index | None, doc_ids: set[str]) -> dict[str, list[tuple]]:
    """Stored figure rows of unchanged documents, when the previous build extracted them the same way."""
    if previous is None or not doc_ids or previous.manifest.get("figures_version") != FIGURES_VERSION:
        return {}
    with _connect(previous.path / "chunks.sqlite") as db:
        return read_rows(db, doc_ids)


@dataclass
class _StoredWords:
    """Words of the previous generation's chunks by document, and the segmentation key they were cut under."""

    key: str | None = None
    by_doc: dict[str, list[str]] = field(default_factory=dict)  # each chunk's words, packed (TERM_SEP)


def _old_words_by_doc(previous: Index | None, doc_ids: set[str]) -> _StoredWords:
    if previous is None or not doc_ids:
        return _StoredWords()
    try:
        with _connect(previous.path / "chunks.sqlite") as db:
            rows = db.execute(
                "SELECT c.doc_id, w.words FROM chunk_words w JOIN chunks c ON c.vec_id = w.vec_id ORDER BY w.vec_id"
            ).fetchall()
    except sqlite3.OperationalError:  # built before words were stored: every chunk is segmented again
        return _StoredWords()
    by_doc: dict[str, list[str]] = {}
    for doc_id, words in rows:
        if doc_id in doc_ids:
            # Stored packed; an index from before packing holds JSON lists (no term starts with "[").
            packed = TERM_SEP.join(json.loads(words)) if words.startswith("[") else words
            by_doc.setdefault(doc_id, []).append(packed)
    return _StoredWords(previous.manifest.get("segmentation_key"), by_doc)


def passage_text(chunk: Chunk, title: str | None) -> str:
    """What the embedder reads for a chunk: its search text (title and headings first), in simplified script."""
    return simplified(chunk.search_text(title))


@dataclass
class _BatchWords:
    """A batch's words: reused ones in place, the rest being segmented by `job`."""

    first: int  # the position of the batch's first chunk
    texts: list[str]
    words: list[str | None]  # packed (TERM_SEP), where the previous build stored them
    todo: list[int]
    job: Segmenting
    _done: tuple[list[str], list[str]] | None = None

    def result(self, tokenizer: Tokenizer) -> tuple[list[str], list[str]]:
        """(words, bigrams) of every chunk of the batch, each packed, once the segmenting is done."""
        if self._done is None:
            self._done = self._collect(tokenizer)
        return self._done

    def _collect(self, tokenizer: Tokenizer) -> tuple[list[str], list[str]]:
        fresh_words, fresh_bigrams = self.job.packed()
        words, bigrams = list(self.words), [None] * len(self.texts)
        for i, w, b in zip(self.todo, fresh_words, fresh_bigrams, strict=True):
            words[i], bigrams[i] = w, b
        done = [
            b if b is not None else TERM_SEP.join(tokenizer.bigrams(t))
            for b, t in zip(bigrams, self.texts, strict=True)
        ]
        return words, done  # type: ignore[return-value]


class _GenerationWriter:
    """Writes one generation batch by batch: SQLite rows, vectors, and both BM25 fields' postings.

    BM25 words and bigrams of each chunk's search text: words reward whole terms; bigrams keep recall where
    the question and the text are segmented differently (广西 / 广西壮族自治区, overlapping compounds). The words
    of each chunk are stored too, so the next build segments only new and changed documents, as long as the
    dictionaries stay the same. Vectors wait in a scratch file until the FAISS index is made from all of them."""

    def __init__(
        self,
        gen: Path,
        documents: Sequence[Document],
        total: int,
        dim: int,
        stored: _StoredWords,
        report: BuildReport,
        old_figures: dict[str, list[tuple]] | None = None,
    ):
        self.gen = gen
        self.report = report
        self.old_figures = old_figures or {}
        # Its extra words are the corpus's street and glossary names: known before any chunk is cut.
        self.tokenizer = Tokenizer(sorted(domain_words(documents)))
        self.stored = stored if stored.key == self.tokenizer.segmentation_key else _StoredWords()
        self.db = sqlite3.connect(gen / "chunks.sqlite")
        # A crash discards the whole staging folder, so the database needs no journal of its own; the
        # finished generation is fsynced before it goes live.
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA + FIGURES_SCHEMA)
        self.vectors = (
            np.lib.format.open_memmap(gen / ".vectors.npy", "w+", np.float32, (total, dim))
            if total
            else np.zeros((0, dim), np.float32)
        )
        self.words = PostingsWriter(gen / ".spill-words")
        self.bigrams = PostingsWriter(gen / ".spill-bigrams")
        self.position = 0
        self._every = max(1, total // 200)
        self.samples: list[str] = []  # chunk texts spread over the corpus, for tuning the vector index

    def segment(self, documents: Sequence[Document], chunks: list[Chunk]) -> _BatchWords:
        """Start cutting the batch's chunks into words (those the previous build stored are reused)."""
        titles = {d.doc_id: d.meta.title for d in documents}
        texts = [c.search_text(titles[c.doc_id]) for c in chunks]
        words: list[str | None] = [None] * len(chunks)
        per_doc = Counter(c.doc_id for c in chunks)
        seen: Counter[str] = Counter()
        for i, chunk in enumerate(chunks):
            old = self.stored.by_doc.get(chunk.doc_id)
            if old is not None and len(old) == per_doc[chunk.doc_id]:  # the same chunks as last time
                words[i] = old[seen[chunk.doc_id]]
                seen[chunk.doc_id] += 1
        todo = [i for i, w in enumerate(words) if w is None]
        workers = spare_workers() if len(todo) >= PARALLEL_MIN_TEXTS else 1
        job = self.tokenizer.start_terms_of_all([texts[i] for i in todo], workers)
        return _BatchWords(self.position, texts, words, todo, job)

    def add(self, documents: Sequence[Document], chunks: list[Chunk], vectors: list[np.ndarray | None]) -> None:
        """The batch's documents, paragraphs, chunks and vectors (its words follow, see add_words)."""
        first = self.position
        if chunks:
            self.vectors[first : first + len(chunks)] = np.vstack(vectors)
        self.db.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?)",
            [
                (
                    d.doc_id,
                    json.dumps(asdict(d.meta), ensure_ascii=False),
                    d.text,
                    d.content_hash,
                    d.source_path,
                )
                for d in documents
            ],
        )
        self.db.executemany(
            "INSERT INTO paragraphs VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    d.doc_id,
                    p.number,
                    _json_path(p.section_path),
                    p.char_start,
                    p.char_end,
                    p.kind,
                    _json_footnotes(p.footnotes),
                    p.page,
                )
                for d in documents
                for p in d.paragraphs
            ],
        )
        self.db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    first + i,
                    c.chunk_id,
                    c.doc_id,
                    _json_path(c.section_path),
                    c.para_start,
                    c.para_end,
                    c.char_start,
                    c.char_end,
                    c.text,
                    _json_footnotes(c.footnotes),
                    self.vectors[first + i].tobytes(),
                )
                for i, c in enumerate(chunks)
            ],
        )
        # Figures are per document like paragraphs: an unchanged document keeps the rows it had.
        figures = [r for d in documents for r in self.old_figures.get(d.doc_id) or figure_rows(d)]
        write_rows(self.db, figures)
        self.report.figures += len(figures)
        self.db.commit()
        self.samples += [c.text for i, c in enumerate(chunks) if (first + i) % self._every == 0]
        self.position += len(chunks)

    def add_words(self, words: _BatchWords) -> None:
        """A batch's words and bigrams, once segmented: stored for the next build, and counted for BM25."""
        all_words, bigrams = words.result(self.tokenizer)
        self.report.segmented += len(words.todo)
        self.db.executemany("INSERT INTO chunk_words VALUES (?,?)", enumerate(all_words, start=words.first))
        self.db.commit()
        self.words.add_packed(all_words)
        self.bigrams.add_packed(bigrams)

    def finish(self, faiss_kind: str, embedder: Embedder) -> Tokenizer:
        self.db.close()
        self.words.save(self.gen / "bm25")
        self.bigrams.save(self.gen / "bm25-bigram")
        probes = None
        if faiss_kind == "auto" and len(self.vectors) > EXACT_MAX:  # an IVF index, tuned for questions too
            probes = embedder.embed_queries(query_pieces(self.samples))
        faiss.write_index(_make_faiss(self.vectors, faiss_kind, probes), str(self.gen / "vectors.faiss"))
        (self.gen / "words.txt").write_text("\n".join(self.tokenizer.extra_words), encoding="utf-8")
        return self.tokenizer

    def discard_scratch(self) -> None:
        self.db.close()
        del self.vectors  # unmapped before its file goes
        (self.gen / ".vectors.npy").unlink(missing_ok=True)
        self.words.discard()
        self.bigrams.discard()


@lru_cache(maxsize=4096)
def _json_path(section_path: tuple[str, ...]) -> str:
    # A report's few hundred headings recur on all of its paragraphs and chunks: encode each path once.
    return json.dumps(section_path, ensure_ascii=False)


def _json_footnotes(footnotes: Sequence[Footnote]) -> str:
    return json.dumps([asdict(f) for f in footnotes], ensure_ascii=False) if footnotes else "[]"


def domain_words(documents: Sequence[Document]) -> set[str]:
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
-- The BM25 words of each chunk (a JSON list), reused by the next build for documents that did not change.
CREATE TABLE chunk_words (vec_id INTEGER PRIMARY KEY, words TEXT NOT NULL);
"""
