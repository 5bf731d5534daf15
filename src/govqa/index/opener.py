"""Open whichever index a folder holds: the local one, or the Milvus collection its descriptor names.

Above both backends (local, milvus), so neither needs the other's module to be opened."""

from __future__ import annotations

from pathlib import Path

from .backend import MILVUS_DESCRIPTOR


def open_index(index_dir: Path | str):
    """The index in `index_dir`: a local one, or the Milvus collection its descriptor names."""
    index_dir = Path(index_dir)
    if (index_dir / MILVUS_DESCRIPTOR).exists():
        from .milvus import MilvusIndex  # pymilvus is imported only by those who use it

        return MilvusIndex.open(index_dir)
    from .local import Index

    return Index.open(index_dir)
