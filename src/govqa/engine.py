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

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Besides what GovQA uses, the front door re-exports what the interfaces (cli, server, app, jobs) need, so that
# they import nothing below this layer: building and changing the corpus (.corpus), the limits they check input
# against before calling in, the text and file renderings of a comparison or a figures table, and the thread
# settings a build runs with. Hence the F401s.
from .corpus import (  # noqa: F401
    BACKENDS,
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    MAX_DOCUMENT_BYTES,
    BuildResult,
    DocumentChange,
    add_document,
    build,
    check_document,
    corpus_file,
    corpus_lock,
    embedder_for,
    index_generation,
    remove_document,
    safe_file_name,
)
from .errors import (  # noqa: F401
    DocumentError,
    DocumentExistsError,
    DocumentNotFoundError,
    UnsupportedFileTypeError,
)
from .index.builder import FAISS_KINDS  # noqa: F401
from .index.embedders import Embedder, cpu_count, set_thread_pools, thread_setting  # noqa: F401
from .index.generations import index_in_use  # noqa: F401
from .index.local import Index
from .index.opener import open_index
from .ingest.loaders import SUPPORTED_SUFFIXES  # noqa: F401
from .qa.answering import AnswerConfig, ExtractiveAnswerer
from .qa.compare import (  # noqa: F401
    DEFAULT_TOPICS,
    Comparison,
    CoverageMatrix,
    compare_streets,
    coverage_matrix,
)
from .qa.compare_text import format_comparison, format_matrix  # noqa: F401
from .qa.figures import FigureTable, figure_table, quantity_answer
from .qa.figures_text import STATUS_LABELS, format_table, table_json, to_csv, to_xlsx  # noqa: F401
from .qa.query import Query, analyse
from .qa.questions import MAX_K, MAX_QUESTION_CHARS, check_question  # noqa: F401
from .qa.retrieval import RetrievalConfig, Retriever
from .records import Answer, Document, Filters, Hit, Turn

if TYPE_CHECKING:
    from .qa.generation import ChatBackend


def load_llm(spec: str) -> ChatBackend:
    """A language-model backend by spec, as `govqa ask --llm` takes it (see qa.generation.load_backend)."""
    from .qa.generation import load_backend  # only when asked: it imports HTTP clients

    return load_backend(spec)


class GovQA:
    """An opened index with its embedder, retriever and answerer: load once, ask many times."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        retrieval: RetrievalConfig | None = None,
        answering: AnswerConfig | None = None,
    ):
        self.embedder = embedder
        self._retrieval = retrieval
        self._answering = answering
        self._attach(index)

    def _attach(self, index: Index) -> None:
        # Built fully before any attribute changes, so a reload that fails leaves the old state serving.
        retriever = Retriever(index, self.embedder, self._retrieval)
        answerer = ExtractiveAnswerer(retriever, self._answering)
        self.index, self.retriever, self.answerer = index, retriever, answerer
        self._pages: dict[str, tuple[int | None, ...]] = {}  # doc id -> page of each paragraph, read once

    @classmethod
    def open(
        cls,
        index_dir: Path | str = DEFAULT_INDEX,
        embedder: Embedder | str | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> GovQA:
        """Open the live index of `index_dir`. GOVQA_THREADS=N, if set, sizes the compute pools first."""
        if (threads := thread_setting()) is not None:
            set_thread_pools(threads)
        index = open_index(index_dir)
        if embedder is None or isinstance(embedder, str):
            embedder = embedder_for(embedder or index.embedder_name)
        return cls(index, embedder, retrieval)

    def search(self, question: str, k: int = 5, filters: Filters | None = None, mode: str = "hybrid") -> list[Hit]:
        return self.retriever.search(question, k=k, filters=filters, mode=mode)  # it checks both

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        history: Sequence[Turn | Answer] | None = None,
        llm: str | ChatBackend | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """An answer whose every sentence is quoted from, or checked against, a report, cited with pages.

        `history`: the conversation so far (earlier Answers or their .turn()), oldest first. A follow-up such as
        "那长寿路街道呢?" is completed from the last turn; `answer.resolved_question` is what was answered.
        `llm`: a language model writes the answer (a backend spec as for `govqa ask --llm`, or a backend) and
        only the sentences its passages support are kept; `on_text` then gets its unchecked text as it comes.
        Default: the extractive answerer, offline."""
        query = self.analyse(question, filters, history)
        explicit = filters is None or filters.is_empty()
        if llm is None and explicit and getattr(self.index, "figures", None) is not None:
            # 各街道加装电梯完成了多少台? is answered by the figures table, street by street, each figure cited.
            table = quantity_answer(self, query)
            if table is not None:
                return table
        if llm is None:
            return self.with_pages(self.answerer.answer_query(query))
        from .qa.generation import LLMAnswerer, load_backend  # only when asked: it imports HTTP clients

        backend = load_backend(llm) if isinstance(llm, str) else llm
        return self.with_pages(LLMAnswerer(self.retriever, backend).answer_query(query, on_text))

    def analyse(
        self, question: str, filters: Filters | None = None, history: Sequence[Turn | Answer] | None = None
    ) -> Query:
        """The question checked and analysed once (script, follow-up, filters, kind, streets, years, focus)."""
        turns = [t.turn() if isinstance(t, Answer) else t for t in history or ()]
        return analyse(question, self.index.metas.values(), filters, turns)

    def compare(self, topic: str, streets: Sequence[str] | None = None, k: int = 3) -> Comparison:
        """What each street's reports say on `topic`, one cited finding per street (see qa.compare)."""
        return compare_streets(self.answerer, topic, streets, k=k)

    def coverage(self, topics: Sequence[str] | None = None, streets: Sequence[str] | None = None) -> CoverageMatrix:
        """How much each street's reports say on each topic (see qa.compare.coverage_matrix)."""
        return coverage_matrix(self.answerer, topics, streets)

    def with_pages(self, answer: Answer) -> Answer:
        """The answer with each citation's page (第N页) filled in, where its report has pages (PDF, scans)."""
        cited = []
        for c in answer.citations:
            if c.page is None:
                pages = self._pages.get(c.doc_id)
                if pages is None:  # one read per report for the life of this generation, not one per answer
                    pages = self._pages[c.doc_id] = tuple(p.page for p in self.index.document(c.doc_id).paragraphs)
                if 1 <= c.paragraph <= len(pages):
                    c = dataclasses.replace(c, page=pages[c.paragraph - 1])
            cited.append(c)
        return dataclasses.replace(answer, citations=tuple(cited))

    def document(self, doc_id: str) -> Document:
        return self.index.document(doc_id)

    def figures(
        self,
        topic: str,
        streets: Sequence[str] | None = None,
        year: int | None = None,
        status: str | None = None,
        gaps: bool = True,
    ) -> FigureTable:
        """The stated figures on `topic` (加装电梯), street × year, each with its counted phrase and citation;
        streets without one say why (未给出具体数字 / 报告中未涉及). See qa.figures.figure_table."""
        return figure_table(self, topic, streets, year=year, status=status, gaps=gaps)

    def resolve(self, question: str, history: Sequence[Turn] = ()) -> str:
        """The standalone question a follow-up stands for, given the conversation so far."""
        return self.analyse(question, history=history).resolved_question

    def conversation(self, questions: Sequence[str]) -> list[Turn]:
        """Turns for earlier questions known only by their text (a chat client's messages), oldest first:
        each is resolved against the ones before it, so a chain of follow-ups keeps its topic and street."""
        turns: list[Turn] = []
        for question in questions:
            if question.strip():
                turns.append(Turn(question, self.resolve(question, turns)))
        return turns

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
