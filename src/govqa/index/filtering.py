"""Metadata filters as arrays: which chunks a Filters allows, without a Python loop over documents per query.

Built once per opened index: each document's street, district and type as a code into the (few) distinct
values, its covered years as two integer arrays, and each chunk's document as an index. A filter is then matched
against the distinct values (hundreds of street names, not thousands of reports) and turned into a chunk mask
by array operations.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

import numpy as np

from ..records import DocMeta, Filters, same_place

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
        ordered_chunks = len(chunk_doc) == 0 or bool(np.all(np.diff(chunk_doc) >= 0))
        self._runs = np.bincount(chunk_doc, minlength=len(doc_ids)) if ordered_chunks else None

    def documents(self, filters: Filters) -> np.ndarray:
        """A boolean per document (in doc_ids order): does `filters` match it? The same rules as
        Filters.matches (records.same_place for places), applied to each distinct value once."""
        mask = np.ones(len(self.street), dtype=bool)
        for wanted, names, codes, field in (
            (filters.street, self.streets, self.street, "street"),
            (filters.district, self.districts, self.district, "district"),
            (filters.doc_type, self.types, self.doc_type, "doc_type"),
        ):
            if wanted:
                ok = _equal(names, wanted) if field == "doc_type" else _same_places(names, wanted)
                mask &= np.isin(codes, ok)
        if filters.year is not None:
            mask &= (self.year_start != _NO_YEAR) & (self.year_start <= filters.year) & (filters.year <= self.year_end)
        return mask

    def chunks(self, filters: Filters) -> np.ndarray:
        """A boolean per chunk; the few filters a session uses are kept (a mask is one byte per chunk)."""
        mask = self._cache.get(filters)
        if mask is None:
            documents = self.documents(filters)
            # A build writes each document's chunks together, in document order: then a mask is the
            # documents' answers repeated (a fraction of a gather over a million chunks).
            mask = np.repeat(documents, self._runs) if self._runs is not None else documents[self.chunk_doc]
            if len(self._cache) >= 32:
                self._cache.pop(next(iter(self._cache)))
            self._cache[filters] = mask
        return mask


def _equal(names: Sequence[str | None], wanted: str) -> list[int]:
    return [i for i, name in enumerate(names) if name == wanted]


def _same_places(names: Sequence[str | None], wanted: str) -> list[int]:
    """Codes of the names records.same_place matches with `wanted`, found without testing all of them:
    `names` is sorted, so those starting with `wanted` are one run; those `wanted` starts with are its
    prefixes. (Thousands of street names at a city's scale: testing each took 20 ms a new filter.)"""
    real = len(names) - (1 if names and names[-1] is None else 0)  # None sorts last
    lo = bisect.bisect_left(names, wanted, 0, real)
    hi = bisect.bisect_left(names, wanted + "\U0010ffff", lo, real)
    found = set(range(lo, hi))
    for end in range(1, len(wanted)):
        i = bisect.bisect_left(names, wanted[:end], 0, real)
        if i < real and names[i] == wanted[:end]:
            found.add(i)
    return sorted(i for i in found if same_place(wanted, names[i]))  # the rule itself has the last word
