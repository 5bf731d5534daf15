"""End-to-end check of app.py in a real headless Chromium, over the DevTools protocol.

Starts `streamlit run app.py` on a free port, loads it in Chromium, types a question, submits it,
waits for the answer, asserts the expected text is in the page DOM and saves a PNG screenshot.

    GOVQA_INDEX=index python scripts/e2e_browser.py --out docs/screenshot_ask.png

No new dependency: Chromium is Debian's (`apt-get install -y chromium`), the protocol is spoken over
`websockets`, which Streamlit already requires. Exit status 0 when the answer appeared, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "塘桥街道2019年拆除了多少违章建筑?"
EXPECT = "32"
WIDTH, HEIGHT = 1400, 2200
SUBMIT = "提问"  # the Ask form's submit button
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--lang=zh-CN",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - not up yet
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback only
        return r.read().decode()


class CDP:
    """A minimal DevTools protocol client for one page target."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str, text: str = "") -> None:
        """A real mouse click at the centre of the first `selector` element showing `text`.

        A real click (not element.click()) blurs the text area first, as a person's would.
        """
        box = self.js(
            f"(() => {{ const e = [...document.querySelectorAll({json.dumps(selector)})]"
            f".find(e => e.innerText.includes({json.dumps(text)})); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if not box:
            raise RuntimeError(f"no {selector} shows {text!r}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, out: Path) -> None:
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)


@contextmanager
def app_in_chromium(
    index: Path, timeout: float = 180, chromium: str | None = None, failure_shot: Path | None = None
) -> Iterator[CDP]:
    """`streamlit run app.py` on a free port, opened in a fresh headless Chromium; yields its page.

    Both processes are stopped on exit. On failure the server's log and the page's text are printed,
    and the page is saved to `failure_shot`.
    """
    chromium = chromium or find_chromium()
    if not chromium:
        raise FileNotFoundError("no Chromium found: apt-get install -y chromium")
    port = free_port()
    env = {**os.environ, "GOVQA_INDEX": str(index), "PYTHONUNBUFFERED": "1"}
    logs = Path(tempfile.mkdtemp(prefix="govqa-e2e-"))
    server_log = (logs / "streamlit.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    browser = None
    profile = logs / "profile"
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until(
            lambda: server.poll() is None and http_get(url + "_stcore/health").strip() == "ok",
            90,
            "streamlit to start",
        )
        browser = subprocess.Popen(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                f"--window-size={WIDTH},{HEIGHT}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(logs / "chromium.log").open("w"),
        )
        devtools_port = wait_until(
            lambda: (profile / "DevToolsActivePort").read_text().split("\n")[0].strip(),
            30,
            "Chromium to start",
        )
        targets = wait_until(
            lambda: json.loads(http_get(f"http://127.0.0.1:{devtools_port}/json/list")), 30, "a Chromium page"
        )
        page = next(t for t in targets if t.get("type") == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            cdp = CDP(ws)
            try:
                cdp.call("Page.enable")
                cdp.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                cdp.call("Page.navigate", url=url)
                # The first run loads the model and the index: allow for it.
                wait_until(
                    lambda: cdp.js("!!document.querySelector('[data-testid=\"stSidebar\"] input')"),
                    timeout,
                    "the app to load",
                )
                yield cdp
            except BaseException:
                try:
                    text = cdp.js("document.body.innerText")
                    sys.stderr.write(f"--- page text ---\n{text[-3000:]}\n")
                    if failure_shot:
                        cdp.screenshot(failure_shot)
                        sys.stderr.write(f"(screenshot of the failure: {failure_shot})\n")
                except Exception:  # noqa: BLE001 - best effort
                    pass
                raise
    except BaseException:
        server_log.flush()
        sys.stderr.write(f"--- streamlit log ---\n{(logs / 'streamlit.log').read_text()[-4000:]}\n")
        raise
    finally:
        for proc in (browser, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        server_log.close()
        shutil.rmtree(logs, ignore_errors=True)


def settle(cdp: CDP, timeout: float) -> None:
    """Wait for the app's script run to finish (no spinner, not 'running'), then a moment for layout."""
    wait_until(
        lambda: cdp.js(
            "!document.querySelector('[data-testid=\"stSpinner\"]')"
            ' && !document.querySelector(\'[data-testid="stStatusWidget"] [data-testid*="Running"]\')'
        ),
        timeout,
        "the app to finish running",
    )
    time.sleep(1.5)


def ask(cdp: CDP, question: str = QUESTION, timeout: float = 180) -> str:
    """Type `question` into the Ask page, submit it, and return the answer text once it shows."""
    wait_until(lambda: cdp.js("!!document.querySelector('textarea')"), timeout, "the question box")
    cdp.js("document.querySelector('textarea').focus()")
    cdp.call("Input.insertText", text=question)
    cdp.click('[data-testid="stForm"] button', SUBMIT)
    shown = wait_until(
        lambda: cdp.js(
            "(() => { const a = document.querySelector('.govqa-answer'); return a ? a.innerText : null; })()"
        ),
        timeout,
        "the answer",
    )
    # Let the rest of the run (citations, passages) render before anyone takes a picture.
    wait_until(
        lambda: cdp.js("document.querySelectorAll('[data-testid=\"stExpander\"]').length > 0"),
        timeout,
        "the citations",
    )
    settle(cdp, timeout)
    return shown


FIGURES_PAGE = "数字 Figures"


def figures(cdp: CDP, timeout: float = 180) -> dict:
    """Open the Figures page (its default topic is 加装电梯) and return what it shows: the table's text, whether
    a chart and the CSV/XLSX download buttons are there."""
    wait_until(lambda: cdp.js("!!document.querySelector('[data-testid=\"stSidebar\"] label')"), timeout,
               "the sidebar")  # fmt: skip
    cdp.click('[data-testid="stSidebar"] label', FIGURES_PAGE)
    table = wait_until(
        lambda: cdp.js(
            "(() => { const t = document.querySelector('[data-testid=\"stTable\"]');"
            " return t && t.innerText.includes('街道') ? t.innerText : null; })()"
        ),
        timeout,
        "the figures table",
    )
    wait_until(lambda: cdp.js("!!document.querySelector('.vega-embed, [data-testid=\"stVegaLiteChart\"]')"),
               timeout, "the chart")  # fmt: skip
    settle(cdp, timeout)
    buttons = cdp.js(
        "[...document.querySelectorAll('[data-testid=\"stDownloadButton\"]')].map(b => b.innerText).join('|')"
    )
    return {"table": table, "downloads": buttons}


def run_figures(index: Path, out: Path, timeout: float = 180, chromium: str | None = None) -> dict:
    """The Figures page in a real browser; saves a screenshot."""
    with app_in_chromium(index, timeout, chromium, out.with_name(out.stem + "_failed.png")) as cdp:
        shown = figures(cdp, timeout)
        cdp.screenshot(out)
        return shown


def run(
    index: Path,
    out: Path,
    question: str = QUESTION,
    expect: str = EXPECT,
    timeout: float = 180,
    chromium: str | None = None,
) -> str:
    """Ask `question` in a real browser, check `expect` is in the answer and the page, save a screenshot."""
    with app_in_chromium(index, timeout, chromium, out.with_name(out.stem + "_failed.png")) as cdp:
        shown = ask(cdp, question, timeout)
        body = cdp.js("document.body.innerText")
        if expect not in shown or expect not in body:
            raise AssertionError(f"expected {expect!r} in the answer, got {shown!r}")
        cdp.screenshot(out)
        return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=Path(os.environ.get("GOVQA_INDEX") or ROOT / "index"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot_ask.png")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--expect", default=EXPECT, help="text the answer must contain")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args()
    try:
        shown = run(args.index, args.out, args.question, args.expect, args.timeout, args.chromium)
    except (AssertionError, TimeoutError, RuntimeError, FileNotFoundError) as exc:
        print(f"e2e FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"answer: {shown}\nscreenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
