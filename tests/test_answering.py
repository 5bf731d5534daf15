"""Extractive answers on the real corpus: verbatim citations, refusals, and quality floors on the gold set."""

from __future__ import annotations

import pytest

from checks import assert_verbatim
from govqa.engine import GovQA, build
from govqa.evaluation.goldset import load_gold, score_answers
from govqa.ingest.loaders import read_text
from govqa.qa.answering import FEATURES, NOT_FOUND, _states_amount
from govqa.qa.questions import QuestionError
from testpaths import CORPUS, GOLD


def test_numeric_answer_cites_its_paragraph(qa):
    answer = qa.ask("塘桥街道2019年拆除了多少违章建筑?")
    assert answer.supported and "32个" in answer.text and "4184平方米" in answer.text
    first = answer.citations[0]
    assert (first.n, first.doc_id, first.street) == (1, "003_1c4c3d7015c59f1b.txt", "塘桥街道")
    assert first.section_path[-1] == "1、环境综合整治有力开展"
    assert_verbatim(qa, answer)


def test_every_citation_on_the_gold_set_is_verbatim(qa):
    for q in load_gold(GOLD):
        assert_verbatim(qa, qa.ask(q.question))


@pytest.mark.parametrize(
    "question",
    [
        "新华路街道2023年新建了几座社区图书馆?",
        "长寿路街道2018年的PM2.5年均浓度是多少?",
    ],
)
def test_unsupported_questions_say_so(qa, question):
    answer = qa.ask(question)
    assert not answer.supported and answer.text == NOT_FOUND and answer.citations == ()


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("江宁路街道2020年新建了多少停车位?", "语料中没有江宁路街道的报告。"),
        ("陆家嘴街道2020年的主要任务是什么?", "语料中没有陆家嘴街道的报告。"),
        ("长寿路街道2025年的主要任务是什么?", "语料中没有长寿路街道2025年的报告。"),
    ],
)
def test_refusal_names_what_the_corpus_lacks(qa, question, text):
    answer = qa.ask(question)
    assert (answer.supported, answer.text, answer.citations) == (False, text, ())


# ---------------------------------------------------------------- answer shapes by kind


def test_definition_quotes_the_glossary_entry(qa):
    answer = qa.ask("塘桥报告里说的“三会”是哪三个会?")
    assert answer.supported and answer.kind == "definition"
    assert "事前听证会、事中协调会、事后评议会" in answer.text
    first = answer.citations[0]
    assert first.doc_id == "003_1c4c3d7015c59f1b.txt" and first.section_path == ("名词解释:",)
    assert first.quote == "17、三会:事前听证会、事中协调会、事后评议会。"
    assert_verbatim(qa, answer)


def test_definition_follows_a_footnote_mark_to_the_glossary(qa):
    # The question names no term; its best sentence ("用好“三会” [17]制度") carries the mark [17].
    answer = qa.ask("塘桥街道用来实现社区事务由居民说了算的制度具体指什么?")
    assert answer.kind == "definition" and answer.supported
    assert any(c.section_path == ("名词解释:",) and "事后评议会" in c.quote for c in answer.citations)
    assert_verbatim(qa, answer)


def test_definition_without_a_glossary_entry_quotes_where_the_term_is_spelled_out(qa):
    answer = qa.ask("长白新村街道提出的“三微治理”指哪三微?")
    assert answer.supported and "楼栋微整治、空间微改造、景观微更新" in answer.text
    assert_verbatim(qa, answer)


def test_summary_is_the_reports_outline(qa):
    answer = qa.ask("万里街道2021年的工作重点是什么?")
    assert answer.kind == "summary" and answer.supported
    quotes = [c.quote for c in answer.citations]
    assert quotes[0] == "(一)全力奋进,推动“高质量”经济发展" and len(quotes) == 6
    assert quotes[-1] == "(六)坚强有力,推进政府治理现代化"
    doc = qa.document("004_a21819862bf6781b.txt")
    for c in answer.citations:  # each heading cited to its own heading paragraph
        assert doc.paragraph(c.paragraph).text.startswith(c.quote)
    assert_verbatim(qa, answer)


def test_summary_of_a_part_lists_that_parts_sections(qa):
    answer = qa.ask("塘桥街道2019年社区平安建设方面的工作分为哪几个方面?")
    quotes = [c.quote for c in answer.citations]
    assert quotes[0].startswith("(四)社区平安建设进一步巩固")
    assert quotes[1:] == [
        "1、专项整治纵深推进",
        "2、安全管控保障有力",
        "3、城市运行效能提升",
        "4、法治建设全面深化",
    ]
    assert_verbatim(qa, answer)


def test_summary_of_a_years_tasks_is_that_sections_outline(qa):
    # "主要任务" names a section of the report (二、2020年主要任务), not the report as a whole.
    answer = qa.ask("塘桥街道2020年的主要任务有哪几个方面?")
    assert answer.kind == "summary" and answer.supported
    assert answer.citations[0].quote == "二、2020年主要任务"
    assert len(answer.citations) >= 3
    assert all("回顾" not in c.quote for c in answer.citations)
    doc = qa.document("003_1c4c3d7015c59f1b.txt")
    for c in answer.citations[1:]:
        assert doc.paragraph(c.paragraph).section_path[0] == "二、2020年主要任务"
    assert_verbatim(qa, answer)


def test_a_year_asked_is_answered_from_that_years_review_not_the_next_years_plan(qa):
    # 塘桥's 2020 report reviews 2019 (一、2019年工作回顾) and plans 2020 (二、2020年主要任务).
    answer = qa.ask("塘桥街道2019年在养老服务方面做了哪些事?")
    assert answer.supported and "生命体征监测仪" in answer.text
    assert all(c.section_path[0] == "一、2019年工作回顾" for c in answer.citations)
    assert_verbatim(qa, answer)


def test_a_topic_phrase_is_quoted_with_the_body_it_heads(qa):
    # 长寿路's plan opens a paragraph with "聚力满足养老需求。": alone it says nothing of what will be done.
    answer = qa.ask("长寿路街道2019年在满足老年人养老需求方面有哪些打算?")
    assert answer.supported
    quote = next(c.quote for c in answer.citations if c.quote.startswith("聚力满足养老需求。"))
    assert "认知症友好社区" in quote and len(quote) > len("聚力满足养老需求。")
    assert_verbatim(qa, answer)


def test_report_date_is_quoted_from_its_front_matter(qa):
    answer = qa.ask("万里街道2021年工作计划是哪一天发布的?")
    assert answer.kind == "time" and answer.supported
    assert "2021年02月26日" in answer.text and answer.citations[0].paragraph <= 3
    named = qa.ask("《安康和美·活力长白行动计划》是什么时候编制的?")  # the report named by its title
    assert "2021年8月" in named.text and named.citations[0].doc_id == "002_08bf58efbc4c3fde.txt"
    for a in (answer, named):
        assert_verbatim(qa, a)
    # A date asked of something the report mentions is not the report's own date.
    other = qa.ask("塘桥街道垃圾分类实施方案是什么时候出台的?")
    assert all(c.section_path for c in other.citations)  # nothing quoted from the front matter


@pytest.mark.parametrize(
    "question",
    [
        "万里街道2.5公里夜跑环道建设投资多少万元?",  # a length is stated, not the money asked for
        "万里街道2021年计划新增多少个机动车停车位?",  # parking is planned, no count given
    ],
)
def test_a_number_the_report_does_not_give_is_not_guessed(qa, question):
    answer = qa.ask(question)
    assert not answer.supported and answer.text.startswith("报告谈到了这一内容，但没有给出具体数字")
    assert_verbatim(qa, answer)  # what it points to is still quoted and cited


@pytest.mark.parametrize(
    ("question", "text", "states"),
    [
        ("加国政府通过多少经费来挹注此计划?", "通过4亿5000万加元挹注", True),
        ("他的任期是多长?", "任期五年", True),  # 多长 asks a length or a duration
        ("大学入学率是多少?", "入学率约为八成", True),
        ("枪管长度大约是多少?", "枪管长度由14 英吋到30 英吋不等", True),
        ("它生活在水深多少的海域?", "水深0至12公尺", True),
        ("文件大小是多大?", "约300MB", True),
        ("项目投资多少万元?", "建成2.5公里夜跑环道", False),  # a length, not the money asked
        ("养护院设置了多少张床位?", "完善“15分钟养老服务圈”", False),  # a policy's name, not a count
        ("计划新增多少个停车位?", "推进真华路295弄小区停放管理", False),  # an address
        ("2019年有多少人参加?", "2019年启动", False),  # a year is when, not how many
        ("有多少人参加?", "2019年共有1200人参加", True),
        ("男女生比例是多少?", "比例约为1：7", True),  # a ratio is a share
        ("首集收视率是多少?", "首集收视率为7.07", True),
        ("被拥立时多大?", "年仅两岁的其子", True),
        ("他一生发表了多少论文?", "一生只发表了三篇学术论文", True),
        ("有多少病人在首个小时内死亡?", "一半以上病人在首个小时内死亡", True),
        ("有多少老人在用这个平台?", "升级智慧养老数字集成平台,覆盖1.2万人", True),  # 多少老人 asks for people
        ("有多少老人在用这个平台?", "增设1个家门口养老服务站", False),
        ("税收收入是多少?", "挖掘存量企业“一次性税源”与潜在税收", False),  # 一次性 is no count
        ("每天能供应多少份饭?", "开设第一家“微型助餐点”", False),  # an ordinal is no count
        ("满意度测评是多少分?", "共悬挂横幅250余条", False),  # a score: no count of something else stands in
        ("满意度测评是多少分?", "测评得分92分", True),
    ],
)
def test_what_counts_as_stating_the_amount_asked(question, text, states):
    assert _states_amount(question, text) is states


def test_a_sentence_opening_on_a_pronoun_is_about_what_the_one_before_named(tmp_path, embedder):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "note.txt").write_text(
        "化学品说明\n氢化锂是锂的氢化物。它是无色晶体，通常带有杂质而呈灰色。铝箔常用于包装食品。\n",
        encoding="utf-8",
    )
    build(tmp_path / "corpus", tmp_path / "index", embedder)
    qa = GovQA.open(tmp_path / "index", embedder)
    question = "氢化锂有着怎样的外观?"
    sentences = {s.text: s for s in qa.answerer.candidates(question, qa.search(question, k=3), question)}
    coverage = FEATURES.index("word_coverage")
    pronoun, plain = (
        next(v for k, v in sentences.items() if k.startswith("它是无色晶体")),
        next(v for k, v in sentences.items() if k.startswith("铝箔")),
    )
    assert pronoun.features[coverage] > 0 and plain.features[coverage] == 0  # 氢化锂, from the sentence before


def test_list_answer_keeps_the_whole_enumeration(qa):
    answer = qa.ask("万里街道2021年文明创建试点重点推进哪些小区的项目?")
    assert answer.kind == "list" and answer.supported
    first = answer.citations[0].quote
    assert "真华路295弄" in first and "真华路36弄" in first and "新泉路66弄" in first  # one quote, not one clause
    assert_verbatim(qa, answer)


def test_cross_street_question_answers_street_by_street(qa):
    answer = qa.ask("哪些街道提到了垃圾分类?")
    assert answer.kind == "cross_street" and answer.supported
    lines = answer.text.split("\n")
    streets = {m.street for m in qa.index.metas.values()}
    assert {line.split("：", 1)[0] for line in lines} == streets  # one line per street
    assert len({c.street for c in answer.citations}) >= 4
    for line in lines:  # every street's finding is about the topic, or says it is not covered
        assert "垃圾" in line or "未涉及" in line
    assert "绿色账户" in answer.text
    assert_verbatim(qa, answer)


def test_cross_street_names_a_street_that_does_not_cover_the_topic(qa):
    answer = qa.ask("长白新村街道和万里街道在社区营造方面比较")
    assert answer.kind == "cross_street"
    # 万里's plan says nothing of 社区营造 or 睦邻; 长白新村's 睦邻家园 work may count as community building.
    assert "万里街道：报告中未涉及该主题" in answer.text
    assert answer.text.count("\n") == 1  # one line per street


def test_time_and_yes_no_questions(qa):
    when = qa.ask("环上理发展共同体是什么时候成立的?")
    assert when.kind == "time" and "2019年10月" in when.text
    yes = qa.ask("新华路街道有没有为高龄独居老人安装燃气报警器?")
    assert yes.kind == "yes_no" and "822户" in yes.text
    for answer in (when, yes):
        assert_verbatim(qa, answer)


def test_paraphrased_question_finds_its_sentence(qa):
    # 独自居住的高龄长者 / 防煤气泄漏的报警装置 are written 高龄独居老人 / 燃气报警器 in the report.
    answer = qa.ask("长宁区新华路一带给多少户独自居住的高龄长者装上了防煤气泄漏的报警装置?")
    assert answer.supported and "822户" in answer.text


# ---------------------------------------------------------------- follow-up questions


def test_follow_ups_are_resolved_against_the_previous_question(qa):
    first = qa.ask("长白新村街道的旧区改造进展如何?")
    street = qa.ask("那长寿路街道呢?", history=[first])
    assert street.resolved_question == "长寿路街道旧区改造进展如何?"
    assert street.supported and "旧住房成套改造" in street.text
    versus = qa.ask("它和塘桥比呢?", history=[first, street])
    assert versus.kind == "cross_street" and versus.resolved_question.startswith("长寿路街道和塘桥街道")
    assert {line.split("：", 1)[0] for line in versus.text.split("\n")} == {"长寿路街道", "塘桥街道"}
    number = qa.ask("具体数字是多少?", history=[qa.ask("塘桥街道2019年违章建筑整治情况如何?")])
    assert "违章建筑" in number.resolved_question and "塘桥街道" in number.resolved_question
    assert "32个" in number.text


def test_a_question_with_its_own_topic_is_not_a_follow_up(qa):
    first = qa.ask("塘桥街道2019年拆除了多少违章建筑?")
    answer = qa.ask("新华路街道有几个居民区获评全过程人民民主实践示范社区?", history=[first])
    assert answer.resolved_question == answer.question and "7个居民区" in answer.text


def test_bad_questions_raise_clear_errors(qa):
    with pytest.raises(QuestionError, match="问题为空"):
        qa.ask("")
    with pytest.raises(QuestionError, match="问题过长"):
        qa.ask("垃" * 10_000)


def test_answer_quality_floors_on_the_gold_set(qa):
    scores, _ = score_answers(qa.answerer, load_gold(GOLD))
    # Floors well under the figures measured in the README (the benchmark reports them, per kind).
    assert scores.answer_hit >= 0.75
    assert scores.citation_precision >= 0.8
    assert scores.no_answer_accuracy >= 0.85


def test_why_and_how_questions_quote_the_sentence_after_the_best_one(qa):
    """A reason or a manner seldom ends with its first sentence: the same passage is quoted one sentence on."""
    plain = qa.ask("长寿路街道健全矛盾纠纷预警机制的情况")
    why = qa.ask("长寿路街道为什么要健全矛盾纠纷预警机制?")
    first = plain.citations[0].quote
    assert first == "深化“法律顾问进社区”,发挥人民调解优势,健全矛盾纠纷预警、排查调处机制。"
    assert (
        why.citations[0].quote
        == first + "做好禁毒、安置帮扶、社区矫正、防范邪教等工作及各类特殊对象的管理、教育和帮扶。"
    )
    assert why.citations[0].quote in read_text(CORPUS / why.citations[0].doc_id)  # one verbatim span, one citation
    how = qa.ask("塘桥街道怎样推进美丽家园建设?")
    assert how.citations[0].quote.count("。") >= 2
