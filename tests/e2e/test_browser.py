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
