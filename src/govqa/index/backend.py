"""What a retriever needs from an index, so that one Retriever serves every storage backend.

Both the local index (local.Index: FAISS + bm25s + SQLite in a folder) and Milvus implement `SearchBackend`: the
Retriever hands them the look-ups that touch the stored data; fusion, de-duplication, hits, answers and
comparison stay shared.

Chunks are addressed everywhere by their integer position (the FAISS row, the Milvus primary key), so both
backends return `{position: score}` and `index.chunks[position]` is the chunk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..records import Chunk, Filters

MILVUS_DESCRIPTOR = "milvus.json"  # in an index folder: this index lives in Milvus (see index/milvus.py)


class Selection(Protocol):
    """The chunks a metadata filter allows, in the backend's own terms (a mask, a filter expression)."""

    def any(self) -> bool: ...


@runtime_checkable
class SearchBackend(Protocol):
    def select(self, filters: Filters) -> Selection:
        """The chunks of the documents `filters` matches (filters is not empty)."""

    def dense_top(self, query: np.ndarray, n: int, where: Selection | None) -> dict[int, float]:
        """The n chunks nearest to the unit query vector (inner product), restricted to `where`."""

    # The lexical look-ups take terms the local tokenizer made (Tokenizer.query_terms) and a field,
    # "words" or "bigrams", scored by BM25 as the local index scores it.

    def lexical_top(self, field: str, terms: Sequence[str], n: int, where: Selection | None) -> dict[int, float]:
        """The n best BM25 matches of the terms in the field (scores > 0), restricted to `where`."""

    def lexical_scores(self, field: str, terms: Sequence[str], positions: Sequence[int]) -> dict[int, float]:
        """The field's BM25 score of each of these chunks for the terms (chunks scoring 0 may be left out)."""

    def term_maxima(self, field: str, terms: Sequence[str]) -> dict[str, float]:
        """Each distinct term's best BM25 score of any chunk in the field (0: no chunk has it)."""

    def lexical_candidates(
        self,
        words: Sequence[str],
        bigrams: Sequence[str],
        n: int,
        bigram_weight: float,
        where: Selection | None,
        also: Iterable[int],
    ) -> LexicalCandidates:
        """The n best chunks by words BM25 + bigram_weight x bigrams BM25 (scores > 0), restricted to `where`;
        both fields' scores of every chunk, at least of those and of `also` (the dense candidates: the fusion
        reads both fields of every candidate); and the most each field could score for these terms."""


# (top n {position: combined score}, words BM25 per chunk, bigrams BM25 per chunk, word bound, bigram bound)
LexicalCandidates = tuple[dict[int, float], np.ndarray, np.ndarray, float, float]


def lexical_candidates_by_field(
    backend: SearchBackend,
    size: int,
    words: Sequence[str],
    bigrams: Sequence[str],
    n: int,
    bigram_weight: float,
    where: Selection | None,
    also: Iterable[int],
) -> LexicalCandidates:
    """SearchBackend.lexical_candidates from a backend that scores each field on its side (`size` chunks):
    each field's top n, then both fields' scores of every candidate (the fusion reads both, dense-only
    candidates included), and the per-term maxima the bounds add up."""
    fields = {"words": words, "bigrams": bigrams}
    tops = {field: backend.lexical_top(field, terms, n, where) for field, terms in fields.items()}
    pool = set(also).union(*tops.values())
    scores, bounds = {}, []
    for field, terms in fields.items():
        column = np.zeros(size)
        # Each field's own top candidates came with their scores: only the others are looked up.
        found = {**tops[field], **backend.lexical_scores(field, terms, sorted(pool - tops[field].keys()))}
        column[list(found)] = list(found.values())
        scores[field] = column
        best = backend.term_maxima(field, terms)
        bounds.append(sum(best[t] for t in terms))  # repeats counted, as the local bound does
    combined = scores["words"] + bigram_weight * scores["bigrams"]
    # Ties go to the lower position, as in the local index's top.
    top = sorted((i for i in pool if combined[i] > 0), key=lambda i: (-combined[i], i))[:n]
    return {i: float(combined[i]) for i in top}, scores["words"], scores["bigrams"], *bounds


class LazyChunks(Sequence[Chunk]):
    """index.chunks read from the store when first asked for, then kept (both backends' chunks).

    Memory grows with the chunks a server has returned, not with the collection (the texts and objects of a
    million chunks are gigabytes). A position always yields the same Chunk object (compare.py keys caches on
    it); iterating reads them all once. Subclasses say how to read some positions and how to read all."""

    def __init__(self, count: int):
        self._count = count
        self._cache: dict[int, Chunk] = {}
        self._complete = False
        self._lock = threading.Lock()  # reads may share one connection between a server's threads

    def _read(self, positions: list[int]) -> Iterable[tuple[int, Chunk]]:
        raise NotImplementedError

    def _read_all(self) -> Iterable[tuple[int, Chunk]]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            positions = range(*i.indices(self._count))
            self.fetch(positions)
            return [self._cache[j] for j in positions]
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(i)
        chunk = self._cache.get(i)
        if chunk is None:
            self.fetch([i])
            chunk = self._cache[i]
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        if not self._complete:
            with self._lock:
                for i, chunk in self._read_all():
                    self._cache.setdefault(i, chunk)
            self._complete = True
        return (self._cache[i] for i in range(self._count))

    def fetch(self, positions: Iterable[int]) -> None:
        """Read the chunks at `positions` not read yet, together."""
        if self._complete:
            return
        cache = self._cache
        missing = sorted({i for i in map(int, positions) if i not in cache})
        if missing:
            with self._lock:
                for i, chunk in self._read(missing):
                    cache.setdefault(i, chunk)

    def remember(self, chunks: Iterable[tuple[int, Chunk]]) -> None:
        """Keep chunks read by other means (a search that returned them)."""
        for i, chunk in chunks:
            self._cache.setdefault(i, chunk)
