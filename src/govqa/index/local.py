"""The local index: FAISS vectors, a SQLite store of documents and chunks, BM25 over jieba tokens, in one
generation folder (see index.generations for the folder around it and index.builder for how it is written)::

    gen-<stamp>/
        manifest.json       versions, embedder, chunking, content hashes of documents and files
        chunks.sqlite       documents (metadata, cleaned text, paragraphs) and chunks (text, offsets, vector)
        vectors.faiss
        bm25/               bm25s files: jieba words of each chunk's search text
        bm25-bigram/        bm25s files: character bigrams of the same text (see index.tokenize)
        words.txt           extra jieba words (street names, glossary terms) used for BM25
"""

from __future__ import annotations

import json
import math
import sqlite3
import weakref
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

import bm25s
import faiss
import numpy as np

from ..errors import EmbedderMismatchError, IndexCorruptedError
from ..records import SEARCH_TEXT_VERSION, Chunk, DocMeta, Document, Filters, Footnote, Paragraph
from .ann import allowed_selector, top_n
from .backend import LazyChunks, LexicalCandidates
from .embedders import Embedder
from .figures import StoredFigure, load_figures
from .filtering import MetaMasks
from .generations import _hold_generation, _pointer, _sha256
from .tokenize import Tokenizer, char_unigrams_bigrams

FORMAT_VERSION = 2  # 2: paragraphs.page
# Up to this many chunks an opened index reads them all at once (~100 MB at 100k); above, on demand.
EAGER_CHUNKS = 100_000


class Index:
    """A loaded index. Document metadata lives in memory; chunks are read on demand and kept once read
    (see _StoredChunks), document texts are read on demand."""

    def __init__(
        self,
        gen: Path,
        manifest: dict,
        chunks: Sequence[Chunk],
        metas: dict[str, DocMeta],
        vectors: faiss.Index,
        bm25: bm25s.BM25,
        tokenizer: Tokenizer,
        bigram_bm25: bm25s.BM25 | None = None,
        chunk_docs: Iterable[str] | None = None,
    ):
        self.path = gen
        self.manifest = manifest
        self.chunks = chunks
        self.metas = metas
        self.vectors = vectors
        self.bm25 = bm25
        self.bigram_bm25 = bigram_bm25
        self.tokenizer = tokenizer
        # Filters become masks by two array look-ups (doc -> allowed, chunk -> doc), no per-query string work.
        self._doc_ids = sorted(metas)
        position = {d: i for i, d in enumerate(self._doc_ids)}
        docs = chunk_docs if chunk_docs is not None else (c.doc_id for c in chunks)
        self._chunk_doc = np.fromiter((position[d] for d in docs), dtype=np.int32, count=len(chunks))
        self._hold = None  # the shared lock that keeps builds from deleting this generation
        self._release = None

    def _keep_readable(self, handle) -> None:
        self._hold = handle
        # Closed with the Index, at the latest when it is garbage-collected.
        self._release = weakref.finalize(self, handle.close)

    def close(self) -> None:
        """Let builds delete this generation once it is no longer live. The loaded data stays usable;
        reading document texts may fail afterwards."""
        if self._release is not None:
            self._release()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def is_current(self) -> bool:
        """Whether this is still the folder's live generation (one small file read)."""
        return _pointer(self.path.parent) == self.path.name

    @cached_property
    def baseline_bm25(self) -> bm25s.BM25:
        """The naive reference: character uni+bigram BM25 over each chunk's raw text (no title, no
        normalisation), built in memory on first use; every change to retrieval is compared with it."""
        return _bm25_of([char_unigrams_bigrams(c.text) for c in self.chunks])

    @cached_property
    def token_idf(self) -> dict[str, float]:
        """IDF of every BM25 vocabulary token, from the document frequencies the BM25 index holds."""
        indptr = np.asarray(self.bm25.scores["indptr"])
        df = np.diff(indptr)  # the score matrix is column-compressed by token: column length = document frequency
        n = max(1, int(self.bm25.scores["num_docs"]))
        return {
            t: math.log(1 + (n - df[i] + 0.5) / (df[i] + 0.5)) for t, i in self.bm25.vocab_dict.items() if i < len(df)
        }

    @cached_property
    def figures(self) -> list[StoredFigure] | None:
        """Every figure the build extracted (index.figures), read on first use; None for an index built
        before figures were extracted (rebuild it with govqa index)."""
        with _connect(self.path / "chunks.sqlite") as db:
            return load_figures(db)

    @property
    def embedder_name(self) -> str:
        return self.manifest["embedder"]["name"]

    @classmethod
    def open(cls, index_dir: Path | str, verify: bool = True) -> Index:
        gen, hold = _hold_generation(Path(index_dir))
        try:
            index = cls._load(gen, verify)
        except BaseException:
            hold.close()
            raise
        index._keep_readable(hold)
        return index

    @classmethod
    def _load(cls, gen: Path, verify: bool) -> Index:
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptedError(f"{gen}/manifest.json is unreadable ({exc}); rebuild with: govqa index") from exc
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            found = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise IndexCorruptedError(f"index format {found} is not {FORMAT_VERSION}; rebuild with: govqa index")
        missing = {"files", "embedder", "chunking", "documents"} - set(manifest)
        if missing:
            raise IndexCorruptedError(f"{gen}/manifest.json lacks {sorted(missing)}; rebuild with: govqa index")
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
                    row[0]: DocMeta(**json.loads(row[1])) for row in db.execute("SELECT doc_id, meta FROM documents")
                }
                chunk_docs = [row[0] for row in db.execute("SELECT doc_id FROM chunks ORDER BY vec_id")]
            chunks: Sequence[Chunk] = _StoredChunks(gen / "chunks.sqlite", len(chunk_docs))
            if len(chunks) <= EAGER_CHUNKS:
                # Read whole while that is cheap: queries then never wait on SQLite (a filtered query's new
                # candidates cost ~1 ms a query at 10k chunks) nor on a Python-level look-up per chunk.
                chunks = _LoadedChunks(chunks)
            vectors = faiss.read_index(str(gen / "vectors.faiss"))
            bm25, bigram_bm25 = _load_lexical(gen)
        except (sqlite3.DatabaseError, RuntimeError, ValueError, OSError) as exc:
            raise IndexCorruptedError(f"index in {gen} cannot be read ({exc}); rebuild with: govqa index") from exc
        words = (gen / "words.txt").read_text(encoding="utf-8").split("\n")
        return cls(gen, manifest, chunks, metas, vectors, bm25, Tokenizer(words), bigram_bm25, chunk_docs)

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
        paragraphs = tuple(
            Paragraph(
                p.number,
                text[p.char_start : p.char_end],
                p.section_path,
                p.char_start,
                p.char_end,
                p.kind,
                p.footnotes,
                p.page,
            )
            for p in paras
        )
        return Document(doc_id, DocMeta(**json.loads(row[0])), text, paragraphs, row[2], row[3])

    def doc_ids(self) -> list[str]:
        return sorted(self.metas)

    def stored_vectors(self) -> np.ndarray:
        with _connect(self.path / "chunks.sqlite") as db:
            blobs = [row[0] for row in db.execute("SELECT vector FROM chunks ORDER BY vec_id")]
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)

    def chunk_mask(self, allowed_docs: set[str]) -> np.ndarray:
        docs = np.fromiter((d in allowed_docs for d in self._doc_ids), dtype=bool, count=len(self._doc_ids))
        return docs[self._chunk_doc]

    @cached_property
    def _masks(self) -> MetaMasks:
        return MetaMasks(self._doc_ids, self.metas, self._chunk_doc)

    def filter_mask(self, filters: Filters) -> np.ndarray:
        """The chunks of the documents `filters` matches, as a boolean per chunk."""
        return self._masks.chunks(filters)

    # -- SearchBackend: dense search in FAISS, BM25 over every chunk's scores; a selection is a chunk mask

    def select(self, filters: Filters) -> np.ndarray:
        return self.filter_mask(filters)

    def dense_top(self, query: np.ndarray, n: int, where: np.ndarray | None) -> dict[int, float]:
        total = self.vectors.ntotal
        if total == 0:
            return {}
        params = None
        if where is not None:
            selector, count = allowed_selector(where)
            params = search_params(self.vectors, selector, count)
            n = min(n, count)
        if n < 1:
            return {}
        scores, ids = self.vectors.search(query.reshape(1, -1), min(n, total), params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    def _field(self, field: str) -> bm25s.BM25:
        return {"words": self.bm25, "bigrams": self.bigram_bm25}[field]

    def lexical_top(self, field: str, terms: Sequence[str], n: int, where: np.ndarray | None) -> dict[int, float]:
        return top_scores(bm25_scores(self._field(field), terms, len(self.chunks)), n, where)

    def lexical_scores(self, field: str, terms: Sequence[str], positions: Sequence[int]) -> dict[int, float]:
        scores = bm25_scores(self._field(field), terms, len(self.chunks))
        return {int(i): float(scores[i]) for i in positions if scores[i]}

    def term_maxima(self, field: str, terms: Sequence[str]) -> dict[str, float]:
        bm25 = self._field(field)
        return {t: bm25_bound(bm25, [t]) for t in dict.fromkeys(terms)}

    def lexical_candidates(
        self,
        words: Sequence[str],
        bigrams: Sequence[str],
        n: int,
        bigram_weight: float,
        where: np.ndarray | None,
        also: Iterable[int],
    ) -> LexicalCandidates:
        # Every chunk is scored here, so the best n are found among all of them, not just the fields' tops.
        word_scores, bigram_scores, bounds = self.lexical_fields(words, bigrams)
        top = top_scores(word_scores + bigram_weight * bigram_scores, n, where)
        return top, word_scores, bigram_scores, *bounds

    def lexical_fields(
        self, words: Sequence[str], bigrams: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """Words BM25 and bigram BM25 of every chunk for these terms, and the bounds (see lexical_candidates)."""
        n = len(self.chunks)
        word_scores = bm25_scores(self.bm25, words, n)
        bounds = (bm25_bound(self.bm25, words), 0.0)
        bigram_scores = np.zeros(n)
        if self.bigram_bm25:
            bigram_scores = bm25_scores(self.bigram_bm25, bigrams, n)
            bounds = (bounds[0], bm25_bound(self.bigram_bm25, bigrams))
        return word_scores, bigram_scores, bounds

    def baseline_top(self, terms: Sequence[str], n: int, where: np.ndarray | None) -> dict[int, float]:
        """The n best chunks of the naive reference BM25 (baseline_bm25) for these terms."""
        return top_scores(bm25_scores(self.baseline_bm25, terms, len(self.chunks)), n, where)


def bm25_scores(bm25, tokens: Sequence[str], n: int) -> np.ndarray:
    vocab = bm25.vocab_dict
    known = [t for t in tokens if t in vocab]
    return np.asarray(bm25.get_scores(known), dtype=np.float64) if known else np.zeros(n)


def bm25_bound(bm25, tokens: Sequence[str]) -> float:
    """The sum over the query's terms (repeats counted, as get_scores does) of the best score any chunk
    gets on that term: what a chunk matching every term as well as the best one does would score."""
    vocab, matrix = bm25.vocab_dict, bm25.scores
    data, indptr = matrix["data"], matrix["indptr"]
    total = 0.0
    for t in tokens:
        j = vocab.get(t)
        if j is not None and indptr[j + 1] > indptr[j]:
            total += float(data[indptr[j] : indptr[j + 1]].max())
    return total


def top_scores(scores: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
    """The n best positive scores {position: score}, among the `allowed` chunks only if given."""
    if n <= 0 or len(scores) == 0:
        return {}
    if allowed is not None:
        # Selected among the allowed chunks only: a filter makes the selection cheaper, not dearer
        # (a year of a city's reports: 100k of 1M chunks).
        ids = np.flatnonzero(allowed)
        part = scores[ids]
        return {int(ids[j]): float(part[j]) for j in top_n(part, n) if part[j] > 0}
    return {int(i): float(scores[i]) for i in top_n(scores, n) if scores[i] > 0}


def search_params(index: faiss.Index, selector: faiss.IDSelector, allowed: int) -> faiss.SearchParameters:
    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if isinstance(index, faiss.IndexIVF):
        # The probed lists hold about nprobe/nlist of the allowed chunks, so a selective filter leaves few of
        # them in the usual probes (a street at 1M chunks: recall@10 0.29 at 32 probes). More lists are probed
        # as the filter narrows: by the square root of the share it removes. Measured at 926,699 chunks and
        # 4,096 lists against 0.925 unfiltered: a year (11% kept) 0.905 without it, 0.965 with it (768 probes),
        # 0.99 probing in full proportion (9x, twice the time); a street (1 in 2,250) 1.0, all lists, 3 ms.
        widen = math.sqrt(index.ntotal / max(1, allowed))
        nprobe = min(index.nlist, math.ceil(index.nprobe * widen))
        return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
    return faiss.SearchParameters(sel=selector)


_CHUNK_COLUMNS = "chunk_id, doc_id, section_path, para_start, para_end, char_start, char_end, text, footnotes"


class _StoredChunks(LazyChunks):
    """index.chunks of a large local index, read from the generation's SQLite on demand (see LazyChunks).

    The connection stays open, so reads go on after a build has replaced and removed this generation (an open
    file outlives its name), as the rest of a loaded index does."""

    def __init__(self, path: Path, count: int):
        super().__init__(count)
        self._db = _connect(path)

    def _read(self, positions: list[int]) -> Iterator[tuple[int, Chunk]]:
        for start in range(0, len(positions), 500):
            part = positions[start : start + 500]
            rows = self._db.execute(
                f"SELECT vec_id, {_CHUNK_COLUMNS} FROM chunks WHERE vec_id IN ({','.join('?' * len(part))})",
                part,
            )
            yield from ((row[0], _chunk_from_row(row[1:])) for row in rows)

    def _read_all(self) -> Iterator[tuple[int, Chunk]]:
        rows = self._db.execute(f"SELECT vec_id, {_CHUNK_COLUMNS} FROM chunks ORDER BY vec_id")
        return ((row[0], _chunk_from_row(row[1:])) for row in rows)


class _LoadedChunks(list):
    """index.chunks of an index read whole at open: a list, with _StoredChunks's `fetch` (nothing to do)."""

    def fetch(self, positions: Iterable[int]) -> None:
        pass


def _chunk_from_row(row: tuple) -> Chunk:
    chunk_id, doc_id, path, p0, p1, c0, c1, text, notes = row
    return Chunk(chunk_id, doc_id, tuple(json.loads(path)), p0, p1, c0, c1, text, _footnotes(notes))


def _footnotes(raw: str) -> tuple[Footnote, ...]:
    return tuple(Footnote(**f) for f in json.loads(raw))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    return db


def _bm25_of(corpus_tokens: list[list[str]]) -> bm25s.BM25:
    bm25 = bm25s.BM25()
    # bm25s cannot index an empty token list: a chunk with no terms gets one that no query contains.
    bm25.index([tokens or [""] for tokens in corpus_tokens], show_progress=False)
    return bm25


def _load_lexical(gen: Path) -> tuple[bm25s.BM25, bm25s.BM25]:
    if not (gen / "bm25-bigram").is_dir():
        raise IndexCorruptedError(
            f"index in {gen} predates bigram BM25 (search text version {SEARCH_TEXT_VERSION}); "
            "rebuild with: govqa index"
        )
    # Memory-mapped: a query reads only its terms' postings, so serving memory does not grow with the
    # postings of the whole collection (the bigram field is most of the index at scale).
    words = bm25s.BM25.load(str(gen / "bm25"), show_progress=False, mmap=True)
    bigrams = bm25s.BM25.load(str(gen / "bm25-bigram"), show_progress=False, mmap=True)
    return words, bigrams
