"""Query latency while index builds run in other processes: `python -m govqa.bench --contention`.

A busy machine must not make queries far slower than their share of the CPU (issue 12). This opens one
index in this process, as a server would, and times hybrid searches of the gold questions idle, beside one
and beside two `govqa index` processes (each building the corpus into a folder of its own, so it embeds
the whole time), with the builds as `govqa index` runs them (low priority; see cli.BUILD_NICE) and, for
contrast, at normal priority. Targets: beside one build within 2x of idle, beside two within 8x.

Figures depend on the machine and on whatever else runs on it: say which when quoting them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..engine import GovQA, build
from ..index.embedders import cpu_count, load_embedder
from .goldset import load_gold
from .metrics import percentile_ms

TARGETS = {1: 2.0, 2: 8.0}  # builds beside -> the most a query p50 may grow over idle


def _start_build(corpus: Path, index_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    # Its own session, so that stopping it stops the whole process group it may have started.
    return subprocess.Popen(
        [sys.executable, "-m", "govqa.cli", "index", "--corpus", str(corpus), "--index", str(index_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _time_queries(qa: GovQA, questions: list[str], max_queries: int, window_s: float) -> list[float]:
    times: list[float] = []
    deadline = time.perf_counter() + window_s
    while len(times) < max_queries and time.perf_counter() < deadline:
        question = questions[len(times) % len(questions)]
        t = time.perf_counter()
        qa.search(question, k=5)
        times.append(time.perf_counter() - t)
    return times


def run(
    corpus: Path,
    gold_path: Path,
    *,
    index: Path | None = None,
    builds: tuple[int, ...] = (1, 2),
    max_queries: int = 150,
    window_s: float = 20.0,
    warmup_s: float = 8.0,
    contrast: bool = True,
) -> dict:
    """`index`: an index of `corpus` to query (default: one built here first, in a temporary folder)."""
    questions = [q.question for q in load_gold(gold_path)]
    work = Path(tempfile.mkdtemp(prefix="govqa-contention-"))
    variants = [("low priority (default)", {})]
    if contrast:
        variants.append(("normal priority", {"GOVQA_BUILD_NICE": "0"}))
    out: dict = {"cores": cpu_count(), "queries_per_phase": max_queries, "window_s": window_s, "phases": []}
    try:
        embedder = load_embedder()
        if index is None:
            index = work / "index"
            build(corpus, index, embedder)
        with GovQA.open(index, embedder) as qa:
            _time_queries(qa, questions, 20, 5.0)  # warm caches
            idle = _time_queries(qa, questions, max_queries, window_s)
            out["idle"] = {"p50": percentile_ms(idle, 50), "p95": percentile_ms(idle, 95), "n": len(idle)}
            for label, extra in variants:
                env = {**os.environ, **extra}
                for n in builds:
                    running = [_start_build(corpus, work / f"build-{label[:3]}-{n}-{i}", env) for i in range(n)]
                    try:
                        time.sleep(warmup_s)  # past start-up and chunking: embedding
                        times = _time_queries(qa, questions, max_queries, window_s)
                        alive = all(p.poll() is None for p in running)
                    finally:
                        for p in running:
                            _stop(p)
                    p50 = percentile_ms(times, 50)
                    out["phases"].append(
                        {
                            "builds": n,
                            "variant": label,
                            "p50": p50,
                            "p95": percentile_ms(times, 95),
                            "n": len(times),
                            "ratio": p50 / out["idle"]["p50"],
                            "builds_ran_throughout": alive,
                        }
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def report(out: dict) -> str:
    idle = out["idle"]
    lines = [
        f"Query latency beside index builds in other processes ({out['cores']} cores; hybrid search, k=5; "
        f"up to {out['queries_per_phase']} queries or {out['window_s']:g} s per phase)",
        f"  idle                                   p50 {idle['p50']:7.1f} ms  p95 {idle['p95']:7.1f} ms  ({idle['n']} queries)",
    ]
    for phase in out["phases"]:
        n = phase["builds"]
        target = TARGETS.get(n)
        verdict = "" if target is None else (" ok" if phase["ratio"] <= target else f" OVER the {target:g}x target")
        note = "" if phase["builds_ran_throughout"] else " (a build ended during the window)"
        lines.append(
            f"  beside {n} build{'s' if n > 1 else ' '}, {phase['variant']:<23}p50 {phase['p50']:7.1f} ms  "
            f"p95 {phase['p95']:7.1f} ms  {phase['ratio']:5.1f}x idle{verdict if 'default' in phase['variant'] else ''}{note}"
        )
    lines.append("  targets: beside 1 build <= 2x idle, beside 2 builds <= 8x idle (default settings)")
    return "\n".join(lines)
