"""Metadata filters as arrays: which chunks a Filters allows, without a Python loop over documents per query.

Built once per opened index: each document's street, district and type as a code into the (few) distinct
values, its covered years as two integer arrays, and each chunk's document as an index. A filter is then matched
against the distinct values (hundreds of street names, not thousands of reports) and turned into a chunk mask
by array operations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..records import DocMeta, Filters

_NO_YEAR = np.iinfo(np.int32).min


def _codes(values: Sequence[str | None]) -> tuple[list[str | None], np.ndarray]:
    distinct = sorted(set(values), key=lambda v: (v is None, v or ""))
    position = {v: i for i, v in enumerate(distinct)}
    return distinct, np.fromiter((position[v] for v in values), dtype=np.int32, count=len(values))


class MetaMasks:
    def __init__(self, doc_ids: Sequence[str], metas: Mapping[str, DocMeta], chunk_doc: np.ndarray):
        ordered = [metas[d] for d in doc_ids]
        self.chunk_doc = chunk_doc  # chunk position -> index into doc_ids
        self.streets, self.street = _codes([m.street for m in ordered])
        self.districts, self.district = _codes([m.district for m in ordered])
        self.types, self.doc_type = _codes([m.doc_type for m in ordered])
        start = [m.year_start if m.year_start is not None else _NO_YEAR for m in ordered]
        end = [m.year_end or m.year_start or _NO_YEAR for m in ordered]
        self.year_start = np.asarray(start, dtype=np.int32)
        self.year_end = np.asarray(end, dtype=np.int32)
        self._cache: dict[Filters, np.ndarray] = {}

    def documents(self, filters: Filters) -> np.ndarray:
        """A boolean per document (in doc_ids order): does `filters` match it? The same rules as
        Filters.matches, applied to each distinct value once."""
        mask = np.ones(len(self.street), dtype=bool)
        for wanted, names, codes, field in ((filters.street, self.streets, self.street, "street"),
                                            (filters.district, self.districts, self.district, "district"),
                                            (filters.doc_type, self.types, self.doc_type, "doc_type")):  # fmt: skip
            if wanted:
                probe = Filters(**{field: wanted})
                ok = [
                    i for i, name in enumerate(names) if name and probe.matches(DocMeta("", **{field: name}))
                ]
                mask &= np.isin(codes, ok)
        if filters.year is not None:
            mask &= (
                (self.year_start != _NO_YEAR)
                & (self.year_start <= filters.year)
                & (filters.year <= self.year_end)
            )
        return mask

    def chunks(self, filters: Filters) -> np.ndarray:
        """A boolean per chunk; the few filters a session uses are kept (a mask is one byte per chunk)."""
        mask = self._cache.get(filters)
        if mask is None:
            mask = self.documents(filters)[self.chunk_doc]
            if len(self._cache) >= 32:
                self._cache.pop(next(iter(self._cache)))
            self._cache[filters] = mask
        return mask
