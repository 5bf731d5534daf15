"""Lexical retrieval on a small hand-made index: bigrams beside words, question words, titles in chunks,
near-copies collapsed into one hit that names every copy, the naive baseline, script normalisation.

The index holds no meaningful vectors (every passage gets the same one), so only the lexical side and
the baseline are exercised here; the real corpus tests are in test_retrieval.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from govqa.evaluation.external_eval import first_gold_rank, passage_ranking
from govqa.index.store import Index, build_index
from govqa.index.tokenize import Tokenizer, char_unigrams_bigrams, normalise
from govqa.ingest.documents import document_from_text
from govqa.qa.retrieval import Retriever
from govqa.records import DocMeta

NOTICE = "关于做好汛期安全防范工作的通知"
FLOOD = (
    "各居民区要在六月底前完成地下车库、低洼小区的排水设施检查，备足沙袋和抽水泵，"
    "落实二十四小时值班，遇到暴雨红色预警时及时组织转移独居老人。"
)
DOCS = {
    "rent": ("群租房整治工作总结", "今年本街道开展群租房整治，拆除违规隔间120间，消除安全隐患。"),
    "build": ("违法建筑整治工作总结", "今年本街道开展违法建筑整治，拆除违法建筑30处，整治面积两千平方米。"),
    "notice": (NOTICE, FLOOD),
    "forward": ("转发" + NOTICE, FLOOD),
    "ebike": (
        "电动自行车充电安全管理办法",
        "\n".join(
            [
                "第一条 为加强管理，保障居民生命财产安全，制定本办法。" * 3,
                "第二条 本办法适用于本街道辖区内的住宅小区和沿街商铺。" * 3,
                "第三条 物业服务企业应当落实日常巡查，发现问题及时劝阻并报告。" * 3,
                "第四条 各小区应当在年底前完成改造并报街道备案。",
            ]
        ),
    ),
    "oldhouse": (
        "老旧小区综合改造方案",
        "各小区应当在年底前完成改造并报区房管局备案，改造内容包括屋面和外墙。",
    ),
}


class _SameVector:
    """Every text gets the same unit vector: dense ties everywhere, so nothing here depends on it."""

    name = "test:same-vector"
    dim = 4

    def embed_queries(self, texts):
        return np.full((len(texts), self.dim), 0.5, np.float32)

    def embed_passages(self, texts, progress=None):
        return self.embed_queries(texts)


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    docs = [document_from_text(doc_id, text, DocMeta(title=title)) for doc_id, (title, text) in DOCS.items()]
    path: Path = tmp_path_factory.mktemp("lexical") / "index"
    build_index(docs, path, _SameVector())
    return Retriever(Index.open(path), _SameVector())


def test_bigrams_recover_a_word_jieba_cuts_differently(retriever: Retriever) -> None:
    tokenizer = retriever.index.tokenizer
    # The text says 群租房 (jieba: 群 / 租房), the question 群租: no shared word but 整治, one shared bigram.
    assert "群租" not in tokenizer.tokens(DOCS["rent"][1]) and "群租" in tokenizer.tokens("整治群租")
    words_only = retriever.with_config(bigram_weight=0.0)
    scores = words_only.lexical_scores("整治群租")
    rent, build = (_chunk_of(retriever, d) for d in ("rent", "build"))
    assert scores[rent] <= scores[build]  # words alone only see 整治, in both (the shorter text wins)
    hits = retriever.search("整治群租", k=2, mode="bm25", infer=False)
    assert hits[0].chunk.doc_id == "rent"


def test_question_words_are_not_query_terms(retriever: Retriever) -> None:
    words, bigrams = retriever.index.tokenizer.query_terms("居民应该怎么办理居住证？")
    assert words == ["居民", "办理", "居住", "居住证"]
    assert not {"应该", "怎么", "该怎", "么办"} & set(bigrams)
    # Nothing but question words: the query is kept whole rather than emptied.
    assert retriever.index.tokenizer.query_terms("怎么办？")[1]


def test_title_in_the_scored_text_finds_a_chunk_deep_in_a_long_document(retriever: Retriever) -> None:
    deep = retriever.index.chunks[_chunk_of(retriever, "ebike", "第四条")]
    assert "电动自行车" not in deep.text and deep.search_text(DOCS["ebike"][0]).startswith(DOCS["ebike"][0])
    hits = retriever.search("电动自行车充电的小区改造什么时候完成", k=3, mode="bm25", infer=False)
    assert hits[0].chunk == deep  # the same sentence in 老旧小区综合改造方案 loses: its title is off topic


def test_a_forwarded_copy_is_one_hit_that_names_both_documents(retriever: Retriever) -> None:
    hits = retriever.search("暴雨红色预警时怎么转移独居老人", k=5, mode="bm25", infer=False)
    top = hits[0]
    assert {top.chunk.doc_id, *top.also_in} == {"notice", "forward"}
    assert sum(h.chunk.doc_id in ("notice", "forward") for h in hits) == 1
    # Evaluation counts either copy as the gold passage, at the hit's rank.
    ranking = passage_ranking(hits)
    assert first_gold_rank(ranking, {"forward"}) == 1 and first_gold_rank(ranking, {"notice"}) == 1


def test_baseline_is_character_bm25_over_the_raw_text(retriever: Retriever) -> None:
    assert char_unigrams_bigrams("拆除 隔间") == ["拆", "除", "隔", "间", "拆除", "除隔", "隔间"]
    hits = retriever.search("拆除违规隔间", k=3, mode="baseline", infer=False)
    assert hits[0].chunk.doc_id == "rent"
    assert all(h.dense_rank is None and h.bm25_rank is None for h in hits)


def test_traditional_script_is_matched_as_simplified(retriever: Retriever) -> None:
    assert normalise("羣租房整治　ＡＢＣ") == "群租房整治 abc"
    hits = retriever.search("今年開展羣租房整治拆除了多少違規隔間", k=1, mode="bm25", infer=False)
    assert hits[0].chunk.doc_id == "rent"
    assert "拆除违规隔间120间" in hits[0].chunk.text  # quoted as written, not as normalised


def _chunk_of(retriever: Retriever, doc_id: str, containing: str = "") -> int:
    return next(i for i, c in enumerate(retriever.index.chunks) if c.doc_id == doc_id and containing in c.text)


def test_tokenizer_normalises_before_segmenting() -> None:
    assert Tokenizer().tokens("違章建築") == Tokenizer().tokens("违章建筑")


@pytest.fixture(scope="module")
def corpus_texts() -> tuple[list[str], list[str]]:
    """The search texts of the bundled corpus's chunks, and its street and glossary words."""
    from govqa.index.builder import domain_words
    from govqa.ingest.chunking import chunk_document
    from govqa.ingest.documents import load_corpus
    from testpaths import CORPUS

    docs = load_corpus(CORPUS).documents
    return [c.search_text(d.meta.title) for d in docs for c in chunk_document(d)], sorted(domain_words(docs))


def test_words_are_jiebas_words(corpus_texts) -> None:
    """jieba-next segments as jieba does, with the same dictionaries: the BM25 index is jieba's."""
    from importlib import resources

    import jieba

    texts, words = corpus_texts
    ours = Tokenizer(words)
    reference = jieba.Tokenizer()
    with resources.as_file(resources.files("govqa") / "data" / "userdict.txt") as path:
        reference.load_userdict(str(path))
    for word in words:
        reference.add_word(normalise(word), freq=10)
    for text in texts:
        text = normalise(text)
        assert list(ours._jieba.cut_for_search(text)) == list(reference.cut_for_search(text)), text
        assert list(ours._jieba.cut(text)) == list(reference.cut(text)), text


def test_segmenting_on_several_processes_gives_the_same_terms(corpus_texts) -> None:
    texts, words = corpus_texts
    tokenizer = Tokenizer(words)
    tokens, bigrams = tokenizer.terms_of_all(texts, workers=2, min_parallel=0)
    assert (tokens, bigrams) == tuple(map(list, zip(*(tokenizer.terms(t) for t in texts), strict=True)))
    assert len(tokens) == len(texts) and any("垃圾分类" in t for t in tokens)
