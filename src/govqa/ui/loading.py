"""Where the app finds its index and corpus, and the loads and searches its pages share.

Streamlit reruns the whole script on every click: whatever is slow is cached, keyed by the index folder and
its live generation.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import streamlit as st

from ..engine import DEFAULT_CORPUS, DEFAULT_INDEX, GovQA, index_generation
from ..errors import IndexUnavailableError
from ..records import Document


def index_dir() -> Path:
    return Path(os.environ.get("GOVQA_INDEX") or DEFAULT_INDEX)


def corpus_dir() -> Path:
    return Path(os.environ.get("GOVQA_CORPUS") or DEFAULT_CORPUS)


def build_command(path: Path) -> str:
    """The command that builds the index the app is looking for."""
    if path == DEFAULT_INDEX:
        return "govqa index"
    return f"govqa index --index {shlex.quote(str(path))}"


def index_stamp(path: Path) -> str:
    """The live generation's name: a rebuilt index gets a new one, so the app reloads it."""
    return index_generation(path) or ""


@st.cache_resource(show_spinner="正在加载索引和模型… (loading the index and the model)", max_entries=2)
def load_qa(path: str, stamp: str) -> GovQA:  # `stamp` keys the cache: a rebuilt index is reloaded
    return GovQA.open(path)


@st.cache_resource(max_entries=32, show_spinner=False)
def load_document(_qa: GovQA, index_key: tuple[str, str], doc_id: str) -> Document:
    return _qa.document(doc_id)


@st.cache_resource(max_entries=16, show_spinner="正在对比各街道… (comparing streets)")
def run_compare(_qa: GovQA, index_key: tuple[str, str], topic: str, streets: tuple[str, ...]):
    return _qa.compare(topic, list(streets) or None)


@st.cache_resource(max_entries=8, show_spinner="正在计算覆盖矩阵… (computing coverage)")
def run_coverage(_qa: GovQA, index_key: tuple[str, str], topics: tuple[str, ...], streets: tuple[str, ...]):
    return _qa.coverage(list(topics) or None, list(streets) or None)


@st.cache_resource(max_entries=16, show_spinner="正在汇总各街道的数字… (collecting figures)")
def run_figures(
    _qa: GovQA,
    index_key: tuple[str, str],
    topic: str,
    streets: tuple[str, ...],
    year: int | None,
    status: str | None,
):
    return _qa.figures(topic, list(streets) or None, year=year, status=status)


def open_index() -> tuple[GovQA, tuple[str, str]]:
    """The opened index, or a message saying how to build it and st.stop()."""
    path = index_dir()
    stamp = index_stamp(path)
    try:
        return load_qa(str(path), stamp), (str(path), stamp)
    except IndexUnavailableError as exc:
        missing = not stamp
        st.error(("找不到索引 (no index found)" if missing else "索引无法使用 (the index cannot be used)") + f": {exc}")
        st.markdown("先用下面的命令建立索引，再刷新本页 (build it with this command, then reload the page):")
        st.code(build_command(path), language="bash")
        st.caption(
            f"索引目录 index folder: `{path}` (环境变量 GOVQA_INDEX 可改). `--corpus` 指定报告所在目录，默认 corpus/."
        )
    except Exception as exc:  # noqa: BLE001 - a damaged index can fail in many ways; say how to fix it
        st.error(f"索引无法读取 (the index cannot be read): {type(exc).__name__}: {exc}")
        st.markdown("重新建立索引 (rebuild it):")
        st.code(build_command(path), language="bash")
    st.stop()
    raise AssertionError("unreachable")
