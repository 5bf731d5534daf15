"""Service endpoints: liveness with the served generation, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from .middleware import _Metrics
from .service import Service


def router(service: Service, metrics: _Metrics) -> APIRouter:
    app = APIRouter()  # named as the application was: the endpoints below moved here unchanged

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict:
        qa = service.qa
        return {
            "status": "ok",
            "version": __version__,
            "generation": service.generation,
            "documents": len(qa.index.metas),
            "chunks": len(qa.index.chunks),
            "embedder": qa.index.embedder_name,
            "building": service.worker.busy,
        }

    @app.get("/metrics", tags=["service"], response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
