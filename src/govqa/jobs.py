"""A durable queue of document changes (add, remove) and the one background worker that applies them.

The journal is a SQLite file beside the index (``<index>/jobs.sqlite``); an upload's bytes are written
and fsynced to ``<index>/uploads/`` before its job is recorded, and the job is recorded before the client
hears "accepted". So a process killed at any point loses no accepted change: on the next start a job
that was queued or running is run again (adding the same bytes twice is harmless, see
`engine.add_document`), and one that was interrupted `MAX_ATTEMPTS` times is reported failed instead
of being retried forever.

One worker thread applies the jobs in order, so two uploads are serialised, never interleaved; the
corpus lock in `engine` also keeps other processes (the app, `govqa index`) from interleaving with it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_atomic
from .engine import DocumentChange, Embedder, add_document, remove_document

log = logging.getLogger("govqa.jobs")

MAX_ATTEMPTS = 2  # a job interrupted this many times (e.g. it kills the process) is failed, not retried
ACTIVE = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, doc_id TEXT NOT NULL,
    replace_existing INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, updated REAL NOT NULL, error TEXT, result TEXT
);
"""


@dataclass
class Job:
    id: str
    kind: str  # "add" or "remove"
    doc_id: str
    status: str  # queued, running, done, failed
    attempts: int
    created: float
    updated: float
    replace: bool = False
    error: str | None = None
    result: dict | None = None
    progress: dict = field(default_factory=lambda: {"done": 0, "total": 0})  # chunks embedded; not journaled

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "doc_id": self.doc_id,
            "status": self.status,
            "attempts": self.attempts,
            "created": self.created,
            "updated": self.updated,
            "error": self.error,
            "result": self.result,
            "progress": dict(self.progress),
        }


class JobJournal:
    """The jobs of one index folder, on disk. Safe to use from several threads."""

    def __init__(self, index_dir: Path | str):
        self.index_dir = Path(index_dir)
        self.uploads = self.index_dir / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.index_dir / "jobs.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a job the client was told about survives power loss
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._progress: dict[str, dict] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def payload(self, job_id: str) -> Path:
        return self.uploads / f"{job_id}.bin"

    def submit_add(self, doc_id: str, data: bytes, replace: bool = False) -> Job:
        job_id = uuid.uuid4().hex
        path = self.payload(job_id)
        write_atomic(path, data, tmp=path.with_suffix(".tmp"), sync_folder=True)
        return self._insert(job_id, "add", doc_id, replace)

    def submit_remove(self, doc_id: str) -> Job:
        return self._insert(uuid.uuid4().hex, "remove", doc_id, False)

    def _insert(self, job_id: str, kind: str, doc_id: str, replace: bool) -> Job:
        now = time.time()
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            self._db.execute(
                "INSERT INTO jobs (id, seq, kind, doc_id, replace_existing, status, created, updated) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (job_id, seq, kind, doc_id, int(replace), "queued", now, now),
            )
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def active(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE status IN ('queued','running') ORDER BY seq"
            ).fetchall()
        return [self._job(r) for r in rows]

    def recent(self, limit: int = 50) -> list[Job]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [self._job(r) for r in rows]

    def recover(self) -> list[Job]:
        """After a restart: jobs a dead process left running are queued again, or failed if tried too often."""
        recovered = []
        for job in self.active():
            if job.status != "running":
                continue
            if job.attempts >= MAX_ATTEMPTS:
                self.finish(
                    job,
                    error=f"interrupted {job.attempts} times (the server stopped while it ran); not retried",
                )
            elif job.kind == "add" and not self.payload(job.id).exists():
                self.finish(job, error="the uploaded file was lost; upload it again")
            else:
                self._set(job.id, status="queued")
            recovered.append(self.get(job.id))
        return recovered  # type: ignore[return-value]

    def start(self, job: Job) -> Job:
        self._set(job.id, status="running", attempts=job.attempts + 1)
        return self.get(job.id)  # type: ignore[return-value]

    def finish(self, job: Job, result: dict | None = None, error: str | None = None) -> None:
        self._set(
            job.id,
            status="failed" if error else "done",
            error=error,
            result=json.dumps(result, ensure_ascii=False) if result is not None else None,
        )
        self.payload(job.id).unlink(missing_ok=True)
        self._progress.pop(job.id, None)

    def set_progress(self, job_id: str, done: int, total: int) -> None:
        self._progress[job_id] = {"done": done, "total": total}

    def _set(self, job_id: str, **values: object) -> None:
        values["updated"] = time.time()
        columns = ", ".join(f"{k}=?" for k in values)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {columns} WHERE id=?", (*values.values(), job_id))

    def _job(self, row: tuple) -> Job:
        job_id, kind, doc_id, replace, status, attempts, created, updated, error, result = row
        progress = self._progress.get(job_id) or {"done": 0, "total": 0}
        return Job(
            job_id,
            kind,
            doc_id,
            status,
            attempts,
            created,
            updated,
            bool(replace),
            error,
            json.loads(result) if result else None,
            dict(progress),
        )


_COLUMNS = "id, kind, doc_id, replace_existing, status, attempts, created, updated, error, result"


class JobWorker:
    """The single background thread that applies queued jobs, one at a time, in order.

    `on_change` runs after every job that changed the index (the server swaps in the new generation
    there); `on_idle` runs every `idle_seconds` while there is nothing to do (the server checks for an
    index rebuilt by another process there).
    """

    def __init__(
        self,
        journal: JobJournal,
        corpus: Path | str,
        index_dir: Path | str,
        embedder: Callable[[], Embedder | None],
        on_change: Callable[[], None],
        on_idle: Callable[[], None] | None = None,
        idle_seconds: float = 2.0,
        nice: int = 10,
    ):
        self.journal = journal
        self.corpus = Path(corpus)
        self.index_dir = Path(index_dir)
        self._embedder = embedder
        self._on_change = on_change
        self._on_idle = on_idle
        self._idle_seconds = idle_seconds
        self._nice = nice
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.busy = False
        self._thread = threading.Thread(target=self._run, name="govqa-jobs", daemon=True)

    def start(self) -> None:
        for job in self.journal.recover():
            log.warning("job %s (%s %s) was interrupted: now %s", job.id, job.kind, job.doc_id, job.status)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        self._lower_priority()
        while not self._stop.is_set():
            jobs = [j for j in self.journal.active() if j.status == "queued"]
            if not jobs:
                self._wake.wait(self._idle_seconds)
                self._wake.clear()
                if self._on_idle is not None and not self._stop.is_set():
                    self._guard(self._on_idle)
                continue
            self._apply(jobs[0])

    def _apply(self, job: Job) -> None:
        job = self.journal.start(job)
        self.busy = True
        try:
            change = self._change(job)
        except Exception as exc:  # noqa: BLE001 - any failure is the job's outcome, reported to its client
            log.exception("job %s failed", job.id)
            self.journal.finish(job, error=str(exc) or type(exc).__name__)
            self.busy = False
            return
        # The new generation is live before the job reads "done": a client that saw "done" finds the report.
        self._guard(self._on_change)
        report = change.build.report
        self.busy = False
        self.journal.finish(
            job,
            result={
                "doc_id": change.doc_id,
                "action": change.action,
                "documents": report.documents,
                "chunks": report.chunks,
                "embedded": report.embedded,
                "seconds": round(report.seconds, 3),
                "generation": Path(report.path).name,
                "skipped": [str(e) for e in change.build.errors],
            },
        )

    def _change(self, job: Job) -> DocumentChange:
        def progress(done: int, total: int) -> None:
            self.journal.set_progress(job.id, done, total)

        embedder = self._embedder()
        if job.kind == "add":
            data = self.journal.payload(job.id).read_bytes()
            return add_document(
                self.corpus,
                self.index_dir,
                job.doc_id,
                data,
                replace=job.replace,
                embedder=embedder,
                progress=progress,
            )
        if job.kind == "remove":
            return remove_document(self.corpus, self.index_dir, job.doc_id, embedder=embedder, progress=progress)
        raise ValueError(f"unknown job kind {job.kind!r}")

    def _lower_priority(self) -> None:
        """Builds yield the cores to queries: this thread, and the OpenMP threads it starts, run niced."""
        if self._nice and sys.platform == "linux":  # elsewhere PRIO_PROCESS takes a process id, not a thread's
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
            except OSError as exc:
                log.warning("could not lower the build thread's priority: %s", exc)

    @staticmethod
    def _guard(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # noqa: BLE001 - a failed reload must not kill the worker; the old index keeps serving
            log.exception("index reload failed")
