"""Fit the learned fusion of retrieval.py on dev data, and measure the lexical and chunking choices.

    python scripts/fit_fusion.py                 # measure, fit, print the weights and held-out figures
    python scripts/fit_fusion.py --write         # ... and write the weights into retrieval.FUSION_WEIGHTS
    python scripts/fit_fusion.py --chunk-sizes 300,500,800   # lexical-only comparison of chunk sizes

Fitted on (dev data only):
  * the gold set's dev split (tests/data/gold.jsonl) over the bundled reports;
  * the long-document set's dev split (tests/data/longdoc.jsonl, scripts/make_longdoc_set.py);
  * CMRC 2018 trial (../shared/eval/cmrc2018/cmrc2018_trial.squad.json): its first --trial-questions
    questions (default 250, 64 passages) with the passages of their articles (external_eval.limit_questions).
Held out and only reported: gold test, long-document test, and (with --heldout) CMRC 2018 dev and DRCD
dev, their first --cmrc-questions / --drcd-questions questions (default 500 / 400; 0: all) with the
passages of their articles. Each fitting set weighs the same,
whatever its size. The subsets exist because embedding is the cost: on the shared 2-core machine the
whole of CMRC dev and DRCD dev did not fit in the time available.

The model: for each question, a softmax over the union of both retrievers' candidates, logits linear in
retrieval.FEATURES; the loss is minus the log of the probability given to the relevant candidates,
with a little L2. Indexes and vectors are kept under --work (default /tmp/govqa-fit), so a rerun after a
change of scoring embeds nothing again.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from govqa.engine import build
from govqa.evaluation.external_eval import EvalSet, limit_questions, load_squad, open_eval_retriever
from govqa.evaluation.goldset import GoldQuestion, load_gold
from govqa.evaluation.metrics import mrr_at, recall_at
from govqa.index.embedders import load_embedder
from govqa.index.store import Index
from govqa.ingest.chunking import ChunkConfig
from govqa.qa import retrieval
from govqa.qa.retrieval import (
    FEATURES,
    Candidates,
    RetrievalConfig,
    Retriever,
    fusion_features,
    rank_documents,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"
if not SHARED.exists():
    SHARED = Path("/work/shared/eval")
CMRC_TRIAL = SHARED / "cmrc2018" / "cmrc2018_trial.squad.json"
CMRC_DEV = SHARED / "cmrc2018" / "cmrc2018_dev.squad.json"
DRCD_DEV = SHARED / "drcd" / "DRCD_dev.json"


@dataclass
class Question:
    """One question's candidates: which are relevant, and the group each belongs to (passage)."""

    query: str
    allowed: np.ndarray | None
    relevant: object  # callable chunk -> bool


@dataclass
class Set:
    name: str
    retriever: Retriever
    questions: list[Question]
    passage_level: bool  # ranked by passage (external sets) or by chunk (gold sets)


def _gold_set(name: str, retriever: Retriever, gold: list[GoldQuestion]) -> Set:
    qs = []
    for q in gold:
        if q.answerable:
            query, allowed = retriever.prepare(q.question)
            qs.append(Question(query, allowed, q.is_relevant))
    return Set(name, retriever, qs, passage_level=False)


def _external_set(name: str, retriever: Retriever, evalset: EvalSet) -> Set:
    qs = []
    for q in evalset.questions:
        if q.question.strip():
            gold = set(q.passage_ids)
            qs.append(Question(retriever.prepare(q.question, infer=False)[0], None, lambda c, g=gold: c.doc_id in g))
    return Set(name, retriever, qs, passage_level=True)


def candidates(s: Set, q: Question, mode: str = "hybrid") -> Candidates:
    return s.retriever.candidates(q.query, q.allowed, mode)


def ranks(s: Set, mode: str, config: RetrievalConfig | None = None) -> list[int | None]:
    """Rank of the first relevant chunk (gold sets) or passage (external sets), per question."""
    r = s.retriever if config is None else Retriever(s.retriever.index, s.retriever.embedder, config)
    out: list[int | None] = []
    for q in s.questions:
        if q.allowed is not None and not q.allowed.any():
            out.append(None)  # its filters match no report: search returns nothing
            continue
        if mode == "baseline":
            hits = r._hits(r._baseline(q.query, q.allowed), {}, {}, 30)
        else:
            found = candidates(Set(s.name, r, [], s.passage_level), q, mode)
            hits = r._hits(r._fuse(found), found.dense, found.sparse, 30)
        if s.passage_level:
            gold_hit = [any(q.relevant(_Doc(d)) for d in ids) for ids, _ in rank_documents(hits, r.sums_chunks(mode))]
        else:
            gold_hit = [q.relevant(h.chunk) for h in hits]
        out.append(next((i for i, ok in enumerate(gold_hit, start=1) if ok), None))
    return out


@dataclass(frozen=True)
class _Doc:
    doc_id: str


def scores(rs: list[int | None]) -> str:
    return f"R@1 {recall_at(rs, 1):.3f}  R@5 {recall_at(rs, 5):.3f}  MRR@10 {mrr_at(rs, 10):.3f}"


def training_data(sets: list[Set]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Padded (questions, candidates, features), relevance and validity masks, per-question weights."""
    rows = []
    for s in sets:
        kept = []
        for q in s.questions:
            if q.allowed is not None and not q.allowed.any():
                continue
            found = candidates(s, q)
            if not found.dense or not found.sparse:
                continue
            ids, x = fusion_features(found)
            rel = np.array([q.relevant(s.retriever.index.chunks[i]) for i in ids])
            if rel.any():  # nothing to learn where neither retriever found it
                kept.append((x, rel))
        rows.extend((x, rel, 1.0 / max(1, len(kept))) for x, rel in kept)
    m = max(len(x) for x, _, _ in rows)
    big_x = np.zeros((len(rows), m, len(FEATURES)))
    rel = np.zeros((len(rows), m), bool)
    valid = np.zeros((len(rows), m), bool)
    weight = np.zeros(len(rows))
    for n, (x, r, w) in enumerate(rows):
        big_x[n, : len(x)], rel[n, : len(x)], valid[n, : len(x)], weight[n] = x, r, True, w
    return big_x, rel, valid, weight / weight.sum()


def fit(
    x: np.ndarray, rel: np.ndarray, valid: np.ndarray, weight: np.ndarray, l2: float = 1e-3, steps: int = 1500
) -> np.ndarray:
    """Listwise softmax regression by Adam on the full batch."""
    w = np.zeros(x.shape[-1])
    m = v = np.zeros_like(w)
    for t in range(1, steps + 1):
        z = np.where(valid, x @ w, -np.inf)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        p_rel = np.where(rel, p, 0.0)
        r = p_rel / p_rel.sum(axis=1, keepdims=True)
        grad = np.einsum("q,qmf,qm->f", weight, x, p - r) + l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w = w - 0.05 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w


def write_weights(w: np.ndarray, where: str) -> None:
    name = "FUSION_WEIGHTS"
    path = Path(retrieval.__file__)
    text = path.read_text(encoding="utf-8")
    values = ", ".join(f"{v:.3f}" for v in w)
    new, n = re.subn(
        rf"^{name} = \([^)]*\)[^\n]*\n",
        f"{name} = ({values})  # fitted on {where}\n",
        text,
        flags=re.MULTILINE,
    )
    if n != 1:
        raise SystemExit(f"cannot find {name} in {path}")
    path.write_text(new, encoding="utf-8")
    print(f"wrote {name} to {path}")


class _NoVectors:
    """For lexical-only measurements: every passage gets the same vector (nothing is embedded)."""

    name = "none"
    dim = 8

    def embed_queries(self, texts):
        return np.ones((len(texts), self.dim), np.float32) / np.sqrt(self.dim)

    def embed_passages(self, texts, progress=None):
        return self.embed_queries(texts)


def chunk_size_report(work: Path, sizes: list[int], gold_dev, long_dev) -> None:
    """Lexical retrieval (and the baseline) at each chunk size: dev sets only, no embedding."""
    emb = _NoVectors()
    trial = load_squad(CMRC_TRIAL)  # all of it: nothing is embedded here
    for size in sizes:
        config = ChunkConfig(max_chars=size, overlap_chars=size // 5)
        corpus_dir = work / f"chunks-{size}" / "corpus"
        build(ROOT / "corpus", corpus_dir, emb, chunk_config=config)
        corpus = Retriever(Index.open(corpus_dir), emb)
        trial_r, cache = open_eval_retriever(trial, emb, work / f"chunks-{size}" / "cmrc_trial", chunk_config=config)
        cache.close()
        for s in (
            _gold_set("gold dev", corpus, gold_dev),
            _gold_set("longdoc dev", corpus, long_dev),
            _external_set("cmrc trial", trial_r, trial),
        ):
            print(f"chunks {size:>4} {s.name:<12} bm25     {scores(ranks(s, 'bm25'))}")
            print(f"chunks {size:>4} {s.name:<12} baseline {scores(ranks(s, 'baseline'))}")


def _subset(evalset: EvalSet, questions: int) -> EvalSet:
    return limit_questions(evalset, questions) if questions else evalset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/govqa-fit"))
    parser.add_argument("--write", action="store_true", help="write the fitted weights into retrieval.py")
    parser.add_argument("--heldout", action="store_true", help="also report CMRC 2018 dev and DRCD dev")
    parser.add_argument("--chunk-sizes", default=None, help="e.g. 300,500,800: compare chunk sizes (lexical)")
    parser.add_argument("--trial-questions", type=int, default=250)
    parser.add_argument("--skip-lexical", action="store_true", help="skip the lexical comparison")
    parser.add_argument("--cmrc-questions", type=int, default=500, help="held-out CMRC dev subset (0: all)")
    parser.add_argument("--drcd-questions", type=int, default=400, help="held-out DRCD dev subset (0: all)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    gold_dev, gold_test = (load_gold(ROOT / "tests/data/gold.jsonl", split) for split in ("dev", "test"))
    long_dev, long_test = (load_gold(ROOT / "tests/data/longdoc.jsonl", split) for split in ("dev", "test"))
    if args.chunk_sizes:
        chunk_size_report(args.work, [int(s) for s in args.chunk_sizes.split(",")], gold_dev, long_dev)
        return 0

    emb = load_embedder()
    build(ROOT / "corpus", args.work / "corpus", emb)
    corpus = Retriever(Index.open(args.work / "corpus"), emb)
    trial = _subset(load_squad(CMRC_TRIAL), args.trial_questions)
    trial_r, trial_cache = open_eval_retriever(trial, emb, args.work / "cmrc_trial")
    fit_sets = [
        _gold_set("gold dev", corpus, gold_dev),
        _gold_set("longdoc dev", corpus, long_dev),
        _external_set("cmrc trial", trial_r, trial),
    ]
    print(f"prepared in {time.perf_counter() - started:.0f} s")

    # The lexical choices, on the fitting sets.
    lexical_choices = [
        ("words only", RetrievalConfig(bigram_weight=0.0)),
        ("bigrams x0.5", RetrievalConfig(bigram_weight=0.5)),
        ("bigrams x1", RetrievalConfig(bigram_weight=1.0)),
        ("bigrams x2", RetrievalConfig(bigram_weight=2.0)),
        ("x1, keep question words", RetrievalConfig(bigram_weight=1.0, drop_question_words=False)),
    ]
    for label, config in [] if args.skip_lexical else lexical_choices:
        for s in fit_sets:
            print(f"lexical {label:<24} {s.name:<12} {scores(ranks(s, 'bm25', config))}")

    x, rel, valid, weight = training_data(fit_sets)
    w = fit(x, rel, valid, weight)
    print("fitted weights:", dict(zip(FEATURES, np.round(w, 3).tolist(), strict=True)))
    fitted = RetrievalConfig(fusion_weights=tuple(float(v) for v in w))

    report = [_gold_set("gold test", corpus, gold_test), _gold_set("longdoc test", corpus, long_test)]
    cleanup = [trial_cache]
    if args.heldout:
        for name, path, limit in (
            ("cmrc dev", CMRC_DEV, args.cmrc_questions),
            ("drcd dev", DRCD_DEV, args.drcd_questions),
        ):
            evalset = _subset(load_squad(path), limit)
            r, cache = open_eval_retriever(evalset, emb, args.work / name.replace(" ", "_"))
            cleanup.append(cache)
            report.append(_external_set(name, r, evalset))
    for s in fit_sets + report:
        tag = "fit " if s in fit_sets else "HELD"
        for label, mode, config in [
            ("baseline", "baseline", None),
            ("bm25", "bm25", None),
            ("dense", "dense", None),
            ("rrf", "hybrid", RetrievalConfig(fusion="rrf")),
            ("wtd 0.5", "hybrid", RetrievalConfig(fusion="weighted")),
            ("learned", "hybrid", fitted),
        ]:
            print(f"{tag} {s.name:<12} {label:<9} {scores(ranks(s, mode, config))}")
    for cache in cleanup:
        cache.close()
    if args.write:
        write_weights(
            w,
            f"gold dev + longdoc dev + CMRC 2018 trial[:{args.trial_questions} q], scripts/fit_fusion.py",
        )
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
