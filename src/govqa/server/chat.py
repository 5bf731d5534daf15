"""OpenAI-compatible endpoints: the models, and chat completions (whole, or streamed as server-sent events)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..errors import QuestionError
from ..serialize import citation_json
from .models import ChatCompletion, ChatMessage, ChatRequest
from .query import answer
from .service import Service, service_models

_SENTENCE_PIECE = re.compile(r".*?(?:[。！？!?](?:\[\d+\])*|$)", re.S)


def router(service: Service, reads: list) -> APIRouter:
    app = APIRouter()  # named as the application was: the endpoints below moved here unchanged

    @app.get("/v1/models", tags=["openai"], dependencies=reads)
    def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "govqa"} for m in service_models(service)],
        }

    stream_reply = {
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "A chat.completion, or with stream: true its chunks as server-sent events.",
        }
    }

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        dependencies=reads,
        response_model=ChatCompletion,
        responses=stream_reply,
    )
    def chat(body: ChatRequest) -> Response:
        """OpenAI-compatible chat: the last user message is the question, earlier turns give its context."""
        if body.model not in service_models(service):
            raise HTTPException(404, f"unknown model {body.model!r}; available: {', '.join(service_models(service))}")
        question, earlier = conversation(body.messages)
        result = answer(service, body.model, question, body.filters(), earlier)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        # Beside the OpenAI fields, as /v1/ask and the app show them: the sources, and what was answered.
        extra = {
            "citations": [citation_json(c) for c in result.citations],
            "supported": result.supported,
            "resolved_question": result.resolved_question or question,
        }
        if body.stream:
            events = _chat_events(completion_id, created, body.model, result.text, extra)
            return StreamingResponse(
                events,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                **extra,
            }
        )

    return app


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[str]]:
    """The question (the last user message) and the earlier user turns, oldest first."""
    users = [m.text() for m in messages if m.role == "user"]
    if not users or not users[-1].strip():
        raise QuestionError("问题为空：messages 中没有用户提问。 (no user message with a question)")
    return users[-1], users[:-1]


def _chat_events(completion_id: str, created: int, model: str, text: str, extra: dict[str, Any]) -> Iterator[str]:
    """The answer as OpenAI chat.completion.chunk server-sent events, a sentence a chunk."""

    def event(delta: dict, finish: str | None = None, **extra: Any) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in _sentences(text):
        yield event({"content": piece})
    yield event({}, "stop", **extra)
    yield "data: [DONE]\n\n"


def _sentences(text: str) -> list[str]:
    """Split after each sentence end (and the [n] marks that follow it); the pieces join to `text`."""
    return [m.group() for m in _SENTENCE_PIECE.finditer(text) if m.group()]
