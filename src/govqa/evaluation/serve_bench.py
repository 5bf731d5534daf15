"""Load benchmark of `govqa serve`: concurrent clients on loopback, idle and while reports are indexed.

    python -m govqa.bench --serve                        # 16 clients, 60 s per phase
    python -m govqa.bench --serve --duration 10 --json   # a quick run

Phases, each bounded in time (and every request in count by the clients' timeouts):
  1. in-process: `GovQA.search` in a loop, one thread, for --throughput-seconds (the baseline);
  2. idle:       --clients clients send mixed /v1/search and /v1/ask for --duration seconds;
  3. building:   the same load while a report is uploaded and indexed again and again (replaced with
                 alternating content, so each build embeds it anew) for --duration seconds;
  4. search:     --clients clients send /v1/search only, for --throughput-seconds.
The server is a `govqa serve` subprocess on 127.0.0.1 over a copy of the index and corpus, stopped by
its pid at the end. The clients run in this process, on the same machine: their CPU use is in the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from ..engine import GovQA, build
from .goldset import load_gold
from .metrics import percentile_ms

START_TIMEOUT = 300
REQUEST_TIMEOUT = 60.0
BUILD_TIMEOUT = 900.0


def run(
    corpus: Path,
    gold: Path,
    index: Path | None,
    clients: int,
    duration: float,
    throughput_seconds: float,
    embedder: str | None = None,
) -> dict:
    questions = [q.question for q in load_gold(gold)]
    work = Path(tempfile.mkdtemp(prefix="govqa-serve-bench-"))
    out: dict = {
        "clients": clients,
        "duration_s": duration,
        "throughput_s": throughput_seconds,
        "questions": len(questions),
        "cpus": os.cpu_count(),
    }
    server = None
    try:
        shutil.copytree(corpus, work / "corpus")
        if index is not None:
            shutil.copytree(index, work / "index")
        else:
            build(work / "corpus", work / "index", embedder)
        out["in_process_search"] = _in_process(work / "index", questions, throughput_seconds)

        server = _Server(work / "index", work / "corpus").start()
        out["server_start_s"] = server.start_seconds
        out["idle"] = asyncio.run(_load(server.url, questions, clients, duration, ("search", "ask")))
        out["building"] = _while_building(server, corpus, questions, clients, duration)
        out["search_only"] = asyncio.run(_load(server.url, questions, clients, throughput_seconds, ("search",)))
        out["search_vs_in_process"] = out["search_only"]["rps"] / out["in_process_search"]["rps"]
        out["building_p50_vs_idle"] = out["building"]["load"]["p50_ms"] / out["idle"]["p50_ms"]
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def _in_process(index: Path, questions: list[str], seconds: float) -> dict:
    qa = GovQA.open(index)
    for q in questions[:5]:  # warm caches (IDF tables, jieba)
        qa.search(q)
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        qa.search(questions[i % len(questions)])
        times.append(time.perf_counter() - t)
        i += 1
    return {
        "requests": len(times),
        "rps": len(times) / sum(times),
        "p50_ms": percentile_ms(times, 50),
        "p95_ms": percentile_ms(times, 95),
    }


async def _load(
    url: str,
    questions: list[str],
    clients: int,
    seconds: float,
    kinds: tuple[str, ...],
    stop: threading.Event | None = None,
) -> dict:
    """`clients` concurrent loops over the questions until `seconds` pass (or `stop` is set)."""
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    errors: list[str] = []
    counter = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < deadline and not (stop and stop.is_set()):
                n = counter
                counter += 1
                kind = kinds[n % len(kinds)]
                question = questions[(n // len(kinds)) % len(questions)]
                t = time.perf_counter()
                try:
                    r = await client.post(f"/v1/{kind}", json={"question": question})
                    if r.status_code != 200:
                        errors.append(f"{kind} {r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{kind} {type(exc).__name__}: {exc}")
                latencies[kind].append(time.perf_counter() - t)

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    every = [t for ts in latencies.values() for t in ts]
    return {
        "requests": len(every),
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": elapsed,
        "rps": len(every) / elapsed,
        "p50_ms": percentile_ms(every, 50),
        "p95_ms": percentile_ms(every, 95),
        "by_kind": {
            k: {"requests": len(v), "p50_ms": percentile_ms(v, 50), "p95_ms": percentile_ms(v, 95)}
            for k, v in latencies.items()
            if v
        },
    }


def _while_building(server: _Server, corpus: Path, questions: list[str], clients: int, duration: float) -> dict:
    """The load, while a report is uploaded and indexed over and over until the phase ends."""
    source = max((p for p in corpus.iterdir() if p.suffix == ".txt"), key=lambda p: p.stat().st_size)
    text = source.read_text(encoding="utf-8")[:30_000]  # a report of ordinary size: ~30k characters
    builds: list[dict] = []
    done = threading.Event()
    failure: list[str] = []

    def uploader() -> None:
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, headers=headers) as client:
            n = 0
            while not done.is_set():
                body = {"name": "bench-upload.txt", "text": f"{text}\n补充说明：第{n}次上传。\n"}
                r = client.post("/v1/documents", params={"replace": "true"}, json=body)
                if r.status_code != 202:
                    failure.append(f"upload {r.status_code}: {r.text[:200]}")
                    return
                job_id = r.json()["id"]
                # The build started in the phase is waited for, so that it cannot slow the next phase.
                deadline = time.monotonic() + BUILD_TIMEOUT
                while True:
                    job = client.get(f"/v1/jobs/{job_id}").json()
                    if job["status"] in ("done", "failed") or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                if job["status"] not in ("done", "failed"):
                    failure.append(f"build not finished after {BUILD_TIMEOUT}s")
                    return
                if job["status"] == "failed":
                    failure.append(f"job failed: {job['error']}")
                    return
                builds.append({"seconds": job["updated"] - job["created"], **job["result"]})
                n += 1

    thread = threading.Thread(target=uploader, name="bench-uploader")
    thread.start()
    try:
        load = asyncio.run(_load(server.url, questions, clients, duration, ("search", "ask")))
    finally:
        done.set()
        thread.join(BUILD_TIMEOUT + REQUEST_TIMEOUT)
    return {
        "load": load,
        "builds": len(builds),
        "upload_errors": failure,
        "build_seconds": [round(b["seconds"], 1) for b in builds],
        "chunks_embedded_per_build": builds[0]["embedded"] if builds else None,
    }


class _Server:
    def __init__(self, index: Path, corpus: Path):
        self.index, self.corpus = index, corpus
        self.key = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None

    def start(self) -> _Server:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = (self.index.parent / "server.log").open("wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "govqa.cli",
                "serve",
                "--port",
                str(port),
                "--index",
                str(self.index),
                "--corpus",
                str(self.corpus),
                "--log-level",
                "warning",
            ],
            env={**os.environ, "GOVQA_API_KEY": self.key},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        while time.perf_counter() - started < START_TIMEOUT:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {Path(self.log.name).read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    self.start_seconds = time.perf_counter() - started
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not start within {START_TIMEOUT}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self.log.close()


def report(out: dict) -> str:
    def phase(name: str, p: dict) -> str:
        kinds = ", ".join(f"{k} p50 {v['p50_ms']:.0f} ms" for k, v in p["by_kind"].items())
        return (
            f"  {name:<10}{p['requests']:>7} requests, {p['errors']} errors, {p['rps']:6.1f} req/s, "
            f"p50 {p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms ({kinds})"
        )

    b = out["building"]
    ip = out["in_process_search"]
    return "\n".join(
        [
            f"govqa serve load benchmark: {out['clients']} clients on loopback, {out['cpus']} CPUs, "
            f"server started in {out['server_start_s']:.1f} s",
            phase("idle", out["idle"]),
            phase("building", b["load"]),
            f"            {b['builds']} builds started in the phase ({b['chunks_embedded_per_build']} chunks "
            f"embedded each; seconds: {b['build_seconds']}){'; upload errors: ' + str(b['upload_errors']) if b['upload_errors'] else ''}",
            f"  p50 while building / idle: {out['building_p50_vs_idle']:.2f}x (target <= 2)",
            phase("search", out["search_only"]),
            f"  in-process GovQA.search: {ip['rps']:.1f} req/s (p50 {ip['p50_ms']:.1f} ms, one thread)",
            f"  /v1/search throughput / in-process: {out['search_vs_in_process']:.2f}x (target >= 0.8)",
        ]
    )


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m govqa.bench --serve", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--gold", type=Path, default=Path("tests/data/gold.jsonl"), help="questions to send")
    parser.add_argument(
        "--index", type=Path, default=None, help="copy this built index instead of building one from --corpus"
    )
    parser.add_argument("--embedder", default=None, help="for the build when no --index is given")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each mixed-load phase")
    parser.add_argument(
        "--throughput-seconds",
        type=float,
        default=20.0,
        help="seconds of the in-process and the search-only phases",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for path in (args.corpus, args.gold, *([args.index] if args.index else [])):
        if not path.exists():
            parser.error(f"{path} not found")
    out = run(
        args.corpus,
        args.gold,
        args.index,
        args.clients,
        args.duration,
        args.throughput_seconds,
        args.embedder,
    )
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else report(out))
    return 0
