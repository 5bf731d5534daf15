"""`govqa serve`: a real uvicorn server on 127.0.0.1, talked to with httpx and the official `openai` client.

Every server runs on a copy of the session index and corpus (uploads write to both), is started as a
subprocess of `govqa serve`, and is stopped by its pid.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from govqa.cli import cli
from govqa.index.store import Index
from govqa.qa.questions import MAX_K, QuestionError
from govqa.serialize import answer_json, comparison_json, hit_json
from testpaths import CORPUS, ROOT

KEY = "test-key-for-writes"
AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = "塘桥街道2019年拆除了多少违章建筑?"
START_TIMEOUT = 180  # model and index load on a busy 2-core machine
JOB_TIMEOUT = 300


class Server:
    def __init__(self, index: Path, corpus: Path, *args: str, env: dict[str, str] | None = None):
        self.index, self.corpus, self.args, self.extra_env = index, corpus, args, env or {}
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> Server:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "GOVQA_API_KEY": KEY, "PYTHONPATH": str(ROOT / "src"), **self.extra_env}
        self.log = (self.index.parent / f"server-{port}.log").open("wb")
        # --build-nice 0: on a machine shared with other jobs a niced build crawls; the benchmark measures it.
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "govqa.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--index",
                str(self.index),
                "--corpus",
                str(self.corpus),
                "--log-level",
                "warning",
                "--build-nice",
                "0",
                *self.args,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start in {START_TIMEOUT}s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-3000:]

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)


def copies(source_index: Path, root: Path) -> tuple[Path, Path]:
    shutil.copytree(source_index, root / "index")
    shutil.copytree(CORPUS, root / "corpus")
    return root / "index", root / "corpus"


@pytest.fixture(scope="module")
def server(corpus_index, tmp_path_factory):
    srv = Server(*copies(corpus_index, tmp_path_factory.mktemp("served")), "--max-upload-mb", "0.5").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def http(server):
    with server.client() as client:
        yield client


def wait_for_job(http: httpx.Client, job_id: str, during=None) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        if during:
            during(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def small_report(street: str, paragraphs: int = 12) -> str:
    """A real report's opening, renamed to a street the corpus does not have."""
    text = (CORPUS / "000_051ad83070a5de45.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()][: paragraphs + 4]
    return "\n\n".join(lines).replace("长寿路街道", street)


# ------------------------------------------------------------------------------------------ reads


def test_search_and_ask_are_the_library_records(http, qa):
    r = http.post("/v1/search", json={"question": QUESTION, "k": 3})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.json() == {"hits": [hit_json(h) for h in qa.search(QUESTION, k=3)]}
    assert r.json()["hits"][0]["street"] == "塘桥街道"

    r = http.post("/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200
    body = r.json()
    assert body == answer_json(qa.ask(QUESTION))
    assert body["supported"] and body["citations"]


def test_filters_and_modes_pass_through(http, qa):
    body = {"question": "垃圾分类", "street": "长寿路街道", "mode": "bm25", "k": 4}
    hits = http.post("/v1/search", json=body).json()["hits"]
    assert hits and {h["street"] for h in hits} == {"长寿路街道"}
    assert hits == [
        hit_json(h) for h in qa.search("垃圾分类", k=4, filters=qa_filters(street="长寿路街道"), mode="bm25")
    ]


def qa_filters(**kw):
    from govqa.records import Filters

    return Filters(**kw)


def test_bad_questions_get_422_with_the_reason(http):
    r = http.post("/v1/ask", json={"question": "问" * 1001})
    assert r.status_code == 422
    assert "上限为 1000" in r.json()["detail"] and "limit is 1000" in r.json()["detail"]
    r = http.post("/v1/search", json={"question": "  "})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    assert http.post("/v1/search", json={"question": QUESTION, "k": 0}).status_code == 422
    assert http.post("/v1/search", json={"question": QUESTION, "mode": "magic"}).status_code == 422
    r = http.post("/v1/search", content=b"x" * (2 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 413


def _refusals(http: httpx.Client):
    """One request for each way a request can be refused, with the status it must get."""
    yield (
        "malformed JSON",
        400,
        http.post("/v1/search", content=b'{"question": ', headers={"content-type": "application/json"}),
    )
    yield "no Content-Type", 415, http.post("/v1/search", content='{"question": "垃圾分类"}'.encode())
    yield "form body", 415, http.post("/v1/ask", data={"question": "垃圾分类"})
    yield "a field missing", 422, http.post("/v1/ask", json={"k": 3})
    yield "k out of range", 422, http.post("/v1/search", json={"question": QUESTION, "k": 0})
    yield "only control characters", 422, http.post("/v1/ask", json={"question": "\x00\x01\u200b\x7f"})
    yield "question too long", 422, http.post("/v1/ask", json={"question": "问" * 1001})
    yield "unknown route", 404, http.get("/v1/nothing-here")
    yield "wrong method", 405, http.get("/v1/search")
    yield "bad query value", 422, http.get("/v1/jobs", params={"limit": "many"})
    yield "no key", 401, http.post("/v1/documents", files={"file": ("a.txt", "塘桥街道".encode())})
    yield "unsupported type", 415, http.post("/v1/documents", files={"file": ("a.exe", b"MZ")}, headers=AUTH)
    yield (
        "upload as text/plain",
        415,
        http.post("/v1/documents", content=b"x", headers={**AUTH, "content-type": "text/plain"}),
    )
    yield (
        "too large",
        413,
        http.post("/v1/search", content=b"x" * (2 << 20), headers={"content-type": "application/json"}),
    )


def test_every_refusal_has_one_error_shape(http):
    """Every 4xx is {"error": {"message", "type", "code"}} (what OpenAI clients read) with the same text in `detail`."""
    for what, status, r in _refusals(http):
        assert r.status_code == status, (what, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json", what
        body = r.json()
        assert set(body) == {"detail", "error"}, (what, body)
        error = body["error"]
        assert error["code"] == status and error["type"] == "invalid_request_error", (what, body)
        assert isinstance(error["message"], str) and error["message"] and body["detail"] == error["message"], what
    r = http.post("/v1/search", json={"question": QUESTION, "k": 0})
    assert r.json()["error"]["param"] == "k" and "k:" in r.json()["error"]["message"]
    r = http.post("/v1/ask", json={"question": "\x00\x00"})
    assert "empty" in r.json()["error"]["message"]


def _raw_requests(server: Server, *targets: str) -> list[tuple[int, bytes]]:
    """GETs on one keep-alive connection, each request line exactly as given: curl sends a non-ASCII URL as
    raw UTF-8 (httpx would percent-encode it)."""
    host, port = server.url.removeprefix("http://").split(":")
    replies = []
    with socket.create_connection((host, int(port)), timeout=60) as s, s.makefile("rb") as reader:
        for target in targets:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status = int(reader.readline().split()[1])
            headers = {}
            while (line := reader.readline().strip()) and len(headers) < 100:
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.lower()] = value.strip()
            replies.append((status, reader.read(int(headers["content-length"]))))
    return replies


def test_raw_utf8_in_the_url_is_read_as_utf8(server, http):
    (status, body), (missing, text), (again, _) = _raw_requests(
        server,
        "/v1/coverage?topics=垃圾分类,为老服务&streets=塘桥街道",
        "/v1/documents/不存在的报告.txt",
        "/v1/jobs?limit=1&x=一",  # the third request on the connection: each request line is read afresh
    )
    assert status == 200, body
    escaped = http.get("/v1/coverage", params={"topics": "垃圾分类,为老服务", "streets": "塘桥街道"})
    assert body == escaped.content  # the same reply as to a browser's percent-encoded request
    assert json.loads(body)["topics"] == ["垃圾分类", "为老服务"]
    assert missing == 404 and "不存在的报告.txt" in json.loads(text)["error"]["message"]
    assert again == 200


def test_k_has_the_same_limits_in_the_library_the_cli_and_http(http, qa, corpus_index):
    with pytest.raises(QuestionError, match=f"1 到 {MAX_K}"):
        qa.search(QUESTION, k=MAX_K + 1)
    assert len(qa.search(QUESTION, k=MAX_K)) <= MAX_K
    for path, body in (
        ("/v1/search", {"question": QUESTION}),
        ("/v1/compare", {"topic": "垃圾分类", "streets": ["塘桥街道"]}),
    ):
        assert http.post(path, json={**body, "k": MAX_K}).status_code == 200, path
        r = http.post(path, json={**body, "k": MAX_K + 1})
        assert r.status_code == 422 and f"less than or equal to {MAX_K}" in r.json()["error"]["message"], path
    runner = CliRunner()
    for command in (["search", QUESTION], ["compare", "垃圾分类", "--streets", "塘桥街道"]):
        ok = runner.invoke(cli, [*command, "--index", str(corpus_index), "-k", str(MAX_K), "--json"])
        assert ok.exit_code == 0, ok.output
        refused = runner.invoke(cli, [*command, "--index", str(corpus_index), "-k", str(MAX_K + 1)])
        assert refused.exit_code == 2 and f"1<=x<={MAX_K}" in refused.output, refused.output


def test_a_citation_resolves_to_its_paragraph(http):
    citation = http.post("/v1/ask", json={"question": QUESTION}).json()["citations"][0]
    r = http.get(f"/v1/documents/{citation['doc_id']}", params={"paragraph": citation["paragraph"]})
    assert r.status_code == 200
    doc = r.json()
    assert citation["quote"] in doc["paragraph"]["text"]
    assert doc["paragraph"]["section_path"] == citation["section_path"]
    assert doc["street"] == "塘桥街道" and doc["paragraph_count"] > citation["paragraph"]
    top = doc["sections"]
    assert top and all(node["path"] == [node["title"]] for node in top)
    assert any(child["path"][:1] == [node["title"]] for node in top for child in node["children"])

    assert http.get("/v1/documents/no-such-report.txt").status_code == 404
    r = http.get(f"/v1/documents/{citation['doc_id']}", params={"paragraph": 100000})
    assert r.status_code == 404 and "there is no paragraph 100000" in r.json()["detail"]


def test_document_list_compare_and_coverage(http, qa):
    docs = http.get("/v1/documents").json()
    assert {d["doc_id"] for d in docs} >= set(qa.index.doc_ids())
    assert all(d["chunks"] > 0 and d["title"] for d in docs)

    r = http.post("/v1/compare", json={"topic": "垃圾分类", "streets": ["塘桥街道", "长寿路街道"]})
    assert r.status_code == 200
    assert r.json() == comparison_json(qa.compare("垃圾分类", ["塘桥街道", "长寿路街道"]))

    cov = http.get("/v1/coverage", params={"topics": "垃圾分类,为老服务", "streets": "塘桥街道"}).json()
    assert cov["topics"] == ["垃圾分类", "为老服务"] and cov["streets"] == ["塘桥街道"]
    assert len(cov["cells"]) == 2 and 0 <= cov["cells"][0]["score"] <= 1


def test_health_and_prometheus_metrics(http, qa):
    health = http.get("/healthz").json()
    assert health["status"] == "ok" and health["generation"].startswith("gen-")
    http.post("/v1/search", json={"question": QUESTION})
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'govqa_http_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert 'govqa_http_request_duration_seconds_bucket{le="0.5",route="/v1/search"}' in text
    assert f"govqa_index_chunks {float(health['chunks'])}" in text
    assert "govqa_index_documents" in text and "govqa_jobs_active" in text


def test_openapi_documents_the_records(http):
    schema = http.get("/openapi.json").json()
    assert {"/v1/search", "/v1/ask", "/v1/chat/completions", "/v1/documents", "/v1/jobs/{job_id}"} <= set(
        schema["paths"]
    )
    assert "quote" in schema["components"]["schemas"]["CitationJSON"]["properties"]
    errors = schema["paths"]["/v1/search"]["post"]["responses"]["4XX"]["content"]["application/json"]
    assert errors["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


def test_api_docs_load_nothing_from_outside(http):
    """/docs and /redoc work offline: every script, style sheet and icon they name is served by this server."""
    for page in ("/docs", "/redoc"):
        r = http.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assets = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""", r.text)
        assert any(a.endswith(".js") for a in assets), (page, assets)
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from outside this server"
            fetched = http.get(asset)
            assert fetched.status_code == 200 and len(fetched.content) > 1000, asset


# ------------------------------------------------------------------------------------------ OpenAI API


def test_openai_client_chat_completion_with_citations(server, qa):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused-reads-are-open", max_retries=0)
    assert "govqa" in [m.id for m in client.models.list()]

    expected = qa.ask(QUESTION)
    reply = client.chat.completions.create(model="govqa", messages=[{"role": "user", "content": QUESTION}])
    assert reply.choices[0].message.content == expected.text
    assert reply.choices[0].finish_reason == "stop"
    citations = reply.model_extra["citations"]
    assert [c["quote"] for c in citations] == [c.quote for c in expected.citations]
    assert all(f"[{c['n']}]" in expected.text for c in citations)

    stream = client.chat.completions.create(
        model="govqa", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert len(chunks) > 2
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected.text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert [c["quote"] for c in chunks[-1].model_extra["citations"]] == [c.quote for c in expected.citations]

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError, match="上限"):
        client.chat.completions.create(model="govqa", messages=[{"role": "user", "content": "问" * 1001}])


def test_a_follow_up_keeps_the_street_of_the_earlier_turn(http):
    first = "长寿路街道2018年做了哪些为老服务工作?"
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": "……"},
        {"role": "user", "content": "垃圾分类方面呢?"},
    ]
    reply = http.post("/v1/chat/completions", json={"model": "govqa", "messages": messages}).json()
    alone = http.post("/v1/ask", json={"question": "垃圾分类方面呢?"}).json()
    assert reply["citations"], reply
    assert {c["street"] for c in reply["citations"]} == {"长寿路街道"}
    assert {c["street"] for c in alone["citations"]} != {"长寿路街道"}  # without the earlier turn: any street
    # What the follow-up was taken as, as /v1/ask and the app show it; in a stream's last chunk too.
    taken_as = reply["resolved_question"]
    assert "长寿路街道" in taken_as and "垃圾分类" in taken_as, taken_as
    stream = http.post("/v1/chat/completions", json={"model": "govqa", "messages": messages, "stream": True})
    chunks = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: {")]
    assert chunks[-1]["resolved_question"] == taken_as

    # /v1/ask takes the same conversation as `history`: earlier questions, or earlier replies sent back.
    asked = http.post("/v1/ask", json={"question": "垃圾分类方面呢?", "history": [first]}).json()
    assert asked["resolved_question"] == taken_as
    assert {c["street"] for c in asked["citations"]} == {"长寿路街道"}
    earlier = http.post("/v1/ask", json={"question": first}).json()
    again = http.post("/v1/ask", json={"question": "垃圾分类方面呢?", "history": [earlier]}).json()
    assert again == asked


def test_the_llm_model_answers_through_a_configured_backend(corpus_index, tmp_path):
    """`--llm openai`: model govqa-llm is offered, and only the verified sentences of its text come back."""
    import threading

    from test_generation import FakeChat

    fake = FakeChat()
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    env = {"GOVQA_LLM_BASE_URL": fake.url, "GOVQA_LLM_MODEL": "test-model", "GOVQA_LLM_API_KEY": "llm-key"}
    server = Server(*copies(corpus_index, tmp_path), "--llm", "openai", env=env).start()
    try:
        with server.client() as http:
            assert [m["id"] for m in http.get("/v1/models").json()["data"]] == ["govqa", "govqa-llm"]
            messages = [{"role": "user", "content": QUESTION}]
            reply = http.post("/v1/chat/completions", json={"model": "govqa-llm", "messages": messages}).json()
            written = fake.replies[-1]
            assert reply["choices"][0]["message"]["content"] == f"{written['copied']}[1]"
            assert [c["quote"] for c in reply["citations"]] == [written["copied"]]
            assert fake.requests[-1]["headers"]["Authorization"] == "Bearer llm-key"

            answer = http.post("/v1/ask", json={"question": QUESTION, "answerer": "llm"}).json()
            written = fake.replies[-1]
            assert answer["flagged"] == [
                written["made_up_number"],
                written["made_up_words"],
                written["out_of_range"],
            ]
            fake.mode = "500"
            r = http.post("/v1/ask", json={"question": QUESTION, "answerer": "llm"})
            assert r.status_code == 502 and "model overloaded" in r.json()["detail"]
    finally:
        server.stop()
        fake.shutdown()
        fake.server_close()


# ------------------------------------------------------------------------------------------ writes


def test_writes_need_the_api_key(http):
    files = {"file": ("x.txt", "塘桥街道报告".encode())}
    assert http.post("/v1/documents", files=files).status_code == 401
    r = http.post("/v1/documents", files=files, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert http.delete("/v1/documents/000_051ad83070a5de45.txt").status_code == 401
    assert http.get("/v1/documents").status_code == 200  # reads are open by default


def test_upload_limits_and_names(http, server):
    too_big = {"file": ("big.txt", ("长" * 200_000).encode())}  # 600 kB, over this server's 0.5 MB
    r = http.post("/v1/documents", files=too_big, headers=AUTH)
    assert r.status_code == 413
    r = http.post("/v1/documents", files={"file": ("tool.exe", b"MZ\x90\x00")}, headers=AUTH)
    assert r.status_code == 415 and "unsupported file type .exe" in r.json()["error"]["message"]
    r = http.post("/v1/documents", files={"file": ("bin.txt", b"\x00\x01" * 100)}, headers=AUTH)
    assert r.status_code == 422 and "cannot be indexed" in r.json()["detail"]
    r = http.post("/v1/documents", content=b"just bytes", headers={**AUTH, "content-type": "text/plain"})
    assert r.status_code == 415
    existing = (server.corpus / "000_051ad83070a5de45.txt").read_bytes()
    r = http.post("/v1/documents", files={"file": ("000_051ad83070a5de45.txt", existing + b"\nx")}, headers=AUTH)
    assert r.status_code == 409 and "replace=true" in r.json()["detail"]
    assert sorted(p.name for p in server.corpus.iterdir()) == sorted(p.name for p in CORPUS.iterdir())


def test_upload_and_delete_while_queries_run(http, server):
    """Queries during a rebuild are answered from the last complete generation; two uploads run in turn."""
    before = http.get("/healthz").json()
    report = small_report("临江街道")
    # A hostile name: only its last component is used, inside the corpus folder.
    r1 = http.post("/v1/documents", headers=AUTH, files={"file": ("../../临江街道报告.txt", report.encode())})
    r2 = http.post("/v1/documents", headers=AUTH, json={"name": "望海街道报告.md", "text": small_report("望海街道")})
    assert r1.status_code == 202 and r2.status_code == 202, (r1.text, r2.text)
    job1, job2 = r1.json(), r2.json()
    assert job1["doc_id"] == "临江街道报告.txt" and job1["status"] == "queued"

    seen = []

    def query(_job):
        r = http.post("/v1/search", json={"question": "临江街道的垃圾分类工作", "k": 3})
        assert r.status_code == 200, r.text
        health = http.get("/healthz").json()
        seen.append((health["documents"], health["building"]))

    done1 = wait_for_job(http, job1["id"], during=query)
    done2 = wait_for_job(http, job2["id"], during=query)
    assert done1["status"] == "done" and done2["status"] == "done", (done1, done2)
    assert any(building for _, building in seen)  # some queries did run during a build
    assert {n for n, _ in seen} <= {before["documents"], before["documents"] + 1, before["documents"] + 2}
    # Serialised: the second build saw the first one's report.
    assert (done1["result"]["documents"], done2["result"]["documents"]) == (6, 7)
    assert not (server.index.parent / "临江街道报告.txt").exists()
    assert (server.corpus / "临江街道报告.txt").read_text(encoding="utf-8") == report

    hits = http.post("/v1/search", json={"question": "临江街道的工作", "street": "临江街道"}).json()["hits"]
    assert hits and {h["doc_id"] for h in hits} == {"临江街道报告.txt"}
    assert http.get("/healthz").json()["documents"] == 7

    r = http.delete("/v1/documents/临江街道报告.txt", headers=AUTH)
    assert r.status_code == 202
    done = wait_for_job(http, r.json()["id"], during=query)
    assert done["status"] == "done" and done["result"]["documents"] == 6
    assert not (server.corpus / "临江街道报告.txt").exists()
    # The corpus holds reports only (it may be under git): the writers' lock is in the index folder.
    assert sorted(p.name for p in server.corpus.iterdir()) == sorted(
        [p.name for p in CORPUS.iterdir()] + ["望海街道报告.md"]
    )
    assert http.post("/v1/search", json={"question": "临江街道的工作", "street": "临江街道"}).json()["hits"] == []
    assert http.delete("/v1/documents/临江街道报告.txt", headers=AUTH).status_code == 404
    assert http.delete("/v1/documents/..%2F..%2Fetc%2Fpasswd", headers=AUTH).status_code == 404
    assert http.delete("/v1/documents/%2Fetc%2Fpasswd", headers=AUTH).status_code == 404


def test_kill_9_mid_upload_then_restart_redoes_the_job(corpus_index, tmp_path):
    index, corpus = copies(corpus_index, tmp_path)
    server = Server(index, corpus).start()
    try:
        with server.client() as http:
            r = http.post(
                "/v1/documents",
                headers=AUTH,
                json={"name": "临江街道报告.txt", "text": small_report("临江街道", 40)},
            )
            job_id = r.json()["id"]
            deadline = time.monotonic() + JOB_TIMEOUT
            while True:  # kill while it embeds
                job = http.get(f"/v1/jobs/{job_id}").json()
                if job["status"] == "running" and 0 < job["progress"]["total"]:
                    break
                assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
                time.sleep(0.02)
        server.kill()
    finally:
        server.stop()
    # The previous generation is intact and the upload is on disk, journaled as running.
    assert len(Index.open(index).metas) == 5
    assert (index / "uploads" / f"{job_id}.bin").exists()

    server = Server(index, corpus).start()
    try:
        with server.client() as http:
            job = wait_for_job(http, job_id)
            assert job["status"] == "done" and job["attempts"] == 2, job
            assert "临江街道报告.txt" in {d["doc_id"] for d in http.get("/v1/documents").json()}
            hits = http.post("/v1/search", json={"question": "临江街道", "street": "临江街道"}).json()["hits"]
            assert hits and hits[0]["doc_id"] == "临江街道报告.txt"
    finally:
        server.stop()
    assert not (index / "uploads" / f"{job_id}.bin").exists()


def test_a_job_interrupted_too_often_is_reported_failed(tmp_path):
    from govqa.jobs import MAX_ATTEMPTS, JobJournal

    journal = JobJournal(tmp_path)
    job = journal.submit_add("a.txt", b"text")
    for _ in range(MAX_ATTEMPTS):
        job = journal.start(job)  # started, then the process died: recover() sees it running
    journal.recover()
    failed = journal.get(job.id)
    assert failed.status == "failed" and "interrupted" in failed.error
    assert not journal.payload(job.id).exists()

    again = journal.submit_add("b.txt", b"text")
    journal.start(again)
    journal.payload(again.id).unlink()
    journal.recover()
    assert "upload it again" in journal.get(again.id).error


def test_keyed_reads_cors_and_a_server_without_a_key(index_copy, tmp_path):
    """Configuration variants, in-process (the behaviour above is the same code behind a real socket)."""
    from fastapi.testclient import TestClient

    from govqa.server import Settings, create_app

    keyed = Settings(
        index_dir=index_copy,
        corpus=tmp_path,
        api_key=KEY,
        keyed_reads=True,
        cors_origins=["https://portal.example"],
    )
    with TestClient(create_app(keyed)) as client:
        assert client.post("/v1/search", json={"question": QUESTION}).status_code == 401
        assert client.post("/v1/search", json={"question": QUESTION}, headers=AUTH).status_code == 200
        preflight = {"Origin": "https://portal.example", "Access-Control-Request-Method": "POST"}
        r = client.options("/v1/search", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://portal.example"
        r = client.options("/v1/search", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers

    with TestClient(create_app(Settings(index_dir=index_copy, corpus=tmp_path))) as client:
        r = client.get("/v1/documents", headers={"Origin": "https://portal.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers  # CORS off by default
        r = client.post("/v1/documents", json={"name": "a.txt", "text": "长寿路街道"}, headers=AUTH)
        assert r.status_code == 403 and "GOVQA_API_KEY" in r.json()["detail"]
