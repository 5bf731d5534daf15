"""Pure ASGI middleware: body size limits, and metrics and security headers on every response."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException

from .http import _error
from .service import Service

# The API reference pages load only from this server: ReDoc's own page would fetch its maker's logo from a CDN.
_DOC_PAGES = frozenset({"/docs", "/redoc"})
_DOC_PAGES_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:"
)


@dataclass
class _Metrics:
    service: Service
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("govqa_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "govqa_http_request_duration_seconds",
            "Time to answer a request",
            ["route"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        s = self.service
        Gauge("govqa_index_documents", "Reports in the served index", registry=r).set_function(
            lambda: len(s.qa.index.metas)
        )
        Gauge("govqa_index_chunks", "Chunks in the served index", registry=r).set_function(
            lambda: len(s.qa.index.chunks)
        )
        Gauge("govqa_index_reloads", "Generations swapped in since start", registry=r).set_function(lambda: s.reloads)
        Gauge(
            "govqa_index_generation_timestamp_seconds", "When the served generation was built", registry=r
        ).set_function(lambda: s.qa.index.path.stat().st_mtime if s.qa.index.path.exists() else 0)
        Gauge("govqa_jobs_active", "Document jobs queued or running", registry=r).set_function(
            lambda: len(s.journal.active())
        )


class _BodyLimit:
    """Refuses a request body over its route's limit with 413, as an ErrorResponse.

    (FastAPI's own max_body_size answers in plain text, from outside every exception handler.) A declared
    Content-Length over the limit is refused before the body is read; a body sent without one is counted as
    it arrives and refused where it passes the limit, by an HTTPException that the handlers turn into JSON."""

    def __init__(self, app, default: int, limits: dict[tuple[str, str], int]):
        self.app, self.default, self.limits = app, default, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get((scope["method"], scope["path"]), self.default)
        message = f"the request body is over the limit of {limit:,} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _error(413, message)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit():
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413, message)
            return event

        await self.app(scope, receive_within_limit, send)


class _MetricsMiddleware:
    """Counts and times every request by its route template (pure ASGI: no per-request task or buffering)."""

    def __init__(self, app, metrics: _Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Report text is only ever JSON; no browser may sniff it into HTML.
                message.setdefault("headers", []).append((b"x-content-type-options", b"nosniff"))
                if scope["path"] in _DOC_PAGES:
                    message["headers"].append((b"content-security-policy", _DOC_PAGES_POLICY))
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
