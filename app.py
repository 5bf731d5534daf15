"""govqa's web app: ask the reports, compare streets, browse documents.

    GOVQA_INDEX=index streamlit run app.py

Presentation only: every answer, hit, comparison and document comes from the govqa library.
Corpus and user text is HTML-escaped before it goes into `st.html`.
"""

from __future__ import annotations

import html
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from govqa.engine import (
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    DEFAULT_TOPICS,
    MAX_QUESTION_CHARS,
    STATUS_LABELS,
    SUPPORTED_SUFFIXES,
    GovQA,
    add_document,
    index_generation,
    remove_document,
    to_csv,
    to_xlsx,
)
from govqa.errors import (
    DocumentError,
    FiguresUnavailableError,
    IndexUnavailableError,
    LoadError,
    QuestionError,
)
from govqa.records import Answer, Citation, DocMeta, Document, Filters, Hit

PAGES = ("问答 Ask", "对比 Compare", "数字 Figures", "文档 Documents")
ALL = None  # the "no filter" option of every filter selectbox
CONTEXT_PARAGRAPHS = 2  # paragraphs shown before and after a cited one
MAX_CELL_PASSAGES = 20  # passages listed under the coverage heatmap for one cell

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


# ---------------------------------------------------------------- pure helpers (unit-tested, no Streamlit)


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


def index_dir() -> Path:
    return Path(os.environ.get("GOVQA_INDEX") or DEFAULT_INDEX)


def corpus_dir() -> Path:
    return Path(os.environ.get("GOVQA_CORPUS") or DEFAULT_CORPUS)


def build_command(path: Path) -> str:
    """The command that builds the index the app is looking for."""
    if path == DEFAULT_INDEX:
        return "govqa index"
    return f"govqa index --index {shlex.quote(str(path))}"


def index_stamp(path: Path) -> str:
    """The live generation's name: a rebuilt index gets a new one, so the app reloads it."""
    return index_generation(path) or ""


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
        found = (
            re.compile(re.escape(quote) + r"…?" + re.escape(f"[{c.n}]")).search(text, pos) if quote else None
        )
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
    return (
        '<div class="govqa-answer">'
        + "".join(f'<div class="govqa-line">{line}</div>' for line in lines)
        + "</div>"
    )


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
    classes = (
        "govqa-para" + (" govqa-cited" if cited else "") + (" govqa-heading" if p.kind == "heading" else "")
    )
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
            number = (
                f'<span class="govqa-pno">¶{p.number}</span>'
                if _heading_of(p) and depth == len(path) - 1
                else ""
            )
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


# ---------------------------------------------------------------- cached loading


@st.cache_resource(show_spinner="正在加载索引和模型… (loading the index and the model)", max_entries=2)
def load_qa(path: str, stamp: str) -> GovQA:  # `stamp` keys the cache: a rebuilt index is reloaded
    return GovQA.open(path)


@st.cache_resource(max_entries=32, show_spinner=False)
def load_document(_qa: GovQA, index_key: tuple[str, str], doc_id: str) -> Document:
    return _qa.document(doc_id)


@st.cache_resource(max_entries=16, show_spinner="正在对比各街道… (comparing streets)")
def run_compare(_qa: GovQA, index_key: tuple[str, str], topic: str, streets: tuple[str, ...]):
    return _qa.compare(topic, list(streets) or None)


@st.cache_resource(max_entries=8, show_spinner="正在计算覆盖矩阵… (computing coverage)")
def run_coverage(_qa: GovQA, index_key: tuple[str, str], topics: tuple[str, ...], streets: tuple[str, ...]):
    return _qa.coverage(list(topics) or None, list(streets) or None)


@st.cache_resource(max_entries=16, show_spinner="正在汇总各街道的数字… (collecting figures)")
def run_figures(_qa: GovQA, index_key: tuple[str, str], topic: str, streets: tuple[str, ...], year: int | None,
                status: str | None):  # fmt: skip
    return _qa.figures(topic, list(streets) or None, year=year, status=status)


def open_index() -> tuple[GovQA, tuple[str, str]]:
    """The opened index, or a message saying how to build it and st.stop()."""
    path = index_dir()
    stamp = index_stamp(path)
    try:
        return load_qa(str(path), stamp), (str(path), stamp)
    except IndexUnavailableError as exc:
        missing = not stamp
        st.error(
            ("找不到索引 (no index found)" if missing else "索引无法使用 (the index cannot be used)")
            + f": {exc}"
        )
        st.markdown("先用下面的命令建立索引，再刷新本页 (build it with this command, then reload the page):")
        st.code(build_command(path), language="bash")
        st.caption(
            f"索引目录 index folder: `{path}` (环境变量 GOVQA_INDEX 可改). "
            "`--corpus` 指定报告所在目录，默认 corpus/."
        )
    except Exception as exc:  # noqa: BLE001 - a damaged index can fail in many ways; say how to fix it
        st.error(f"索引无法读取 (the index cannot be read): {type(exc).__name__}: {exc}")
        st.markdown("重新建立索引 (rebuild it):")
        st.code(build_command(path), language="bash")
    st.stop()
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- pages


def show_citation(qa: GovQA, key: tuple[str, str], c: Citation, expanded: bool) -> None:
    st.html(f'<a id="govqa-cite-{c.n}"></a>')
    with st.expander(citation_label(c), expanded=expanded):
        st.caption(citation_caption(c))
        try:
            doc = load_document(qa, key, c.doc_id)
        except KeyError:
            st.warning(f"文档 {c.doc_id} 不在索引中 (not in the index)")
            st.html(f'<div class="govqa-para"><mark>{esc(c.quote)}</mark></div>')
            return
        st.html(context_html(doc, c.paragraph, (c.char_start, c.char_end)))


def show_hits(qa: GovQA, key: tuple[str, str], hits: Sequence[Hit]) -> None:
    st.dataframe(hits_table(hits), hide_index=True)
    for n, h in enumerate(hits, start=1):
        with st.expander(hit_label(h, n)):
            doc = load_document(qa, key, h.chunk.doc_id)
            st.html(hit_context_html(doc, h))


def page_ask(qa: GovQA, key: tuple[str, str]) -> None:
    metas = [qa.index.metas[d] for d in qa.index.doc_ids()]
    options = filter_options(metas)
    show_all = lambda v: "(全部 all)" if v is ALL else str(v)  # noqa: E731

    with st.form("ask"):
        question = st.text_area(
            "问题 Question",
            placeholder="例如：塘桥街道2019年拆除了多少违章建筑?",
            height=90,
            help=f"最多 {MAX_QUESTION_CHARS} 个字符 (at most {MAX_QUESTION_CHARS} characters)",
        )
        cols = st.columns(4)
        street = cols[0].selectbox("街道 Street", options["street"], format_func=show_all)
        district = cols[1].selectbox("区 District", options["district"], format_func=show_all)
        year = cols[2].selectbox("年份 Year", options["year"], format_func=show_all)
        doc_type = cols[3].selectbox("类型 Type", options["doc_type"], format_func=show_all)
        submitted = st.form_submit_button("提问 Ask", type="primary")

    conversation: list[Answer] = st.session_state.setdefault("conversation", [])
    if submitted:
        filters = Filters(street=street, district=district, year=year, doc_type=doc_type)
        try:
            with st.spinner("正在检索… (searching)"):
                # Earlier turns let a follow-up ("那长寿路街道呢?") be read against the previous question.
                conversation.append(qa.ask(question, filters, history=conversation))
        except QuestionError as exc:
            (st.warning if not (question or "").strip() else st.error)(md(exc))
            return
    if conversation and st.button(
        "新对话 New conversation", help="清空本次对话 (forget the earlier questions)"
    ):
        conversation.clear()
    if not conversation:
        return

    for n, past in enumerate(conversation[:-1], start=1):
        with st.expander(f"{n}. {past.question}"):
            show_resolved(past)
            st.html(f'<div class="govqa-past-answer">{esc(past.text)}</div>')

    answer = conversation[-1]
    st.subheader("回答 Answer")
    show_resolved(answer)
    if answer.supported:
        st.html(answer_html(answer))
    else:
        st.info(md(answer.text))
    f = answer.filters
    used = [
        f"{name}: {v}"
        for name, v in (("街道", f.street), ("区", f.district), ("年份", f.year), ("类型", f.doc_type))
        if v is not None
    ]
    if used:
        st.caption("检索范围 (filters used): " + " · ".join(used))
    for sentence in answer.flagged:
        st.warning(f"未被引文支持的句子 (unsupported sentence): {md(sentence)}")

    if answer.citations:
        st.markdown("**引用 Citations** — 展开查看原文段落 (expand to read the paragraph in its report)")
        for i, c in enumerate(answer.citations):
            show_citation(qa, key, c, expanded=i == 0)
    if answer.hits:
        st.subheader("检索到的段落 Retrieved passages")
        show_hits(qa, key, answer.hits)


def show_resolved(answer: Answer) -> None:
    """The standalone question a follow-up was taken as, so the reader can see what was answered."""
    if answer.resolved_question and answer.resolved_question != answer.question:
        st.caption(f"理解为 (taken as): {md(answer.resolved_question)}")


def _topic_and_streets_given(topic: str, streets: list[str]) -> bool:
    """Both pages over streets need a topic and at least one street; a warning says which is missing."""
    if not topic:
        st.warning("请输入一个主题。 (enter a topic)")
        return False
    if not streets:
        st.warning("请至少选择一个街道。 (choose at least one street)")
        return False
    return True


def page_compare(qa: GovQA, key: tuple[str, str]) -> None:
    all_streets = sorted({m.street for m in qa.index.metas.values() if m.street})
    cols = st.columns([2, 3])
    topic = cols[0].text_input("主题 Topic", value="垃圾分类", help="例如：垃圾分类、养老服务、旧区改造")
    streets = cols[1].multiselect("街道 Streets", all_streets, default=all_streets)
    topic = (topic or "").strip()
    if not _topic_and_streets_given(topic, streets):
        return

    try:
        comparison = run_compare(qa, key, topic, tuple(streets))
    except (QuestionError, ValueError) as exc:
        st.error(md(exc))
        return
    st.subheader(f"各街道的「{md(comparison.topic)}」 — side by side")
    # A static table: findings wrap instead of being cut off.
    st.table(comparison_rows(comparison), hide_index=True)
    for f in comparison.findings:
        if not f.citations:
            continue
        with st.expander(f"{md(f.street)} · {len(f.citations)} 条引用 citations"):
            for c in f.citations:
                label = f'<div class="govqa-para govqa-heading">{esc(citation_text(c))}</div>'
                try:
                    doc = load_document(qa, key, c.doc_id)
                except KeyError:
                    st.html(f'{label}<div class="govqa-para"><mark>{esc(c.quote)}</mark></div>')
                    continue
                st.html(label + context_html(doc, c.paragraph, (c.char_start, c.char_end), around=1))

    st.subheader("覆盖度 Coverage (topics × streets)")
    topics = tuple(DEFAULT_TOPICS)
    if topic not in topics:
        topics = (topic, *topics)
    try:
        matrix = run_coverage(qa, key, topics, tuple(streets))
    except (QuestionError, ValueError) as exc:
        st.error(md(exc))
        return
    show_heatmap(matrix)
    st.caption(
        "每格：相关段落数 · 覆盖度。覆盖度是该街道报告中与主题相关的段落占比，以该主题下占比最高的街道为 1；"
        "报告较短的街道，几个段落就可能占比最高，请结合段落数看。 "
        "(each cell: relevant passages · score, the share of a street's passages on the topic relative to the "
        "street with the most; a short report reaches a high share with few passages, so read it with the count)"
    )

    cols = st.columns(2)
    cell_topic = cols[0].selectbox("主题 topic", list(matrix.topics), key="cell_topic")
    cell_street = cols[1].selectbox("街道 street", list(matrix.streets), key="cell_street")
    cell = matrix.cell(cell_topic, cell_street)
    st.markdown(
        f"**{md(cell_street)} · {md(cell_topic)}** — 覆盖度 score {cell.score:.2f} · "
        f"{len(cell.passages)} 个相关段落 relevant passages"
    )
    if not cell.passages:
        st.caption("该街道的报告未涉及此主题。 (this street's reports do not discuss the topic)")
    for n, h in enumerate(cell.passages[:MAX_CELL_PASSAGES], start=1):
        with st.expander(hit_label(h, n)):
            st.html(hit_context_html(load_document(qa, key, h.chunk.doc_id), h, around=0))
    if len(cell.passages) > MAX_CELL_PASSAGES:
        st.caption(
            f"另有 {len(cell.passages) - MAX_CELL_PASSAGES} 个段落未显示。 "
            f"({len(cell.passages) - MAX_CELL_PASSAGES} more passages not shown)"
        )


def show_heatmap(matrix) -> None:
    import altair as alt
    import pandas as pd

    data = pd.DataFrame(heatmap_rows(matrix))
    base = alt.Chart(data).encode(
        x=alt.X("street:N", title="街道 street", sort=list(matrix.streets), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("topic:N", title="主题 topic", sort=list(matrix.topics), axis=alt.Axis(labelLimit=260)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("score:Q", title="覆盖度", scale=alt.Scale(domain=[0, 1], scheme="blues")),
        tooltip=["topic", "street", alt.Tooltip("score:Q", format=".2f"), "passages"],
    )
    labels = base.mark_text(baseline="middle").encode(
        text=alt.Text("label:N"),
        color=alt.condition("datum.score > 0.55", alt.value("white"), alt.value("black")),
    )
    st.altair_chart((rect + labels).properties(height=max(160, 34 * len(matrix.topics))), width="stretch")


def figure_rows(table) -> list[dict]:
    """The street × year table: one line per street and year, its figures with their counted phrase and [n]."""
    out = []
    cells = table.cells()
    for street in table.streets:
        years = [y for y in table.years if (street, y) in cells]
        gap = next((g.reason for g in table.gaps if g.street == street), "")
        if not years:
            out.append({"街道 street": street, "年份 year": "", "数字 figures": gap or "—"})
        for y in years:
            items = "；".join(
                f"{r.counted} {r.value_text}（{STATUS_LABELS[r.status]}）[{r.citation.n}]"
                for r in cells[(street, y)]
            )
            out.append(
                {"街道 street": street, "年份 year": str(y) if y else "年份不明", "数字 figures": items}
            )
    return out


def page_figures(qa: GovQA, key: tuple[str, str]) -> None:
    all_streets = sorted({m.street for m in qa.index.metas.values() if m.street})
    cols = st.columns([2, 3, 1, 1])
    topic = cols[0].text_input("主题 Topic", value="加装电梯", key="fig_topic",
                               help="例如：加装电梯、群租、垃圾分类、就业")  # fmt: skip
    streets = cols[1].multiselect("街道 Streets", all_streets, default=all_streets, key="fig_streets")
    year_text = cols[2].text_input("年份 Year", value="", key="fig_year", help="留空：所有年份")
    status = cols[3].selectbox("完成/计划", ["全部 all", "完成 done", "计划 planned"], key="fig_status")
    topic = (topic or "").strip()
    if not _topic_and_streets_given(topic, streets):
        return
    year = int(year_text) if year_text.strip().isdigit() else None
    wanted = {"完成 done": "done", "计划 planned": "planned"}.get(status)
    try:
        table = run_figures(qa, key, topic, tuple(streets), year, wanted)
    except (QuestionError, ValueError, FiguresUnavailableError) as exc:
        st.error(md(exc))
        return
    st.subheader(f"各街道的「{md(table.topic)}」数字 — figures by street and year")
    st.table(figure_rows(table), hide_index=True)
    st.caption(
        "数字按原文摘录，从不相加：统计对象或单位不同的数字分列。 未给出具体数字：报告谈到该主题但没有数字；"
        "报告中未涉及：报告没有谈到该主题。 (figures are quoted, never summed)"
    )
    if table.rows:
        cols = st.columns(2)
        cols[0].download_button("下载 CSV", to_csv(table).encode("utf-8-sig"),
                                file_name=f"figures-{table.topic}.csv", mime="text/csv")  # fmt: skip
        cols[1].download_button("下载 XLSX", to_xlsx(table), file_name=f"figures-{table.topic}.xlsx",
                                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
        show_figure_chart(table)
        with st.expander(f"{len(table.rows)} 条引用 citations"):
            for r in table.rows:
                st.markdown(f"[{r.citation.n}] {md(citation_text(r.citation))}")


def show_figure_chart(table) -> None:
    """Bars by street (and by year where a street has several) for one measure: same counted thing, same unit."""
    import altair as alt
    import pandas as pd

    measures = table.measures()
    # Charts compare like with like: only a measure stated by several streets or years is worth a chart.
    ranked = sorted(measures, key=lambda m: (-len({(r.street, r.year) for r in measures[m]}), m))
    measure = st.selectbox("图表 Chart: 统计对象（单位）", ranked, key="fig_measure")
    rows = measures[measure]
    data = pd.DataFrame(
        [{"street": r.street, "year": str(r.year) if r.year else "年份不明", "value": r.value,
          "figure": r.value_text, "status": STATUS_LABELS[r.status]} for r in rows]
    )  # fmt: skip
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("street:N", title="街道 street", axis=alt.Axis(labelAngle=0)),
            xOffset="year:N",
            y=alt.Y("value:Q", title=measure),
            color=alt.Color("year:N", title="年份 year"),
            tooltip=["street", "year", "figure", "status"],
        )
        .properties(height=280)
    )
    st.altair_chart(chart, width="stretch")


def page_documents(qa: GovQA, key: tuple[str, str]) -> None:
    doc_ids = qa.index.doc_ids()
    metas = qa.index.metas
    st.subheader(f"报告 Reports ({len(doc_ids)})")
    st.dataframe(
        [
            {
                "标题 title": metas[d].title,
                "街道 street": metas[d].street,
                "区 district": metas[d].district,
                "年份 years": years_label(metas[d]),
                "发布 published": metas[d].published,
                "类型 type": metas[d].doc_type,
                "文件 doc_id": d,
            }
            for d in doc_ids
        ],
        hide_index=True,
    )
    if not doc_ids:
        manage_documents(doc_ids, metas)
        return
    doc_id = st.selectbox("打开报告 Open a report", doc_ids, format_func=lambda d: metas[d].title)
    doc = load_document(qa, key, doc_id)
    st.subheader(md(doc.meta.title))
    st.html(meta_html(doc))

    toc = toc_html(doc)
    if toc:
        with st.expander("目录 Outline", expanded=True):
            st.html(toc)
    for top, paragraphs in section_tree(doc):
        with st.expander(section_label(top, paragraphs)):
            st.html(section_html(paragraphs))
    manage_documents(doc_ids, metas)


def manage_documents(doc_ids: Sequence[str], metas) -> None:
    """Upload and delete reports: the same library calls as the HTTP API (engine.add_document / remove_document)."""
    corpus = corpus_dir()
    changed = st.session_state.pop("documents_changed", None)
    if changed:
        st.success("  \n".join(changed))
    with st.expander("管理报告 Manage reports", expanded=bool(changed)):
        st.caption(
            f"报告目录 corpus folder: `{corpus}` (环境变量 GOVQA_CORPUS 可改). 索引随之增量更新 (the index is updated incrementally)."
        )
        upload, paste, delete = st.tabs(["上传文件 Upload", "粘贴文本 Paste text", "删除 Delete"])
        with upload:
            file = st.file_uploader("报告文件 Report file", type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES])
            replace = st.checkbox("覆盖同名报告 Replace a report of the same name", key="upload_replace")
            if (
                st.button("上传并索引 Upload and index", disabled=file is None, key="upload_go")
                and file is not None
            ):
                _change_documents(
                    lambda: add_document(corpus, index_dir(), file.name, file.getvalue(), replace=replace)
                )
        with paste:
            name = st.text_input("文件名 File name", placeholder="某街道2021年工作报告.txt", key="paste_name")
            text = st.text_area("报告全文 Report text", height=200, key="paste_text")
            if st.button("保存并索引 Save and index", key="paste_go"):
                _change_documents(lambda: add_document(corpus, index_dir(), name, text.encode("utf-8")))
        with delete:
            target = st.selectbox("报告 Report", doc_ids, index=None, key="delete_doc",
                                  format_func=lambda d: f"{metas[d].title} ({d})")  # fmt: skip
            sure = st.checkbox(
                "确认从报告目录和索引中删除 Delete it from the corpus folder and the index", key="delete_sure"
            )
            if st.button("删除 Delete", disabled=not (target and sure), key="delete_go") and target:
                _change_documents(lambda: remove_document(corpus, index_dir(), target))


def _change_documents(change) -> None:
    try:
        with st.spinner("正在更新索引… (updating the index)"):
            result = change()
    except (DocumentError, LoadError, OSError) as exc:
        st.error(f"未能完成 (not done): {md(exc)}")
        return
    report = result.build.report
    actions = {"added": "已添加 added", "replaced": "已替换 replaced", "unchanged": "内容未变 unchanged",
               "removed": "已删除 removed"}  # fmt: skip
    lines = [
        f"{actions[result.action]}: {md(result.doc_id)} · 索引现有 {report.documents} 份报告、{report.chunks} 段 "
        f"({report.embedded} 段新嵌入 newly embedded)"
    ]
    lines += [f"跳过 skipped {md(e.path)}: {md(e.reason)}" for e in result.build.errors]
    # Shown after the rerun that loads the new generation, so the page lists what the message says.
    st.session_state["documents_changed"] = lines
    st.rerun()


def main() -> None:
    st.set_page_config(page_title="govqa · 政府工作报告问答", layout="wide")
    st.html(CSS)
    st.title("政府工作报告问答 govqa")
    qa, key = open_index()
    with st.sidebar:
        page = st.radio("页面 Page", PAGES, key="page")
        st.caption(
            f"索引 index: `{key[0]}` · {len(qa.index.metas)} 份报告 reports · "
            f"{len(qa.index.chunks)} 段 chunks · embedder `{qa.index.embedder_name}`"
        )
    if page == PAGES[0]:
        page_ask(qa, key)
    elif page == PAGES[1]:
        page_compare(qa, key)
    elif page == PAGES[2]:
        page_figures(qa, key)
    else:
        page_documents(qa, key)


if __name__ == "__main__":
    main()
