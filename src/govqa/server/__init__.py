"""`govqa serve`: the library over HTTP, with an OpenAI-compatible chat endpoint and live document updates.

    GOVQA_API_KEY=secret govqa serve --index index --corpus corpus      # http://127.0.0.1:8000/docs

Reads (/v1/search, /v1/ask, /v1/compare, /v1/coverage, /v1/documents...) answer from one opened `GovQA`.
Writes (POST/DELETE /v1/documents) are journaled (see `jobs`) and applied by one background worker,
which rebuilds the index incrementally into a new generation; only then is a fresh `GovQA` opened and
the reference swapped. A request reads the reference once, so it finishes on the generation it started
with, and none ever sees a half-built index. JSON shapes are those of `serialize` (the CLI's --json).

One process serves an index: the swap is in-process (run one uvicorn worker, not several).
"""

from __future__ import annotations

from .app import create_app, serve
from .service import Service, Settings

__all__ = ["Service", "Settings", "create_app", "serve"]
