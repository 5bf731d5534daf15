"""Language-model backends: an OpenAI-compatible HTTP endpoint, or a local transformers model."""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ...errors import LLMError
from .prompt import Message, plain_prompt

ENV_BASE_URL = "GOVQA_LLM_BASE_URL"
ENV_MODEL = "GOVQA_LLM_MODEL"
ENV_API_KEY = "GOVQA_LLM_API_KEY"


class ChatBackend(Protocol):
    name: str

    def complete(self, messages: list[Message]) -> str: ...

    def stream(self, messages: list[Message]) -> Iterator[str]: ...


# ---------------------------------------------------------------------------------- OpenAI-compatible HTTP


class OpenAIBackend:
    """An OpenAI-compatible `/chat/completions` endpoint, through urllib only.

    `base_url` is the API root (`http://localhost:8000/v1` for vLLM, `http://localhost:11434/v1` for Ollama);
    a URL that already ends in `/chat/completions` is used as is. `timeout` bounds connecting and each read.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_tokens: int = 512,
        temperature: float = 0.0,
        extra_body: dict | None = None,
    ):
        base_url = (base_url or "").strip()
        model = (model or "").strip()
        if not base_url:
            raise LLMError(f"no LLM endpoint configured: set {ENV_BASE_URL} (e.g. http://localhost:8000/v1)")
        if not model:
            raise LLMError(f"no LLM model configured: set {ENV_MODEL} (the model name the endpoint serves)")
        if not re.match(r"https?://", base_url):
            raise LLMError(f"LLM endpoint must be an http(s) URL, got {base_url!r}")
        self.url = (
            base_url
            if base_url.rstrip("/").endswith("/chat/completions")
            else (base_url.rstrip("/") + "/chat/completions")
        )
        self.model = model
        self.api_key = api_key or None
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        self.name = f"openai:{model}"

    @classmethod
    def from_env(cls, model: str | None = None, environ: dict[str, str] | None = None, **kwargs) -> OpenAIBackend:
        env = os.environ if environ is None else environ
        return cls(env.get(ENV_BASE_URL), model or env.get(ENV_MODEL), env.get(ENV_API_KEY), **kwargs)

    def complete(self, messages: list[Message]) -> str:
        with self._post(messages, stream=False) as response:
            body = self._read(response)
        return _message_content(_parse_json(body, self.url))

    def stream(self, messages: list[Message]) -> Iterator[str]:
        with self._post(messages, stream=True) as response:
            if "text/event-stream" not in (response.headers.get("Content-Type") or ""):
                # A server that ignores "stream": one JSON reply (or an error it sent as 200).
                content = _message_content(_parse_json(self._read(response), self.url))
                if content:
                    yield content
                return
            yield from self._events(response)

    def _post(self, messages: list[Message], stream: bool) -> http.client.HTTPResponse:
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": stream,
            **self.extra_body,
        }
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = _excerpt(exc)
            raise LLMError(f"LLM endpoint {self.url} answered HTTP {exc.code} {exc.reason}: {detail}") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectionRefusedError):
                raise LLMError(
                    f"cannot connect to LLM endpoint {self.url}: connection refused "
                    f"(is the server running? check {ENV_BASE_URL})"
                ) from exc
            if isinstance(reason, TimeoutError):
                raise LLMError(f"LLM endpoint {self.url} did not answer within {self.timeout:g}s") from exc
            raise LLMError(f"cannot reach LLM endpoint {self.url}: {reason}") from exc
        except TimeoutError as exc:
            raise LLMError(f"LLM endpoint {self.url} did not answer within {self.timeout:g}s") from exc
        except (ConnectionError, http.client.HTTPException) as exc:
            raise LLMError(f"connection to LLM endpoint {self.url} failed: {exc!r}") from exc

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        try:
            return response.read()
        except TimeoutError as exc:
            raise LLMError(f"LLM endpoint {self.url} stopped answering (no data for {self.timeout:g}s)") from exc
        except (ConnectionError, http.client.HTTPException) as exc:
            raise LLMError(f"connection to LLM endpoint {self.url} broke: {exc!r}") from exc

    def _events(self, response: http.client.HTTPResponse) -> Iterator[str]:
        """The text deltas of a server-sent event stream: `data: {...}` lines until `data: [DONE]`."""
        while True:
            try:
                raw = response.readline()
            except TimeoutError as exc:
                raise LLMError(f"LLM stream from {self.url} stalled (no data for {self.timeout:g}s)") from exc
            except (ConnectionError, http.client.HTTPException) as exc:
                raise LLMError(f"LLM stream from {self.url} broke: {exc!r}") from exc
            if not raw:
                return  # the server closed the stream without [DONE]: what came is the answer
            line = raw.decode("utf-8", errors="replace").strip()
            if not line.startswith("data:"):
                continue  # blank separators, ": comments", "event:" and "id:" lines
            data = line[5:].strip()
            if data == "[DONE]":
                return
            event = _parse_json(data.encode("utf-8"), self.url)
            if "error" in event:
                raise LLMError(f"LLM endpoint {self.url} reported an error mid-stream: {_error_text(event)}")
            try:
                choices = event["choices"]
                # A usage-only event has no choices.
                delta = (choices[0].get("delta") or {}) if choices else {}
            except (KeyError, TypeError, AttributeError, IndexError) as exc:
                raise LLMError(f"malformed stream event from {self.url}: {data[:300]}") from exc
            piece = delta.get("content") if isinstance(delta, dict) else None
            if piece:
                yield piece


def _excerpt(exc: urllib.error.HTTPError, limit: int = 500) -> str:
    try:
        body = exc.read().decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - the status line is still worth reporting
        body = ""
    try:
        body = _error_text(json.loads(body)) or body
    except ValueError:
        pass
    body = " ".join(body.split())
    return (body[:limit] + "…" if len(body) > limit else body) or "(empty body)"


def _error_text(obj: object) -> str:
    if isinstance(obj, dict) and "error" in obj:
        err = obj["error"]
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    return ""


def _parse_json(body: bytes, url: str) -> dict:
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        text = body.decode("utf-8", errors="replace")
        raise LLMError(f"malformed response from LLM endpoint {url} (not JSON): {text[:300]!r}") from exc
    if not isinstance(obj, dict):
        raise LLMError(f"malformed response from LLM endpoint {url}: expected a JSON object, got {str(obj)[:300]}")
    return obj


def _message_content(obj: dict) -> str:
    if "error" in obj:
        raise LLMError(f"LLM endpoint reported an error: {_error_text(obj)}")
    try:
        content = obj["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(
            f"malformed chat-completions response (no choices[0].message.content): "
            f"{json.dumps(obj, ensure_ascii=False)[:300]}"
        ) from exc
    if content is not None and not isinstance(content, str):
        raise LLMError(f"malformed chat-completions response: content is {type(content).__name__}")
    return content or ""


# ------------------------------------------------------------------------------------ local transformers


class TransformersBackend:
    """A local causal LM loaded by path (never downloaded): chat template when the tokenizer has one, else a
    plain prompt; greedy decoding of at most `max_new_tokens`."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_new_tokens: int = 256,
        device: str | None = None,
        stream_timeout: float | None = 600.0,
    ):
        path = Path(path).expanduser()
        if not path.is_dir():
            raise LLMError(f"no local model folder at {path} (give the path of a saved transformers model)")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - both are dependencies of govqa
            raise LLMError(f"the transformers backend needs torch and transformers: {exc}") from exc
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise LLMError(f"cannot load a causal LM from {path}: {exc}") from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.stream_timeout = stream_timeout
        self.name = f"transformers:{path}"

    def render(self, messages: list[Message]) -> str:
        return render_prompt(self.tokenizer, messages)

    def _inputs(self, messages: list[Message]) -> dict:
        prompt = self.render(messages)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        # A rendered chat template already holds its special tokens.
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=not has_template)
        length = int(inputs["input_ids"].shape[1])
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(
            self.model.config, "n_positions", None
        )
        if limit and length + self.max_new_tokens > limit:
            raise LLMError(
                f"prompt of {length} tokens + {self.max_new_tokens} new tokens exceeds the "
                f"model's {limit}-token window; ask with fewer passages (k)"
            )
        return {k: v.to(self.device) for k, v in inputs.items()}

    def _generate_kwargs(self, inputs: dict) -> dict:
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        return {**inputs, "max_new_tokens": self.max_new_tokens, "do_sample": False, "pad_token_id": pad}

    def complete(self, messages: list[Message]) -> str:
        import torch

        inputs = self._inputs(messages)
        try:
            with torch.inference_mode():
                out = self.model.generate(**self._generate_kwargs(inputs))
        except (RuntimeError, ValueError) as exc:
            raise LLMError(f"generation failed: {exc}") from exc
        new = out[0, inputs["input_ids"].shape[1] :]
        return self.tokenizer.decode(new, skip_special_tokens=True)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.stream_timeout
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**self._generate_kwargs(inputs), streamer=streamer)
            except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="govqa-generate", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            thread.join(timeout=self.stream_timeout)
        if failure:
            raise LLMError(f"generation failed: {failure[0]}") from failure[0]


def render_prompt(tokenizer, messages: list[Message]) -> str:
    """The chat template's rendering when the tokenizer has one, else `plain_prompt`."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return plain_prompt(messages)


def load_backend(spec: str, **kwargs) -> ChatBackend:
    """`openai` (endpoint from the environment), `openai:MODEL` (model overridden) or `transformers:/path`."""
    kind, _, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "openai":
        return OpenAIBackend.from_env(model=arg or None, **kwargs)
    if kind == "transformers":
        if not arg:
            raise LLMError("--llm transformers needs a model folder: transformers:/path/to/model")
        return TransformersBackend(arg, **kwargs)
    raise LLMError(f"unknown LLM backend {spec!r}: use 'openai', 'openai:MODEL' or 'transformers:/path/to/model'")
