"""Writing a file whole or not at all, for every layer (it imports nothing of govqa's)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(
    path: Path,
    data: str | bytes | Callable[[BinaryIO], object],
    *,
    tmp: Path | None = None,
    sync_folder: bool = False,
) -> None:
    """Replace `path` by `data` in one step: a reader (or a crash) sees the old file or the new one, never half.

    `data` is written to a temporary file in the same folder (`tmp`, by default ``.<name>.tmp-<pid>``) and
    fsynced, then renamed over `path` (os.replace is atomic within a file system). A str is written as UTF-8
    text, bytes as they are, and a callable is handed the open binary file to write into. `sync_folder`: fsync
    the folder as well, so that the rename itself survives a power cut.
    """
    tmp = tmp or path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") if isinstance(data, str) else tmp.open("wb") as f:
        if isinstance(data, (str, bytes)):
            f.write(data)
        else:
            data(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync_folder:
        fsync_folder(path.parent)


def fsync_folder(path: Path) -> None:
    """Make a folder's entries (a new or renamed file in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
