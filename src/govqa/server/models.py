"""The request and response bodies of the API (their JSON schemas are the OpenAPI document's)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..engine import MAX_K
from ..records import Filters
from ..serialize import CitationJSON, HitJSON
from .service import EXTRACTIVE_MODEL, MAX_HISTORY

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
    status: Literal["done", "planned"] | None = Field(None, description="Only achieved or only planned figures.")
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
