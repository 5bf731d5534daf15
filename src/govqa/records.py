"""The typed records that flow through the pipeline.

corpus file -> Document (cleaned text + Paragraphs) -> Chunk -> Hit -> Answer (with Citations).
All records are frozen: once a stage has produced one, later stages only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class DocMeta:
    """What a report is about. Extracted automatically, overridable by a sidecar file."""

    title: str
    street: str | None = None  # 街道/镇, e.g. 塘桥街道
    district: str | None = None  # 区, e.g. 浦东新区
    year_start: int | None = None  # first year the report covers
    year_end: int | None = None  # last year it covers (same as year_start for a one-year report)
    published: str | None = None  # ISO date, e.g. 2020-01-16
    doc_type: str | None = None  # 工作报告, 工作总结, 工作计划, 行动计划 ...

    def covers(self, year: int) -> bool:
        if self.year_start is None:
            return False
        return self.year_start <= year <= (self.year_end or self.year_start)

    def with_overrides(self, **changes: object) -> DocMeta:
        known = {k: v for k, v in changes.items() if k in DocMeta.__dataclass_fields__}
        return replace(self, **known)


@dataclass(frozen=True)
class Footnote:
    """A marker such as [3] in the text, linked to its entry in the report's 名词解释 glossary."""

    marker: str  # "[3]"
    term: str  # "两网融合"
    definition: str


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a cleaned document; `text` is exactly `document.text[char_start:char_end]`."""

    number: int  # 1-based, in reading order, headings included
    text: str
    section_path: tuple[str, ...]
    char_start: int
    char_end: int
    kind: str = "text"  # "text", "heading" or "table" (a rebuilt table row)
    footnotes: tuple[Footnote, ...] = ()
    page: int | None = None  # 1-based page the paragraph starts on, where the source has pages (PDF)


@dataclass(frozen=True)
class Document:
    doc_id: str  # file name relative to the corpus root, e.g. 003_1c4c3d7015c59f1b.txt
    meta: DocMeta
    text: str  # the cleaned text; paragraphs are slices of it
    paragraphs: tuple[Paragraph, ...]
    content_hash: str  # hash of the source bytes and cleaning version: unchanged hash -> reuse embeddings
    source_path: str = ""

    def paragraph(self, number: int) -> Paragraph:
        return self.paragraphs[number - 1]


# Bump when Chunk.search_text changes: the vectors of an existing index no longer match it.
SEARCH_TEXT_VERSION = "5"


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded and retrieved. `text` is exactly `document.text[char_start:char_end]`."""

    chunk_id: str
    doc_id: str
    section_path: tuple[str, ...]
    para_start: int
    para_end: int  # inclusive
    char_start: int
    char_end: int
    text: str
    footnotes: tuple[Footnote, ...] = ()

    @property
    def paragraphs(self) -> range:
        return range(self.para_start, self.para_end + 1)

    def search_text(self, title: str | None = None) -> str:
        """What retrievers see: the document title and section headings give a passage deep in a long
        report its topic (a notice's headline is otherwise only in its first chunk)."""
        # A heading already in the text (a chunk led by its heading) would only cost embedding time twice.
        context = [h for h in (title, *self.section_path) if h and h not in self.text]
        head = " > ".join(dict.fromkeys(context))
        return f"{head}\n{self.text}" if head else self.text


@dataclass(frozen=True)
class Filters:
    street: str | None = None
    district: str | None = None
    year: int | None = None
    doc_type: str | None = None

    def is_empty(self) -> bool:
        return not any((self.street, self.district, self.year, self.doc_type))

    def matches(self, meta: DocMeta) -> bool:
        if self.street and not same_place(self.street, meta.street):
            return False
        if self.district and not same_place(self.district, meta.district):
            return False
        if self.year is not None and not meta.covers(self.year):
            return False
        if self.doc_type and self.doc_type != meta.doc_type:
            return False
        return True


def same_place(wanted: str, actual: str | None) -> bool:
    """塘桥 matches 塘桥街道; 浦东 matches 浦东新区."""
    if not actual:
        return False
    return wanted == actual or actual.startswith(wanted) or wanted.startswith(actual)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with every retriever's view of it (None: that retriever did not return it)."""

    chunk: Chunk
    meta: DocMeta
    score: float  # the fused score used for ranking
    rank: int  # 1-based
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None
    # Other documents carrying (nearly) the same text, collapsed into this hit: a forwarded notice and
    # its original both count, and a citation can name either.
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] mark in the answer text
    doc_id: str
    title: str
    street: str | None
    section_path: tuple[str, ...]
    paragraph: int
    quote: str  # verbatim from the cleaned document
    char_start: int  # of the quote in the cleaned document
    char_end: int
    page: int | None = None  # 第N页 of the source, where it has pages


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    supported: bool  # False: the reports do not support an answer, and `text` says so
    hits: tuple[Hit, ...] = ()
    filters: Filters = field(default_factory=Filters)
    flagged: tuple[str, ...] = ()  # sentences a generator wrote that no cited passage supports
    # The standalone question that was answered: a follow-up ("那长寿路街道呢?") completed from the conversation;
    # empty when it is `question` itself as given.
    resolved_question: str = ""
    kind: str = ""  # quantity, definition, list, summary, cross_street, time, yes_no or other (qa.questions.KINDS)

    def turn(self) -> Turn:
        """This exchange as a conversation turn, for the `history` of a follow-up question."""
        return Turn(self.question, self.resolved_question or self.question, self.kind)


@dataclass(frozen=True)
class Turn:
    """One earlier question of a conversation: what was asked and the standalone question it was taken as."""

    question: str
    resolved_question: str
    kind: str = ""
