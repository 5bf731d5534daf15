"""Optional LLM answerers: a model writes the answer from the retrieved passages; each sentence is checked.

Offline by default: nothing here runs unless a caller (or `govqa ask --llm ...`) picks a backend.

    >>> from govqa.qa.generation import LLMAnswerer, OpenAIBackend, TransformersBackend
    >>> backend = OpenAIBackend.from_env()  # GOVQA_LLM_BASE_URL, _MODEL, _API_KEY    # doctest: +SKIP
    >>> backend = TransformersBackend("/models/Qwen2.5-0.5B-Instruct")              # doctest: +SKIP
    >>> llm = LLMAnswerer(qa.retriever, backend, k=5)                               # doctest: +SKIP
    >>> llm.answer("塘桥街道2019年拆除了多少违章建筑?")                              # doctest: +SKIP
    >>> stream = llm.stream("塘桥街道2019年拆除了多少违章建筑?")                     # doctest: +SKIP
    >>> for piece in stream: print(piece, end="")  # the model's raw text, as written  # doctest: +SKIP
    >>> stream.answer                               # then the verified Answer        # doctest: +SKIP

Backends (anything with `complete(messages) -> str` and `stream(messages) -> Iterator[str]` will do):

* `OpenAIBackend`: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, hosted Qwen/DeepSeek),
  spoken with the standard library only; `stream` reads the server-sent events of `"stream": true`.
* `TransformersBackend`: a local causal LM by path, greedy decoding, streamed with `TextIteratorStreamer`.

Verification (`verify_answer`). The model's text is split into sentences; a citation mark written after the
sentence's full stop (`……。[1]`) belongs to that sentence. A sentence is kept only if

1. it cites at least one passage, and every mark [n] names a passage that was given (1 <= n <= hits);
2. at least `min_support` (default 0.6) of its distinct character bigrams - marks, punctuation and spaces
   removed, NFKC-normalised, lower-cased - occur in the cited passages (their text plus the title / street /
   year / section line the prompt showed the model);
3. every number in it (Arabic digits; 1,580 reads as 1580) occurs as a number in the cited passages.

Other sentences are dropped from `Answer.text` and listed, as written, in `Answer.flagged`. A kept
sentence's marks are renumbered: each citation is one verbatim sentence of a cited passage - the one that
best matches the answer sentence (Dice coefficient of character bigrams) - with its paragraph number and
character offsets in the cleaned document, as `answering.ExtractiveAnswerer` reports them. If no sentence
survives, or the model replies NOT_FOUND, the answer is NOT_FOUND with `supported=False`. No hits: NOT_FOUND
without calling the model.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..ingest.chunking import sentence_spans
from ..records import Answer, Citation, Filters, Hit
from .answering import NOT_FOUND
from .retrieval import Retriever

Message = dict[str, str]

ENV_BASE_URL = "GOVQA_LLM_BASE_URL"
ENV_MODEL = "GOVQA_LLM_MODEL"
ENV_API_KEY = "GOVQA_LLM_API_KEY"


class LLMError(RuntimeError):
    """No answer from a backend: not configured, unreachable, an HTTP error, a malformed reply."""


class ChatBackend(Protocol):
    name: str

    def complete(self, messages: list[Message]) -> str: ...

    def stream(self, messages: list[Message]) -> Iterator[str]: ...


# --------------------------------------------------------------------------------------------- the prompt

SYSTEM_PROMPT = (
    "你是政府工作报告问答助手。你只能依据用户给出的编号资料回答问题，不得使用资料以外的知识，不得推测或编造。"
)

INSTRUCTIONS = (
    "要求：\n"
    "1. 只根据以上资料回答，用简洁的中文陈述句。\n"
    "2. 每一句话都必须在句末用 [n] 标注它依据的资料编号（n 是上面资料的编号），例如：……共1580套[1]。\n"
    "3. 数字、名称、时间必须与资料原文一致，不要改写数字，不要编造。\n"
    f"4. 如果资料中没有能回答问题的内容，只回复：{NOT_FOUND}"
)


def passage_header(n: int, hit: Hit) -> str:
    """The line that introduces passage [n] in the prompt: document title, street, year(s), section path."""
    meta = hit.meta
    parts = [f"[{n}] 《{meta.title}》"]
    if meta.street or meta.district:
        parts.append(f"街道：{meta.street or meta.district}")
    if meta.year_start is not None:
        years = str(meta.year_start)
        if meta.year_end and meta.year_end != meta.year_start:
            years += f"-{meta.year_end}"
        parts.append(f"年份：{years}年")
    parts.append(f"章节：{' > '.join(hit.chunk.section_path) or '正文'}")
    return " | ".join(parts)


def build_messages(question: str, hits: Sequence[Hit]) -> list[Message]:
    """The chat messages: a system rule, then the numbered passages [1]..[k], the question, the rules."""
    passages = "\n\n".join(
        f"{passage_header(n, hit)}\n{hit.chunk.text}" for n, hit in enumerate(hits, start=1)
    )
    user = f"资料：\n{passages}\n\n问题：{question.strip()}\n\n{INSTRUCTIONS}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def plain_prompt(messages: list[Message]) -> str:
    """A prompt for models without a chat template."""
    body = "\n\n".join(m["content"] for m in messages)
    return f"{body}\n\n回答："


# ---------------------------------------------------------------------------------- OpenAI-compatible HTTP


class OpenAIBackend:
    """An OpenAI-compatible `/chat/completions` endpoint, through urllib only.

    `base_url` is the API root (`http://localhost:8000/v1` for vLLM, `http://localhost:11434/v1` for Ollama);
    a URL that already ends in `/chat/completions` is used as is. `timeout` bounds connecting and each read.
    """

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 timeout: float = 120.0, max_tokens: int = 512, temperature: float = 0.0,
                 extra_body: dict | None = None):  # fmt: skip
        base_url = (base_url or "").strip()
        model = (model or "").strip()
        if not base_url:
            raise LLMError(f"no LLM endpoint configured: set {ENV_BASE_URL} (e.g. http://localhost:8000/v1)")
        if not model:
            raise LLMError(f"no LLM model configured: set {ENV_MODEL} (the model name the endpoint serves)")
        if not re.match(r"https?://", base_url):
            raise LLMError(f"LLM endpoint must be an http(s) URL, got {base_url!r}")
        self.url = base_url if base_url.rstrip("/").endswith("/chat/completions") else (
            base_url.rstrip("/") + "/chat/completions")  # fmt: skip
        self.model = model
        self.api_key = api_key or None
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        self.name = f"openai:{model}"

    @classmethod
    def from_env(
        cls, model: str | None = None, environ: dict[str, str] | None = None, **kwargs
    ) -> OpenAIBackend:
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
        payload = {"model": self.model, "messages": messages, "temperature": self.temperature,
                   "max_tokens": self.max_tokens, "stream": stream, **self.extra_body}  # fmt: skip
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.url, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = _excerpt(exc)
            raise LLMError(
                f"LLM endpoint {self.url} answered HTTP {exc.code} {exc.reason}: {detail}"
            ) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectionRefusedError):
                raise LLMError(f"cannot connect to LLM endpoint {self.url}: connection refused "
                               f"(is the server running? check {ENV_BASE_URL})") from exc  # fmt: skip
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
            raise LLMError(
                f"LLM endpoint {self.url} stopped answering (no data for {self.timeout:g}s)"
            ) from exc
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
        raise LLMError(
            f"malformed response from LLM endpoint {url}: expected a JSON object, got {str(obj)[:300]}"
        )
    return obj


def _message_content(obj: dict) -> str:
    if "error" in obj:
        raise LLMError(f"LLM endpoint reported an error: {_error_text(obj)}")
    try:
        content = obj["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"malformed chat-completions response (no choices[0].message.content): "
                       f"{json.dumps(obj, ensure_ascii=False)[:300]}") from exc  # fmt: skip
    if content is not None and not isinstance(content, str):
        raise LLMError(f"malformed chat-completions response: content is {type(content).__name__}")
    return content or ""


# ------------------------------------------------------------------------------------ local transformers


class TransformersBackend:
    """A local causal LM loaded by path (never downloaded): chat template when the tokenizer has one, else a
    plain prompt; greedy decoding of at most `max_new_tokens`."""

    def __init__(self, path: str | Path, *, max_new_tokens: int = 256, device: str | None = None,
                 stream_timeout: float | None = 600.0):  # fmt: skip
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
            self.model.config, "n_positions", None)  # fmt: skip
        if limit and length + self.max_new_tokens > limit:
            raise LLMError(f"prompt of {length} tokens + {self.max_new_tokens} new tokens exceeds the "
                           f"model's {limit}-token window; ask with fewer passages (k)")  # fmt: skip
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
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.stream_timeout)  # fmt: skip
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
    raise LLMError(
        f"unknown LLM backend {spec!r}: use 'openai', 'openai:MODEL' or 'transformers:/path/to/model'"
    )


# ------------------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class VerifyConfig:
    # Share of a sentence's distinct character bigrams that must occur in its cited passages.
    min_support: float = 0.6
    # A sentence citing several passages gets a citation for each whose best-matching sentence holds at
    # least this share of its bigrams (the best-matching passage is always cited).
    min_quote_overlap: float = 0.3


@dataclass(frozen=True)
class SentenceCheck:
    """The verdict on one sentence of the model's text."""

    sentence: str  # as the model wrote it, marks included
    cited: tuple[int, ...]  # the passage numbers its marks name
    support: float  # share of its character bigrams in the cited passages (0: nothing valid cited)
    missing_numbers: tuple[str, ...]  # numbers it states that the cited passages do not
    problem: str | None  # None: kept; else why it was flagged

    @property
    def kept(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Verification:
    answer: Answer
    checks: tuple[SentenceCheck, ...]
    raw: str  # the model's text, unchanged


_MARK = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*[\]】］]")
_LEADING_MARKS = re.compile(r"^\s*(?:[\[【［]\s*\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*\s*[\]】］]\s*)+")
# "1. " "- " "2、" "(3)" "四、" at the start of a line: list numbering, not numbers the answer states.
_LIST_PREFIX = re.compile(
    r"^\s*(?:[-*•·]\s|\d{1,2}\.\s|\d{1,2}[、)）]|[（(]\d{1,2}[)）]|[一二三四五六七八九十]+、)\s*"
)
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
# A number and, when one follows it, its unit: "1580套" must be in the passage as 1580 followed by 套.
_QUANTITY = re.compile(
    r"(\d+(?:\.\d+)?)\s*(%|[万亿千百个家人名户次项处条所座栋辆台块场批期套间件元米年月日天岁倍张本])?"
)
_DIGIT_COMMA = re.compile(r"(?<=\d)[,，](?=\d{3})")


def _norm(text: str) -> str:
    """NFKC, lower case, only letters/digits/CJK kept: what bigrams and numbers are read from."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def _bigrams(norm: str) -> set[str]:
    if len(norm) == 1:
        return {norm}
    return {norm[i : i + 2] for i in range(len(norm) - 1)}


def _numbers(text: str, stated: bool = False) -> set[str]:
    """The numbers in `text`, canonical (1,580 and 1580.0 read as 1580), each also with its unit if any.

    `stated=True` (for a sentence being checked): a number with a unit is listed only with its unit, so the
    passage must hold that pairing; a passage's numbers are listed both ways.
    """
    text = _DIGIT_COMMA.sub("", unicodedata.normalize("NFKC", text))
    out: set[str] = set()
    for m in _QUANTITY.finditer(text):
        number, unit = _canonical_number(m.group(1)), m.group(2)
        if unit:
            out.add(number + unit)
        if not (unit and stated):
            out.add(number)
    return out


def _canonical_number(n: str) -> str:
    if "." in n:
        n = n.rstrip("0").rstrip(".")
    return n.lstrip("0") or "0"


def _mark_numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", group.strip()):
        if m := re.fullmatch(r"(\d+)\s*[-–~]\s*(\d+)", part):
            a, b = int(m.group(1)), int(m.group(2))
            out.extend(range(a, b + 1) if 0 < b - a < 20 else (a, b))
        elif part.isdigit():
            out.append(int(part))
    return out


def answer_sentences(raw: str) -> list[str]:
    """The model's text cut into sentences; marks after a full stop (`……。[1][2]`) join their sentence."""
    text = _THINK.sub("", raw)
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_PREFIX.sub("", line)
        for a, b in sentence_spans(line):
            piece = line[a:b]
            lead = _LEADING_MARKS.match(piece)
            if lead and sentences:
                sentences[-1] += lead.group(0).strip()
                piece = piece[lead.end() :]
            if piece.strip():
                sentences.append(piece.strip())
    return sentences


def _is_not_found(norm: str) -> bool:
    target = _norm(NOT_FOUND)
    return target in norm and len(norm) <= len(target) + 8


def _reference_text(hit: Hit) -> str:
    """What a sentence citing this passage may draw on: the passage as the prompt showed it, less its [n]."""
    header = passage_header(0, hit).removeprefix("[0] ")
    return f"{header}\n{hit.chunk.text}"


@dataclass(frozen=True)
class _PassageSentence:
    text: str
    start: int  # in the document's cleaned text
    end: int
    paragraph: int
    grams: frozenset[str]


def passage_sentences(hit: Hit) -> list[_PassageSentence]:
    """A chunk's sentences, paragraph by paragraph, with offsets in the cleaned document (as answering.py)."""
    chunk = hit.chunk
    out: list[_PassageSentence] = []
    offset = 0
    for number, line in enumerate(chunk.text.split("\n")):
        for a, b in sentence_spans(line):
            piece = line[a:b]
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            start = chunk.char_start + offset + a + lead
            out.append(_PassageSentence(stripped, start, start + len(stripped), chunk.para_start + number,
                                        frozenset(_bigrams(_norm(stripped)))))  # fmt: skip
        offset += len(line) + 1
    return out


def verify_answer(question: str, raw: str, hits: Sequence[Hit], filters: Filters | None = None,
                  config: VerifyConfig | None = None) -> Verification:  # fmt: skip
    """Check each sentence of the model's text `raw` against the passages it cites (see the module doc)."""
    config = config or VerifyConfig()
    filters = filters or Filters()
    hits = tuple(hits)
    references = [_reference_text(h) for h in hits]
    ref_grams = [_bigrams(_norm(r)) for r in references]
    ref_numbers = [_numbers(r) for r in references]
    sentences_of: dict[int, list[_PassageSentence]] = {}

    checks: list[SentenceCheck] = []
    kept: list[tuple[str, list[int]]] = []  # (sentence without marks, cited passage numbers)
    for sentence in answer_sentences(raw):
        cited = list(dict.fromkeys(n for m in _MARK.finditer(sentence) for n in _mark_numbers(m.group(1))))
        bare = _MARK.sub("", sentence).strip()
        norm = _norm(bare)
        if not norm:
            continue  # punctuation or marks alone
        if _is_not_found(norm):
            continue  # the model's NOT_FOUND reply (beside supported sentences it is simply dropped)
        problem: str | None = None
        support, missing = 0.0, ()
        invalid = [n for n in cited if not 1 <= n <= len(hits)]
        if not cited:
            problem = "no citation"
        elif invalid:
            problem = f"cites {', '.join(f'[{n}]' for n in invalid)}, not among the {len(hits)} passages"
        else:
            grams = _bigrams(norm)
            pool = set().union(*(ref_grams[n - 1] for n in cited))
            support = len(grams & pool) / len(grams)
            known = set().union(*(ref_numbers[n - 1] for n in cited))
            missing = tuple(sorted(_numbers(bare, stated=True) - known))
            if missing:
                problem = f"numbers not in the cited passages: {', '.join(missing)}"
            elif support < config.min_support:
                problem = f"unsupported: {support:.0%} of its wording is in the cited passages"
        checks.append(SentenceCheck(sentence, tuple(cited), support, missing, problem))
        if problem is None:
            kept.append((bare, cited))

    flagged = tuple(c.sentence for c in checks if not c.kept)
    if not kept:
        answer = Answer(question, NOT_FOUND, (), False, hits, filters, flagged)
        return Verification(answer, tuple(checks), raw)

    citations: list[Citation] = []
    by_place: dict[tuple[str, int], int] = {}
    parts: list[str] = []
    for bare, cited in kept:
        grams = _bigrams(_norm(bare))
        quotes: list[tuple[float, int, _PassageSentence]] = []  # (share of the sentence's bigrams, n, quote)
        for n in cited:
            if n not in sentences_of:
                sentences_of[n] = passage_sentences(hits[n - 1])
            candidates = sentences_of[n]
            if candidates:
                best = max(candidates, key=lambda s: (_dice(grams, s.grams), -len(s.text)))
                quotes.append((len(grams & best.grams) / len(grams), n, best))
        top = max((q[0] for q in quotes), default=0.0)
        marks: list[int] = []
        for share, n, best in quotes:
            if share < top and share < config.min_quote_overlap:
                continue  # a passage cited beside a better one that holds little of the sentence
            hit = hits[n - 1]
            place = (hit.chunk.doc_id, best.start)
            if place not in by_place:
                by_place[place] = len(citations) + 1
                citations.append(Citation(by_place[place], hit.chunk.doc_id, hit.meta.title, hit.meta.street,
                                          hit.chunk.section_path, best.paragraph, best.text, best.start,
                                          best.end))  # fmt: skip
            if by_place[place] not in marks:
                marks.append(by_place[place])
        parts.append(bare + "".join(f"[{m}]" for m in marks))
    answer = Answer(question, "".join(parts), tuple(citations), True, hits, filters, flagged)
    return Verification(answer, tuple(checks), raw)


def _dice(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


# ------------------------------------------------------------------------------------------ the answerer


class AnswerStream:
    """The model's text as it is written, then the verified answer.

    Iterate it (once) for the raw text pieces; afterwards `.answer` is the verified `Answer`, `.checks`
    the per-sentence verdicts and `.raw` the whole text (the pieces joined). Reading `.answer` before the
    iteration has finished reads the rest of the model's text first. Backend failures (`LLMError`) surface
    while iterating.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Verification]):
        self._pieces = pieces
        self._finish = finish
        self._parts: list[str] = []
        self._result: Verification | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("an AnswerStream can be iterated only once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[str]:
        for piece in self._pieces:  # not `yield from`: leaving the loop early must not close the source
            self._parts.append(piece)
            yield piece
        self._complete()

    def _complete(self) -> Verification:
        if self._result is None:
            for piece in self._pieces:
                self._parts.append(piece)
            self._started = True
            self._result = self._finish("".join(self._parts))
        return self._result

    @property
    def answer(self) -> Answer:
        return self._complete().answer

    @property
    def checks(self) -> tuple[SentenceCheck, ...]:
        return self._complete().checks

    @property
    def raw(self) -> str:
        return self._complete().raw


class LLMAnswerer:
    """Retrieve k passages, let the backend answer from them, keep only the sentences they support."""

    def __init__(
        self, retriever: Retriever, backend: ChatBackend, k: int = 5, config: VerifyConfig | None = None
    ):
        self.retriever = retriever
        self.backend = backend
        self.k = k
        self.config = config or VerifyConfig()

    def retrieve(self, question: str, filters: Filters | None = None) -> tuple[list[Hit], Filters]:
        resolved = self.retriever.resolve_filters(question.strip(), filters)
        hits = self.retriever.search(question, k=self.k, filters=resolved, infer=False)
        return hits, resolved

    def answer(self, question: str, filters: Filters | None = None) -> Answer:
        hits, resolved = self.retrieve(question, filters)
        if not hits:
            return Answer(question, NOT_FOUND, (), False, (), resolved)
        raw = self.backend.complete(build_messages(question, hits))
        return self.verify(question, raw, hits, resolved).answer

    def stream(self, question: str, filters: Filters | None = None) -> AnswerStream:
        """Retrieval runs now (question errors raise here); the model runs as the stream is iterated."""
        hits, resolved = self.retrieve(question, filters)
        if not hits:
            return AnswerStream(iter(()), lambda raw: Verification(
                Answer(question, NOT_FOUND, (), False, (), resolved), (), raw))  # fmt: skip
        pieces = self.backend.stream(build_messages(question, hits))
        return AnswerStream(pieces, lambda raw: self.verify(question, raw, hits, resolved))

    def verify(
        self, question: str, raw: str, hits: Sequence[Hit], filters: Filters | None = None
    ) -> Verification:
        return verify_answer(question, raw, hits, filters, self.config)


def llm_answer(retriever: Retriever, spec: str, question: str, filters: Filters | None = None, k: int = 5,
               on_text: Callable[[str], None] | None = None) -> Answer:  # fmt: skip
    """Answer with the backend `spec` names (see `load_backend`); `on_text` gets the raw text as it comes."""
    answerer = LLMAnswerer(retriever, load_backend(spec), k=k)
    if on_text is None:
        return answerer.answer(question, filters)
    stream = answerer.stream(question, filters)
    for piece in stream:
        on_text(piece)
    return stream.answer
