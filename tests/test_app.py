"""The Streamlit app (app.py), run headless with Streamlit's own testing API against the real index."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from govqa.engine import MAX_DOCUMENT_BYTES
from govqa.index.store import Index
from govqa.records import Answer, Citation, DocMeta, Document, Paragraph
from govqa.ui import loading, render

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TIMEOUT = 120  # the first run loads the model and the index
QUESTION = "塘桥街道2019年拆除了多少违章建筑?"
ASK, COMPARE, DOCUMENTS = "问答 Ask", "对比 Compare", "文档 Documents"
FIGURES = "数字 Figures"


@pytest.fixture
def at(corpus_index, monkeypatch) -> AppTest:
    monkeypatch.setenv("GOVQA_INDEX", str(corpus_index))
    test = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def _ask(at: AppTest, question: str) -> AppTest:
    at.text_area[0].input(question)
    return at.button[0].click().run()


def _html(at: AppTest) -> str:
    return "\n".join(h.value for h in at.get("html"))


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


# ---------------------------------------------------------------- Ask


def test_ask_shows_a_cited_answer(at):
    _ask(at, QUESTION)
    assert not at.exception, _texts(at.exception)
    answers = [h.value for h in at.get("html") if 'class="govqa-answer"' in h.value]
    assert len(answers) == 1 and "32" in answers[0]
    assert '<a href="#govqa-cite-1"' in answers[0]  # the [1] mark links to its citation
    cites = [e for e in at.expander if e.label.startswith("[1] ")]
    assert cites and "塘桥街道" in cites[0].label
    # Expanding the citation shows its paragraph in context, the quote highlighted.
    context = "\n".join(h.value for h in cites[0].get("html"))
    assert "<mark>" in context and "32" in context.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert context.count('class="govqa-para') > 1  # paragraphs around the cited one
    # The retrieved passages, with fused score and both retrievers' ranks.
    table = at.dataframe[0].value
    assert {"fused score", "dense rank", "bm25 rank"} <= set(table.columns)
    assert list(table["rank"]) == list(range(1, len(table) + 1))


def test_unanswerable_question_says_so(at):
    _ask(at, "徐家汇街道2019年拆除了多少违章建筑?")  # a street the reports do not cover
    assert not at.exception
    assert any("语料中没有徐家汇街道的报告" in i for i in _texts(at.info))
    assert not [h for h in at.get("html") if 'class="govqa-answer"' in h.value]


def test_follow_up_is_read_against_the_conversation(at):
    _ask(at, "长白新村街道的旧区改造进展如何?")
    _ask(at, "那长寿路街道呢?")
    assert not at.exception
    assert any("理解为" in c and "长寿路街道" in c and "旧区改造" in c for c in _texts(at.caption))
    answers = [h.value for h in at.get("html") if 'class="govqa-answer"' in h.value]
    assert len(answers) == 1 and "旧住房成套改造" in answers[0]  # the latest answer, in full
    assert [e.label for e in at.expander if e.label.startswith("1. ")] == ["1. 长白新村街道的旧区改造进展如何?"]
    at.button[1].click().run()  # 新对话: the conversation starts over
    assert not at.exception and not at.subheader


def test_empty_question_warns(at):
    _ask(at, "   ")
    assert not at.exception
    assert any("问题为空" in w for w in _texts(at.warning))
    assert not [h for h in at.get("html") if 'class="govqa-answer"' in h.value]


def test_overlong_question_is_an_error_not_an_exception(at):
    _ask(at, "塘桥街道" * 2500)  # 10,000 characters
    assert not at.exception
    assert any("10000" in e for e in _texts(at.error))


def test_filters_offer_the_index_metadata(at, corpus_index):
    metas = Index.open(corpus_index, verify=False).metas.values()
    labels = {s.label: s for s in at.selectbox}
    street = labels["街道 Street"]
    assert set(street.options[1:]) == {m.street for m in metas}
    assert "2019" in labels["年份 Year"].options
    street.set_value("塘桥街道")
    _ask(at, "拆除了多少违章建筑?")
    assert not at.exception
    assert any("街道: 塘桥街道" in c for c in _texts(at.caption))


# ---------------------------------------------------------------- index problems


def test_missing_index_says_how_to_build_it(tmp_path, monkeypatch):
    empty = tmp_path / "no-index-here"
    empty.mkdir()
    monkeypatch.setenv("GOVQA_INDEX", str(empty))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error and "govqa index" in at.error[0].value
    assert _texts(at.code) == [f"govqa index --index {empty}"]
    assert not at.sidebar.radio  # no page is shown without an index


def test_corrupted_index_says_how_to_rebuild_it(index_copy, monkeypatch):
    faiss_file = next(index_copy.glob("gen-*/vectors.faiss"))
    faiss_file.write_bytes(b"not a faiss index")
    monkeypatch.setenv("GOVQA_INDEX", str(index_copy))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.error and "corrupted" in at.error[0].value
    assert any(code.startswith("govqa index") for code in _texts(at.code))


# ---------------------------------------------------------------- Documents


def test_documents_page_lists_the_reports_and_their_sections(at, corpus_index):
    metas = Index.open(corpus_index, verify=False).metas
    at.sidebar.radio[0].set_value(DOCUMENTS).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 5
    assert set(table["标题 title"]) == {m.title for m in metas.values()}
    assert set(table["文件 doc_id"]) == set(metas)
    picker = at.selectbox[0]
    assert picker.options == [m.title for _, m in sorted(metas.items())]
    labels = [e.label for e in at.expander]
    assert "目录 Outline" in labels
    assert any(label.startswith("一、") for label in labels)  # a top-level section of the report
    # Another report, with its metadata.
    tangqiao = next(d for d, m in metas.items() if m.street == "塘桥街道")
    picker.set_value(tangqiao).run()
    assert not at.exception
    assert [h.value for h in at.subheader][-1] == "2020年塘桥街道社代会报告"
    page = _html(at)
    assert "浦东新区" in page and "2020-01-16" in page and "工作报告" in page
    assert "拆除违章建筑点位32个" in page


# ---------------------------------------------------------------- Compare


def test_compare_page_tables_a_topic_and_maps_coverage(at):
    compare = pytest.importorskip("govqa.qa.compare")
    at.sidebar.radio[0].set_value(COMPARE).run()
    assert not at.exception, _texts(at.exception)
    at.text_input[0].input("垃圾分类").run()
    assert not at.exception, _texts(at.exception)
    assert not at.error
    table = at.table[0].value
    assert list(table.columns[:2]) == ["街道 street", "区 district"]
    assert "塘桥街道" in set(table["街道 street"])
    assert table["发现 finding"].str.contains(r"\[1\]").any()
    assert at.get("vega_lite_chart"), "the coverage heatmap"
    topic, street = at.selectbox[0], at.selectbox[1]
    assert set(compare.DEFAULT_TOPICS) <= set(topic.options)
    topic.set_value("垃圾分类")
    street.set_value("塘桥街道").run()
    assert not at.exception
    assert any("塘桥街道 · 垃圾分类" in m for m in _texts(at.markdown))
    assert any("2020年塘桥街道社代会报告" in e.label for e in at.expander)


# ---------------------------------------------------------------- Figures


def test_figures_page_tables_charts_and_offers_downloads(at):
    at.sidebar.radio[0].set_value(FIGURES).run()
    assert not at.exception, _texts(at.exception)
    assert not at.error
    table = at.table[0].value
    assert list(table.columns) == ["街道 street", "年份 year", "数字 figures"]
    tangqiao = table[table["街道 street"] == "塘桥街道"]
    assert (tangqiao["年份 year"] == "2019").any() and tangqiao["数字 figures"].str.contains("1台").any()
    assert (table["数字 figures"] == "报告中未涉及").any()  # 长寿路街道 added no lifts
    assert at.get("vega_lite_chart"), "the bar chart"
    assert len(at.get("download_button")) == 2  # CSV and XLSX
    at.text_input[0].input("群租").run()
    assert not at.exception
    assert at.table[0].value["数字 figures"].str.contains("1580套").any()


# ---------------------------------------------------------------- the app's own helpers


def _citation(n: int, quote: str, start: int = 0) -> Citation:
    return Citation(n, "d.txt", "<b>报告</b>", "某街道", ("一、",), 1, quote, start, start + len(quote))


def test_answer_html_escapes_and_links_only_citation_marks():
    quote = "拆除<script>alert(1)</script>“五违四必” [2]点位32个。"
    answer = Answer("q", f"{quote}[1]", (_citation(1, quote),), True)
    out = render.answer_html(answer)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<b>报告</b>" not in out  # the title in the link's tooltip is escaped too
    assert out.count("govqa-cite-") == 1  # the report's own footnote mark [2] is no link
    assert re.search(r"” <span class=\"govqa-footnote-mark\"[^>]*>\[2\]</span>点位", out)


def test_context_html_marks_the_quote_among_its_neighbours():
    text = "第一段。\n第二段<i>有</i>32个。\n第三段。"
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    paras = tuple(Paragraph(i + 1, text[a:b], ("一、",), a, b) for i, (a, b) in enumerate(spans))
    doc = Document("d.txt", DocMeta("t"), text, paras, "h")
    start = text.index("<i>")
    out = render.context_html(doc, 2, (start, start + len("<i>有</i>32个")), around=1)
    assert "<mark>&lt;i&gt;有&lt;/i&gt;32个</mark>" in out
    assert "第一段" in out and "第三段" in out and out.count("govqa-cited") == 1
    assert "<i>" not in render.section_html(doc.paragraphs)


def test_markdown_text_is_shown_as_typed():
    shown = render.md("![x](http://example.invalid/a.png) [link](javascript:alert(1)) $x$ <b>")
    assert "![" not in shown and "](" not in shown.replace("\\](", "") and "\\$x\\$" in shown


def test_build_command_names_the_index_folder():
    assert loading.build_command(Path("index")) == "govqa index"
    assert loading.build_command(Path("/tmp/my index")) == "govqa index --index '/tmp/my index'"


# ---------------------------------------------------------------- issue 23: cross-street answers, heatmap, limits

CROSS_STREET = "各街道的垃圾分类工作有什么不同?"


def test_a_cross_street_answer_has_a_line_per_street_and_every_mark_linked(at, qa):
    expected = qa.ask(CROSS_STREET)
    assert expected.kind == "cross_street" and len(expected.citations) > 5
    _ask(at, CROSS_STREET)
    assert not at.exception, _texts(at.exception)
    [answer] = [h.value for h in at.get("html") if 'class="govqa-answer"' in h.value]
    lines = re.findall(r'<div class="govqa-line">(.*?)</div>', answer)
    streets = sorted({c.street for c in expected.citations})
    assert len(lines) == len(expected.text.splitlines()) >= len(streets)
    assert {re.search(r'govqa-street">([^<]+)<', line)[1] for line in lines} >= set(streets)
    # Every citation mark is a link, the last one after a shortened quote ("…[7]") included.
    assert sorted(int(n) for n in re.findall(r'href="#govqa-cite-(\d+)"', answer)) == [c.n for c in expected.citations]
    # The retrieved passages (each street's best) are numbered by place, not all "#1".
    labels = [e.label for e in at.expander if re.match(r"#\d+ · ", e.label)]
    assert [int(label[1:].split(" ")[0]) for label in labels] == list(range(1, len(expected.hits) + 1))
    assert list(at.dataframe[0].value["rank"]) == list(range(1, len(expected.hits) + 1))


def test_answer_html_styles_a_reports_footnote_marks_apart_from_citations():
    quote = "聚焦“五违四必” [2]整治,全年拆除违章建筑点位32个。"
    out = render.answer_html(Answer("q", f"{quote}[1]", (_citation(1, quote),), True))
    assert re.search(r'<span class="govqa-footnote-mark"[^>]*>\[2\]</span>', out)
    assert re.search(r'<sup class="govqa-cite"><a href="#govqa-cite-1"[^>]*>\[1\]</a></sup>', out)
    assert ".govqa-footnote-mark" in render.CSS  # styled: grey and dotted, not a link


def test_heatmap_cells_show_their_passage_counts(at):
    at.sidebar.radio[0].set_value(COMPARE).run()
    at.text_input[0].input("为老服务").run()
    assert not at.exception, _texts(at.exception)
    [chart] = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    texts = [layer["encoding"]["text"] for layer in spec["layer"] if "text" in layer.get("encoding", {})]
    assert texts == [{"field": "label", "type": "nominal"}]


def test_heatmap_rows_put_the_count_beside_the_score(qa):
    matrix = qa.coverage(["为老服务/养老"])
    rows = {r["street"]: r for r in render.heatmap_rows(matrix)}
    for street in matrix.streets:
        cell = matrix.cell("为老服务/养老", street)
        n = len(cell.passages)
        assert rows[street]["label"] == (f"{n} 段 · {cell.score:.2f}" if n else "0")


def test_streamlit_config_keeps_the_app_local_and_private():
    """`streamlit run app.py` from the repository reads .streamlit/config.toml: what Streamlit itself says."""
    shown = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    settings = dict(re.findall(r"^(\w+) = (.+)$", shown, re.M))
    assert settings["gatherUsageStats"] == "false"
    assert settings["address"] == '"127.0.0.1"'
    # The upload box states the limit the library enforces (engine.MAX_DOCUMENT_BYTES), not Streamlit's 200 MB.
    assert int(settings["maxUploadSize"]) * 1024 * 1024 == MAX_DOCUMENT_BYTES
