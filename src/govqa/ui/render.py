"""The HTML and tables the pages show, as pure functions (no Streamlit), so they are unit-tested directly.

Corpus and user text is HTML-escaped before it goes into `st.html`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ..records import Answer, Citation, DocMeta, Document, Hit

ALL = None  # the "no filter" option of every filter selectbox
CONTEXT_PARAGRAPHS = 2  # paragraphs shown before and after a cited one


CSS = """
<style>
.govqa-answer { font-size: 1.1rem; line-height: 1.8; }
.govqa-answer sup.govqa-cite a { text-decoration: none; font-weight: 600; }
.govqa-answer .govqa-line { margin: 0 0 .35rem; }
.govqa-answer .govqa-street { font-weight: 600; }
/* A report's own footnote mark: grey, upright, dotted - not a blue superscript citation link. */
.govqa-answer .govqa-footnote-mark { color: #888; font-size: .8em; border-bottom: 1px dotted #aaa; cursor: help; }
.govqa-context { border-left: 3px solid #ddd; padding-left: .75rem; }
.govqa-para { white-space: pre-wrap; margin: .35rem 0; line-height: 1.7; }
.govqa-para.govqa-cited { background: #fffbe6; border-left: 3px solid #f5a623; padding: .25rem .5rem; }
.govqa-para.govqa-heading { font-weight: 600; }
.govqa-para mark { background: #ffe066; padding: 0 .1rem; }
.govqa-pno { color: #999; font-size: .8em; margin-right: .4rem; user-select: none; }
.govqa-note { color: #666; font-size: .85em; margin: 0 0 .4rem 1.6rem; }
.govqa-toc div { margin: .1rem 0; }
.govqa-path { color: #666; font-size: .9em; }
.govqa-meta { display: flex; flex-wrap: wrap; gap: .5rem 2rem; margin: .25rem 0 .75rem; }
.govqa-meta-key { color: #888; font-size: .8em; }
.govqa-meta-value { font-size: 1.05rem; font-weight: 500; }
</style>
"""


def esc(text: object) -> str:
    """Text for st.html."""
    return html.escape(str(text), quote=True)


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>#!|~$])")


def md(text: object) -> str:
    """Text for Streamlit's markdown (st.markdown, st.error, ...): shown as typed, never as links or LaTeX."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


_ESCAPED_MARK = re.compile(r"\\\[(\d{1,3})\\\](?!\()")


def md_marks(text: object) -> str:
    """`md`, but citation marks [n] stay as written: without a "(" after them Markdown makes no link."""
    return _ESCAPED_MARK.sub(r"[\1]", md(text))


def years_label(meta: DocMeta) -> str:
    if meta.year_start is None:
        return "-"
    if meta.year_end and meta.year_end != meta.year_start:
        return f"{meta.year_start}–{meta.year_end}"
    return str(meta.year_start)


def path_label(section_path: Sequence[str]) -> str:
    return " > ".join(section_path) or "(正文)"


def filter_options(metas: Sequence[DocMeta]) -> dict[str, list]:
    """The values each filter can take, from the index's metadata, with ALL first."""
    years: set[int] = set()
    for m in metas:
        if m.year_start is not None:
            years.update(range(m.year_start, (m.year_end or m.year_start) + 1))
    return {
        "street": [ALL, *sorted({m.street for m in metas if m.street})],
        "district": [ALL, *sorted({m.district for m in metas if m.district})],
        "year": [ALL, *sorted(years)],
        "doc_type": [ALL, *sorted({m.doc_type for m in metas if m.doc_type})],
    }


_FOOTNOTE_MARK = re.compile(r"\[\d{1,3}\]")


_STREET_LINE = re.compile(r"^(\S{2,12}?(?:街道|镇))：")


def _text_html(text: str) -> str:
    """Answer text between citation links: escaped, a report's own footnote marks ([2]) styled apart."""
    return _FOOTNOTE_MARK.sub(
        lambda m: (
            f'<span class="govqa-footnote-mark" title="报告原文的注释标记 (the report\'s own footnote mark)">'
            f"{m[0]}</span>"
        ),
        esc(text),
    )


def answer_html(answer: Answer) -> str:
    """The answer text with each citation mark [n] as a link to its citation below, one line per line.

    Only the mark right after a citation's quote (or after the … that ends a shortened quote) is that
    citation's; a report's own footnote marks (e.g. "五违四必” [2]") are styled as such, not as links.
    A cross-street answer has a line per street, its street name in bold.
    """
    text, pos, parts = answer.text, 0, []
    for c in answer.citations:
        quote = c.quote.strip()
        found = re.compile(re.escape(quote) + r"…?" + re.escape(f"[{c.n}]")).search(text, pos) if quote else None
        if found is None:
            continue
        end = found.end() - len(f"[{c.n}]")
        parts.append(_text_html(text[pos:end]))
        parts.append(
            f'<sup class="govqa-cite"><a href="#govqa-cite-{c.n}" title="{esc(c.title)} · 第{c.paragraph}段">'
            f"[{c.n}]</a></sup>"
        )
        pos = found.end()
    parts.append(_text_html(text[pos:]))
    # Tags never hold a newline, so the marked-up text splits into lines where the answer's text does.
    lines = "".join(parts).split("\n")
    if answer.kind == "cross_street":
        lines = [_STREET_LINE.sub(r'<span class="govqa-street">\1</span>：', line) for line in lines]
    return '<div class="govqa-answer">' + "".join(f'<div class="govqa-line">{line}</div>' for line in lines) + "</div>"


def _para_html(p, highlight: tuple[int, int] | None = None, cited: bool = False) -> str:
    """One paragraph; `highlight` is a span of the document's text to <mark> inside it."""
    t = p.text
    if highlight is not None:
        a = min(max(highlight[0] - p.char_start, 0), len(t))
        b = min(max(highlight[1] - p.char_start, a), len(t))
        if b > a:
            body = f"{esc(t[:a])}<mark>{esc(t[a:b])}</mark>{esc(t[b:])}"
        else:
            body = f"<mark>{esc(t)}</mark>"
    else:
        body = esc(t)
    classes = "govqa-para" + (" govqa-cited" if cited else "") + (" govqa-heading" if p.kind == "heading" else "")
    return f'<div class="{classes}"><span class="govqa-pno">¶{p.number}</span>{body}</div>'


def context_html(
    doc: Document, paragraph: int, span: tuple[int, int] | None = None, around: int = CONTEXT_PARAGRAPHS
) -> str:
    """The cited paragraph, its quote <mark>ed, with `around` paragraphs before and after it."""
    if not doc.paragraphs:
        return ""
    paragraph = min(max(paragraph, 1), len(doc.paragraphs))
    lo, hi = max(1, paragraph - around), min(len(doc.paragraphs), paragraph + around)
    rows = []
    for p in doc.paragraphs[lo - 1 : hi]:
        if p.number == paragraph:
            rows.append(_para_html(p, span or (p.char_start, p.char_end), cited=True))
        else:
            rows.append(_para_html(p))
    return f'<div class="govqa-context">{"".join(rows)}</div>'


def hit_context_html(doc: Document, hit: Hit, around: int = 1) -> str:
    """A retrieved passage (possibly several paragraphs) <mark>ed in its surrounding text."""
    c = hit.chunk
    lo, hi = max(1, c.para_start - around), min(len(doc.paragraphs), c.para_end + around)
    rows = []
    for p in doc.paragraphs[lo - 1 : hi]:
        inside = c.para_start <= p.number <= c.para_end
        rows.append(_para_html(p, (c.char_start, c.char_end) if inside else None, cited=inside))
    return f'<div class="govqa-context">{"".join(rows)}</div>'


def section_tree(doc: Document) -> list[tuple[tuple[str, ...], list]]:
    """The document's paragraphs grouped by top-level section, in reading order.

    Returns [(top-level section path or (), [paragraph, ...]), ...]; a top-level section that recurs
    after another one (rare) gets a group of its own each time.
    """
    groups: list[tuple[tuple[str, ...], list]] = []
    for p in doc.paragraphs:
        top = p.section_path[:1]
        if not groups or groups[-1][0] != top:
            groups.append((top, []))
        groups[-1][1].append(p)
    return groups


def _heading_of(p) -> bool:
    """A heading paragraph whose text is the last element of its section path (shown once, as the node)."""
    if p.kind != "heading" or not p.section_path:
        return False
    return p.text.strip().rstrip("。.:：") == p.section_path[-1].rstrip("。.:：")


def section_html(paragraphs: Sequence, base_depth: int = 1) -> str:
    """Paragraphs as an indented tree: a node per section heading, paragraphs under their section."""
    rows, current = [], ()
    for p in paragraphs:
        path = p.section_path
        common = 0
        while common < min(len(path), len(current)) and path[common] == current[common]:
            common += 1
        for depth in range(max(common, base_depth), len(path)):
            indent = (depth - base_depth) * 1.4
            number = f'<span class="govqa-pno">¶{p.number}</span>' if _heading_of(p) and depth == len(path) - 1 else ""
            rows.append(
                f'<div class="govqa-para govqa-heading" style="margin-left:{indent:.1f}rem">'
                f"{number}▸ {esc(path[depth])}</div>"
            )
        current = path
        if _heading_of(p):
            continue  # shown as its section's node (a top-level one is its expander's label)
        indent = max(len(path) - base_depth, 0) * 1.4
        rows.append(f'<div style="margin-left:{indent:.1f}rem">{_para_html(p)}</div>')
        for f in p.footnotes:
            rows.append(
                f'<div class="govqa-note" style="margin-left:{indent + 1.6:.1f}rem">'
                f"{esc(f.marker)} {esc(f.term)}：{esc(f.definition)}</div>"
            )
    return "".join(rows)


def toc_html(doc: Document) -> str:
    """The section outline of a document, indented by depth."""
    seen: set[tuple[str, ...]] = set()
    rows = []
    for p in doc.paragraphs:
        for depth in range(1, len(p.section_path) + 1):
            node = p.section_path[:depth]
            if node in seen:
                continue
            seen.add(node)
            rows.append(
                f'<div style="margin-left:{(depth - 1) * 1.4:.1f}rem">'
                f'{esc(node[-1])} <span class="govqa-pno">¶{p.number}</span></div>'
            )
    return f'<div class="govqa-toc">{"".join(rows)}</div>' if rows else ""


def meta_html(doc: Document) -> str:
    """A report's metadata (its title aside) as a row of labelled values."""
    m = doc.meta
    items = [
        ("街道 street", m.street),
        ("区 district", m.district),
        ("年份 years", years_label(m)),
        ("发布 published", m.published),
        ("类型 type", m.doc_type),
        ("文件 file", doc.doc_id),
        ("段落 paragraphs", len(doc.paragraphs)),
    ]
    cells = "".join(
        f'<div class="govqa-meta-item"><div class="govqa-meta-key">{esc(k)}</div>'
        f'<div class="govqa-meta-value">{esc(v if v not in (None, "") else "-")}</div></div>'
        for k, v in items
    )
    return f'<div class="govqa-meta">{cells}</div>'


def comparison_rows(comparison) -> list[dict]:
    """The side-by-side table: one row per street. st.table renders Markdown, so report text is escaped."""
    return [
        {
            "街道 street": md(f.street),
            "区 district": md(f.district or ""),
            "发现 finding": md_marks(f.finding if f.found else f"— {f.finding}"),
            "引用 citations": "；".join(citation_label(c) for c in f.citations) or "-",
        }
        for f in comparison.findings
    ]


# Labels built from report text (titles, headings) go into Markdown (expander labels, captions, st.table),
# where a title such as ![x](http://...) would make every viewer's browser fetch that URL: they are escaped
# here, once. `citation_text` is the plain form, for HTML (escaped there with `esc`).


def hit_label(h: Hit, n: int | None = None) -> str:
    """A passage's one-line title with its scores (a passage no retriever returned has none); Markdown-safe.

    `n`: its place in the list shown, which is not its rank when the list gathers several searches' best
    passages (a cross-street answer: each street's #1)."""
    where = md(f"{h.meta.title} · {path_label(h.chunk.section_path[-1:])} · 第{h.chunk.para_start}段")
    if h.dense_rank is None and h.bm25_rank is None:
        return where
    ranks = f"dense #{h.dense_rank or '-'} · bm25 #{h.bm25_rank or '-'}"
    return f"#{h.rank if n is None else n} · {where} · fused {h.score:.4f} · {ranks}"


def _citation_where(c: Citation) -> str:
    page = f"第{c.page}页 " if c.page else ""
    return f"{c.title} · {path_label(c.section_path[-1:])} · {page}第{c.paragraph}段"


def citation_text(c: Citation) -> str:
    return f"[{c.n}] {_citation_where(c)}"


def citation_label(c: Citation) -> str:
    """`citation_text`, Markdown-safe ("[1] " alone is no link: it stays as it reads)."""
    return f"[{c.n}] {md(_citation_where(c))}"


def citation_caption(c: Citation) -> str:
    """The street and full section path under a citation; Markdown-safe."""
    return md(f"{c.street or '-'} · {path_label(c.section_path)}")


def section_label(top: Sequence[str], paragraphs: Sequence) -> str:
    """A document section's expander label: its heading and paragraph range; Markdown-safe."""
    heading = top[0] if top else "(开头 front matter)"
    return f"{md(heading)} · ¶{paragraphs[0].number}–{paragraphs[-1].number}"


def hits_table(hits: Sequence[Hit]) -> list[dict]:
    return [
        {
            "rank": n,  # the place in this list (see hit_label)
            "fused score": round(h.score, 5),
            "dense rank": h.dense_rank,
            "dense score": None if h.dense_score is None else round(h.dense_score, 4),
            "bm25 rank": h.bm25_rank,
            "bm25 score": None if h.bm25_score is None else round(h.bm25_score, 3),
            "report": h.meta.title,
            "street": h.meta.street,
            "section": path_label(h.chunk.section_path),
            "paragraphs": f"{h.chunk.para_start}–{h.chunk.para_end}"
            if h.chunk.para_end != h.chunk.para_start
            else str(h.chunk.para_start),
        }
        for n, h in enumerate(hits, start=1)
    ]


def heatmap_rows(matrix) -> list[dict]:
    """The coverage heatmap's cells. Each shows its passage count beside the score: the score is a share of
    the street's passages, so a street with a 2-passage report on the topic can top one with 24."""
    rows = []
    for t in matrix.topics:
        for s in matrix.streets:
            c = matrix.cell(t, s)
            count = len(c.passages)
            label = f"{count} 段 · {c.score:.2f}" if count else "0"
            rows.append({"topic": t, "street": s, "score": float(c.score), "passages": count, "label": label})
    return rows
