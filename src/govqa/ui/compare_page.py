"""The Compare page: what each street says on a topic, side by side, and the topics × streets coverage heatmap."""

from __future__ import annotations

import streamlit as st

from ..engine import DEFAULT_TOPICS, GovQA
from ..errors import QuestionError
from .loading import load_document, run_compare, run_coverage
from .render import (
    citation_text,
    comparison_rows,
    context_html,
    esc,
    heatmap_rows,
    hit_context_html,
    hit_label,
    md,
)

MAX_CELL_PASSAGES = 20  # passages listed under the coverage heatmap for one cell


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
