"""The Documents page: the reports in the index, one read section by section, and adding or deleting reports."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from ..engine import SUPPORTED_SUFFIXES, GovQA, add_document, remove_document
from ..errors import DocumentError, LoadError
from .loading import corpus_dir, index_dir, load_document
from .render import md, meta_html, section_html, section_label, section_tree, toc_html, years_label


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
            if st.button("上传并索引 Upload and index", disabled=file is None, key="upload_go") and file is not None:
                _change_documents(
                    lambda: add_document(corpus, index_dir(), file.name, file.getvalue(), replace=replace)
                )
        with paste:
            name = st.text_input("文件名 File name", placeholder="某街道2021年工作报告.txt", key="paste_name")
            text = st.text_area("报告全文 Report text", height=200, key="paste_text")
            if st.button("保存并索引 Save and index", key="paste_go"):
                _change_documents(lambda: add_document(corpus, index_dir(), name, text.encode("utf-8")))
        with delete:
            target = st.selectbox(
                "报告 Report",
                doc_ids,
                index=None,
                key="delete_doc",
                format_func=lambda d: f"{metas[d].title} ({d})",
            )
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
    actions = {
        "added": "已添加 added",
        "replaced": "已替换 replaced",
        "unchanged": "内容未变 unchanged",
        "removed": "已删除 removed",
    }
    lines = [
        f"{actions[result.action]}: {md(result.doc_id)} · 索引现有 {report.documents} 份报告、{report.chunks} 段 "
        f"({report.embedded} 段新嵌入 newly embedded)"
    ]
    lines += [f"跳过 skipped {md(e.path)}: {md(e.reason)}" for e in result.build.errors]
    # Shown after the rerun that loads the new generation, so the page lists what the message says.
    st.session_state["documents_changed"] = lines
    st.rerun()
