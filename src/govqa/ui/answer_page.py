"""The Ask page: a question, its answer linked to its citations, and the passages it was drawn from."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from ..engine import MAX_QUESTION_CHARS, GovQA
from ..errors import QuestionError
from ..records import Answer, Citation, Filters, Hit
from .loading import load_document
from .render import (
    ALL,
    answer_html,
    citation_caption,
    citation_label,
    context_html,
    esc,
    filter_options,
    hit_context_html,
    hit_label,
    hits_table,
    md,
)


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
    if conversation and st.button("新对话 New conversation", help="清空本次对话 (forget the earlier questions)"):
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
