"""What a question asks for beyond its words: the street, district and year it names, checked for size."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..errors import QuestionError  # noqa: F401
from ..ingest.metadata import DISTRICTS
from ..records import DocMeta, Filters
from ..zh import STREET, STREET_SUFFIX, YEAR, years_in

MAX_QUESTION_CHARS = 1000
MAX_K = 100  # passages one search may return: more is a dump of the index, not an answer
_REVIEW = re.compile(r"回顾|总结|成效|成绩|做法|进展|情况|完成|做了|干了|取得|开展了|实现了|过去|一年来")
_PLAN = re.compile(r"任务|安排|计划|打算|思路|目标|举措|重点|措施|对策|建议|将要|准备|入手|要抓|主要抓|部署")


def sense_of(text: str, heading: bool = False) -> str | None:
    """ "review" (what was done) or "plan" (what is to be done), as a question or a heading says; None: neither.

    A heading's review words (回顾, 成效) outweigh its plan words; a question's plan words (打算, 主要任务)
    outweigh its review words (a plan question often says 做 too)."""
    review, plan = bool(_REVIEW.search(text)), bool(_PLAN.search(text))
    if review and plan:
        return "review" if heading else "plan"
    return "review" if review else "plan" if plan else None


_NOT_WORDING = re.compile(r"[^\w]|的|地|得|了")


def near_same(a: str, b: str) -> bool:
    """Two sentences that differ only in punctuation, spacing and particles (a report repeating itself with one
    的 more): quoting both would say one thing twice."""
    return a == b or _NOT_WORDING.sub("", a) == _NOT_WORDING.sub("", b)


def check_question(question: object) -> str:
    """The question stripped, or a QuestionError saying what is wrong. Every entry point calls this."""
    if question is None:
        question = ""
    if not isinstance(question, str):
        raise QuestionError(f"问题必须是文本。 (the question must be a string, not {type(question).__name__})")
    text = question.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from JSON "\ud800" or a bad decode
        raise QuestionError(
            f"问题含有无效字符（第 {exc.start + 1} 个字符）。 "
            f"(the question holds an invalid character at position {exc.start + 1}: {text[exc.start]!r})"
        ) from None
    if not any(ch.isprintable() and not ch.isspace() for ch in text):  # only NULs, controls, format chars
        raise QuestionError("问题为空：请输入一个问题。 (the question is empty)")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"问题过长：{len(text)} 个字符，上限为 {MAX_QUESTION_CHARS}。请缩短问题。 "
            f"(the question has {len(text)} characters; the limit is {MAX_QUESTION_CHARS})"
        )
    return text


def check_k(k: object) -> int:
    """The number of passages to return, checked: a whole number from 1 to MAX_K."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise QuestionError(f"k 必须是整数。 (k must be a whole number, not {k!r})")
    if not 1 <= k <= MAX_K:
        raise QuestionError(f"k 必须在 1 到 {MAX_K} 之间。 (k must be from 1 to {MAX_K}, got {k})")
    return k


def infer_filters(question: str, metas: Iterable[DocMeta]) -> Filters:
    """The street, district and year a question names. A street outside the corpus is kept: it matches nothing."""
    metas = list(metas)
    streets = {m.street for m in metas if m.street}
    street = next((s for name, s in street_aliases(streets) if name in question), None)
    if street is None and (m := STREET.search(question)):
        street = m.group(1)
    district = None
    if street is None:
        district = next((full for short, full in DISTRICTS.items() if short in question), None)
    years = YEAR.findall(question)
    year = int(years[0]) if len(years) == 1 else None
    return Filters(street=street, district=district, year=year)


def relax(filters: Filters, metas: Iterable[DocMeta]) -> Filters:
    """Drop an inferred year that no report of the named place covers but one of them borders.

    A 2019 社代会 report reviews 2018 and plans 2019: "长寿路街道2019年..." should still find it. A year
    further away (长寿路街道2025年) is kept, so the question matches nothing and is refused as such.
    """
    metas = list(metas)
    if filters.year is None or any(filters.matches(m) for m in metas):
        return filters
    without_year = replace(filters, year=None)
    year = filters.year
    bordering = [
        m
        for m in metas
        if without_year.matches(m)
        and m.year_start is not None
        and m.year_start - 1 <= year <= (m.year_end or m.year_start) + 1
    ]
    return without_year if bordering else filters


def _stem(street: str) -> str:
    return STREET_SUFFIX.sub("", street)


def street_aliases(streets: Iterable[str]) -> list[tuple[str, str]]:
    """(name, street) for every way a question may name a corpus street, longest name first: the whole name,
    without 街道/镇 (塘桥), and a long name's first two characters when no other street starts so (长白 for
    长白新村街道, as people say it; not 长寿 if 长寿路 and 长寿新村 were both in the corpus)."""
    streets = set(streets)
    stems = {s: _stem(s) for s in streets}
    aliases = {}
    for street, stem in stems.items():
        aliases[street] = street
        aliases.setdefault(stem, street)
        short = stem[:2]
        if len(stem) >= 4 and sum(other.startswith(short) for other in stems.values()) == 1:
            aliases.setdefault(short, street)
    return sorted(aliases.items(), key=lambda item: (-len(item[0]), item[0]))


def focus_text(question: str, filters: Filters) -> str:
    """The question without the places and year it was filtered on.

    Once results are restricted to 塘桥街道 in 2019, the words 塘桥街道 and 2019年 match every passage of that
    report equally (the title above all) and only add noise to both retrievers.
    """
    text = question
    for place in (filters.street, filters.district):
        if place:
            short = _stem(place)[:2] if len(_stem(place)) >= 4 else ""  # 长白 for 长白新村街道
            for name in sorted(
                {place, _stem(place), short, place.removesuffix("新区").removesuffix("区")},
                key=len,
                reverse=True,
            ):
                if len(name) >= 2:
                    text = _outside_quotes(text, lambda part, name=name: part.replace(name, " "))
    if filters.street or filters.district:  # a street's district adds nothing once the street is fixed
        for short, full in DISTRICTS.items():
            text = _outside_quotes(text, lambda part, s=short, f=full: part.replace(f, " ").replace(s, " "))
    if filters.year is not None:
        text = re.sub(rf"{filters.year}\s*年度?", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" ,，、的")
    return text if len(text) >= 2 else question


def _outside_quotes(text: str, change: Callable[[str], str]) -> str:
    """`change` applied to the text outside quotes: a quoted name (“长白8法”) is kept whole."""
    out, at = [], 0
    for m in _QUOTED.finditer(text):
        out += [change(text[at : m.start()]), m.group()]
        at = m.end()
    return "".join([*out, change(text[at:])])


def place_words(metas: Iterable[DocMeta]) -> frozenset[str]:
    """Street and district names of the corpus, whole and short (塘桥街道, 塘桥), and the word 街道 itself.

    They decide which report a passage comes from, not what it says, so they are never evidence.
    """
    words = {"街道"}
    metas = list(metas)
    for meta in metas:
        if meta.district:
            words |= {meta.district, meta.district.removesuffix("新区").removesuffix("区")}
    words |= {name for name, _ in street_aliases(m.street for m in metas if m.street)}
    return frozenset(w for w in words if len(w) >= 2)


# ------------------------------------------------------------------------------------------ question kinds

KINDS = (
    "quantity",
    "definition",
    "list",
    "summary",
    "cross_street",
    "which_street",
    "time",
    "yes_no",
    "other",
)
# Asks which one street did something: the answer names the street of each quoted sentence.
_WHICH_STREET = re.compile(r"(?:哪个|哪一个|哪家|哪条|什么)(?:街道|街镇|镇)")

_CROSS = re.compile(
    r"哪些街道|哪几个街道|各个?街道|各街镇|几个街道|各自|比较|对比|相比|比呢|差异|不同之处|有何不同|有什么不同"
)
_SUMMARY = re.compile(
    r"工作重点|重点工作|主要任务|重点任务|总体目标|发展目标|主要目标|几个方面|哪些方面|哪几方面|哪几点|主要内容|"
    r"工作思路|总体要求|主要做法|概括|提纲|框架|大纲|总结了哪些|分[为成]哪|"
    # 哪几 + a word for parts of a whole: 哪几块 / 哪几大块 / 哪几件大事 / 哪几条保障措施 / 分哪几步
    r"哪几(?:个|大)?(?:块|方面|部分|件大?事|条|步|点)"
)
# Double or single quotes, Chinese or ASCII: people type ‘六乱’ as often as “六乱”.
_QUOTED = re.compile(r"[“\"「『‘']([^”\"」』’']{1,30})[”\"」』’']")
_NAMED = re.compile(r"[“\"「『]([^”\"」』]{1,30})[”\"」』]")
_DEFINITION = re.compile(
    r"是什么意思|什么意思|指什么|指的是|是指|含义|定义|具体指|哪[几两三四五六七八九十]个|哪[几两三四五六七八九十]种|"
    r"哪[几两三四五六七八九十]项|包括哪些|包含哪些|由哪些|是什么|都有什么|有哪些内容"
)
_WHAT_IS = re.compile(r"什么(?:是|叫)([^?？，,。]{2,20})")
_TIME = re.compile(r"何时|哪一年|哪几年|哪年|什么时候|什么时间|哪一天|哪天|几个?月|日期|多久|多长时间|截至何时|时间是")
_QUANTITY = re.compile(
    # Not 那几年/好几个 (a few, not a question), 哪几个 (which), 科罗拉多大学, or 数量为什么变少.
    r"多少|(?<![那这前近头后好哪])几[个家项次名处条所座万千百台套户人天年批场件门块栋辆张份间]|"
    r"数量(?:是|为(?!什么)|有|达|[?？]?$)|面积|金额|比例|比率|[占达]比|人数|户数|规模|"
    r"多大(?!学)|多长|多高|多远|百分之|[率额]是?多"
)
_YES_NO = re.compile(r"是否|有没有|有无|是不是|能否|可否|会不会|吗[?？]?$")
_LIST = re.compile(r"哪些|有什么|有何|做了什么|做了哪些|采取了|什么措施|什么举措|什么办法|什么工作|怎样|如何|怎么")


def named_streets(question: str, metas: Iterable[DocMeta]) -> list[str]:
    """The corpus's streets a question names, whole or without 街道/镇 (longest first)."""
    named: list[str] = []
    for name, street in street_aliases(m.street for m in metas if m.street):
        if name in question and street not in named:
            named.append(street)
            question = question.replace(name, " ")  # 长白新村 is not also a mention of 长白
    return sorted(named, key=len, reverse=True)


# Streets named side by side before one 街道: 江宁路和石门二路两个街道.
_STREET_PAIR = re.compile(
    r"([\u4e00-\u9fff]{2,5}?)(?:和|与|及|跟|、)([\u4e00-\u9fff]{2,5}?)(?:这?[两三几]个)?(?:街道|镇)"
)
_NOT_A_PLACE = re.compile(r"^(?:其他|其它|其余|所有|全部|不同|相关|有的|哪些|这些|那些|各|每个|别的|周边)")


def foreign_streets(question: str, metas: Iterable[DocMeta]) -> list[str]:
    """Streets the question names that no report of the corpus is from (江宁路街道, 石门二路), in order."""
    aliases = [name for name, _ in street_aliases(m.street for m in metas if m.street)]
    named = [m.group(1) for m in STREET.finditer(question)]
    for m in _STREET_PAIR.finditer(question):
        named += [m.group(1), m.group(2)]
    if aliases:  # 曹家渡和塘桥…: a name joined to a corpus street is a street too
        known = "|".join(re.escape(a) for a in aliases)
        before = rf"(?:^|[，,。？?\s])([\u4e00-\u9fff]{{2,5}}?)(?:街道)?(?:和|与|跟|、)(?=(?:{known}))"
        after = rf"(?:{known})(?:街道)?(?:和|与|跟|、)([\u4e00-\u9fff]{{2,5}}?)(?:街道)?(?=在|的|这|两|各|分别|[，,、？?]|$)"
        named += [m.group(1) for pattern in (before, after) for m in re.finditer(pattern, question)]
    out: list[str] = []
    for name in named:
        stem = _stem(name)
        if stem.endswith("街"):  # 街镇 is streets and towns in general (示范街镇, 先进街镇), not a name
            continue
        if stem.endswith(("区", "市", "省")) or stem in DISTRICTS or stem in DISTRICTS.values():
            continue  # 塘桥和浦东…: a district or a city, not a street
        if len(stem) < 2 or _NOT_A_PLACE.match(stem) or any(a in name or stem in a for a in aliases):
            continue
        if stem not in out:
            out.append(stem)
    return out


def question_kind(question: str, streets: Sequence[str] = ()) -> str:
    """One of KINDS, from the question's wording (and the streets it names: two of them make a comparison).

    Order matters: "哪些街道提到了垃圾分类" is a comparison before it is a list, "2021年的工作重点是什么" a
    summary before a definition, "何时成立、由多少家单位发起" a time question before a quantity.
    """
    q = question.strip()
    if not streets and _WHICH_STREET.search(q):
        return "which_street"
    if len(set(streets)) >= 2 or _CROSS.search(q):
        return "cross_street"
    if _SUMMARY.search(q):
        return "summary"
    if (
        _WHAT_IS.search(q)
        or (_QUOTED.search(q) and _DEFINITION.search(q))
        or re.search(r"(?:指什么|指哪|是什么意思|什么意思|含义|具体指|是指|的定义|的概念|的意思)", q)
    ):
        return "definition"
    if _TIME.search(q):
        return "time"
    if _YES_NO.search(q):
        return "yes_no"
    if _QUANTITY.search(q):
        return "quantity"
    if _LIST.search(q):
        return "list"
    return "other"


def asks_quantity(question: str) -> bool:
    """The question asks for a number (多少/几个/面积/比例...), whatever its kind."""
    return bool(_QUANTITY.search(question))


_EXPLANATION = re.compile(
    r"为什么|为何|原因|怎么|如何|怎样|什么是|是什么|指什么|特征|症状|特点|作用|功效|影响|意义|背景|经过|过程|情节"
)


def asks_explanation(question: str) -> bool:
    """The question asks why, how, what something is or what it is like: answers that run over sentences."""
    return bool(_EXPLANATION.search(question))


def asks_time(question: str) -> bool:
    """The question asks for a time (何时/哪一年/什么时候...), whatever its kind."""
    return bool(_TIME.search(question))


_PUBLISHED = re.compile(r"发布|印发|编制|出台|发表|公布|公开|成文|制定|起草|发出|下发|发的|发了|出来的")
_THE_REPORT = re.compile(r"报告|计划|总结|规划|方案|文件|通知|《")


def asks_publication_date(question: str) -> bool:
    """A time question about the report itself: 《…行动计划》是什么时候编制的? / 这份报告是哪一天发布的?"""
    return asks_time(question) and bool(_PUBLISHED.search(question)) and bool(_THE_REPORT.search(question))


_BOOK_TITLE = re.compile(r"《([^》]{2,80})》")
# All a question about a report's own date may say besides its street and year: 万里街道2021年工作计划是哪一天发布的?
_REPORT_DATE_WORDS = re.compile(
    r"社区代表会议上的|社代会|工作报告|工作计划|工作总结|行动计划|报告|计划|总结|规划|[这那哪]份|这个|该|本|的|是|在|"
    r"何时|哪一年|哪年|什么时候|什么时间|哪一天|哪天|几月|日期|时间|"
    r"发布|印发|编制|出台|发表|公布|公开|成文|制定|起草|发出来|发出|下发|发|出来|对外|正式|了|[?？,，。\s]"
)


def dated_reports(question: str, metas: Mapping[str, DocMeta], filters: Filters) -> list[str] | None:
    """The reports whose own date a question asks for, or None when it asks no such thing.

    A report named by its 《title》, else the ones the filters leave (sorted; empty: any). A date asked of
    something a report mentions (垃圾分类实施方案是何时出台的?) is not the report's own date: None."""
    if not asks_publication_date(question):
        return None
    titles = _BOOK_TITLE.findall(question)
    named = [d for d, m in metas.items() if any(t in m.title or m.title in t for t in titles)]
    if named:
        return named
    reports = [] if filters.is_empty() else sorted(d for d, m in metas.items() if filters.matches(m))
    rest = _REPORT_DATE_WORDS.sub("", focus_text(question, filters))
    # The report may be named by its title's own words: 社区代表会议报告, 2020年社代会报告 (a title's year).
    titles = "".join(metas[d].title for d in reports)
    if not years_in(rest) <= years_in(titles) or any(c not in titles for c in re.findall(r"[\u4e00-\u9fff]", rest)):
        return None
    return reports


def quoted(question: str) -> list[str]:
    """The names a question puts in double quotes (“三会”): asked for by that name. Single quotes (‘自己养活自己’)
    as often mark a paraphrase, so they only say which term a definition question is about (quoted_terms)."""
    return [t for m in _NAMED.finditer(question) if (t := m.group(1).strip())]


def quoted_terms(question: str) -> list[str]:
    """Terms a definition question asks about: quoted ones (“三会”, ‘六乱’), else the X of 什么是X / X是什么."""
    terms = [m.group(1).strip() for m in _QUOTED.finditer(question)]
    if not terms and (m := _WHAT_IS.search(question)):
        terms = [m.group(1)]
    if not terms and (m := re.search(r"([^\s，,。、的]{2,12}?)的(?:定义|含义|意思|概念|解释)", question)):
        terms = [m.group(1)]  # 胜任力的定义是什么 asks about 胜任力, not about 定义
    if not terms and (
        m := re.search(
            r"([^\s，,。、的]{2,12}?)(?:是什么意思|是什么|是指什么|是指|指什么|指的是|具体指|的含义)",
            question,
        )
    ):
        terms = [m.group(1)]
    return [t for t in terms if len(t) >= 2]


# -------------------------------------------------------------------------------- follow-up questions

_FOLLOW_UP_FILLER = re.compile(r"^(那么?|那个|还有|另外|再问一下|请问)?")
_PRONOUN = re.compile(r"^(它|它们|他们|该街道|这个街道|这个|这|该|其)")
_VS = re.compile(r"(?:和|与|跟|同|比)([^\s，,。?？]{2,8}?)(?:街道|镇)?(?:相?比较?呢?|比呢|对比|呢|[?？]|$)")
# A question is topical when it keeps two or more content characters once these are gone.
_GENERIC = re.compile(
    r"那么?|呢|吗|么|吧|它们?|他们|这个|这些|那些|其|该|具体|数字|数据|数目|情况|怎么样|怎样|如何|多少|几|是|的|了|有|"
    r"哪些|什么|请问|还有|另外|又|再|呢|比较?|对比|相比|和|与|跟|同|分别|一下|说说|讲讲|详细|详情|[?？!！。，,、\s]"
)
_ASKING = re.compile(
    r"(做了哪些工作|做了什么|有哪些|有什么|是什么|是多少|有多少|多少|如何|怎样|怎么样|情况如何|进展如何|呢|吗)[?？]?$"
)


@dataclass(frozen=True)
class Resolution:
    question: str  # the question to answer, standalone
    followed: bool  # True: it was completed from an earlier turn


def topic_of(question: str, filters: Filters) -> str:
    """The question's subject without its places, year and question words: 垃圾分类 of 塘桥街道2019年垃圾分类做了什么."""
    text = focus_text(question, filters)
    text = _ASKING.sub("", text.strip(" ?？"))
    text = re.sub(r"^(在|关于|对于)|(方面|工作|的情况|情况)$", "", text.strip(" ，,的"))
    return text.strip(" ，,的") or focus_text(question, filters)


# An elliptic question ("那垃圾分类呢?", "垃圾分类方面呢?") leans on the conversation for its place.
_ELLIPTIC = re.compile(r"^那|呢\s*[?？]?$")
_ELLIPTIC_LEAD = re.compile(r"^那(?:么)?[，, ]*")


def resolve_follow_up(question: str, previous: str | None, metas: Iterable[DocMeta]) -> Resolution:
    """Complete a follow-up ("那长寿路街道呢?", "具体数字是多少?", "它和塘桥比呢?") from the previous resolved question.

    A question that names its own topic stands alone and is returned unchanged. Otherwise the previous
    question's topic, street and year fill what this one leaves out: a new street replaces the old one, a
    pronoun (它/该街道) stands for the old street, and "和X比" makes a comparison of both streets on the old topic.
    """
    question = question.strip()
    if not previous:
        return Resolution(question, False)
    metas = list(metas)
    places = place_words(metas)
    now = infer_filters(question, metas)
    before = infer_filters(previous, metas)
    rest = _GENERIC.sub("", focus_text(question, now))
    for word in sorted(places, key=len, reverse=True):
        rest = rest.replace(word, "")
    mentions_street = bool(now.street)
    pronoun = bool(_PRONOUN.match(_FOLLOW_UP_FILLER.sub("", question)))
    year = f"{before.year}年" if before.year is not None else ""
    if len(rest) >= 2 and not pronoun:
        if now.is_empty() and before.street and _ELLIPTIC.search(question):
            # "那垃圾分类呢?": a new topic, asked of the street and year the conversation is about.
            return Resolution(f"{before.street}{year}{_ELLIPTIC_LEAD.sub('', question)}", True)
        return Resolution(question, False)  # names its own topic and place: not a follow-up
    topic = topic_of(previous, before)
    if m := _VS.search(question):
        other = infer_filters(m.group(1) + "街道", metas).street or infer_filters(m.group(1), metas).street
        if other and before.street and other != before.street:
            # No year: two streets' reports seldom cover the same one.
            return Resolution(f"{before.street}和{other}{topic}比较", True)
    if mentions_street and now.street != before.street:
        when = f"{now.year}年" if now.year is not None else year
        return Resolution(f"{now.street}{when}{topic}{_tail(previous)}", True)
    if now.year is not None and now.year != before.year:
        return Resolution(f"{before.street or ''}{now.year}年{topic}{_tail(previous)}", True)
    # Same subject, a new angle ("具体数字是多少?"): the old question's subject with this question's ask.
    ask = _FOLLOW_UP_FILLER.sub("", question).lstrip("，, ")
    return Resolution(f"{before.street or ''}{year}{topic}，{ask}", True)


def _tail(question: str) -> str:
    """The asking part of a question (做了哪些工作? / 是多少?), to keep when only its subject changes."""
    m = _ASKING.search(question.strip())
    return m.group(0) if m else "?"
