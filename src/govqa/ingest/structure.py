"""Recover a report's outline: headings (一、 / (一) / 1. / (1)), each paragraph's section path, and the
名词解释 glossary that footnote markers like [3] point to."""

from __future__ import annotations

import re

from ..records import Footnote, Paragraph
from .cleaning import Block
from .headings import HEADING_LEVELS, heading_level  # noqa: F401  (importable from here as before)

_GLOSSARY_HEADING = re.compile(r"名词解释")
_NUMBERED_ENTRY = re.compile(r"^(\d{1,3})[、.．]\s*(.+?)[:：]\s*(.+)$")
_QUOTED_ENTRY = re.compile(r"^(“[^”]{1,30}”[^:：]{0,12})[:：]\s*(.+)$")
_MARKER = re.compile(r"\[(\d{1,3})\]")
_TITLE_COLON = re.compile(r"[:：](?=.)")
MAX_BARE_HEADING = 40  # longer lines that start with a marker are paragraphs led by an inline title
MAX_INLINE_TITLE = 32


def in_glossary(section_path: tuple[str, ...] | list[str]) -> bool:
    """The section path lies in a report's 名词解释 glossary."""
    return bool(section_path) and bool(_GLOSSARY_HEADING.search(section_path[0]))


def is_heading_line(text: str) -> bool:
    """A short line that opens a section: a quoted sentence should not be one."""
    return len(text) <= MAX_BARE_HEADING and heading_level(text) is not None


def build_paragraphs(blocks: list[Block]) -> tuple[str, tuple[Paragraph, ...]]:
    """Lay the blocks out as the cleaned text (one paragraph per line) and give each its section path."""
    glossary_numbered, glossary_terms = _glossary(blocks)
    paragraphs: list[Paragraph] = []
    stack: list[tuple[int, str]] = []  # (level, title) of the open sections
    offset = 0
    in_glossary = False
    for number, block in enumerate(blocks, start=1):
        text = block.text
        kind = block.kind
        level = heading_level(text) if kind == "text" else None
        # A heading without numbering is known only from the layout (font, style); the first one is
        # the document's title, not a section.
        styled = level is None and kind == "text" and block.heading is not None and number > 1
        if styled:
            level = block.heading
        if level is not None and in_glossary and level > 1:
            level = None  # numbered glossary entries ("1、六乱:...") are entries, not headings
        if level is not None:
            # "(1)劳动就业:高质量就业不多。" is a paragraph led by its title, not a bare heading.
            bare = styled or (
                len(text) <= MAX_BARE_HEADING and "。" not in text.rstrip("。") and not _TITLE_COLON.search(text)
            )
            title = text if bare else _inline_title(text)
            if title is not None:
                stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, title.rstrip("。"))]
                if level == 1:
                    in_glossary = bool(_GLOSSARY_HEADING.search(text))
                kind = "heading" if bare else kind
        path = tuple(t for _, t in stack)
        footnotes = _footnotes(text, glossary_numbered, glossary_terms) if not in_glossary else ()
        paragraphs.append(Paragraph(number, text, path, offset, offset + len(text), kind, footnotes, block.page))
        offset += len(text) + 1
    return "\n".join(b.text for b in blocks), tuple(paragraphs)


def _inline_title(text: str) -> str | None:
    """'1、环境综合整治有力开展。实施道路...' opens section 1 with the title before the first 。 (or colon)."""
    head = text.split("。", 1)[0]
    if m := _TITLE_COLON.search(head):
        head = head[: m.start()]
    return head if len(head) <= MAX_INLINE_TITLE else None


def _glossary(blocks: list[Block]) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Entries of every 名词解释 section: numbered ones ("3、两网融合:...") and quoted ones ("“五个中心”:...")."""
    numbered: dict[str, tuple[str, str]] = {}
    terms: dict[str, str] = {}
    inside = False
    for block in blocks:
        level = heading_level(block.text)
        if level == 1 and not _NUMBERED_ENTRY.match(block.text):
            inside = bool(_GLOSSARY_HEADING.search(block.text))
            continue
        if not inside:
            continue
        if m := _NUMBERED_ENTRY.match(block.text):
            numbered[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
        elif m := _QUOTED_ENTRY.match(block.text):
            terms[m.group(1).strip()] = m.group(2).strip()
    return numbered, terms


def _footnotes(text: str, numbered: dict[str, tuple[str, str]], terms: dict[str, str]) -> tuple[Footnote, ...]:
    found: list[Footnote] = []
    for m in _MARKER.finditer(text):
        if entry := numbered.get(m.group(1)):
            found.append(Footnote(m.group(0), entry[0], entry[1]))
    # Reports without markers define quoted terms; link the paragraphs that use them.
    for term, definition in terms.items():
        if term in text:
            found.append(Footnote(term, term.strip("“”"), definition))
    return tuple(dict.fromkeys(found))
