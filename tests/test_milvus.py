"""The Milvus backend against a real Milvus Lite server that these tests start on 127.0.0.1 and stop by pid.

The five reports are indexed into Milvus with the vectors of the session's local index (same embedder, so
nothing is embedded twice); then search, filters, answers, citations and comparison are checked against the
local backend on the same data.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from govqa.engine import GovQA, build  # noqa: E402
from govqa.evaluation.goldset import load_gold, score_retrieval  # noqa: E402
from govqa.index.backend import MILVUS_DESCRIPTOR  # noqa: E402
from govqa.index.milvus import BM25_PARAMS, MilvusIndex, MilvusUnavailableError, encode_term  # noqa: E402
from govqa.index.store import IndexNotFoundError  # noqa: E402
from govqa.records import Filters  # noqa: E402
from testpaths import CORPUS, GOLD  # noqa: E402

TANGQIAO = "003_1c4c3d7015c59f1b.txt"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory):
    """A Milvus Lite gRPC server in its own process, as a standalone Milvus would be reached."""
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus")
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(data / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Milvus Lite did not start: {(data / 'server.log').read_text()}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGINT)  # graceful: the server closes its data directory
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def milvus_index(milvus_uri, corpus_index, embedder, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("milvus-index")
    result = build(CORPUS, folder, embedder, backend="milvus", milvus_uri=milvus_uri, vectors_from=corpus_index)
    assert result.report.embedded == 0 and result.report.reused == result.report.chunks > 100
    return folder


@pytest.fixture(scope="module")
def mqa(milvus_index, embedder) -> GovQA:
    return GovQA.open(milvus_index, embedder)


def test_the_folder_only_points_at_milvus(milvus_index, milvus_uri, mqa, qa):
    assert json.loads((milvus_index / MILVUS_DESCRIPTOR).read_text()) == {
        "backend": "milvus",
        "uri": milvus_uri,
        "collection": "govqa",
    }
    assert not (milvus_index / "CURRENT").exists()
    assert isinstance(mqa.index, MilvusIndex)
    assert mqa.index.metas == qa.index.metas
    assert len(mqa.index.chunks) == len(qa.index.chunks)
    assert list(mqa.index.chunks) == list(qa.index.chunks)


def test_documents_come_back_exactly(mqa, qa):
    for doc_id in qa.index.doc_ids():
        assert mqa.document(doc_id) == qa.document(doc_id)
    with pytest.raises(KeyError):
        mqa.document("no-such-report.txt")


def test_dense_search_matches_the_local_exact_search(mqa, qa):
    for question in ("塘桥街道2019年拆除了多少违章建筑?", "居民加装电梯", "垃圾分类"):
        local = qa.search(question, k=10, mode="dense")
        remote = mqa.search(question, k=10, mode="dense")
        assert [h.chunk for h in remote] == [h.chunk for h in local]
        assert [h.dense_score for h in remote] == pytest.approx([h.dense_score for h in local], abs=1e-4)


def test_milvus_bm25_finds_the_fact_and_ranks_like_the_local_bm25(mqa, qa):
    hits = mqa.search("塘桥街道2019年拆除了多少违章建筑?", k=5)
    assert "全年拆除违章建筑点位32个" in hits[0].chunk.text
    assert hits[0].bm25_rank is not None and hits[0].bm25_score > 0 and hits[0].dense_rank is not None
    assert "违章" in mqa.search("违章建筑", k=1, mode="bm25")[0].chunk.text
    for question in ("违章建筑", "居民加装电梯", "垃圾分类"):
        remote = mqa.search(question, k=5, mode="bm25")
        local = qa.search(question, k=5, mode="bm25")
        assert remote and {h.chunk.chunk_id for h in remote} == {h.chunk.chunk_id for h in local}


def test_both_lexical_fields_score_as_the_local_bm25(mqa, qa):
    """Milvus's BM25 is bm25s's times (k1 + 1), over the same words and bigrams: every candidate's two field
    scores and the per-term bounds (sums of each term's best score) agree up to that factor."""
    scale = BM25_PARAMS["bm25_k1"] + 1
    for question in ("塘桥街道2019年拆除了多少违章建筑?", "垃圾分类", "老年人助餐服务有哪些"):
        local = qa.retriever.candidates(qa.retriever.prepare(question)[0])
        remote = mqa.retriever.candidates(mqa.retriever.prepare(question)[0])
        assert remote.sparse.keys() == local.sparse.keys()
        ids = sorted(set(local.dense) | set(local.sparse))
        assert remote.words[ids] == pytest.approx(scale * local.words[ids], rel=1e-4, abs=1e-4)
        assert remote.bigrams[ids] == pytest.approx(scale * local.bigrams[ids], rel=1e-4, abs=1e-4)
        assert remote.word_bound == pytest.approx(scale * local.word_bound, rel=1e-4)
        assert remote.bigram_bound == pytest.approx(scale * local.bigram_bound, rel=1e-4)
        assert local.bigram_bound > 0
        assert [h.chunk.chunk_id for h in mqa.search(question, k=10)] == [
            h.chunk.chunk_id for h in qa.search(question, k=10)
        ]


def test_terms_are_encoded_one_to_one_as_ascii_words():
    terms = ["垃圾分类", "垃圾", "圾分", "2019", "GDP", "a", "𠀀字", "é"]
    codes = [encode_term(t) for t in terms]
    assert len(set(codes)) == len(terms)
    assert all(c.isascii() and c.isalnum() and c == c.lower() for c in codes)


@pytest.mark.parametrize(
    ("filters", "expected_docs"),
    [
        (Filters(street="塘桥"), {TANGQIAO}),
        (Filters(district="普陀区"), {"000_051ad83070a5de45.txt", "004_a21819862bf6781b.txt"}),
        (Filters(year=2022), {"002_08bf58efbc4c3fde.txt"}),
        (Filters(year=2021, doc_type="工作计划"), {"004_a21819862bf6781b.txt"}),
    ],
)
def test_filters_are_milvus_expressions(mqa, filters, expected_docs):
    selection = mqa.index.select(filters)
    assert selection.any()
    for mode in ("hybrid", "bm25", "dense"):
        hits = mqa.search("社区治理和为民服务", k=10, filters=filters, mode=mode)
        assert hits and {h.chunk.doc_id for h in hits} <= expected_docs


def test_a_street_outside_the_index_matches_nothing(mqa):
    assert not mqa.index.select(Filters(street="外滩街道")).any()
    assert mqa.search("垃圾分类", filters=Filters(street="外滩街道")) == []


def test_answers_and_citations_are_the_same_on_both_backends(mqa, qa):
    for question in ("塘桥街道2019年拆除了多少违章建筑?", "塘桥街道的垃圾分类工作做得怎么样?"):
        remote, local = mqa.ask(question), qa.ask(question)
        assert remote.supported and remote.citations
        for c in remote.citations:  # verbatim, at the cited offsets of the stored document
            assert mqa.document(c.doc_id).text[c.char_start : c.char_end] == c.quote
        assert remote.text == local.text
    assert not mqa.ask("塘桥街道的火星基地建设进展如何?").supported


def test_comparison_works_on_milvus(mqa, qa):
    remote = mqa.compare("垃圾分类", ["塘桥街道", "长白新村街道"])
    local = qa.compare("垃圾分类", ["塘桥街道", "长白新村街道"])
    assert [f.found for f in remote.findings] == [f.found for f in local.findings] == [True, True]
    # Milvus BM25 scores words only (no bigram field), so where several passages qualify the chosen sentence
    # may differ from the local one; each must still be the street's own, quoted verbatim.
    for finding in remote.findings:
        assert finding.citations
        for c in finding.citations:
            assert c.street == finding.street
            assert mqa.document(c.doc_id).text[c.char_start : c.char_end] == c.quote


def test_gold_retrieval_within_002_of_local(mqa, qa):
    gold = load_gold(GOLD)
    for mode in ("hybrid", "bm25"):
        remote = score_retrieval(mqa.retriever, gold, mode)
        local = score_retrieval(qa.retriever, gold, mode)
        assert abs(remote.recall_at_5 - local.recall_at_5) <= 0.02, (mode, remote, local)
        assert abs(remote.mrr_at_10 - local.mrr_at_10) <= 0.02, (mode, remote, local)


def test_rebuild_switches_the_alias_and_drops_the_old_generation(milvus_uri, corpus_index, embedder, tmp_path):
    from pymilvus import MilvusClient

    client = MilvusClient(uri=milvus_uri)
    folder = tmp_path / "idx"
    first = build(
        CORPUS,
        folder,
        embedder,
        backend="milvus",
        milvus_uri=milvus_uri,
        milvus_collection="rebuild",
        vectors_from=corpus_index,
    ).report
    old = MilvusIndex.open(folder).manifest["chunks_collection"]
    time.sleep(1.1)  # generations are stamped to the second
    again = build(CORPUS, folder, embedder, backend="milvus", milvus_uri=milvus_uri, milvus_collection="rebuild")
    # Vectors come from the live Milvus generation this time: still nothing embedded.
    assert again.report.embedded == 0 and again.report.reused == first.chunks
    new = MilvusIndex.open(folder).manifest["chunks_collection"]
    assert new != old and old not in client.list_collections() and new in client.list_collections()
    assert len([n for n in client.list_collections() if n.startswith("rebuild__")]) == 2
    client.close()


def test_missing_collection_and_unreachable_server_are_clear_errors(milvus_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVQA_MILVUS_TIMEOUT", "2")
    with pytest.raises(IndexNotFoundError, match="govqa index --backend milvus"):
        MilvusIndex.connect(milvus_uri, "nothing_here")
    (tmp_path / MILVUS_DESCRIPTOR).write_text(
        json.dumps({"uri": f"http://127.0.0.1:{_free_port()}", "collection": "govqa"})
    )
    with pytest.raises(MilvusUnavailableError, match="127.0.0.1"):
        GovQA.open(tmp_path)
