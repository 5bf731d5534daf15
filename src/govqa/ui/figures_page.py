"""The Figures page: a topic's figures by street and year as the reports state them, charted and downloadable."""

from __future__ import annotations

import streamlit as st

from ..engine import STATUS_LABELS, GovQA, to_csv, to_xlsx
from ..errors import FiguresUnavailableError, QuestionError
from .compare_page import _topic_and_streets_given
from .loading import run_figures
from .render import citation_text, md


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
                f"{r.counted} {r.value_text}（{STATUS_LABELS[r.status]}）[{r.citation.n}]" for r in cells[(street, y)]
            )
            out.append({"街道 street": street, "年份 year": str(y) if y else "年份不明", "数字 figures": items})
    return out


def page_figures(qa: GovQA, key: tuple[str, str]) -> None:
    all_streets = sorted({m.street for m in qa.index.metas.values() if m.street})
    cols = st.columns([2, 3, 1, 1])
    topic = cols[0].text_input(
        "主题 Topic", value="加装电梯", key="fig_topic", help="例如：加装电梯、群租、垃圾分类、就业"
    )
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
        cols[0].download_button(
            "下载 CSV",
            to_csv(table).encode("utf-8-sig"),
            file_name=f"figures-{table.topic}.csv",
            mime="text/csv",
        )
        cols[1].download_button(
            "下载 XLSX",
            to_xlsx(table),
            file_name=f"figures-{table.topic}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
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
        [
            {
                "street": r.street,
                "year": str(r.year) if r.year else "年份不明",
                "value": r.value,
                "figure": r.value_text,
                "status": STATUS_LABELS[r.status],
            }
            for r in rows
        ]
    )
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
