"""Documents -> Chunks: paragraph-based, long paragraphs cut at sentence ends, bare headings joined to their text.

Every chunk is an exact slice of its document's cleaned text, so a citation can always be shown verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..records import Chunk, Document, Footnote, Paragraph

# Report prose uses both full-width and ASCII punctuation; a closing quote stays with its sentence.
_SENTENCE_END = re.compile(r"[。！？；!?;][”’」』]?")
_QUOTE_PAIRS = {"「": "」", "『": "』", "“": "”", "‘": "’"}
_QUOTE_OPEN = re.compile("[「『“‘]")
_MAX_QUOTE = 200  # a longer "quotation" is more likely an unclosed mark than one quoted sentence
_CLAUSE_END = re.compile(r"[，,、：:][”’」』]?")


@dataclass(frozen=True)
class ChunkConfig:
    # Chosen by measurement (scripts/fit_fusion.py --chunk-sizes; README "Retrieval"): ~400 tokens for
    # the default embedder with the title and headings in front, inside its 512-token window.
    max_chars: int = 500
    overlap_chars: int = 100  # trailing sentences of one piece repeated at the start of the next
    min_chars: int = 120  # shorter neighbours in the same section are merged up to max_chars

    def key(self) -> str:
        return f"{self.max_chars}-{self.overlap_chars}-{self.min_chars}"


@dataclass
class _Piece:
    paragraph: Paragraph
    start: int  # offsets into the document text
    end: int
    whole: bool  # the piece is the whole paragraph


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; the last one may lack a terminator.

    A stop inside a quotation that closes on the same line is not a sentence end: 告示称「金钱鼠尾，乃新朝之
    雅政；峨冠博带，实亡国之陋规」 is one sentence, and a quote is never cut in half."""
    spans: list[tuple[int, int]] = []
    start = 0
    quoted = _quoted_ranges(text)
    for m in _SENTENCE_END.finditer(text):
        if any(a < m.start() and m.end() <= b for a, b in quoted):
            continue
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _quoted_ranges(text: str) -> list[tuple[int, int]]:
    """(opening, closing) positions of each quotation that closes within _MAX_QUOTE characters."""
    ranges = []
    for m in _QUOTE_OPEN.finditer(text):
        close = text.find(_QUOTE_PAIRS[m.group()], m.end(), m.end() + _MAX_QUOTE)
        if close != -1:
            ranges.append((m.start(), close))
    return ranges


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text) if text[a:b].strip()]


def _windows(text: str, config: ChunkConfig) -> list[tuple[int, int]]:
    """Cut a long paragraph into windows of whole sentences, each <= max_chars, overlapping a little."""
    spans: list[tuple[int, int]] = []
    for a, b in sentence_spans(text):
        spans.extend(_hard_split(text, a, b, config.max_chars))
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= config.max_chars:
            j += 1
        windows.append((spans[i][0], spans[j][1]))
        if j + 1 >= len(spans):
            break
        # Back up over trailing sentences that fit in the overlap, but always move forward.
        k = j + 1
        while k - 1 > i and spans[j][1] - spans[k - 1][0] <= config.overlap_chars:
            k -= 1
        i = k
    return windows


def _hard_split(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A sentence longer than the limit is cut at clause punctuation, else every `limit` characters."""
    if end - start <= limit:
        return [(start, end)]
    parts: list[tuple[int, int]] = []
    cut_from = start
    last_clause = None
    for m in _CLAUSE_END.finditer(text, start, end):
        if m.end() - cut_from > limit and last_clause:
            parts.append((cut_from, last_clause))
            cut_from = last_clause
        last_clause = m.end()
    while end - cut_from > limit:
        parts.append((cut_from, cut_from + limit))
        cut_from += limit
    parts.append((cut_from, end))
    return parts


def chunk_document(doc: Document, config: ChunkConfig | None = None) -> list[Chunk]:
    config = config or ChunkConfig()
    pieces: list[_Piece] = []
    for para in doc.paragraphs:
        if len(para.text) <= config.max_chars:
            pieces.append(_Piece(para, para.char_start, para.char_end, True))
        else:
            pieces.extend(
                _Piece(para, para.char_start + a, para.char_start + b, False) for a, b in _windows(para.text, config)
            )

    groups: list[list[_Piece]] = []
    for piece in pieces:
        current = groups[-1] if groups else None
        if current and _joins(current, piece, config):
            current.append(piece)
        else:
            groups.append([piece])
    return [_make_chunk(doc, group, n) for n, group in enumerate(groups)]


def _joins(group: list[_Piece], piece: _Piece, config: ChunkConfig) -> bool:
    last = group[-1].paragraph
    para = piece.paragraph
    if all(p.paragraph.kind == "heading" for p in group):
        # A bare heading belongs to the text under it (its path extends the heading's).
        return para.section_path[: len(last.section_path)] == last.section_path
    if not (group[-1].whole and piece.whole):
        return False
    if para.kind == "heading" or para.section_path != last.section_path or para.kind != last.kind:
        return False
    size = piece.end - group[0].start
    body = sum(p.end - p.start for p in group if p.paragraph.kind != "heading")
    return body < config.min_chars and size <= config.max_chars


def _make_chunk(doc: Document, group: list[_Piece], n: int) -> Chunk:
    start, end = group[0].start, group[-1].end
    content = [p.paragraph for p in group if p.paragraph.kind != "heading"] or [group[-1].paragraph]
    footnotes: dict[Footnote, None] = {}
    for piece in group:
        footnotes.update(dict.fromkeys(piece.paragraph.footnotes))
    return Chunk(
        chunk_id=f"{doc.doc_id}#{n}",
        doc_id=doc.doc_id,
        section_path=content[0].section_path,
        para_start=group[0].paragraph.number,
        para_end=group[-1].paragraph.number,
        char_start=start,
        char_end=end,
        text=doc.text[start:end],
        footnotes=tuple(footnotes),
    )


def chunk_documents(docs: list[Document], config: ChunkConfig | None = None) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_document(doc, config)]
