"""Where the tests find the real corpus and the gold set (a module of its own: two conftest.py files exist)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
GOLD = Path(__file__).parent / "data" / "gold.jsonl"
