"""LLM answerers (govqa.qa.generation): an OpenAI-compatible endpoint on 127.0.0.1, a tiny random local causal
LM, and the verification that keeps only the sentences the cited passages support. Nothing is downloaded."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from govqa.cli import cli
from govqa.qa.answering import NOT_FOUND
from govqa.qa.generation import (
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MODEL,
    LLMAnswerer,
    LLMError,
    OpenAIBackend,
    TransformersBackend,
    answer_sentences,
    build_messages,
    load_backend,
    render_prompt,
    verify_answer,
)
from govqa.records import Chunk, DocMeta, Filters, Hit

QUESTION = "长寿路街道2018年拆除了多少套群租房?"
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ a chat-completions server on 127.0.0.1


def passages_in(prompt: str) -> dict[int, str]:
    """The passage texts of a govqa prompt, by number (what a model would read)."""
    found = re.finditer(r"^<<资料(\d+) (\w+)>>\n\[\d+\] 《[^\n]*\n(.*?)\n<</资料\1 \2>>$", prompt, re.S | re.M)
    return {int(m.group(1)): m.group(3) for m in found}


def first_sentence(passage: str, min_len: int = 12) -> str:
    for line in passage.split("\n"):
        for sentence in re.findall(r"[^。]+。", line):
            if len(sentence.strip()) >= min_len:
                return sentence.strip()
    raise AssertionError(f"no sentence in {passage!r}")


def canned_reply(prompt: str) -> dict[str, str]:
    """A copied sentence of passage [1] (kept), and three that verification must drop."""
    passages = passages_in(prompt)
    copied = first_sentence(passages[1])
    made_up_number = copied.rstrip("。") + "，投入资金98765万元[1]。"  # [1]'s wording, a number not in [1]
    made_up_words = "街道还建成了一座月球观测基地和海底隧道[1]。"  # no number, wording not in [1]
    out_of_range = first_sentence(passages[2]).rstrip("。") + "[9]。"  # [9]: there are only 5 passages
    text = f"{copied}[1]\n{made_up_number}{made_up_words}{out_of_range}"
    return {
        "text": text,
        "copied": copied,
        "made_up_number": made_up_number,
        "made_up_words": made_up_words,
        "out_of_range": out_of_range,
    }


class FakeChat(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.mode = "ok"  # ok | 500 | garbage | slow
        self.requests: list[dict] = []
        self.replies: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    server: FakeChat

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        mode = self.server.mode
        if mode == "slow":
            time.sleep(1.0)
        if mode == "500":
            self._send(500, "application/json", b'{"error": {"message": "model overloaded, try later"}}')
            return
        if mode == "garbage":
            self._send(200, "application/json", b"<html>502 Bad Gateway</html>")
            return
        reply = canned_reply(body["messages"][-1]["content"])
        self.server.replies.append(reply)
        text = reply["text"]
        if not body.get("stream"):
            payload = {
                "id": "x",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            }
            self._send(200, "application/json", json.dumps(payload, ensure_ascii=False).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.end_headers()
        events = [{"role": "assistant"}] + [{"content": text[i : i + 7]} for i in range(0, len(text), 7)]
        self.wfile.write(b": keep-alive\n\n")
        for delta in events:
            event = {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        done = {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = FakeChat()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_endpoint_answer_keeps_the_supported_sentence_and_flags_the_rest(qa, server):
    backend = OpenAIBackend(server.url, "test-model", "sekrit", timeout=10)
    answerer = LLMAnswerer(qa.retriever, backend, k=5)
    answer = answerer.answer(QUESTION)

    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sekrit"
    assert request["body"]["model"] == "test-model" and request["body"]["stream"] is False
    roles = [m["role"] for m in request["body"]["messages"]]
    assert roles == ["system", "user"]
    prompt = request["body"]["messages"][-1]["content"]
    assert QUESTION in prompt and NOT_FOUND in prompt and "[n]" in prompt
    assert sorted(passages_in(prompt)) == [1, 2, 3, 4, 5]

    reply = server.replies[-1]
    hit = answer.hits[0]
    assert answer.supported
    assert answer.text == f"{reply['copied']}[1]"
    assert answer.flagged == (reply["made_up_number"], reply["made_up_words"], reply["out_of_range"])
    assert len(answer.citations) == 1
    c = answer.citations[0]
    assert (c.n, c.doc_id, c.title, c.street, c.section_path) == (
        1,
        hit.chunk.doc_id,
        hit.meta.title,
        hit.meta.street,
        hit.chunk.section_path,
    )
    doc = qa.document(c.doc_id)
    assert c.quote == reply["copied"] == doc.text[c.char_start : c.char_end]
    assert c.quote in doc.paragraph(c.paragraph).text
    assert hit.chunk.para_start <= c.paragraph <= hit.chunk.para_end

    checks = answerer.verify(QUESTION, reply["text"], answer.hits).checks
    assert [c.kept for c in checks] == [True, False, False, False]
    assert checks[1].missing_numbers == ("98765万元",) and "numbers" in checks[1].problem
    assert checks[2].support < 0.6 and "unsupported" in checks[2].problem
    assert checks[3].cited == (9,) and "[9]" in checks[3].problem


def test_endpoint_streams_pieces_then_the_same_verified_answer(qa, server):
    answerer = LLMAnswerer(qa.retriever, OpenAIBackend(server.url, "test-model", timeout=10))
    stream = answerer.stream(QUESTION)
    pieces = list(stream)
    raw = server.replies[-1]["text"]
    assert server.requests[-1]["body"]["stream"] is True
    assert "Authorization" not in server.requests[-1]["headers"]
    assert len(pieces) > 3 and "".join(pieces) == raw == stream.raw
    assert stream.answer == answerer.answer(QUESTION)
    assert stream.answer.supported and len(stream.answer.flagged) == 3


def test_endpoint_errors_are_clear(qa, server):
    backend = OpenAIBackend(server.url, "test-model", timeout=10)
    messages = [{"role": "user", "content": "hi"}]
    server.mode = "500"
    for call in (backend.complete, lambda m: "".join(backend.stream(m))):
        with pytest.raises(LLMError, match=r"HTTP 500.*model overloaded, try later"):
            call(messages)
    server.mode = "garbage"
    with pytest.raises(LLMError, match=r"malformed response.*502 Bad Gateway"):
        backend.complete(messages)
    server.mode = "slow"
    with pytest.raises(LLMError, match=r"did not answer within 0.2s"):
        OpenAIBackend(server.url, "test-model", timeout=0.2).complete(messages)

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = LLMAnswerer(qa.retriever, OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", timeout=5))
    with pytest.raises(LLMError, match="connection refused"):
        refused.answer(QUESTION)
    with pytest.raises(LLMError, match="connection refused"):
        list(refused.stream(QUESTION))


def test_endpoint_configuration_from_the_environment(monkeypatch, server):
    monkeypatch.delenv(ENV_BASE_URL, raising=False)
    with pytest.raises(LLMError, match=ENV_BASE_URL):
        load_backend("openai")
    monkeypatch.setenv(ENV_BASE_URL, server.url + "/")
    monkeypatch.delenv(ENV_MODEL, raising=False)
    with pytest.raises(LLMError, match=ENV_MODEL):
        load_backend("openai")
    monkeypatch.setenv(ENV_MODEL, "qwen2.5-7b-instruct")
    monkeypatch.setenv(ENV_API_KEY, "k")
    backend = load_backend("openai")
    assert backend.url == server.url + "/chat/completions"
    assert (backend.model, backend.api_key) == ("qwen2.5-7b-instruct", "k")
    assert load_backend("openai:deepseek-chat").model == "deepseek-chat"
    with pytest.raises(LLMError, match="unknown LLM backend"):
        load_backend("gpt5")


def test_no_hits_means_not_found_without_calling_the_model(qa):
    class Untouchable:
        name = "untouchable"

        def complete(self, messages):
            raise AssertionError("the model must not be called")

        stream = complete

    answerer = LLMAnswerer(qa.retriever, Untouchable())
    nowhere = Filters(street="不存在街道")
    answer = answerer.answer(QUESTION, nowhere)
    assert (answer.text, answer.supported, answer.citations, answer.hits) == (NOT_FOUND, False, (), ())
    stream = answerer.stream(QUESTION, nowhere)
    assert list(stream) == [] and stream.answer.text == NOT_FOUND and not stream.answer.supported


def test_cli_ask_llm_prints_only_the_verified_answer(corpus_index, server, monkeypatch):
    monkeypatch.setenv(ENV_BASE_URL, server.url)
    monkeypatch.setenv(ENV_MODEL, "test-model")
    args = ["ask", QUESTION, "--index", str(corpus_index), "--llm", "openai"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    reply = server.replies[-1]
    # The model's own text never reaches stdout as if it were the answer: only checked sentences do.
    assert reply["text"] not in result.output
    assert result.stdout.startswith(f"{reply['copied']}[1]") and f"“{reply['copied']}”" in result.stdout
    assert reply["made_up_words"] in result.stdout.split("unsupported, dropped")[2]

    draft = CliRunner().invoke(cli, [*args, "--draft"])  # the draft, labelled unchecked, on stderr only
    assert reply["text"] in draft.stderr and "unchecked" in draft.stderr and reply["text"] not in draft.stdout

    result = CliRunner().invoke(cli, [*args, "--json"])
    data = json.loads(result.stdout)  # a late server thread may write to stderr
    assert data["supported"] and data["answer"] == f"{reply['copied']}[1]" and len(data["flagged"]) == 3

    server.mode = "500"
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "HTTP 500" in result.output


# ---------------------------------------------------------------------------- a tiny local causal LM


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 1-layer GPT-2 with random weights and a character-level tokenizer, both built here."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-lm")
    text = (ROOT / "corpus" / "000_051ad83070a5de45.txt").read_text(encoding="utf-8")
    special = ["[PAD]", "[UNK]", "[EOS]"]
    vocab = {t: i for i, t in enumerate(special + sorted(set(text + "0123456789[]【】。，,：:|《》> \n")))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # one token per character
    tok.decoder = decoders.Fuse()
    PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    ).save_pretrained(path)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=4096,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=0,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_local_model_generates_streams_and_is_verified(qa, tiny_model):
    backend = load_backend(f"transformers:{tiny_model}")
    assert isinstance(backend, TransformersBackend)
    backend.max_new_tokens = 16
    answerer = LLMAnswerer(qa.retriever, backend, k=5)
    hits, _ = answerer.retrieve(QUESTION)
    messages = build_messages(QUESTION, hits, answerer.kind(QUESTION))  # the prompt stream() will send
    assert render_prompt(backend.tokenizer, messages).endswith("回答：")  # no chat template: a plain prompt

    raw = backend.complete(messages)
    assert raw.strip()  # it wrote something
    stream = answerer.stream(QUESTION)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == stream.raw == raw  # greedy: the same text either way
    # Random text cites no passage validly: it is flagged, never passed through as an answer.
    for answer in (stream.answer, answerer.answer(QUESTION)):
        assert (answer.text, answer.supported, answer.citations) == (NOT_FOUND, False, ())
        assert answer.flagged and all(sentence in raw for sentence in answer.flagged)


def test_local_model_chat_template_and_limits(tiny_model, tmp_path):
    backend = TransformersBackend(tiny_model, max_new_tokens=4)
    backend.tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    messages = [{"role": "system", "content": "只据资料回答。"}, {"role": "user", "content": "多少？"}]
    assert render_prompt(backend.tokenizer, messages) == "<system>只据资料回答。\n<user>多少？\n<assistant>"
    assert isinstance(backend.complete(messages), str)
    backend.max_new_tokens = 5000  # beyond the 4096-position window
    with pytest.raises(LLMError, match="window"):
        backend.complete(messages)
    with pytest.raises(LLMError, match="no local model folder"):
        TransformersBackend(tmp_path / "missing")
    with pytest.raises(LLMError, match="cannot load"):
        TransformersBackend(tmp_path)  # a folder, but no model in it


# ------------------------------------------------------------------------------ verification rules


def _hit(text: str, n: int = 1, para_start: int = 10, char_start: int = 1000) -> Hit:
    chunk = Chunk(
        f"doc{n}.txt#0",
        f"doc{n}.txt",
        ("一、2018年工作回顾",),
        para_start,
        para_start + text.count("\n"),
        char_start,
        char_start + len(text),
        text,
    )
    meta = DocMeta(f"报告{n}", street="塘桥街道", year_start=2018, year_end=2018)
    return Hit(chunk, meta, 1.0 / n, n)


HITS = (
    _hit("(一)平安建设\n拆除违法建筑1,234处，共计5.6万平方米。新建停车位300个。"),
    _hit("新开绿色账户8377户、累计覆盖居民33000户。", n=2),
)


def test_sentences_keep_marks_written_after_the_full_stop():
    raw = "<think>想想[3]。</think>1. 拆除违建1234处。[1][2]\n- 新建停车位300个【1】；共计5.6万平方米[1, 2]"
    assert answer_sentences(raw) == [
        "拆除违建1234处。[1][2]",
        "新建停车位300个【1】；",
        "共计5.6万平方米[1, 2]",
    ]


def test_verification_rules():
    raw = (
        "塘桥街道2018年拆除违法建筑1234处。[1]"  # comma-free number, place and year from the header: kept
        "新开绿色账户8377户[2]。"  # kept, cites passage 2
        "拆除违法建筑1234个[1]。"  # right number, wrong unit
        "新建停车位300个。"  # no citation
        "新建停车位300个[1]。"  # duplicate wording: kept again, same quote
    )
    result = verify_answer("塘桥街道拆除了多少违法建筑?", raw, HITS)
    assert [c.kept for c in result.checks] == [True, True, False, False, True]
    assert result.checks[2].missing_numbers == ("1234个",) and result.checks[3].problem == "no citation"
    answer = result.answer
    assert answer.text == "塘桥街道2018年拆除违法建筑1234处。[1]新开绿色账户8377户。[2]新建停车位300个。[3]"
    assert [(c.n, c.doc_id, c.paragraph, c.quote) for c in answer.citations] == [
        (1, "doc1.txt", 11, "拆除违法建筑1,234处，共计5.6万平方米。"),
        (2, "doc2.txt", 10, "新开绿色账户8377户、累计覆盖居民33000户。"),
        (3, "doc1.txt", 11, "新建停车位300个。"),
    ]
    first = answer.citations[0]
    assert first.char_start == 1000 + HITS[0].chunk.text.index(first.quote)
    assert answer.flagged == ("拆除违法建筑1234个[1]。", "新建停车位300个。")


def test_not_found_replies_and_nothing_supported():
    for raw in (NOT_FOUND, "未在报告中找到相关依据", "  \n"):
        answer = verify_answer("q", raw, HITS).answer
        assert (answer.text, answer.supported, answer.flagged) == (NOT_FOUND, False, ())
    answer = verify_answer("q", "街道建成了月球基地[1]。停车位多达9999个[1]。", HITS).answer
    assert (answer.text, answer.supported, answer.citations) == (NOT_FOUND, False, ())
    assert answer.flagged == ("街道建成了月球基地[1]。", "停车位多达9999个[1]。")


def test_a_weak_second_citation_is_not_kept():
    # Cites [1][2], but passage 2 holds none of it: one citation, to the sentence of passage 1.
    answer = verify_answer("q", "新建停车位300个[1][2]。", HITS).answer
    assert answer.text == "新建停车位300个。[1]" and [c.doc_id for c in answer.citations] == ["doc1.txt"]


def test_llm_answers_go_through_the_front_door_with_follow_ups_and_pages(qa):
    """`GovQA.ask(..., llm=)`: the follow-up is resolved before retrieval, as for the extractive answer."""

    class Copier:
        name = "copier"
        seen: list = []

        def complete(self, messages):
            self.seen.append(messages)
            # Copies the first passage's first sentence, citing it: a supported answer.
            passage = messages[-1]["content"].split("[1]", 1)[1]
            return passage.strip().split("。")[0].split("\n")[-1] + "。[1]"

        def stream(self, messages):
            yield self.complete(messages)

    first = qa.ask("塘桥街道2019年拆除了多少违章建筑?")
    backend = Copier()
    answer = qa.ask("那长寿路街道呢?", history=[first], llm=backend)
    assert answer.question == "那长寿路街道呢?"
    assert answer.resolved_question.startswith("长寿路街道")
    assert "长寿路街道" in backend.seen[-1][-1]["content"]  # the model was asked the resolved question
    assert all(c.street == "长寿路街道" for c in answer.citations)
    pieces: list[str] = []
    streamed = qa.ask("那长寿路街道呢?", history=[first], llm=backend, on_text=pieces.append)
    assert pieces and streamed.text == answer.text
