"""The generation store: an index folder's live generation, the locks that keep builds and readers apart,
and the clean-up of what dead builds left behind.

Layout under the index folder::

    CURRENT                 name of the live generation, replaced atomically
    gen-<stamp>/            one complete build (its files: see index.local)
    .build.lock             held by the one build running

A build writes a new generation beside the live one and only then points CURRENT at it, so a crash
mid-build leaves the previous index untouched. Opening checks every file against the manifest's hashes.

Concurrency. One build at a time per folder: a build holds an exclusive lock on `.build.lock` from start to
finish (a second build waits for it or fails with IndexBusyError). A reader (`Index.open`) holds a shared
`flock` on its generation's manifest.json until `Index.close()`; a build deletes an old generation only after
taking that lock exclusively, so an open index never loses its files. Staging folders and temporary CURRENT
files found while holding the build lock belong to a build that died (the kernel drops the lock with its
process), so they are removed. Locks are advisory `flock` locks (POSIX); where `fcntl` is missing, old
generations are never deleted.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

try:
    import fcntl
except ImportError:  # Windows: no flock; see the module doc
    fcntl = None  # type: ignore[assignment]

from ..errors import (
    IndexBusyError,
    IndexCorruptedError,
    IndexNotFoundError,
    IndexNotWritableError,
    IndexUnavailableError,
)

CURRENT = "CURRENT"
BUILD_LOCK = ".build.lock"
_GEN_NAME = re.compile(r"gen-[0-9A-Za-z._-]{1,200}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _not_a_folder(index_dir: Path) -> str | None:
    if index_dir.exists() and not index_dir.is_dir():
        return f"{index_dir} is a file, not an index folder; pass --index a folder (new or built by govqa index)"
    return None


def current_generation(index_dir: Path) -> Path:
    """The live generation folder. A CURRENT file that is unreadable or names no generation is damaged."""
    if problem := _not_a_folder(index_dir):
        raise IndexNotFoundError(problem)
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise IndexNotFoundError(
            f"no index in {index_dir}/. Build it with: govqa index --corpus corpus --index {index_dir}"
        )
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptedError(f"{pointer} is unreadable ({exc}); rebuild with: govqa index") from exc
    if not _GEN_NAME.fullmatch(name):
        raise IndexCorruptedError(f"{pointer} is damaged (it names no build: {name[:40]!r}); rebuild with: govqa index")
    gen = index_dir / name
    if not gen.is_dir() or not (gen / "manifest.json").exists():
        raise IndexCorruptedError(f"{index_dir}/{CURRENT} points to a missing build; rebuild with: govqa index")
    return gen


def _pointer(index_dir: Path) -> str | None:
    try:
        return (index_dir / CURRENT).read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _hold_generation(index_dir: Path) -> tuple[Path, object]:
    """The live generation and an open handle on its manifest holding a shared lock on it.

    CURRENT may move on between reading it and locking (a build finishing): the lock only counts once the
    manifest still sits at the generation's path, else the new CURRENT is tried.
    """
    for _ in range(10):
        before = _pointer(index_dir)
        try:
            gen = current_generation(index_dir)
            handle = (gen / "manifest.json").open("rb")
        except (IndexCorruptedError, FileNotFoundError):
            if _pointer(index_dir) != before:
                continue  # a build swapped generations under us: read the new pointer
            raise
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            held = os.path.samestat(os.fstat(handle.fileno()), os.stat(gen / "manifest.json"))
        except FileNotFoundError:
            held = False  # removed by a build while we waited for the lock
        if held:
            return gen, handle
        handle.close()
    raise IndexUnavailableError(f"{index_dir} keeps changing (builds in a loop?); try again")


@contextmanager
def build_lock(index_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock of a build on `index_dir` (flock: the kernel drops it if the process dies)."""
    lock = filelock.FileLock(index_dir / BUILD_LOCK, timeout=wait)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        waited = "" if wait == 0 else f" for {wait:g}s"
        raise IndexBusyError(
            f"another `govqa index` is building {index_dir} (it holds {index_dir / BUILD_LOCK}){waited}. "
            "Let it finish, or pass --wait SECONDS to queue behind it"
        ) from exc
    except OSError as exc:
        raise IndexNotWritableError(f"cannot lock the index folder {index_dir}: {exc}") from exc
    try:
        yield
    finally:
        lock.release()


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def _remove_abandoned(index_dir: Path, keep: str | None = None) -> None:
    """Remove what no one needs any more. Call only while holding the build lock.

    With the lock held no other build runs, so staging folders, half-deleted generations and temporary
    CURRENT files are leftovers of a build that died. An old generation goes only if no reader holds it.
    """
    live = keep or _pointer(index_dir)
    for path in index_dir.iterdir():
        name = path.name
        if name.startswith((".staging-", ".trash-")) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(f".{CURRENT}.tmp-") and path.is_file():
            path.unlink(missing_ok=True)
        elif _GEN_NAME.fullmatch(name) and name != live and path.is_dir():
            _remove_unread_generation(path)


def index_in_use(index_dir: Path | str) -> bool:
    """Whether some process (a server, the app, a search) has the live generation of `index_dir` open."""
    try:
        gen = current_generation(Path(index_dir))
        handle = (gen / "manifest.json").open("rb")
    except (IndexUnavailableError, OSError):
        return False
    with handle:
        return fcntl is not None and not _try_exclusive(handle)


def _try_exclusive(handle) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove_unread_generation(gen: Path) -> None:
    if fcntl is None:
        return  # no way to know whether a reader has it open: keep it
    try:
        handle = (gen / "manifest.json").open("rb")
    except FileNotFoundError:
        # No manifest: never complete, so no reader can have opened it.
        shutil.rmtree(gen, ignore_errors=True)
        return
    with handle:
        if not _try_exclusive(handle):
            return  # an open Index reads it; a later build removes it
        # Moved aside while locked: a reader that was waiting for its lock sees the path gone and moves on.
        trash = gen.with_name(f".trash-{gen.name}")
        gen.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)
