"""Hybrid retrieval: dense (FAISS) and lexical (BM25 over words and bigrams) rankings fused by a model fitted
on dev data, filtered by metadata, near-duplicates collapsed into one hit that names every copy.

A naive reference retriever (mode "baseline": character uni+bigram BM25 over raw chunk text) runs beside
the others in every evaluation, so a change that falls below it shows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..index.backend import SearchBackend
from ..index.embedders import Embedder
from ..index.local import Index
from ..index.tokenize import char_unigrams_bigrams, simplified
from ..records import Filters, Hit
from .query import Query, analyse
from .questions import check_k, dated_reports, focus_text

MODES = ("hybrid", "dense", "bm25", "baseline")
FUSIONS = ("learned", "rrf", "weighted")

# The learned fusion: a per-question softmax over the candidates of both retrievers, linear in the
# features of `fusion_features` (order: FEATURES). Fitted by `python scripts/fit_fusion.py` on dev data
# only (see that script for the sets and the held-out parts); refit after changing the features, the
# lexical scorer or the embedder. Interactions with each retriever's own margin let the weight of a
# retriever depend on how sure it is about this question.
FEATURES = (
    "dense_gap",  # dense cosine minus the best dense cosine, x20 (0 for the dense top hit)
    "word_share",  # words BM25 / the best words BM25 among the candidates
    "bigram_share",  # bigram BM25 / the best bigram BM25 among the candidates
    "dense_rr",  # 1 / dense rank (0: not in the dense candidates)
    "lexical_rr",  # 1 / lexical rank (0: not in the lexical candidates)
    "dense_gap_x_dense_margin",  # margins: how far each retriever's top hit is ahead of its second
    "dense_gap_x_lexical_margin",
    "word_share_x_dense_margin",
    "word_share_x_lexical_margin",
    "bigram_share_x_dense_margin",
    "bigram_share_x_lexical_margin",
    "word_norm",  # words BM25 / the most the query's words could score (word_bound): how much it matches
    "bigram_norm",  # the same for bigrams
    "dense_gap_x_lexical_weak",  # weak: 1 - the best bigram_norm; a paraphrased question matches little
    "dense_rr_x_lexical_weak",  # anywhere, and then the dense side deserves more of the say
    "word_share_x_lexical_weak",
    "bigram_share_x_lexical_weak",
)
FUSION_WEIGHTS = (
    0.696,
    2.182,
    3.669,
    -0.327,
    -0.402,
    0.189,
    -0.442,
    -0.771,
    0.557,
    -1.446,
    0.689,
    1.626,
    4.152,
    0.912,
    1.413,
    0.469,
    -0.226,
)  # fitted on gold dev + longdoc dev + CMRC 2018 trial[:250 q], scripts/fit_fusion.py


@dataclass
class Candidates:
    """Each retriever's top candidates {chunk position: score}, with both lexical fields for every chunk."""

    dense: dict[int, float]
    sparse: dict[int, float]  # words + bigram_weight x bigrams
    words: np.ndarray | None = None
    bigrams: np.ndarray | None = None
    # The most each field could score for this query: the sum over its terms of the best any chunk scores
    # on that term. A chunk's score over it says how much of the question it matches, which a share of
    # the best candidate's score cannot tell (a paraphrase matches little everywhere).
    word_bound: float = 0.0
    bigram_bound: float = 0.0


@dataclass(frozen=True)
class RetrievalConfig:
    fusion: str = "learned"
    fusion_weights: tuple[float, ...] = FUSION_WEIGHTS
    rrf_k: int = 60
    dense_weight: float = 0.5  # for fusion="weighted": share of the min-max normalised dense score
    candidates: int = 50  # taken from each retriever before fusion
    duplicate_overlap: float = 0.8  # character-trigram Jaccard above which a lower hit is a near-duplicate
    # Lexical candidates by words BM25 + bigram_weight x bigram BM25 (0: words only); the learned fusion
    # then weighs the two fields itself. 2.0: best MRR@10 on the fitting sets among 0/0.5/1/2 (README).
    bigram_weight: float = 2.0
    drop_question_words: bool = True  # 如何/应该/怎么办 ... are removed from the lexical query


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, config: RetrievalConfig | None = None):
        index.check_embedder(embedder)
        self.index = index
        self.embedder = embedder
        self.config = config or RetrievalConfig()

    @property
    def backend(self) -> SearchBackend:
        """What searches the index: the index itself, local (index.local) or Milvus (index.milvus)."""
        return self.index

    def analyse(self, question: str, filters: Filters | None = None, infer: bool = True) -> Query:
        """The question analysed once against this index's reports (see qa.query)."""
        return analyse(question, self.index.metas.values(), filters, infer=infer)

    def resolve_filters(self, question: str, filters: Filters | None, infer: bool = True) -> Filters:
        """Explicit filters win; what the question names fills the gaps (traditional script read as simplified)."""
        return self.analyse(question, filters, infer).filters

    def search(
        self,
        question: str | Query,
        k: int = 5,
        filters: Filters | None = None,
        mode: str = "hybrid",
        infer: bool = True,
    ) -> list[Hit]:
        """The k best passages for a question: its Query, or its text analysed here with `filters`/`infer`."""
        k = check_k(k)
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; choose one of {MODES}")
        query = question if isinstance(question, Query) else self.analyse(question, filters, infer)
        allowed = self._allowed(query.filters)
        if allowed is not None and not allowed.any():
            return []
        if mode == "baseline":
            return self._hits(self._baseline(query.focus, allowed), {}, {}, k)
        found = self.candidates(query.focus, allowed, mode)
        fused = self._fuse(found)
        if mode == "hybrid":
            fused = self._front_matter_first(query.text, query.filters, fused)
        return self._hits(fused, found.dense, found.sparse, k)

    def prepare(
        self, question: str, filters: Filters | None = None, infer: bool = True
    ) -> tuple[str, np.ndarray | None]:
        """The query text a question is searched with and the chunks its filters allow (None: all)."""
        query = self.analyse(question, filters, infer)
        return query.focus, self._allowed(query.filters)

    def _front_matter_first(
        self, question: str, filters: Filters, fused: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """A question about a report's own date (万里街道2021年工作计划是何时发布的?) is answered by the dated
        lines under its title, which share no words or meaning with the question: that report's first chunk
        goes first when it is among the candidates. The report is the one the question names, else the
        best-ranked of those it may mean."""
        reports = dated_reports(question, self.index.metas, filters)
        if reports is None or not fused:
            return fused
        chunks = self.index.chunks
        chunks.fetch(i for i, _ in fused)
        doc_id = next((chunks[i].doc_id for i, _ in fused if not reports or chunks[i].doc_id in reports), None)
        first = next((i for i, _ in fused if chunks[i].chunk_id == f"{doc_id}#0"), None)  # see chunking
        if first is None:
            return fused
        return [(first, fused[0][1]), *((i, score) for i, score in fused if i != first)]

    def dense_query(self, question: str, filters: Filters | None = None) -> str:
        """The text a question is searched with once its filters are applied (what the embedder reads)."""
        return focus_text(simplified(question), filters or Filters())

    def candidates(self, query: str, allowed: np.ndarray | None = None, mode: str = "hybrid") -> Candidates:
        """Each retriever's top candidates for a (focused) query."""
        n = self.config.candidates
        dense = self._dense(query, n, allowed) if mode in ("hybrid", "dense") else {}
        if mode not in ("hybrid", "bm25"):
            return Candidates(dense, {})
        words, bigrams = self._query_terms(query)
        found = self.backend.lexical_candidates(words, bigrams, n, self.config.bigram_weight, allowed, dense)
        return Candidates(dense, *found)

    def _allowed(self, filters: Filters) -> np.ndarray | None:
        if filters.is_empty():
            return None
        return self.backend.select(filters)

    def _dense(self, question: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        query = self.embedder.embed_queries([question]).astype(np.float32)
        return self.backend.dense_top(query[0], n, allowed)

    def lexical_fields(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """Words BM25 and bigram BM25 of every chunk for the query (question words dropped, if configured);
        a local index only."""
        words, bigrams, _ = self.index.lexical_fields(*self._query_terms(query))
        return words, bigrams

    def _query_terms(self, query: str) -> tuple[list[str], list[str]]:
        tokenizer = self.index.tokenizer
        if self.config.drop_question_words:
            return tokenizer.query_terms(query)
        return tokenizer.tokens(query), tokenizer.bigrams(query)

    def lexical_scores(self, query: str) -> np.ndarray:
        """The lexical score of every chunk: words BM25 + bigram_weight x bigram BM25."""
        words, bigrams = self.lexical_fields(query)
        return words + self.config.bigram_weight * bigrams

    def _baseline(self, query: str, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        top = self.index.baseline_top(char_unigrams_bigrams(query), self.config.candidates, allowed)
        return sorted(top.items(), key=lambda kv: -kv[1])

    def _fuse(self, found: Candidates) -> list[tuple[int, float]]:
        dense, sparse = found.dense, found.sparse
        if not dense or not sparse:
            only = dense or sparse
            return sorted(only.items(), key=lambda kv: -kv[1])
        if self.config.fusion == "learned":
            ids, x = fusion_features(found)
            logits = x @ np.asarray(self.config.fusion_weights)
            p = np.exp(logits - logits.max())
            p /= p.sum()  # a share of belief among the candidates: a document's chunks can be summed
            fused = dict(zip(ids, p.tolist(), strict=True))
        elif self.config.fusion == "rrf":
            fused = {}
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
        """The top k distinct chunks. A near-copy of a kept chunk from another document is not a hit of its
        own but is listed in the kept hit's `also_in` (all candidates are scanned for copies)."""
        self.index.chunks.fetch(i for i, _ in fused)  # every candidate is read below: in one look-up
        dense_rank = _ranks(dense)
        sparse_rank = _ranks(sparse)
        kept: list[tuple[int, float, frozenset[str], dict[str, None]]] = []  # position, score, trigrams, also_in
        for i, score in fused:
            chunk = self.index.chunks[i]
            grams = self._grams(i)
            twin = next((h for h in kept if _jaccard(grams, h[2]) >= self.config.duplicate_overlap), None)
            if twin is not None:
                if chunk.doc_id != self.index.chunks[twin[0]].doc_id:
                    twin[3][chunk.doc_id] = None
                continue
            if len(kept) < k:
                kept.append((i, score, grams, {}))
        return [
            Hit(
                self.index.chunks[i],
                self.index.metas[self.index.chunks[i].doc_id],
                score,
                rank,
                dense.get(i),
                dense_rank.get(i),
                sparse.get(i),
                sparse_rank.get(i),
                tuple(also),
            )
            for rank, (i, score, _, also) in enumerate(kept, start=1)
        ]

    def _grams(self, i: int) -> frozenset[str]:
        """Trigrams of chunk i, kept for the chunks seen most recently (the same ones recur across queries)."""
        cache = self.index.__dict__.setdefault("_trigram_cache", {})
        grams = cache.get(i)
        if grams is None:
            if len(cache) >= _TRIGRAM_CACHE:
                cache.clear()
            grams = cache[i] = frozenset(_trigrams(self.index.chunks[i].text))
        return grams

    def sums_chunks(self, mode: str) -> bool:
        """Whether this mode's hit scores add up per document (see rank_documents)."""
        return mode == "hybrid" and self.config.fusion == "learned"

    def with_config(self, **changes: object) -> Retriever:
        other = type(self).__new__(type(self))
        other.index, other.embedder = self.index, self.embedder
        other.config = replace(self.config, **changes)
        return other


_TRIGRAM_CACHE = 20_000  # chunks whose trigram sets are kept per index


def fusion_features(found: Candidates) -> tuple[list[int], np.ndarray]:
    """Candidate positions (union of both retrievers) and their fusion features, one row each (FEATURES)."""
    dense, sparse = found.dense, found.sparse
    ids = list(dict.fromkeys([*dense, *sparse]))
    d_sorted = sorted(dense.values(), reverse=True)
    l_sorted = sorted(sparse.values(), reverse=True)
    d_top = d_sorted[0]
    d_floor = d_sorted[-1]  # a candidate dense did not return scores at most this
    dense_margin = 20.0 * (d_top - d_sorted[1]) if len(d_sorted) > 1 else 1.0
    lexical_margin = (l_sorted[0] - l_sorted[1]) / (l_sorted[0] or 1.0) if len(l_sorted) > 1 else 1.0
    pos = np.asarray(ids)
    words = found.words[pos] if found.words is not None else np.zeros(len(ids))
    bigrams = found.bigrams[pos] if found.bigrams is not None else np.zeros(len(ids))
    word_share = words / (words.max() or 1.0)
    bigram_share = bigrams / (bigrams.max() or 1.0)
    gap = 20.0 * (np.array([dense.get(i, d_floor) for i in ids]) - d_top)
    d_rank, l_rank = _ranks(dense), _ranks(sparse)
    dense_rr = np.array([1.0 / d_rank[i] if i in d_rank else 0.0 for i in ids])
    lexical_rr = np.array([1.0 / l_rank[i] if i in l_rank else 0.0 for i in ids])
    word_norm = words / found.word_bound if found.word_bound else np.zeros(len(ids))
    bigram_norm = bigrams / found.bigram_bound if found.bigram_bound else np.zeros(len(ids))
    lexical_weak = 1.0 - float(bigram_norm.max(initial=0.0))  # little of the question matched anywhere
    columns = {
        "dense_gap": gap,
        "word_share": word_share,
        "bigram_share": bigram_share,
        "dense_rr": dense_rr,
        "lexical_rr": lexical_rr,
        "dense_gap_x_dense_margin": gap * dense_margin,
        "dense_gap_x_lexical_margin": gap * lexical_margin,
        "word_share_x_dense_margin": word_share * dense_margin,
        "word_share_x_lexical_margin": word_share * lexical_margin,
        "bigram_share_x_dense_margin": bigram_share * dense_margin,
        "bigram_share_x_lexical_margin": bigram_share * lexical_margin,
        "word_norm": word_norm,
        "bigram_norm": bigram_norm,
        "dense_gap_x_lexical_weak": gap * lexical_weak,
        "dense_rr_x_lexical_weak": dense_rr * lexical_weak,
        "word_share_x_lexical_weak": word_share * lexical_weak,
        "bigram_share_x_lexical_weak": bigram_share * lexical_weak,
    }
    return ids, np.column_stack([columns[name] for name in FEATURES])


def rank_documents(hits: Sequence[Hit], summed: bool = False) -> list[tuple[tuple[str, ...], float]]:
    """Documents ranked by an aggregation of their chunks: ((doc id, *copies), score), best first.

    summed=True for the learned fusion, whose scores are shares of belief among the candidates: a
    document's chunks add up (two good chunks of a long notice beat one). Other scores (BM25, cosine,
    RRF) do not add up, so a document's best chunk counts. A document whose text was collapsed into
    another's hit shares that hit's place.
    """
    scores: dict[str, float] = {}
    copies: dict[str, tuple[str, ...]] = {}
    for hit in hits:
        doc = hit.chunk.doc_id
        copies[doc] = tuple(dict.fromkeys([*copies.get(doc, ()), *(d for d in hit.also_in if d != doc)]))
        if summed:
            scores[doc] = scores.get(doc, 0.0) + hit.score
        else:
            scores[doc] = max(scores.get(doc, float("-inf")), hit.score)
    order = sorted(scores, key=lambda d: -scores[d])
    return [((d, *copies[d]), scores[d]) for d in order]


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    return {i: r for r, i in enumerate(sorted(scores, key=lambda i: -scores[i]), start=1)}


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo or 1.0
    return {i: (s - lo) / span for i, s in scores.items()}


def _trigrams(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 3] for i in range(max(1, len(compact) - 2))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
