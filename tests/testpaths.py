"""Where the tests find the real corpus and the gold set (a module of its own: two conftest.py files exist)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
GOLD = Path(__file__).parent / "data" / "gold.jsonl"
# Questions written blind, from the reports alone, in everyday wording: dev may be tuned on, test never.
BLIND_DEV = Path(__file__).parent / "data" / "blind_dev.jsonl"
BLIND_TEST = Path(__file__).parent / "data" / "blind_test.jsonl"
