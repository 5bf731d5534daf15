"""Figures against the hand-checked table: precision and recall of the rows shown per topic, and the accuracy of
their done/planned status and year.

    python -m govqa.evaluation.figures --index index --split dev
    python -m govqa.evaluation.figures --bench 100k      # build-time ratio and figures latency at scale

tests/data/figures_gold.jsonl was written from the report texts alone (street, year, topic, value, unit, counted
phrase, done/planned; `year` null where the report does not say). For each gold topic the figures view is asked
for the topic over every street; a shown row matches a gold row of the same topic, document, value (a range
matches by either end) and unit, each gold row at most once. Status and year accuracy are over matched rows; a
year counts as right only when both agree, null included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..qa.figures import FigureRow, figure_table

GOLD = Path("tests/data/figures_gold.jsonl")


def load_gold(path: Path = GOLD, split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split in (None, "all") or r["split"] == split]


def _same(row: FigureRow, gold: dict) -> bool:
    values = {row.value, row.value_high} - {None}
    wanted = {gold["value"], gold.get("value_high")} - {None}
    return (
        row.citation.doc_id == gold["doc_id"]
        and row.unit == gold["unit"]
        and any(abs(v - w) < 1e-6 for v in values for w in wanted)
    )


def evaluate(qa, gold: list[dict]) -> dict:
    topics = list(dict.fromkeys(g["topic"] for g in gold))
    shown = matched = status_ok = year_ok = 0
    per_topic = {}
    misses: list[dict] = []
    extras: list[dict] = []
    for topic in topics:
        wanted = [g for g in gold if g["topic"] == topic]
        table = figure_table(qa, topic)  # the default view: a gap street is searched by meaning too
        free = list(wanted)
        hits = 0
        for row in table.rows:
            pair = next((g for g in free if _same(row, g)), None)
            if pair is None:
                extras.append(
                    {
                        "topic": topic,
                        "street": row.street,
                        "value": row.value_text,
                        "counted": row.counted,
                        "quote": row.citation.quote[:80],
                    }
                )
                continue
            free.remove(pair)
            hits += 1
            status_ok += row.status == pair["status"]
            year_ok += row.year == pair["year"]
        misses += [
            {"topic": topic, "street": g["street"], "value": g["value_text"], "counted": g["counted"]} for g in free
        ]
        shown += len(table.rows)
        matched += hits
        per_topic[topic] = {
            "gold": len(wanted),
            "shown": len(table.rows),
            "matched": hits,
            "matched_by": table.matched_by,
        }
    return {
        "gold": len(gold),
        "shown": shown,
        "matched": matched,
        "precision": round(matched / shown, 4) if shown else 0.0,
        "recall": round(matched / len(gold), 4) if gold else 0.0,
        "status_accuracy": round(status_ok / matched, 4) if matched else 0.0,
        "year_accuracy": round(year_ok / matched, 4) if matched else 0.0,
        "topics": per_topic,
        "missed": misses,
        "extra": extras,
    }


# Topics the latency benchmark asks for, a few per policy area; paraphrases take the slower meaning path.
BENCH_TOPICS = (
    "加装电梯",
    "群租",
    "垃圾分类",
    "就业",
    "违法建筑",
    "消防",
    "养老",
    "美丽家园",
    "志愿者",
    "绿化",
    "停车",
    "招聘会",
    "给老楼装电梯",
    "加梯",
)


def bench(size: str, corpus: Path, embedder_spec: str = "hash", repeat: int = 3, passes: int = 2) -> dict:
    """Build the synthetic corpus of `size` chunks without and with figure extraction, `passes` times each
    (same process, same loaded documents, separate folders so nothing is reused; the fastest of each kind
    counts), then time figure queries on the index with figures: over every street without gaps, and over
    five streets with gaps (which searches each street lacking a figure, see figure_table)."""
    import shutil
    import tempfile
    import time
    from unittest import mock

    from ..engine import GovQA
    from ..index import builder
    from ..ingest.documents import load_corpus
    from .metrics import percentile_ms
    from .scale import _embedder
    from .synthetic import SyntheticCorpus, parse_size

    chunks = parse_size(size)
    work = Path(tempfile.mkdtemp(prefix="govqa-figures-"))
    try:
        reports = SyntheticCorpus(corpus).write(work / "corpus", chunks)
        documents = load_corpus(work / "corpus").documents
        embedder = _embedder(embedder_spec)
        seconds: dict[str, list[float]] = {"without": [], "with": []}
        builder.build_index(documents[:1], work / "warm-up", embedder)  # dictionaries and caches load once
        # Two passes in alternating order (without, with, with, without): neither pays a first-build cost alone.
        for n, name in enumerate(("without", "with", "with", "without")[: 2 * passes]):
            target = work / f"index-{name}-{n}"
            t = time.perf_counter()
            if name == "without":
                with mock.patch.object(builder, "figure_rows", lambda doc: []):
                    builder.build_index(documents, target, embedder)
            else:
                report = builder.build_index(documents, target, embedder)
                kept = target
            seconds[name].append(time.perf_counter() - t)
            if name == "without":
                shutil.rmtree(target, ignore_errors=True)
        figures_count = report.figures
        qa = GovQA.open(kept, embedder)
        streets = sorted({m.street for m in qa.index.metas.values() if m.street})
        qa.figures(BENCH_TOPICS[0], gaps=False)  # loads the figures table once, as a server's first call would
        times_all, times_five = [], []
        for _ in range(repeat):
            for topic in BENCH_TOPICS:
                t = time.perf_counter()
                qa.figures(topic, gaps=False)
                times_all.append(time.perf_counter() - t)
                t = time.perf_counter()
                qa.figures(topic, streets=streets[:5])
                times_five.append(time.perf_counter() - t)
        return {
            "chunks": report.chunks,
            "reports": reports,
            "figures": figures_count,
            "streets": len(streets),
            "embedder": embedder.name,
            "build_s_without": min(seconds["without"]),
            "build_s_with": min(seconds["with"]),
            "build_seconds": seconds,
            "build_ratio": round(min(seconds["with"]) / min(seconds["without"]), 3),
            "figures_p50_ms_all_streets": percentile_ms(times_all, 50),
            "figures_p95_ms_all_streets": percentile_ms(times_all, 95),
            "figures_p50_ms_five_streets_with_gaps": percentile_ms(times_five, 50),
            "figures_p95_ms_five_streets_with_gaps": percentile_ms(times_five, 95),
            "queries": len(times_all),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from ..engine import GovQA

    parser = argparse.ArgumentParser(prog="python -m govqa.evaluation.figures")
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--split", default="dev", choices=("dev", "test", "all"))
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--details", action="store_true", help="list missed and extra rows")
    parser.add_argument("--bench", metavar="SIZE", help="instead: the build-time ratio and latency at SIZE chunks")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="with --bench: the seed reports")
    args = parser.parse_args(argv)
    if args.bench:
        json.dump(bench(args.bench, args.corpus, args.embedder or "hash"), sys.stdout, indent=2)
        print()
        return 0
    with GovQA.open(args.index, args.embedder) as qa:
        out = evaluate(qa, load_gold(args.gold, args.split))
    if not args.details:
        out.pop("missed")
        out.pop("extra")
    json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
