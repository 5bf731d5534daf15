"""A question analysed once: the record every answerer and retriever reads instead of the raw text.

    >>> q = analyse("那2020年呢?", metas, history=[Turn("塘桥街道2019年拆除了多少违章建筑?", ...)])  # doctest: +SKIP
    >>> q.text, q.filters.year, q.kind                                   # doctest: +SKIP
    ('塘桥街道2020年拆除了多少违章建筑?', 2020, 'quantity')

The question is checked, read in simplified script (a traditional-script question and its follow-ups are
matched like simplified ones), completed from the conversation when it is a follow-up, and given its
filters, kind, named streets and years, and its focus (the text without the places and year it is filtered
on). `GovQA.ask` makes one Query per question and hands it down; nothing below re-parses the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..index.tokenize import simplified
from ..records import DocMeta, Filters, Turn
from .kinds import classify
from .questions import (
    YEAR,
    asks_explanation,
    asks_quantity,
    check_question,
    focus_text,
    foreign_streets,
    infer_filters,
    named_streets,
    quoted,
    quoted_terms,
    relax,
    resolve_follow_up,
    street_aliases,
)


@dataclass(frozen=True)
class Query:
    question: str  # as asked, checked (stripped)
    text: str  # the standalone question in simplified script: a follow-up completed from the conversation
    followed: bool  # True: `text` was completed from an earlier turn
    filters: Filters  # explicit filters, with what the question names filling the gaps (when inferred)
    kind: str  # one of questions.KINDS
    streets: tuple[str, ...]  # the corpus's streets the question names (empty when filters are not inferred)
    years: tuple[int, ...]  # every year the question names, in order
    focus: str  # `text` without the places and year it is filtered on: what the retrievers match
    inferred: bool = True  # False: only the explicit filters apply (external data, a comparison's street)
    foreign: tuple[str, ...] = ()  # streets the question names that no report is from (江宁路)
    # What it asks for, read from its wording once (questions.asks_*): the answerers shape their answers by it.
    wants_quantity: bool = False  # a number: 多少 / 几个 / 面积 / 比例
    wants_explanation: bool = False  # a reason or a manner: 为什么 / 怎么 / 如何
    quoted: tuple[str, ...] = ()  # the names it puts in double quotes (“三会”): asked for by that name
    terms: tuple[str, ...] = ()  # the terms it asks the meaning of: the quoted ones, else the X of 什么是X

    @property
    def year(self) -> int | None:
        """The one year the question asks about; None when it names none, or several (a comparison of years)."""
        return self.years[0] if len(set(self.years)) == 1 else None

    @property
    def resolved_question(self) -> str:
        """What the answer says was answered: the completed follow-up, else the question as asked."""
        return self.text if self.followed else self.question


def merge_filters(explicit: Filters | None, named: Filters) -> Filters:
    """Explicit filters win; what the question names fills the gaps (a named district only without a street)."""
    explicit = explicit or Filters()
    return Filters(
        street=explicit.street or named.street,
        district=explicit.district or (None if explicit.street else named.district),
        year=explicit.year if explicit.year is not None else named.year,
        doc_type=explicit.doc_type,
    )


def analyse(
    question: object,
    metas: Iterable[DocMeta],
    filters: Filters | None = None,
    history: Sequence[Turn] = (),
    infer: bool = True,
) -> Query:
    """The Query for `question` over a corpus with these report metadata.

    `history`: earlier turns, oldest first; the last one completes a follow-up. `infer=False`: search with
    `filters` only, not the street and year the question names."""
    asked = check_question(question)
    metas = list(metas)
    previous = simplified(history[-1].resolved_question) if history else None
    resolution = resolve_follow_up(simplified(asked), previous, metas)
    text = resolution.question
    if infer:
        resolved = merge_filters(filters, relax(infer_filters(text, metas), metas))
        streets = tuple(named_streets(text, metas))
        foreign = tuple(foreign_streets(text, metas))
    else:
        resolved, streets, foreign = filters or Filters(), (), ()
    return Query(
        question=asked,
        text=text,
        followed=resolution.followed,
        filters=resolved,
        kind=classify(text, streets, [name for name, _ in street_aliases(m.street for m in metas if m.street)]),
        streets=streets,
        years=tuple(int(y) for y in YEAR.findall(text)),
        focus=focus_text(text, resolved),
        inferred=infer,
        foreign=foreign,
        wants_quantity=asks_quantity(text),
        wants_explanation=asks_explanation(text),
        quoted=tuple(quoted(text)),
        terms=tuple(quoted_terms(text)),
    )


def restricted(query: Query, filters: Filters) -> Query:
    """The same question searched under other filters (one street of a comparison): focus recomputed."""
    return replace(query, filters=filters, focus=focus_text(query.text, filters), inferred=False)
