"""govqa's web app: ask the reports, compare streets, browse documents.

    GOVQA_INDEX=index streamlit run app.py

Presentation only: every answer, hit, comparison and document comes from the govqa library.
Corpus and user text is HTML-escaped before it goes into `st.html`.
"""

from __future__ import annotations

import streamlit as st

from govqa.ui.answer_page import page_ask
from govqa.ui.compare_page import page_compare
from govqa.ui.documents_page import page_documents
from govqa.ui.figures_page import page_figures
from govqa.ui.loading import open_index
from govqa.ui.render import CSS

PAGES = ("问答 Ask", "对比 Compare", "数字 Figures", "文档 Documents")


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
