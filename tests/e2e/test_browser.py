"""The app in a real headless Chromium: type a question, submit, see the cited answer.

The driver is scripts/e2e_browser.py; the test is skipped where no Chromium is installed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "e2e_browser.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("govqa_e2e_browser", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("govqa_e2e_browser", module)
    spec.loader.exec_module(module)
    return module


e2e = _load_script()
CHROMIUM = e2e.find_chromium()

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install -y chromium)"),
]


def test_ask_in_a_real_browser(corpus_index, tmp_path):
    shot = tmp_path / "ask.png"
    shown = e2e.run(corpus_index, shot, e2e.QUESTION, expect="32", timeout=180, chromium=CHROMIUM)
    assert "拆除违章建筑点位32个" in shown
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_figures_page_in_a_real_browser(corpus_index, tmp_path):
    shot = tmp_path / "figures.png"
    shown = e2e.run_figures(corpus_index, shot, timeout=180, chromium=CHROMIUM)
    assert "塘桥街道" in shown["table"] and "山泉花苑4号楼" in shown["table"]
    assert "报告中未涉及" in shown["table"]  # 长寿路街道 renovated old lifts, it added none
    assert "CSV" in shown["downloads"] and "XLSX" in shown["downloads"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
