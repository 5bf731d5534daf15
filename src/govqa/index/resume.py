"""Resumable embedding: a killed build picks up from its last finished batch and embeds no passage twice.

Embedding is nearly all of a build's time (hours for a city's reports on a CPU), so losing it to a crash, a
reboot or Ctrl-C is the expensive failure. `ResumableEmbedder` wraps any embedder: it embeds passages in batches
and writes each finished batch to a folder beside the index (atomically: a batch file exists whole or not at
all), keyed by a hash of the embedder name and the passage text. A rerun finds the batches already there and
embeds only the rest; a finished build deletes the folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from .embedders import Embedder

CACHE_DIR = ".embedding-cache"  # inside the index folder; the generation store (generations.py) leaves names it does not own alone


class ResumableEmbedder:
    BATCH = 256  # passages per saved batch: a kill loses at most this much work

    def __init__(self, inner: Embedder, folder: Path | str, batch: int | None = None):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.folder = Path(folder)
        self.batch = batch or self.BATCH
        self.embedded = 0  # passages this instance sent to the model
        self.resumed = 0  # passages found in batches saved by an earlier, interrupted run
        self._earlier: dict[bytes, np.ndarray] | None = None  # what earlier runs saved, not yet used
        self._written: int | None = None  # batch files in the folder, counted once

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def _key(self, text: str) -> bytes:
        return hashlib.blake2b(f"{self.name}\0{text}".encode(), digest_size=16).digest()

    def _saved(self, wanted: set[bytes]) -> dict[bytes, np.ndarray]:
        """The saved vectors of `wanted` passages. The folder is read once per instance: a build asks batch by
        batch, and rereading every saved batch for each would grow with the square of the corpus."""
        if self._earlier is None:
            self._earlier = {}
            for path in sorted(self.folder.glob("batch-*.npz")) if self.folder.is_dir() else ():
                try:
                    with np.load(path) as data:
                        keys, vectors = data["keys"], data["vectors"]
                except (OSError, ValueError, KeyError):
                    continue  # unreadable: its passages are simply embedded again
                if vectors.shape[1:] != (self.dim,):
                    continue
                for key, vec in zip((row.tobytes() for row in keys), vectors, strict=True):
                    self._earlier[key] = vec
        # Taken out as they are used: what stays held is only what the build has yet to reach.
        return {key: self._earlier.pop(key) for key in wanted if key in self._earlier}

    def _save(self, keys: list[bytes], vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._written is None:
            self._written = len(list(self.folder.glob("batch-*.npz")))
        final = self.folder / f"batch-{os.getpid()}-{self._written:07d}.npz"
        self._written += 1
        # Keys as raw bytes: a NumPy "S" string would drop a digest's trailing zero bytes.
        raw = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), -1)
        write_atomic(
            final,
            lambda f: np.savez(f, keys=raw, vectors=vectors.astype(np.float32)),
            tmp=final.with_suffix(".tmp"),
        )

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        saved = self._saved(set(keys))
        todo: dict[bytes, list[int]] = {}  # a passage that occurs twice is embedded once
        for i, key in enumerate(keys):
            if key in saved:
                out[i] = saved[key]
            else:
                todo.setdefault(key, []).append(i)
        self.resumed += len(texts) - sum(len(v) for v in todo.values())
        if progress is not None and len(texts) - sum(len(v) for v in todo.values()):
            progress(len(texts) - sum(len(v) for v in todo.values()))
        pending = list(todo)
        for start in range(0, len(pending), self.batch):
            part = pending[start : start + self.batch]
            vectors = self.inner.embed_passages([texts[todo[k][0]] for k in part])
            self._save(part, vectors)
            self.embedded += len(part)
            for key, vec in zip(part, vectors, strict=True):
                out[todo[key]] = vec
            if progress is not None:
                progress(sum(len(todo[k]) for k in part))
        return out

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
