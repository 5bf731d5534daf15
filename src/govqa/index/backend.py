"""What a retriever needs from an index, so that one Retriever serves every storage backend.

The local index (store.Index: FAISS + bm25s + SQLite in a folder) is searched by the Retriever itself. A backend
that searches on its own side (Milvus) implements `SearchBackend` as well, and the Retriever hands it the three
look-ups that touch the stored data; fusion, de-duplication, hits, answers and comparison stay shared.

Chunks are addressed everywhere by their integer position (the FAISS row, the Milvus primary key), so both
backends return `{position: score}` and `index.chunks[position]` is the chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..records import Filters

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

    def lexical_top(self, text: str, n: int, where: Selection | None) -> dict[int, float]:
        """The n best BM25 matches of `text` (scores > 0), restricted to `where`."""


def open_index(index_dir: Path | str):
    """The index in `index_dir`: a local one, or the Milvus collection its descriptor names."""
    index_dir = Path(index_dir)
    if (index_dir / MILVUS_DESCRIPTOR).exists():
        from .milvus import MilvusIndex  # pymilvus is imported only by those who use it

        return MilvusIndex.open(index_dir)
    from .store import Index

    return Index.open(index_dir)
