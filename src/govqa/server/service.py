"""The live index and the writer behind the endpoints, and the server's settings."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import (
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    MAX_DOCUMENT_BYTES,
    Embedder,
    GovQA,
    embedder_for,
    index_generation,
    load_llm,
)
from ..jobs import JobJournal, JobWorker

log = logging.getLogger("govqa.server")

EXTRACTIVE_MODEL = "govqa"  # the offline extractive answerer
LLM_MODEL = "govqa-llm"  # a language model writes, every sentence checked against its cited passage
MAX_JSON_BODY = 1 << 20  # reads carry a question, not a report: 1 MiB is plenty
MAX_HISTORY = 50  # earlier turns a request may carry: only the latest few shape a follow-up


@dataclass
class Settings:
    index_dir: Path = DEFAULT_INDEX
    corpus: Path = DEFAULT_CORPUS
    api_key: str | None = None  # write endpoints need it as a bearer token; without it they are refused
    keyed_reads: bool = False  # reads need the key too
    cors_origins: Sequence[str] = ()  # CORS stays off unless origins are listed
    llm: str | None = None  # a generation backend spec (see qa.generation.load_backend): enables govqa-llm
    embedder: str | None = None
    max_upload_bytes: int = MAX_DOCUMENT_BYTES
    threads: int = 8  # worker threads answering requests (CPU-bound: more only queue inside the GIL)
    build_nice: int = 10  # builds run at this lower priority, so queries keep the cores
    watch_seconds: float = 2.0  # how often an idle server looks for an index rebuilt by another process

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        origins = [o.strip() for o in os.environ.get("GOVQA_CORS_ORIGINS", "").split(",") if o.strip()]
        settings = cls(
            api_key=os.environ.get("GOVQA_API_KEY") or None,
            cors_origins=origins,
            llm=os.environ.get("GOVQA_LLM") or None,
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        return settings


class Service:
    """The live index and the writer. `qa` is replaced, never mutated: read it once per request."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.qa = GovQA.open(settings.index_dir, settings.embedder)
        self.generation = index_generation(settings.index_dir)
        self.reloads = 0
        self._reload_lock = threading.Lock()
        self._build_embedder: Embedder | None = None
        self.llm = None
        if settings.llm:
            self.llm = load_llm(settings.llm)
        self.journal = JobJournal(settings.index_dir)
        self.worker = JobWorker(
            self.journal,
            settings.corpus,
            settings.index_dir,
            self.build_embedder,
            on_change=self.reload,
            on_idle=self.reload,
            idle_seconds=settings.watch_seconds,
            nice=settings.build_nice,
        )

    def build_embedder(self) -> Embedder:
        """A second model instance for builds: the query embedder's lock would make queries wait a whole build."""
        if self._build_embedder is None:
            self._build_embedder = embedder_for(self.settings.embedder or self.qa.index.embedder_name)
        return self._build_embedder

    def reload(self) -> bool:
        """Open the live generation if it is newer than the one being served, and swap it in."""
        with self._reload_lock:
            generation = index_generation(self.settings.index_dir)
            if generation is None or generation == self.generation:
                return False
            fresh = GovQA.open(self.settings.index_dir, self.qa.embedder, self.qa.retriever.config)
            self.qa, self.generation = fresh, generation  # one assignment each: readers see old or new
            self.reloads += 1
            log.info("serving index generation %s", generation)
            return True

    def document(self, doc_id: str):
        qa = self.qa
        try:
            return qa.document(doc_id)
        except sqlite3.OperationalError:
            # A build replaced this generation and removed its files between our read of `qa` and now.
            self.reload()
            return self.qa.document(doc_id)


def service_models(service: Service) -> list[str]:
    return [EXTRACTIVE_MODEL] + ([LLM_MODEL] if service.llm is not None else [])
