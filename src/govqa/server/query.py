"""Query endpoints: search, ask, compare, figures, coverage; and the one place a question is answered."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from ..engine import GovQA, check_question, table_json, to_csv, to_xlsx
from ..errors import FiguresUnavailableError, LLMError, QuestionError
from ..records import Answer, Filters, Turn
from ..serialize import (
    AnswerJSON,
    ComparisonJSON,
    CoverageJSON,
    answer_json,
    comparison_json,
    coverage_json,
    hit_json,
)
from .models import AskRequest, CompareRequest, EarlierTurn, FiguresRequest, SearchRequest, SearchResponse
from .service import EXTRACTIVE_MODEL, LLM_MODEL, Service

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def router(service: Service, reads: list) -> APIRouter:
    app = APIRouter()  # named as the application was: the endpoints below moved here unchanged

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
            return Response(
                to_csv(table).encode("utf-8-sig"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="figures.csv"'},
            )
        if body.format == "xlsx":
            return Response(
                to_xlsx(table),
                media_type=XLSX_TYPE,
                headers={"Content-Disposition": 'attachment; filename="figures.xlsx"'},
            )
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

    return app


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


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").replace("，", ",").split(",") if v.strip()]
    return items or None
