"""Metadata on a mixed corpus: the issuing street only (a gazetteer division, never a body fragment), titles a
line long, type and year from title and date lines; and comparisons over the streets that issued something."""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from govqa.engine import GovQA, build
from govqa.evaluation.metadata_eval import load_set, score, title_ok
from govqa.ingest.documents import load_corpus
from govqa.ingest.gazetteer import gazetteer
from govqa.ingest.metadata import TITLE_LIMIT, extract_metadata, sidecar_path
from testpaths import CORPUS, ROOT

METADATA_SET = ROOT / "tests" / "data" / "metadata_set.jsonl"

# The five real reports' metadata as it was before the mixed-corpus reader: it must not change.
FIVE_REPORTS = {
    "000_051ad83070a5de45.txt": (
        "2019年长寿路街道社区代表会议上的报告",
        "长寿路街道",
        "普陀区",
        2018,
        2018,
        "2019-01-30",
        "工作报告",
    ),
    "001_191eb5bed6b7048b.txt": (
        "新华路街道2023年工作总结",
        "新华路街道",
        "长宁区",
        2023,
        2023,
        "2024-02-02",
        "工作总结",
    ),
    "002_08bf58efbc4c3fde.txt": (
        "安康和美·活力长白行动计划(2021-2023年)",
        "长白新村街道",
        "杨浦区",
        2021,
        2023,
        "2021-08-31",
        "行动计划",
    ),
    "003_1c4c3d7015c59f1b.txt": (
        "2020年塘桥街道社代会报告",
        "塘桥街道",
        "浦东新区",
        2019,
        2019,
        "2020-01-16",
        "工作报告",
    ),
    "004_a21819862bf6781b.txt": (
        "普陀区万里街道2021年工作计划",
        "万里街道",
        "普陀区",
        2021,
        2021,
        "2021-02-26",
        "工作计划",
    ),
}

# Phrases a real mixed corpus turned into "streets": sentence pieces ending in 镇 or 街道, and a city.
FRAGMENTS = [
    "由乡镇",
    "个街镇",
    "各街镇",
    "保障城镇",
    "缴纳城镇",
    "度全国城镇",
    "施用地减征城镇",
    "企业纳入各街道",
    "化肥送到星桥镇",
    "家住康健街道",
    "长张磊带头坐镇",
    "路派出所会同街道",
    "景德镇",
]


def test_the_five_reports_keep_their_metadata():
    docs = {d.doc_id: d for d in load_corpus(CORPUS).documents}
    assert {doc_id: tuple(asdict(d.meta).values()) for doc_id, d in docs.items()} == FIVE_REPORTS


def test_gazetteer_holds_divisions_and_no_fragments():
    gz = gazetteer()
    assert {t.district for t in gz.townships["塘桥街道"]} == {"浦东新区"}
    assert len(gz.townships["新华路街道"]) > 1 and "长宁区" in {t.district for t in gz.townships["新华路街道"]}
    for name in ("长白新村街道", "泗泾镇", "横沙乡", "大峪街道"):
        assert name in gz.townships
    for fragment in [*FRAGMENTS, "城镇", "街镇", "乡镇"]:
        assert fragment not in gz.townships
    assert gz.townships_in("与长白新村街道、长征镇联合") == ["长白新村街道", "长征镇"]
    assert "门头沟区" in gz.counties and "上海市" in gz.upper
    start = time.perf_counter()
    for _ in range(1000):
        gazetteer().township_at("康健新村街道办事处")
    assert time.perf_counter() - start < 0.5  # loaded once, then dict look-ups


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_a_fragment_is_never_a_street(fragment):
    """In a news title, in a one-line notice's body, in a report's body and in a closing line."""
    texts = [
        f"{fragment}开展疫情防控工作 发布时间：2020-02-03 近日，{fragment}的工作人员走访企业。",
        f"关于做好复工复产工作的通知 各单位：{fragment}要落实防控措施，{fragment}负责统计。特此通知。2020年2月3日",
        f"2020年工作总结\n来源：新华网\n一、主要工作\n{fragment}开展排查。\n{fragment}\n2020年12月30日",
    ]
    for text in texts:
        assert extract_metadata(text, "x").street is None, text


def test_only_the_issuer_gives_the_street():
    body = "全区各街镇要压实责任。家住康健街道的市民王女士说，服务很贴心。农技人员把化肥送到星桥镇种植大户手中。与曹杨新村街道联合开展演练。"
    district = extract_metadata(
        f"徐汇区卫生健康委员会关于做好疫情防控工作的通知\n各街镇：\n{body}\n徐汇区卫生健康委员会\n2020年2月3日",
        "x",
    )
    assert (district.street, district.district, district.doc_type, district.year_start) == (
        None,
        "徐汇区",
        "通知",
        2020,
    )
    street = extract_metadata(
        f"关于做好疫情防控工作的通知 各居民区：{body}特此通知。漕河泾街道办事处 2020年2月1日", "x"
    )
    assert (street.street, street.district, street.published) == ("漕河泾街道", "徐汇区", "2020-02-01")
    # A street's organs mid-sentence in a news item are what it reports on; leading a plan's paragraph, its issuer.
    news = extract_metadata(
        "垃圾分类进社区\n发布时间：2020-06-01\n近日，康健新村街道党工委、办事处高度重视垃圾分类。", "x"
    )
    assert news.street is None
    plan = extract_metadata("安康和美行动计划\n前言\n康健新村街道党工委、办事处在区委领导下制定本计划。", "x")
    assert plan.street == "康健新村街道"
    listed = extract_metadata("康健新村街道、漕河泾街道入选首批示范街镇 发布时间：2020-09-01 记者获悉……", "x")
    assert listed.street is None and listed.doc_type == "新闻"


def test_one_line_texts_get_a_one_line_title():
    notice = (
        "门头沟区信访办公室关于暂停接待群众来访的通知各位来访群众：为做好疫情防控工作，自2020年1月29日起暂停接待群众来访。"
        "门头沟区信访办公室 2020年1月28日"
    )
    meta = extract_metadata(notice, "x")
    assert meta.title == "门头沟区信访办公室关于暂停接待群众来访的通知"
    assert (meta.district, meta.doc_type, meta.year_start, meta.published) == (
        "门头沟区",
        "通知",
        2020,
        "2020-01-28",
    )
    # A 16,561-character web text without line breaks or a clear title end: still a title, not the text.
    wall = "全力以赴打赢疫情防控阻击战全区上下众志成城共克时艰" * 700
    assert len(extract_metadata(wall, "x").title) <= TITLE_LIMIT


def test_type_and_year_come_from_title_and_date_lines_not_body_words():
    """A notice of February 2020 whose body talks of 工作报告 and 计划 is a 2020 notice."""
    text = (
        "关于做好2020年春节期间疫情防控工作的通知\n发布日期：2020-02-03\n各街镇：\n"
        "根据区政府工作报告和年度工作计划，现将有关事项通知如下。2019年全区共排查……\n普陀区人民政府\n2020年2月3日"
    )
    meta = extract_metadata(text, "x")
    assert (meta.doc_type, meta.year_start, meta.published, meta.district) == (
        "通知",
        2020,
        "2020-02-03",
        "普陀区",
    )
    signed = extract_metadata(
        "关于加强出租房屋管理的通告\n广大居民：\n现通告如下。\n北新泾街道办事处\n二〇二〇年二月五日", "x"
    )
    assert (signed.street, signed.district, signed.year_start, signed.published) == (
        "北新泾街道",
        "长宁区",
        2020,
        "2020-02-05",
    )


def test_labelled_mixed_set_meets_the_targets():
    records = load_set(METADATA_SET)
    assert len(records) >= 150
    assert sum(r["mentions_other_places"] for r in records) >= 40
    assert len({r["kind"] for r in records}) >= 8  # reports, notices, news, one-line web texts ...
    result = score(records)
    assert result.street_precision >= 0.98, result.errors
    assert result.street_recall >= 0.90, result.errors
    assert result.share(result.title_right) >= 0.95, result.errors
    assert result.max_title <= TITLE_LIMIT


def test_title_span_scoring():
    assert title_ok("化肥送到田间地头", "化肥送到田间地头")
    assert title_ok("化肥送到田间地头 春耕", "化肥送到田间地头", "化肥送到田间地头 春耕备耕不误农时")
    assert not title_ok("化肥送到", "化肥送到田间地头", "化肥送到田间地头 春耕备耕不误农时")
    assert not title_ok(
        "化肥送到田间地头 春耕备耕不误农时 近日", "化肥送到田间地头", "化肥送到田间地头 春耕备耕不误农时"
    )


def test_compare_lists_only_streets_that_issued_a_document(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.txt").write_text(
        "江宁路街道2020年工作总结\n2021年01月15日 来源: 上海静安\n一、主要工作\n深入推进垃圾分类，湿垃圾分出率提高到35%。\n"
        "二、下一步打算\n巩固垃圾分类实效，推进加装电梯。\n",
        encoding="utf-8",
    )
    (corpus / "plan.txt").write_text(
        "泗泾镇2021年工作计划\n发布日期：2021-02-01\n一、重点任务\n推进垃圾分类示范小区建设10个。\n",
        encoding="utf-8",
    )
    # A district notice and a news item that name other places in their bodies: searchable, no street.
    (corpus / "notice.txt").write_text(
        "关于做好垃圾分类专项检查的通知 各街镇：全区各街镇要开展垃圾分类专项检查，康健新村街道、漕河泾街道率先试点。"
        "由乡镇（街道）负责统计上报。特此通知。徐汇区绿化和市容管理局 2020年5月6日",
        encoding="utf-8",
    )
    (corpus / "news.txt").write_text(
        "垃圾分类进社区 发布时间：2020-06-01 记者获悉，家住康健街道的市民王女士说，垃圾分类已成习惯；化肥送到星桥镇种植户手中。",
        encoding="utf-8",
    )
    build(corpus, tmp_path / "index", embedder)
    qa = GovQA.open(tmp_path / "index", embedder)
    metas = qa.index.metas
    assert (metas["notice.txt"].street, metas["notice.txt"].district) == (None, "徐汇区")
    assert metas["news.txt"].street is None and metas["news.txt"].doc_type == "新闻"

    comparison = qa.compare("垃圾分类")
    assert [f.street for f in comparison.findings] == ["江宁路街道", "泗泾镇"]
    assert all(f.found for f in comparison.findings)
    assert qa.coverage(["垃圾分类"]).streets == ("江宁路街道", "泗泾镇")
    # The documents without a street still answer.
    hits = qa.search("垃圾分类专项检查由谁统计上报", k=5)
    assert "notice.txt" in {h.chunk.doc_id for h in hits}


def test_a_sidecar_names_a_street_the_reader_cannot(tmp_path):
    """Synthetic corpora (scale tests) invent streets: the sidecar states them, as a user would."""
    report = tmp_path / "r.txt"
    report.write_text("虹杨街道2021年工作计划\n一、重点任务\n新建睦邻点5个。\n", encoding="utf-8")
    assert load_corpus(tmp_path).documents[0].meta.street is None
    sidecar_path(report).write_text('street = "虹杨街道"\n', encoding="utf-8")
    assert load_corpus(tmp_path).documents[0].meta.street == "虹杨街道"
