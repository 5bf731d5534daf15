"""The app and the API docs in a real headless Chromium (Debian's), driven by Playwright.

`streamlit run app.py` is started in the repository as the README says (so .streamlit/config.toml applies),
on a free loopback port. Every request the browser makes outside 127.0.0.1 is blocked and recorded: a page
must work offline and send nothing out. Skipped where Chromium or Playwright is missing.

    GOVQA_SCREENSHOT=docs/screenshot_ask.png pytest tests/e2e     # also refreshes the README's screenshot
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from govqa.engine import MAX_DOCUMENT_BYTES
from testpaths import ROOT

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install -y chromium)"),
]

QUESTION = "塘桥街道2019年拆除了多少违章建筑?"
CROSS_STREET = "各街道的垃圾分类工作有什么不同?"
START_TIMEOUT = 180  # the app loads the model and the index on its first page view
ANSWER_TIMEOUT = 180_000  # ms, Playwright's unit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """The local addresses that listen on `port`, from the kernel's socket tables (Linux)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # The kernel writes each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, words))
    return found


@pytest.fixture(scope="module")
def app_url(corpus_index, tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("wb")
    env = {**os.environ, "GOVQA_INDEX": str(corpus_index), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, Path(log.name).read_text(errors="replace")[-2000:]
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "streamlit did not start"
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page; `page.outside` lists what it tried to fetch beyond loopback (blocked)."""
    context = browser.new_context(viewport={"width": 1400, "height": 2200}, locale="zh-CN")
    outside: list[str] = []

    def block_outside(route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", block_outside)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.outside = outside
    yield page
    context.close()


def ask(page, url: str, question: str):
    page.goto(url)
    page.get_by_role("textbox", name="问题 Question").fill(question)
    page.get_by_role("button", name="提问 Ask").click()
    answer = page.locator(".govqa-answer")
    answer.wait_for()
    return answer


def test_ask_shows_a_cited_answer(page, app_url, tmp_path):
    answer = ask(page, app_url, QUESTION)
    assert "拆除违章建筑点位32个" in answer.inner_text()
    link = answer.locator("sup.govqa-cite a").first
    assert link.get_attribute("href") == "#govqa-cite-1"
    # The report's own footnote mark " [2]" does not look like the citation link [1].
    footnote = answer.locator(".govqa-footnote-mark").first
    assert footnote.inner_text() == "[2]"
    style = "e => [getComputedStyle(e).color, getComputedStyle(e).verticalAlign, getComputedStyle(e).fontWeight]"
    assert footnote.evaluate(style) != link.evaluate(style)
    page.get_by_test_id("stDataFrame").first.wait_for()  # the retrieved passages: the page is complete
    shot = Path(os.environ.get("GOVQA_SCREENSHOT") or tmp_path / "ask.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert page.outside == []  # no usage statistics, no CDN: nothing left the machine


def test_a_cross_street_answer_reads_a_line_per_street(page, app_url):
    answer = ask(page, app_url, CROSS_STREET)
    lines = answer.locator(".govqa-line")
    assert lines.count() >= 5
    tops = [lines.nth(i).bounding_box()["y"] for i in range(lines.count())]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)  # one below the other, not one run-on paragraph
    for i in range(lines.count()):
        assert re.match(r"\S+(街道|镇)：", lines.nth(i).inner_text())
    marks = re.findall(r"\[(\d+)\]", answer.inner_text())
    assert answer.locator("sup.govqa-cite a").count() == len(marks) > 5  # every mark a link, "…[7]" too


def test_the_upload_box_states_the_servers_limit(page, app_url):
    page.goto(app_url)
    page.get_by_text("文档 Documents").click()
    page.get_by_text("管理报告 Manage reports").click()
    uploader = page.get_by_test_id("stFileUploader")
    limit = re.search(r"(\d+)\s?MB per file", uploader.inner_text())
    assert limit and int(limit[1]) * 1024 * 1024 == MAX_DOCUMENT_BYTES, uploader.inner_text()  # was 200MB


def test_the_app_listens_on_loopback_only(app_url):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("reads Linux's socket tables")
    assert _listening_addresses(urlsplit(app_url).port) == {"127.0.0.1"}


def test_api_docs_render_offline(page, corpus_index, tmp_path):
    """/docs (Swagger UI) and /redoc with everything beyond 127.0.0.1 blocked: as on a machine without internet."""
    from test_server import Server, copies

    server = Server(*copies(corpus_index, tmp_path)).start()
    try:
        page.goto(f"{server.url}/docs")
        page.locator(".opblock").first.wait_for(timeout=60_000)
        assert page.locator(".opblock").count() >= 10
        assert page.get_by_text("/v1/chat/completions").count() >= 1
        page.goto(f"{server.url}/redoc")
        page.get_by_text("/v1/chat/completions").first.wait_for(timeout=60_000)
    finally:
        server.stop()
    assert page.outside == []


def test_the_figures_page_tables_charts_and_offers_downloads(page, app_url):
    page.goto(app_url)
    page.get_by_text("数字 Figures").click()
    table = page.get_by_test_id("stTable").first
    table.wait_for()
    page.get_by_text("山泉花苑4号楼").first.wait_for()  # the default topic, 加装电梯
    text = table.inner_text()
    assert "塘桥街道" in text and "报告中未涉及" in text  # 长寿路街道 renovated old lifts, it added none
    page.locator(".vega-embed").first.wait_for()  # the bar chart
    buttons = page.get_by_test_id("stDownloadButton")
    assert buttons.count() == 2 and "CSV" in buttons.first.inner_text()
    assert page.outside == []
