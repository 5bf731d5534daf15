"""Comparing streets on the real five-report corpus.

Ground truth (grep of corpus/): 垃圾分类 is in every report; 疫情 only in the 长白新村 (2021-23) and
万里 (2021) reports - the 2018/2019 reports of 长寿路 and 塘桥 predate it, the 新华路 2023 summary omits it;
河长制 only in 长寿路 and 长白新村; 旧区改造/美丽家园 never in 新华路 or 万里.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from govqa.cli import cli
from govqa.qa.compare import (
    DEFAULT_TOPICS,
    MAX_FINDING_CHARS,
    MIN_TOPIC_COVERAGE,
    NOT_COVERED,
    relevance,
)
from govqa.qa.compare_text import format_matrix
from govqa.qa.questions import QuestionError

ALL_STREETS = ["万里街道", "塘桥街道", "新华路街道", "长寿路街道", "长白新村街道"]


def streets_mentioning(qa, word: str) -> set[str]:
    """The ground truth, read from the reports themselves."""
    return {meta.street for doc_id, meta in qa.index.metas.items() if word in qa.document(doc_id).text}


def check_citations(qa, finding) -> None:
    assert [c.n for c in finding.citations] == list(range(1, len(finding.citations) + 1))
    for c in finding.citations:
        doc = qa.document(c.doc_id)
        assert doc.meta.street == finding.street
        assert doc.text[c.char_start : c.char_end] == c.quote
        assert c.quote in doc.paragraph(c.paragraph).text
        assert f"{c.quote}[{c.n}]" in finding.finding or f"{c.quote}…[{c.n}]" in finding.finding
        assert len(c.quote) <= MAX_FINDING_CHARS
    assert finding.finding.endswith(f"[{len(finding.citations)}]")
    assert "\n" not in finding.finding


def test_relevance_needs_every_topic_word_in_one_clause(qa):
    assert (
        relevance(qa.answerer, "加装电梯", "稳步推进老旧小区电梯加装工程,辖区内正在施工1台") == 1.0
    )  # word order free
    # 000's elevator repairs are not 加装电梯: only 电梯 matches.
    assert (
        relevance(qa.answerer, "加装电梯", "完成33台存在重大安全隐患的老旧住宅电梯更新、改造、修理。")
        < MIN_TOPIC_COVERAGE
    )
    assert relevance(qa.answerer, "加装电梯", "加装了扶手,电梯也完成了改造") < MIN_TOPIC_COVERAGE  # different clauses
    assert relevance(qa.answerer, "为老服务/养老", "指导居民区、养老机构做好防范") == 1.0  # either alternative counts


def test_covered_streets_found_with_verbatim_citations(qa):
    comparison = qa.compare("垃圾分类", ["塘桥街道", "长白新村街道"])
    assert comparison.topic == "垃圾分类"
    assert [f.street for f in comparison.findings] == ["塘桥街道", "长白新村街道"]
    assert [f.district for f in comparison.findings] == ["浦东新区", "杨浦区"]
    for f in comparison.findings:
        assert f.found
        assert 1 <= len(f.citations) <= 2
        check_citations(qa, f)
        assert all("垃圾" in c.quote and "分类" in c.quote for c in f.citations)
        assert 1 <= len(f.passages) <= 3
        assert [h.rank for h in f.passages] == list(range(1, len(f.passages) + 1))
        assert all(h.meta.street == f.street for h in f.passages)


def test_streets_that_never_mention_a_topic_are_not_found(qa):
    covered = streets_mentioning(qa, "疫情")
    assert covered == {"万里街道", "长白新村街道"}
    comparison = qa.compare("疫情防控")
    assert [f.street for f in comparison.findings] == ALL_STREETS  # default: every street, sorted
    for f in comparison.findings:
        if f.street in covered:
            assert f.found and f.citations and f.passages
            check_citations(qa, f)
            assert all("疫情" in c.quote for c in f.citations)
        else:
            assert not f.found
            assert f.finding == NOT_COVERED
            assert f.citations == () and f.passages == ()


def test_streets_keep_the_given_order_and_short_names(qa):
    covered = streets_mentioning(qa, "河长制")
    assert covered == {"长寿路街道", "长白新村街道"}
    comparison = qa.compare("河长制", ["长白新村街道", "塘桥", "长寿路", "万里街道"], k=2)
    assert [f.street for f in comparison.findings] == ["长白新村街道", "塘桥街道", "长寿路街道", "万里街道"]
    assert {f.street for f in comparison.findings if f.found} == {"长白新村街道", "长寿路街道"}
    assert all(len(f.passages) <= 2 for f in comparison.findings)
    long_row = comparison.findings[2]
    assert "落实“河长制”" in long_row.finding


def test_bad_streets_and_topics_are_refused(qa):
    with pytest.raises(ValueError, match="not a street"):
        qa.compare("垃圾分类", ["陆家嘴街道"])
    with pytest.raises(ValueError, match="several streets"):
        qa.compare("垃圾分类", ["长"])  # 长寿路 and 长白新村
    with pytest.raises(QuestionError):
        qa.compare("  ")
    with pytest.raises(QuestionError):
        qa.compare("的")  # no content word


def test_coverage_matrix(qa):
    topics = ["垃圾分类", "疫情防控", "旧区改造/美丽家园"]
    matrix = qa.coverage(topics)
    assert matrix.topics == tuple(topics)
    assert matrix.streets == tuple(ALL_STREETS)
    assert len(matrix.cells) == len(topics) * len(ALL_STREETS)
    assert [(c.topic, c.street) for c in matrix.cells] == [(t, s) for t in topics for s in ALL_STREETS]
    for topic in topics:
        scores = [matrix.cell(topic, s).score for s in ALL_STREETS]
        assert all(0.0 <= x <= 1.0 for x in scores)
        assert max(scores) == 1.0
    for street in ALL_STREETS:  # every report has 垃圾分类
        assert matrix.cell("垃圾分类", street).score > 0
    covered = streets_mentioning(qa, "疫情")
    for street in ALL_STREETS:
        cell = matrix.cell("疫情防控", street)
        if street in covered:
            assert cell.score > 0 and cell.passages
            assert all(h.meta.street == street for h in cell.passages)
        else:
            assert cell.score == 0.0 and cell.passages == ()
    assert streets_mentioning(qa, "旧区改造") | streets_mentioning(qa, "美丽家园") == {
        "长寿路街道",
        "塘桥街道",
        "长白新村街道",
    }
    renewal = {s: matrix.cell("旧区改造/美丽家园", s).score for s in ALL_STREETS}
    assert min(renewal[s] for s in ("长寿路街道", "塘桥街道", "长白新村街道")) > max(
        renewal["新华路街道"], renewal["万里街道"]
    )
    # the score is the share of a street's passages, normalised: 塘桥 (5 of 61) beats 长白新村 (12 of 503)
    waste = matrix.cell("垃圾分类", "塘桥街道")
    assert waste.score == 1.0 and waste.score > matrix.cell("垃圾分类", "长白新村街道").score
    with pytest.raises(KeyError):
        matrix.cell("垃圾分类", "陆家嘴街道")
    table = format_matrix(matrix).splitlines()  # what `govqa compare --coverage` prints
    assert table[0].split() == ["主题", "topic", *ALL_STREETS]
    expected = ["疫情防控"]
    for street in ALL_STREETS:
        cell = matrix.cell("疫情防控", street)
        expected += [f"{cell.score:.2f}", f"({len(cell.passages)})"] if street in covered else ["-"]
    assert next(line for line in table if line.startswith("疫情防控")).split() == expected


def test_default_matrix_agrees_with_comparison(qa):
    matrix = qa.coverage(streets=["塘桥街道", "新华路街道"])
    assert matrix.topics == DEFAULT_TOPICS and 8 <= len(DEFAULT_TOPICS) <= 12
    assert matrix.streets == ("塘桥街道", "新华路街道")
    comparison = qa.compare("旧区改造/美丽家园", ["塘桥街道", "新华路街道"])
    for f in comparison.findings:
        assert f.found == (matrix.cell("旧区改造/美丽家园", f.street).score > 0)


def test_cli_compare(corpus_index):
    runner = CliRunner()
    index = ["--index", str(corpus_index)]
    result = runner.invoke(cli, ["compare", "疫情防控", "--streets", "万里街道,塘桥街道", *index])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if line.startswith("| 塘桥街道"))
    assert NOT_COVERED in row
    assert any(line.startswith("| 万里街道") and "[1]" in line for line in lines)
    assert "万里街道 (普陀区):" in result.output and "“" in result.output  # the citations below the table

    result = runner.invoke(cli, ["compare", "疫情防控", "--streets", "万里街道,塘桥街道", "--json", *index])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["topic"] == "疫情防控"
    assert [(f["street"], f["found"]) for f in data["findings"]] == [("万里街道", True), ("塘桥街道", False)]
    assert data["findings"][0]["citations"][0]["quote"] and data["findings"][0]["passages"]
    assert data["findings"][1]["citations"] == [] and data["findings"][1]["passages"] == []

    result = runner.invoke(cli, ["compare", "--coverage", "--topics", "疫情防控,河长制", "--json", *index])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["topics"] == ["疫情防控", "河长制"] and data["streets"] == ALL_STREETS
    assert len(data["cells"]) == 10

    result = runner.invoke(cli, ["compare", "垃圾分类", "--streets", "陆家嘴街道", *index])
    assert result.exit_code == 1 and "not a street" in result.output
    result = runner.invoke(cli, ["compare", *index])
    assert result.exit_code == 1


def test_the_compare_table_never_breaks_inside_a_number():
    """`govqa compare` wraps long findings; 临沂北路100弄 must not be printed as 临沂北路1 / 00弄."""
    from govqa.qa.compare import Comparison, StreetFinding
    from govqa.qa.compare_text import format_comparison

    finding = "完成临沂北路100弄、长寿路2000弄改造,新开绿色账户8377户,覆盖率达3.5%以上。[1]"
    for width in range(12, 40):
        table = format_comparison(
            Comparison("旧区改造", (StreetFinding("某街道", None, True, finding, (), ()),)), width
        )
        cells = [line.split("|")[2].strip() for line in table.splitlines() if line.startswith("|")][1:]
        assert "".join(cells) == finding, width
        for number in ("100弄", "2000弄", "8377户", "3.5%"):
            assert any(number[:-1] in cell for cell in cells), (width, number, cells)
