"""The application: settings, middleware, error handlers and the routers, put together; and `serve`."""

from __future__ import annotations

import contextlib
import logging
import re

import anyio.to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from .. import __version__
from . import chat, documents, health, query
from .http import access, install_error_handlers
from .middleware import _BodyLimit, _Metrics, _MetricsMiddleware
from .models import ErrorResponse
from .service import MAX_JSON_BODY, Service, Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    service = Service(settings)
    metrics = _Metrics(service)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        service.worker.start()
        try:
            yield
        finally:
            service.worker.stop()
            service.journal.close()

    # /docs and /redoc with their scripts served by this server (fastapi-offline ships them), not a CDN's:
    # the API reference works on a machine without internet access.
    app = FastAPIOffline(
        title="govqa",
        version=__version__,
        description="Search and ask Chinese government work reports, with citations to the exact paragraph.",
        lifespan=lifespan,
        # Replaces FastAPI's per-route 422 schema: every error is an ErrorResponse (see .http).
        responses={"4XX": {"model": ErrorResponse, "description": "Refused: `error.message` says why."}},
    )
    app.state.service = service
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Multipart overhead on top of the report itself.
    limits = {("POST", "/v1/documents"): settings.max_upload_bytes + (64 << 10)}
    app.add_middleware(_BodyLimit, default=MAX_JSON_BODY, limits=limits)
    app.add_middleware(_MetricsMiddleware, metrics=metrics)  # outermost: it counts the refusals too

    reads, writes = access(settings)
    install_error_handlers(app)
    # In the order the paths were always declared: it is the OpenAPI document's order too.
    app.include_router(health.router(service, metrics))
    app.include_router(query.router(service, reads))
    app.include_router(documents.router(service, reads, writes))
    app.include_router(chat.router(service, reads))
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, workers=1, http=_utf8_request_lines())


def _utf8_request_lines() -> type:
    """uvicorn's httptools protocol, taking a request line with raw UTF-8 in it.

    curl sends `?topics=垃圾分类` as the raw bytes, and llhttp (strict about URLs; it has no leniency for
    them) answers 400 "Invalid HTTP request received." before the application sees anything. Here a
    request line's non-ASCII bytes are percent-encoded first, as a browser would have sent them: the
    application reads the same path and query either way. Only request lines are rewritten, never headers or
    a body; a request pipelined behind another in the same read is passed on as received.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    non_ascii = re.compile(rb"[\x80-\xff]")

    class UTF8RequestLineProtocol(HttpToolsProtocol):
        _in_message = False  # between on_message_begin and on_message_complete
        _line_open = False  # a request line began in an earlier read and has not ended yet

        def data_received(self, data: bytes) -> None:
            if self._line_open or not self._in_message:  # `data` starts inside a request line
                end = data.find(b"\n")
                self._line_open = end < 0
                line, rest = (data, b"") if end < 0 else (data[:end], data[end:])
                data = non_ascii.sub(lambda m: b"%%%02X" % m[0][0], line) + rest
            super().data_received(data)

        def on_message_begin(self) -> None:
            self._in_message = True
            super().on_message_begin()

        def on_message_complete(self) -> None:
            self._in_message = False
            super().on_message_complete()

    return UTF8RequestLineProtocol
