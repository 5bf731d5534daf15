"""Refusals, all in one JSON shape (ErrorResponse), and the API key that reads and writes may need."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DocumentError, DocumentNotFoundError, QuestionError, UnsupportedFileTypeError
from .service import Settings

# Module level: the endpoints' annotations are strings (postponed evaluation), resolved in this namespace.
_BEARER = HTTPBearer(auto_error=False)
_JSON_TYPE = re.compile(r"^application/([\w.+-]+\+)?json\s*(;|$)", re.I)


def access(settings: Settings) -> tuple[list, list]:
    """The dependencies of read and of write endpoints: the API key as a bearer token, where needed."""

    def check_key(credentials: HTTPAuthorizationCredentials | None, what: str) -> None:
        if not settings.api_key:
            raise HTTPException(403, f"{what} are disabled: start the server with GOVQA_API_KEY set")
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), settings.api_key.encode()):
            raise HTTPException(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <GOVQA_API_KEY>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    # async: a sync dependency would cost every request a hop to the thread pool
    async def read_access(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        if settings.keyed_reads:
            check_key(credentials, "reads")

    async def write_access(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        check_key(credentials, "writes")

    reads = [Depends(read_access)]
    writes = [Depends(write_access)]

    return reads, writes


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and the router's 404/405
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)  # FastAPI's own {"detail": [...]} list, in our shape
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(request, exc.errors())

    @app.exception_handler(QuestionError)
    @app.exception_handler(DocumentError)
    async def input_error(_request: Request, exc: ValueError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(UnsupportedFileTypeError)
    async def unsupported_type(_request: Request, exc: UnsupportedFileTypeError) -> JSONResponse:
        return _error(415, str(exc))

    @app.exception_handler(DocumentNotFoundError)
    async def not_found(_request: Request, exc: DocumentNotFoundError) -> JSONResponse:
        return _error(404, str(exc))


def _error(status: int, message: str, headers: dict[str, str] | None = None, param: str | None = None) -> JSONResponse:
    """An ErrorResponse: FastAPI's {"detail"} and, for OpenAI clients, {"error": {"message"}}, one message."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"detail": message, "error": {"message": message, "type": kind, "code": status, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_error(request: Request, errors: Sequence[Any]) -> JSONResponse:
    """What FastAPI's request validation found, as one ErrorResponse.

    A body that is not JSON at all is 400 (malformed) or 415 (sent as another type, or with no
    Content-Type); a JSON body with a wrong or missing field is 422, naming the field."""
    if malformed := [e for e in errors if e.get("type") == "json_invalid"]:
        return _error(400, f"the body is not valid JSON: {malformed[0].get('ctx', {}).get('error', 'unreadable')}")
    content_type = request.headers.get("content-type", "")
    if any(e.get("loc", ())[:1] == ("body",) for e in errors) and not _JSON_TYPE.match(content_type):
        return _error(
            415,
            f"send the body as JSON with 'Content-Type: application/json' (got {content_type or 'no Content-Type'})",
        )
    fields = [
        ".".join(str(part) for part in e.get("loc", ())[1:]) or str(e.get("loc", ("request",))[0]) for e in errors
    ]
    message = "; ".join(f"{field}: {e.get('msg', 'invalid')}" for field, e in zip(fields, errors, strict=True))
    return _error(422, message or "invalid request", param=fields[0] if fields else None)
