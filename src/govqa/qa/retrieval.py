"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused, filtered by metadata, near-duplicates collapsed."""

from __future__ import annotations

from dataclasses import dataclass, replace

import faiss
import numpy as np

from ..index.ann import allowed_selector, top_n
from ..index.backend import SearchBackend
from ..index.embedders import Embedder
from ..index.store import Index
from ..records import Filters, Hit
from .questions import check_question, focus_text, infer_filters, relax

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("rrf", "weighted")


@dataclass(frozen=True)
class RetrievalConfig:
    fusion: str = "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.5  # for fusion="weighted": share of the min-max normalised dense score
    candidates: int = 50  # taken from each retriever before fusion
    duplicate_overlap: float = 0.8  # character-trigram Jaccard above which a lower hit is a near-duplicate


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, config: RetrievalConfig | None = None):
        index.check_embedder(embedder)
        self.index = index
        self.embedder = embedder
        self.config = config or RetrievalConfig()

    @property
    def backend(self) -> SearchBackend | None:
        """The index itself when it searches on its own side (Milvus); None for the local index."""
        return self.index if isinstance(self.index, SearchBackend) else None

    def resolve_filters(self, question: str, filters: Filters | None, infer: bool = True) -> Filters:
        """Explicit filters win; what the question names fills the gaps."""
        filters = filters or Filters()
        if not infer:
            return filters
        named = relax(infer_filters(question, self.index.metas.values()), self.index.metas.values())
        return Filters(
            street=filters.street or named.street,
            district=filters.district or (None if filters.street else named.district),
            year=filters.year if filters.year is not None else named.year,
            doc_type=filters.doc_type,
        )

    def search(
        self,
        question: str,
        k: int = 5,
        filters: Filters | None = None,
        mode: str = "hybrid",
        infer: bool = True,
    ) -> list[Hit]:
        question = check_question(question)
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; choose one of {MODES}")
        filters = self.resolve_filters(question, filters, infer)
        allowed = self._allowed(filters)
        if allowed is not None and not allowed.any():
            return []
        query = focus_text(question, filters)
        n = self.config.candidates
        dense = self._dense(query, n, allowed) if mode in ("hybrid", "dense") else {}
        sparse = self._bm25(query, n, allowed) if mode in ("hybrid", "bm25") else {}
        fused = self._fuse(dense, sparse)
        return self._hits(fused, dense, sparse, k)

    def _allowed(self, filters: Filters) -> np.ndarray | None:
        if filters.is_empty():
            return None
        if self.backend is not None:
            return self.backend.select(filters)
        return self.index.filter_mask(filters)

    def _dense(self, question: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        query = self.embedder.embed_queries([question]).astype(np.float32)
        if self.backend is not None:
            return self.backend.dense_top(query[0], n, allowed)
        total = self.index.vectors.ntotal
        if total == 0:
            return {}
        params = None
        if allowed is not None:
            selector, count = allowed_selector(allowed)
            params = _search_params(self.index.vectors, selector)
            n = min(n, count)
        scores, ids = self.index.vectors.search(query, min(n, total), params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    def _bm25(self, question: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        if self.backend is not None:
            return self.backend.lexical_top(question, n, allowed)
        vocab = self.index.bm25.vocab_dict
        tokens = [t for t in self.index.tokenizer.tokens(question) if t in vocab]
        if not tokens:
            return {}
        scores = self.index.bm25.get_scores(tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        top = top_n(scores, n)
        return {int(i): float(scores[i]) for i in top if scores[i] > 0}

    def _fuse(self, dense: dict[int, float], sparse: dict[int, float]) -> list[tuple[int, float]]:
        if not dense or not sparse:
            only = dense or sparse
            return sorted(only.items(), key=lambda kv: -kv[1])
        if self.config.fusion == "rrf":
            fused: dict[int, float] = {}
            for ranking in (dense, sparse):
                for rank, i in enumerate(sorted(ranking, key=lambda i: -ranking[i]), start=1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (self.config.rrf_k + rank)
        elif self.config.fusion == "weighted":
            d, s = _minmax(dense), _minmax(sparse)
            w = self.config.dense_weight
            fused = {i: w * d.get(i, 0.0) + (1 - w) * s.get(i, 0.0) for i in set(d) | set(s)}
        else:
            raise ValueError(f"unknown fusion {self.config.fusion!r}; choose one of {FUSIONS}")
        return sorted(fused.items(), key=lambda kv: -kv[1])

    def _hits(
        self, fused: list[tuple[int, float]], dense: dict[int, float], sparse: dict[int, float], k: int
    ) -> list[Hit]:
        dense_rank = {i: r for r, i in enumerate(sorted(dense, key=lambda i: -dense[i]), start=1)}
        sparse_rank = {i: r for r, i in enumerate(sorted(sparse, key=lambda i: -sparse[i]), start=1)}
        hits: list[Hit] = []
        kept_grams: list[set[str]] = []
        for i, score in fused:
            chunk = self.index.chunks[i]
            grams = _trigrams(chunk.text)
            if any(_jaccard(grams, other) >= self.config.duplicate_overlap for other in kept_grams):
                continue
            kept_grams.append(grams)
            hits.append(
                Hit(chunk, self.index.metas[chunk.doc_id], score, len(hits) + 1, dense.get(i), dense_rank.get(i),
                    sparse.get(i), sparse_rank.get(i))
            )  # fmt: skip
            if len(hits) == k:
                break
        return hits

    def with_config(self, **changes: object) -> Retriever:
        other = type(self).__new__(type(self))
        other.index, other.embedder = self.index, self.embedder
        other.config = replace(self.config, **changes)
        return other


def _search_params(index: faiss.Index, selector: faiss.IDSelector) -> faiss.SearchParameters:
    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if isinstance(index, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    return faiss.SearchParameters(sel=selector)


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo or 1.0
    return {i: (s - lo) / span for i, s in scores.items()}


def _trigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 3] for i in range(max(1, len(compact) - 2))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
