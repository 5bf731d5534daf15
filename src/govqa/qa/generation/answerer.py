"""The LLM answerer: retrieve, prompt the model, keep only the sentences the passages support."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

from ...records import Answer, Filters, Hit
from ..answering import NOT_FOUND
from ..kinds import classify
from ..query import Query
from ..questions import check_k, check_question, named_streets, street_aliases
from ..retrieval import Retriever
from .backends import ChatBackend
from .prompt import build_messages
from .verify import SentenceCheck, Verification, VerifyConfig, verify_answer

# ------------------------------------------------------------------------------------------ the answerer


class AnswerStream:
    """The model's text as it is written, then the verified answer.

    Iterate it (once) for the raw text pieces; afterwards `.answer` is the verified `Answer`, `.checks`
    the per-sentence verdicts and `.raw` the whole text (the pieces joined). Reading `.answer` before the
    iteration has finished reads the rest of the model's text first. Backend failures (`LLMError`) surface
    while iterating.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Verification]):
        self._pieces = pieces
        self._finish = finish
        self._parts: list[str] = []
        self._result: Verification | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("an AnswerStream can be iterated only once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[str]:
        for piece in self._pieces:  # not `yield from`: leaving the loop early must not close the source
            self._parts.append(piece)
            yield piece
        self._complete()

    def _complete(self) -> Verification:
        if self._result is None:
            for piece in self._pieces:
                self._parts.append(piece)
            self._started = True
            self._result = self._finish("".join(self._parts))
        return self._result

    @property
    def answer(self) -> Answer:
        return self._complete().answer

    @property
    def checks(self) -> tuple[SentenceCheck, ...]:
        return self._complete().checks

    @property
    def raw(self) -> str:
        return self._complete().raw


class LLMAnswerer:
    """Retrieve k passages, let the backend answer from them, keep only the sentences they support."""

    def __init__(self, retriever: Retriever, backend: ChatBackend, k: int = 5, config: VerifyConfig | None = None):
        self.retriever = retriever
        self.backend = backend
        self.k = check_k(k)
        self.config = config or VerifyConfig()
        metas = retriever.index.metas.values()
        self.places = tuple(sorted({m.street for m in metas if m.street} | {m.district for m in metas if m.district}))

    def retrieve(self, question: str, filters: Filters | None = None) -> tuple[list[Hit], Filters]:
        question = check_question(question)
        resolved = self.retriever.resolve_filters(question, filters)
        hits = self.retriever.search(question, k=self.k, filters=resolved, infer=False)
        return hits, resolved

    def kind(self, question: str) -> str:
        """The question's kind by the extractive answerer's classifier, so both answerers read it alike."""
        metas = list(self.retriever.index.metas.values())
        names = [name for name, _ in street_aliases(m.street for m in metas if m.street)]
        return classify(question, named_streets(question, metas), names)

    def answer(self, question: str, filters: Filters | None = None, kind: str | None = None) -> Answer:
        """`kind`: the kind of question (KIND_INSTRUCTIONS' keys), which shapes the prompt; default: classified."""
        hits, resolved = self.retrieve(question, filters)
        if not hits:
            return Answer(question, NOT_FOUND, (), False, (), resolved)
        raw = self.backend.complete(build_messages(question, hits, kind or self.kind(question)))
        return self.verify(question, raw, hits, resolved).answer

    def stream(self, question: str, filters: Filters | None = None, kind: str | None = None) -> AnswerStream:
        """Retrieval runs now (question errors raise here); the model runs as the stream is iterated."""
        hits, resolved = self.retrieve(question, filters)
        if not hits:
            return AnswerStream(
                iter(()),
                lambda raw: Verification(Answer(question, NOT_FOUND, (), False, (), resolved), (), raw),
            )
        pieces = self.backend.stream(build_messages(question, hits, kind or self.kind(question)))
        return AnswerStream(pieces, lambda raw: self.verify(question, raw, hits, resolved))

    def answer_query(self, query: Query, on_text: Callable[[str], None] | None = None) -> Answer:
        """The checked answer to an analysed question (its follow-up resolved, its filters and kind known);
        `on_text` gets the model's raw text as it comes."""
        hits = self.retriever.search(query, k=self.k)
        if not hits:
            answer = Answer(query.question, NOT_FOUND, (), False, (), query.filters, kind=query.kind)
        else:
            messages = build_messages(query.text, hits, query.kind)
            if on_text is None:
                answer = self.verify(query.text, self.backend.complete(messages), hits, query.filters).answer
            else:
                stream = AnswerStream(
                    self.backend.stream(messages),
                    lambda raw: self.verify(query.text, raw, hits, query.filters),
                )
                for piece in stream:
                    on_text(piece)
                answer = stream.answer
        return dataclasses.replace(
            answer, question=query.question, resolved_question=query.resolved_question, kind=query.kind
        )

    def verify(self, question: str, raw: str, hits: Sequence[Hit], filters: Filters | None = None) -> Verification:
        return verify_answer(question, raw, hits, filters, self.config, self.places)
