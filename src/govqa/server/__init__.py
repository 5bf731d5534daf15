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

import contextlib
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..engine import (
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    MAX_DOCUMENT_BYTES,
    MAX_K,
    Embedder,
    GovQA,
    check_document,
    check_question,
    corpus_file,
    embedder_for,
    index_generation,
    load_llm,
    table_json,
    to_csv,
    to_xlsx,
)
from ..errors import (
    DocumentError,
    DocumentNotFoundError,
    FiguresUnavailableError,
    LLMError,
    QuestionError,
    UnsupportedFileTypeError,
)
from ..jobs import JobJournal, JobWorker
from ..records import Answer, Filters, Turn
from ..serialize import (
    AnswerJSON,
    CitationJSON,
    ComparisonJSON,
    CoverageJSON,
    DocumentJSON,
    DocumentSummaryJSON,
    HitJSON,
    answer_json,
    citation_json,
    comparison_json,
    coverage_json,
    document_json,
    document_summaries,
    hit_json,
)

log = logging.getLogger("govqa.server")

EXTRACTIVE_MODEL = "govqa"  # the offline extractive answerer
LLM_MODEL = "govqa-llm"  # a language model writes, every sentence checked against its cited passage
MAX_JSON_BODY = 1 << 20  # reads carry a question, not a report: 1 MiB is plenty
MAX_HISTORY = 50  # earlier turns a request may carry: only the latest few shape a follow-up
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Module level: the endpoints' annotations are strings (postponed evaluation), resolved in this namespace.
_BEARER = HTTPBearer(auto_error=False)
_SENTENCE_PIECE = re.compile(r".*?(?:[。！？!?](?:\[\d+\])*|$)", re.S)
# The API reference pages load only from this server: ReDoc's own page would fetch its maker's logo from a CDN.
_DOC_PAGES = frozenset({"/docs", "/redoc"})
_DOC_PAGES_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src 'self' blob:"
)
_JSON_TYPE = re.compile(r"^application/([\w.+-]+\+)?json\s*(;|$)", re.I)


@dataclass
class Settings:
    index_dir: Path = DEFAULT_INDEX
    corpus: Path = DEFAULT_CORPUS
    api_key: str | None = None  # write endpoints need it as a bearer token; without it they are refused
    keyed_reads: bool = False  # reads need the key too
    cors_origins: Sequence[str] = ()  # CORS stays off unless origins are listed
    llm: str | None = None  # a generation backend spec (see qa.generation.load_backend): enables govqa-llm
    embedder: str | None = None
    max_upload_bytes: int = MAX_DOCUMENT_BYTES
    threads: int = 8  # worker threads answering requests (CPU-bound: more only queue inside the GIL)
    build_nice: int = 10  # builds run at this lower priority, so queries keep the cores
    watch_seconds: float = 2.0  # how often an idle server looks for an index rebuilt by another process

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        origins = [o.strip() for o in os.environ.get("GOVQA_CORS_ORIGINS", "").split(",") if o.strip()]
        settings = cls(api_key=os.environ.get("GOVQA_API_KEY") or None, cors_origins=origins,
                       llm=os.environ.get("GOVQA_LLM") or None)  # fmt: skip
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        return settings


class Service:
    """The live index and the writer. `qa` is replaced, never mutated: read it once per request."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.qa = GovQA.open(settings.index_dir, settings.embedder)
        self.generation = index_generation(settings.index_dir)
        self.reloads = 0
        self._reload_lock = threading.Lock()
        self._build_embedder: Embedder | None = None
        self.llm = None
        if settings.llm:
            self.llm = load_llm(settings.llm)
        self.journal = JobJournal(settings.index_dir)
        self.worker = JobWorker(
            self.journal, settings.corpus, settings.index_dir, self.build_embedder,
            on_change=self.reload, on_idle=self.reload, idle_seconds=settings.watch_seconds,
            nice=settings.build_nice,
        )  # fmt: skip

    def build_embedder(self) -> Embedder:
        """A second model instance for builds: the query embedder's lock would make queries wait a whole build."""
        if self._build_embedder is None:
            self._build_embedder = embedder_for(self.settings.embedder or self.qa.index.embedder_name)
        return self._build_embedder

    def reload(self) -> bool:
        """Open the live generation if it is newer than the one being served, and swap it in."""
        with self._reload_lock:
            generation = index_generation(self.settings.index_dir)
            if generation is None or generation == self.generation:
                return False
            fresh = GovQA.open(self.settings.index_dir, self.qa.embedder, self.qa.retriever.config)
            self.qa, self.generation = fresh, generation  # one assignment each: readers see old or new
            self.reloads += 1
            log.info("serving index generation %s", generation)
            return True

    def document(self, doc_id: str):
        qa = self.qa
        try:
            return qa.document(doc_id)
        except sqlite3.OperationalError:
            # A build replaced this generation and removed its files between our read of `qa` and now.
            self.reload()
            return self.qa.document(doc_id)


# ------------------------------------------------------------------------------------------ request bodies


class FilterFields(BaseModel):
    street: str | None = Field(None, description="Only reports of this street (街道/镇), e.g. 塘桥街道.")
    district: str | None = Field(None, description="Only reports of this district (区), e.g. 浦东新区.")
    year: int | None = Field(None, description="Only reports covering this year.")
    doc_type: str | None = Field(None, description="Only reports of this type, e.g. 工作报告.")

    def filters(self) -> Filters:
        return Filters(self.street, self.district, self.year, self.doc_type)


class SearchRequest(FilterFields):
    question: str
    k: int = Field(5, ge=1, le=MAX_K)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class EarlierTurn(BaseModel):
    """An earlier question of the conversation; an earlier /v1/ask reply can be sent back as it is."""

    question: str
    resolved_question: str | None = Field(
        None, description="What it was taken as (the reply's resolved_question). Default: worked out again."
    )


class AskRequest(FilterFields):
    question: str
    answerer: Literal["extractive", "llm"] = Field(
        "extractive", description="'llm' needs a backend configured on the server (govqa serve --llm)."
    )
    history: list[str | EarlierTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description="The conversation so far, oldest first: earlier questions, or earlier replies of this "
        "endpoint. A follow-up such as 那长寿路街道呢? is read against them (see resolved_question).",
    )


class CompareRequest(BaseModel):
    topic: str = Field(..., description="e.g. 垃圾分类, or alternatives 为老服务/养老")
    streets: list[str] | None = Field(None, description="Default: every street in the index.")
    k: int = Field(3, ge=1, le=MAX_K, description="Passages per street.")


class FiguresRequest(BaseModel):
    topic: str = Field(..., description="e.g. 加装电梯 (matched by meaning: 加梯, 电梯加装 find it too)")
    streets: list[str] | None = Field(None, description="Default: every street in the index.")
    year: int | None = Field(None, description="Only figures of this year.")
    status: Literal["done", "planned"] | None = Field(
        None, description="Only achieved or only planned figures."
    )
    format: Literal["json", "csv", "xlsx"] = Field("json", description="csv and xlsx answer with a file.")


class TextDocument(BaseModel):
    name: str = Field(..., description="File name, e.g. 塘桥街道2021年工作报告.txt (decides the format).")
    text: str


class ContentPart(BaseModel):
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: only text parts carry a question
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(FilterFields):
    model: str = EXTRACTIVE_MODEL
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=2 * MAX_HISTORY)
    stream: bool = False


class SearchResponse(BaseModel):
    hits: list[HitJSON]


class ChatCompletion(BaseModel):
    """OpenAI's chat.completion object, plus the answer's `citations` and govqa's verdict."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, int]
    citations: list[CitationJSON]
    supported: bool
    resolved_question: str = Field(description="The standalone question answered (a follow-up completed).")


class ErrorDetail(BaseModel):
    message: str
    type: Literal["invalid_request_error", "server_error"]
    code: int = Field(description="The HTTP status.")
    param: str | None = Field(None, description="The request field at fault, where one is.")


class ErrorResponse(BaseModel):
    """Every refusal (4xx), and 502 from a failing language model: OpenAI's {"error": {...}}, which its
    clients read, with FastAPI's `detail` beside it as plain text."""

    detail: str
    error: ErrorDetail


# ------------------------------------------------------------------------------------------ the application


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
        # Replaces FastAPI's per-route 422 schema: every error is an ErrorResponse (see the handlers below).
        responses={"4XX": {"model": ErrorResponse, "description": "Refused: `error.message` says why."}},
    )
    app.state.service = service
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])  # fmt: skip
    # Multipart overhead on top of the report itself.
    limits = {("POST", "/v1/documents"): settings.max_upload_bytes + (64 << 10)}
    app.add_middleware(_BodyLimit, default=MAX_JSON_BODY, limits=limits)
    app.add_middleware(_MetricsMiddleware, metrics=metrics)  # outermost: it counts the refusals too

    def check_key(credentials: HTTPAuthorizationCredentials | None, what: str) -> None:
        if not settings.api_key:
            raise HTTPException(403, f"{what} are disabled: start the server with GOVQA_API_KEY set")
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), settings.api_key.encode()):
            raise HTTPException(401, "missing or wrong API key: send 'Authorization: Bearer <GOVQA_API_KEY>'",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

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

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict:
        qa = service.qa
        return {"status": "ok", "version": __version__, "generation": service.generation,
                "documents": len(qa.index.metas), "chunks": len(qa.index.chunks),
                "embedder": qa.index.embedder_name, "building": service.worker.busy}  # fmt: skip

    @app.get("/metrics", tags=["service"], response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/search", tags=["query"], dependencies=reads, response_model=SearchResponse)
    def search(body: SearchRequest) -> JSONResponse:
        hits = service.qa.search(body.question, k=body.k, filters=body.filters(), mode=body.mode)
        return JSONResponse({"hits": [hit_json(h) for h in hits]})

    @app.post("/v1/ask", tags=["query"], dependencies=reads, response_model=AnswerJSON)
    def ask(body: AskRequest) -> JSONResponse:
        model = LLM_MODEL if body.answerer == "llm" else EXTRACTIVE_MODEL
        return JSONResponse(answer_json(answer(service, model, body.question, body.filters(), body.history)))

    @app.post("/v1/compare", tags=["query"], dependencies=reads, response_model=ComparisonJSON)
    def compare(body: CompareRequest) -> JSONResponse:
        try:
            return JSONResponse(comparison_json(service.qa.compare(body.topic, body.streets, k=body.k)))
        except QuestionError:
            raise
        except ValueError as exc:  # an unknown street, an empty topic
            raise HTTPException(422, str(exc)) from exc

    @app.post(
        "/v1/figures",
        tags=["query"],
        dependencies=reads,
        responses={  # the table as JSON, or a download of it: every shape is in the schema clients read
            200: {
                "content": {
                    "application/json": {},
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                }
            }
        },
    )
    def figures(body: FiguresRequest) -> Response:
        """The figures each street's reports state on a topic, street × year, each cited; never summed."""
        try:
            table = service.qa.figures(body.topic, body.streets, year=body.year, status=body.status)
        except QuestionError:
            raise
        except FiguresUnavailableError as exc:
            raise HTTPException(409, str(exc)) from exc
        except ValueError as exc:  # an unknown street
            raise HTTPException(422, str(exc)) from exc
        if body.format == "csv":
            return Response(to_csv(table).encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="figures.csv"'})  # fmt: skip
        if body.format == "xlsx":
            return Response(to_xlsx(table), media_type=XLSX_TYPE,
                            headers={"Content-Disposition": 'attachment; filename="figures.xlsx"'})  # fmt: skip
        return JSONResponse(table_json(table))

    @app.get("/v1/coverage", tags=["query"], dependencies=reads, response_model=CoverageJSON)
    def coverage(
        topics: str | None = Query(None, description="Comma-separated topics; default: built-in ones."),
        streets: str | None = Query(None, description="Comma-separated streets; default: all."),
    ) -> JSONResponse:
        try:
            return JSONResponse(coverage_json(service.qa.coverage(_split(topics), _split(streets))))
        except QuestionError:
            raise
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.get(
        "/v1/documents", tags=["documents"], dependencies=reads, response_model=list[DocumentSummaryJSON]
    )
    def documents() -> JSONResponse:
        return JSONResponse(document_summaries(service.qa.index))

    @app.get(
        "/v1/documents/{doc_id:path}", tags=["documents"], dependencies=reads, response_model=DocumentJSON
    )
    def document(
        doc_id: str,
        paragraph: int | None = Query(None, ge=1, description="Also return this paragraph (1-based)."),
    ) -> JSONResponse:
        try:
            doc = service.document(doc_id)
        except KeyError as exc:
            raise HTTPException(404, f"no document {doc_id!r} in the index") from exc
        try:
            return JSONResponse(document_json(doc, paragraph))
        except IndexError as exc:
            raise HTTPException(404, str(exc)) from exc

    def accept_upload(name: str, data: bytes, replace: bool):
        """Refuse what add_document would refuse (4xx now, not a failed job later), then journal it."""
        name = check_document(name, data, max_bytes=settings.max_upload_bytes)
        existing = settings.corpus / name
        if not replace and existing.is_file() and existing.read_bytes() != data:
            raise HTTPException(409, f"{name} is already in the corpus with different content; "
                                "send ?replace=true to replace it, or rename the file")  # fmt: skip
        return service.journal.submit_add(name, data, replace)

    upload_body = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"}}}},
                "application/json": {"schema": TextDocument.model_json_schema()},
            },
        }
    }  # fmt: skip

    @app.post(
        "/v1/documents", tags=["documents"], dependencies=writes, status_code=202, openapi_extra=upload_body
    )
    async def upload(
        request: Request, replace: bool = Query(False, description="Replace a report of that name.")
    ):
        """Add a report (multipart field `file`, or JSON {name, text}); it is indexed in the background."""
        name, data = await _read_upload(request, settings.max_upload_bytes)
        job = await run_in_threadpool(accept_upload, name, data, replace)
        service.worker.wake()
        return JSONResponse(_job_reply(job), status_code=202)

    @app.delete("/v1/documents/{doc_id:path}", tags=["documents"], dependencies=writes, status_code=202)
    def delete(doc_id: str) -> JSONResponse:
        """Remove a report from the corpus and the index, in the background."""
        if doc_id not in service.qa.index.metas and not corpus_file(settings.corpus, doc_id).is_file():
            raise HTTPException(404, f"no document {doc_id!r} in the index")
        job = service.journal.submit_remove(doc_id)
        service.worker.wake()
        return JSONResponse(_job_reply(job), status_code=202)

    @app.get("/v1/jobs/{job_id}", tags=["documents"], dependencies=reads)
    def job_status(job_id: str) -> dict:
        job = service.journal.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job.to_json()

    @app.get("/v1/jobs", tags=["documents"], dependencies=reads)
    def jobs(limit: int = Query(50, ge=1, le=500)) -> list[dict]:
        return [j.to_json() for j in service.journal.recent(limit)]

    @app.get("/v1/models", tags=["openai"], dependencies=reads)
    def models() -> dict:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "govqa"}
                                           for m in service_models(service)]}  # fmt: skip

    stream_reply = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                          "description": "A chat.completion, or with stream: true its chunks as server-sent events."}}  # fmt: skip

    @app.post("/v1/chat/completions", tags=["openai"], dependencies=reads, response_model=ChatCompletion,
              responses=stream_reply)  # fmt: skip
    def chat(body: ChatRequest) -> Response:
        """OpenAI-compatible chat: the last user message is the question, earlier turns give its context."""
        if body.model not in service_models(service):
            raise HTTPException(
                404, f"unknown model {body.model!r}; available: {', '.join(service_models(service))}"
            )
        question, earlier = conversation(body.messages)
        result = answer(service, body.model, question, body.filters(), earlier)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        # Beside the OpenAI fields, as /v1/ask and the app show them: the sources, and what was answered.
        extra = {"citations": [citation_json(c) for c in result.citations], "supported": result.supported,
                 "resolved_question": result.resolved_question or question}  # fmt: skip
        if body.stream:
            events = _chat_events(completion_id, created, body.model, result.text, extra)
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, **extra,
        })  # fmt: skip

    return app


# ------------------------------------------------------------------------------------------ answering


def service_models(service: Service) -> list[str]:
    return [EXTRACTIVE_MODEL] + ([LLM_MODEL] if service.llm is not None else [])


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[str]]:
    """The question (the last user message) and the earlier user turns, oldest first."""
    users = [m.text() for m in messages if m.role == "user"]
    if not users or not users[-1].strip():
        raise QuestionError("问题为空：messages 中没有用户提问。 (no user message with a question)")
    return users[-1], users[:-1]


def answer(
    service: Service, model: str, question: str, filters: Filters, history: Sequence[str | EarlierTurn] = ()
) -> Answer:
    """THE place where a question, its filters and the earlier turns are handed to an answerer."""
    qa = service.qa
    turns = earlier_turns(qa, history)
    if model == LLM_MODEL:
        if service.llm is None:
            raise HTTPException(404, "no language model is configured on this server (govqa serve --llm)")
        try:
            return qa.ask(question, filters, history=turns, llm=service.llm)
        except LLMError as exc:
            raise HTTPException(502, f"the language model failed: {exc}") from exc
    return qa.ask(question, filters, history=turns)


def earlier_turns(qa: GovQA, history: Sequence[str | EarlierTurn]) -> list[Turn]:
    """The library's turns for a request's history, oldest first.

    A question sent alone is resolved against the turns before it (as the library does for a chain of
    follow-ups); one sent with the resolved_question its answer had keeps it, checked like any question."""
    turns: list[Turn] = []
    for item in history:
        question = item if isinstance(item, str) else item.question
        if not question.strip():
            continue
        resolved = None if isinstance(item, str) else item.resolved_question
        turns.append(Turn(question, check_question(resolved) if resolved else qa.resolve(question, turns)))
    return turns


def _chat_events(
    completion_id: str, created: int, model: str, text: str, extra: dict[str, Any]
) -> Iterator[str]:
    """The answer as OpenAI chat.completion.chunk server-sent events, a sentence a chunk."""

    def event(delta: dict, finish: str | None = None, **extra: Any) -> str:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}  # fmt: skip
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in _sentences(text):
        yield event({"content": piece})
    yield event({}, "stop", **extra)
    yield "data: [DONE]\n\n"


def _sentences(text: str) -> list[str]:
    """Split after each sentence end (and the [n] marks that follow it); the pieces join to `text`."""
    return [m.group() for m in _SENTENCE_PIECE.finditer(text) if m.group()]


# ------------------------------------------------------------------------------------------ helpers


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise HTTPException(422, "send the report as the multipart field 'file'")
        data = await file.read(limit + 1)
        name = file.filename or ""
    elif content_type.startswith("application/json"):
        try:
            body = TextDocument.model_validate_json(await request.body())
        except ValueError as exc:
            raise HTTPException(422, f"expected JSON {{'name': ..., 'text': ...}}: {exc}") from exc
        name, data = body.name, body.text.encode("utf-8")
    else:
        raise HTTPException(415, "send multipart/form-data with a 'file' field, or JSON {name, text}")
    if len(data) > limit:
        raise HTTPException(413, f"the report is over the upload limit of {limit:,} bytes")
    return name, data


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, param: str | None = None
) -> JSONResponse:
    """An ErrorResponse: FastAPI's {"detail"} and, for OpenAI clients, {"error": {"message"}}, one message."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"detail": message, "error": {"message": message, "type": kind, "code": status, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_error(request: Request, errors: Sequence[Any]) -> JSONResponse:
    """What FastAPI's request validation found, as one ErrorResponse.

    A body that is not JSON at all is 400 (malformed) or 415 (sent as another type, or with no
    Content-Type); a JSON body with a wrong or missing field is 422, naming the field."""
    if malformed := [e for e in errors if e.get("type") == "json_invalid"]:
        return _error(
            400, f"the body is not valid JSON: {malformed[0].get('ctx', {}).get('error', 'unreadable')}"
        )
    content_type = request.headers.get("content-type", "")
    if any(e.get("loc", ())[:1] == ("body",) for e in errors) and not _JSON_TYPE.match(content_type):
        return _error(
            415,
            f"send the body as JSON with 'Content-Type: application/json' (got {content_type or 'no Content-Type'})",
        )
    fields = [".".join(str(part) for part in e.get("loc", ())[1:]) or str(e.get("loc", ("request",))[0])
              for e in errors]  # fmt: skip
    message = "; ".join(
        f"{field}: {e.get('msg', 'invalid')}" for field, e in zip(fields, errors, strict=True)
    )
    return _error(422, message or "invalid request", param=fields[0] if fields else None)


def _job_reply(job) -> dict:
    return {**job.to_json(), "href": f"/v1/jobs/{job.id}"}


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").replace("，", ",").split(",") if v.strip()]
    return items or None


@dataclass
class _Metrics:
    service: Service
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "govqa_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "govqa_http_request_duration_seconds", "Time to answer a request", ["route"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        s = self.service
        Gauge("govqa_index_documents", "Reports in the served index", registry=r).set_function(
            lambda: len(s.qa.index.metas)
        )
        Gauge("govqa_index_chunks", "Chunks in the served index", registry=r).set_function(
            lambda: len(s.qa.index.chunks)
        )
        Gauge("govqa_index_reloads", "Generations swapped in since start", registry=r).set_function(
            lambda: s.reloads
        )
        Gauge("govqa_index_generation_timestamp_seconds", "When the served generation was built",
              registry=r).set_function(lambda: s.qa.index.path.stat().st_mtime if s.qa.index.path.exists() else 0)  # fmt: skip
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


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, workers=1,
                http=_utf8_request_lines())  # fmt: skip


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
