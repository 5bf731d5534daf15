"""govqa: semantic search and cited question answering over Chinese government work reports.

    >>> import govqa
    >>> govqa.build("corpus", "index")                           # doctest: +SKIP
    >>> with govqa.GovQA.open("index") as qa:                    # doctest: +SKIP
    ...     answer = qa.ask("塘桥街道2019年拆除了多少违章建筑?")
    ...     comparison = qa.compare("垃圾分类")

The public API is the front door `GovQA` (and `build`), the records it returns and the errors it raises. The
names load on first use, so importing a small part of the package (an ingest worker, the CLI's help) does not
load the models and indexes behind the front door.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "GovQA": "engine",
    "build": "engine",
    "BuildResult": "engine",
    "add_document": "engine",
    "remove_document": "engine",
    "Query": "qa.query",
    "Comparison": "qa.compare",
    "CoverageMatrix": "qa.compare",
    "StreetFinding": "qa.compare",
    "Answer": "records",
    "Citation": "records",
    "Chunk": "records",
    "DocMeta": "records",
    "Document": "records",
    "Filters": "records",
    "Hit": "records",
    "Turn": "records",
    "GovQAError": "errors",
    "QuestionError": "errors",
    "DocumentError": "errors",
    "DocumentExistsError": "errors",
    "DocumentNotFoundError": "errors",
    "UnsupportedFileTypeError": "errors",
    "LoadError": "errors",
    "IndexUnavailableError": "errors",
    "IndexNotFoundError": "errors",
    "IndexBusyError": "errors",
    "EmbedderError": "errors",
    "LLMError": "errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'govqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # once
    return value


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from .engine import BuildResult, GovQA, add_document, build, remove_document
    from .errors import (
        DocumentError,
        DocumentExistsError,
        DocumentNotFoundError,
        EmbedderError,
        GovQAError,
        IndexBusyError,
        IndexNotFoundError,
        IndexUnavailableError,
        LLMError,
        LoadError,
        QuestionError,
    )
    from .qa.compare import Comparison, CoverageMatrix, StreetFinding
    from .qa.query import Query
    from .records import Answer, Chunk, Citation, DocMeta, Document, Filters, Hit, Turn
