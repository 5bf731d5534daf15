"""Every error govqa raises on purpose, in one place: catch `GovQAError` for all of them.

Each one's message says what went wrong and, where there is one, what to do. They keep the built-in base a
caller may already catch (a bad question is a ValueError, a failed model call a RuntimeError)."""

from __future__ import annotations

from pathlib import Path


class GovQAError(Exception):
    """Base of every error below."""


# ------------------------------------------------------------------------------------------------- input


class LoadError(GovQAError):
    """A corpus file that cannot be read. The rest of the corpus still indexes."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # from a worker process (load_corpus): Exception would pickle the message only
        return LoadError, (self.path, self.reason)


class QuestionError(GovQAError, ValueError):
    """A question that cannot be searched as given (empty, or too long)."""


class DocumentError(GovQAError, ValueError):
    """A report that cannot be added or removed as asked; the message says why. Nothing was changed."""


class DocumentExistsError(DocumentError):
    pass


class DocumentNotFoundError(DocumentError):
    pass


class UnsupportedFileTypeError(DocumentError):
    """A file name without one of the supported suffixes (HTTP: 415)."""


class EvalError(GovQAError, ValueError):
    """The evaluation input cannot be used; the message says where and why."""


# ------------------------------------------------------------------------------------------------- index


class IndexUnavailableError(GovQAError):
    """Base for index problems; the message says what to do."""


class IndexNotFoundError(IndexUnavailableError):
    pass


class IndexCorruptedError(IndexUnavailableError):
    pass


class EmbedderMismatchError(IndexUnavailableError):
    pass


class IndexBusyError(IndexUnavailableError):
    """Another build is writing the same index folder."""


class IndexNotWritableError(IndexUnavailableError):
    """The index folder cannot take a new generation: not a folder, not writable, or too little space."""


class MilvusUnavailableError(IndexUnavailableError):
    """Milvus cannot be reached or refused a request; the message names the server."""


class FiguresUnavailableError(GovQAError):
    """The index holds no figures table (built before figures existed): rebuild it."""


# ------------------------------------------------------------------------------------------------ models


class EmbedderError(GovQAError):
    """An embedder cannot be loaded or used; the message says what to do about it."""


class LLMError(GovQAError, RuntimeError):
    """No answer from a backend: not configured, unreachable, an HTTP error, a malformed reply."""
