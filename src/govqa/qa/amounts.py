"""Amounts: the figure a quantity question asks for, and whether a sentence states one of that kind.

Pure functions and patterns over text. The sentence model reads them as features (unit_match, has_number,
has_date); the answerer checks its quotes with `states_amount`, so a quantity question is never answered by
an unrelated figure (a length for money, a count of something else).
"""

from __future__ import annotations

import re

from ..zh import YEAR
from .extract import FUNCTION_CHARS, HAN

ASKED_UNIT = re.compile(
    r"(?:多少|几)(家次|人次|平方米|万元|亿元|公里|公尺|公分|厘米|毫米|千米|公斤|千克|小时|分钟|"
    r"[^\W\d的是在年级钱种样些么])"  # any measure word (几层 -> 两层) but particles and 年 (2019年 is no count)
)
_COUNT = (
    r"\d[\d.,]*\s*(%|％|个|家|人|名|户|次|项|处|条|所|座|栋|辆|块|场|批|期|平方米|平米|万|亿|元|米|公里|小时|天|年|余|多|"
    r"台|套|张|笔|起|份|件|间|门|幢|棵|位|倍"
)
COUNTED = re.compile(_COUNT + ")")  # a count or an amount of what reports count
# ... or of any measure: 0至12公尺, 14英吋, 300MB, 八成 (a feature of the sentence model, and for 多少/多大 asked bare)
QUANTITY = re.compile(
    _COUNT
    + r"|公尺|公分|厘米|毫米|千米|英[尺寸吋里]|公斤|千克|克|吨|岁|℃|°|度|颗|只|头|匹|本|部|首|篇|届|周|分钟|秒|成|"
    r"[美港加欧日澳]元|英?镑|越南盾|cm|mm|km|kg|m²|MB|GB|KB)"
)
DAY_OR_MONTH = re.compile(r"(19|20)\d\d\s*[年\-./]\s*\d{1,2}|\d{1,2}\s*月|年内|年底|年初|上半年|下半年")
# The sentence model's has_number / no_number features: any measure but minutes and seconds, because
# "15分钟生活圈/养老服务圈" is a policy's name in reports, not an amount (it "answered" 多少张床位). CMRC 2018
# trial[250:] answer hit 0.839 with these units, 0.836 with only the counts the model was fitted with.
HAS_NUMBER = re.compile(QUANTITY.pattern.replace("|分钟|秒", ""))
# A stated amount: digits with a unit, or Chinese numerals with a measure word (近百栋, 两个, 十五分钟).
# Not an ordinal (第一家) nor a word that holds a numeral (一次性, 一体化, 一线).
CHINESE_AMOUNT = re.compile(
    r"(?<![第一二两三四五六七八九十百千万亿半近数])[一二两三四五六七八九十百千万亿半近数]+\s*"
    r"(?:个|家|项|次|名|处|条|所|座|栋|辆|块|场|批|期|套|台|张|件|元|户|人|幢|棵|位|倍|成|"
    r"分钟|公里|平方米|岁|篇|本|部|首|只|头|匹|颗|届|层|枚|艘|架|列|份|笔|起|间|门|段|章|卷|集|轮|支|队|组|对|双|株|尾|种|类)(?!性|化)|[一二三四五六七八九十百\d]+\s*分之\s*[一二三四五六七八九十\d]+|一半|半数|过半|大半"
)
# What kind of amount a question asks for, and how a sentence states one of that kind: a question about money
# is not answered by a length (2.5公里), nor a share by a count. Counts (个/家/户…) stand in for one another.
_NUMERAL = r"(?:\d[\d.,]*|[一二两三四五六七八九十百千万亿半数几]+)\s*"
_AMOUNT_KINDS = (
    (
        re.compile(r"多少(?:万|亿)?元|多少钱|金额|资金|经费|投资|预算|花了多少|花费"),
        re.compile(r"\d[\d.,]*\s*(?:[万亿千]\s*)*(?:[美港加欧日澳台]?元|英?镑|越南盾|卢比|美金)|[$¥￥€£]\s*\d"),
    ),
    (
        re.compile(r"面积|多少平方|多少亩|多少公顷"),
        re.compile(r"\d[\d.,]*\s*(?:万)?(?:平方米|平米|平方公里|平方千米|平方公尺|亩|公顷|m²|km²)"),
    ),
    (
        re.compile(r"比例|比率|百分之|占比|率(?:是|为|有)?多少|率(?:是|为|有)?几"),
        re.compile(r"\d[\d.,]*\s*[%％]|百分之|[一二三四五六七八九十\d]\s*成|\d\s*[:：]\s*\d|率[为是达约]*\s*\d"),
    ),
    # 多少人 asks for people: 35个志愿者站 or 2次培训 does not say how many volunteers there are.
    (
        re.compile(r"多少(?:个|位|名)?[\u4e00-\u9fff]{0,3}人(?![次家])|几个人|多少名|几名|多少位|几位|人数"),
        re.compile(_NUMERAL + r"(?:[万千百]\s*)?(?:人|名|位)|人[口数]|\d\s*[万千]?\s*人|一半|半数|过半|大半"),
    ),
    # 多长 asks a length or a duration (任期多长 -> 五年).
    (
        re.compile(r"多长|多少公里|多少米|长度"),
        re.compile(_NUMERAL + r"(?:公里|千米|公尺|米|公分|厘米|毫米|英[尺寸吋里]|cm|mm|km|年|个月|天|小时|分钟|周)"),
    ),
)
# Any number but a date's: 2至12公尺, 300MB, 北纬40°; not 2019年, 8月.
_ANY_NUMBER = re.compile(r"\d[\d.,]*(?![\d.,]|\s*[年月日号弄路街巷室楼期])")
# The measure word after 多少/几 (多少趟列车 -> 趟); not a particle or noun that may follow (多少的, 几年级).
_MEASURE_WORD = re.compile(r"(?:多少|几)([^\W\d的是在个年级钱人次岁]{1})")


def states_amount(question: str, text: str) -> bool:
    """`text` states an amount of the kind `question` asks for (money, area, share, length, else any count)."""
    for asked, stated in _AMOUNT_KINDS:
        if asked.search(question):
            return bool(stated.search(text))
    if re.search(r"(?:多少|几)年", question) and re.search(
        r"(?<![\d])(?:[一二两三四五六七八九十]+|\d{1,2})\s*年(?!\d)", text
    ):
        return True  # 多少年滚动一次 -> 五年一滚动: a span of years, not a date
    text = YEAR.sub("", text)  # 2019年 is when, not how many
    m = _MEASURE_WORD.search(question)
    if m and re.search(rf"[\d一二两三四五六七八九十百千万]\s*{m.group(1)}", text):
        return True  # the measure word asked for (多少趟 -> 18趟), whatever it is
    if m and m.group(1) in _MEASURES:
        return False  # 多少分 is a score, 多少吨 a weight: no count of something else stands in for them
    if m:
        # Only another count stands in for the measure word asked (近百栋 for 多少幢): 多少张床位 is not
        # answered by 15分钟养老服务圈.
        return bool(COUNTED.search(text) or CHINESE_AMOUNT.search(text))
    if _GENERIC_COUNT.search(question):
        return counts_what_is_asked(question, text)
    return bool(QUANTITY.search(text) or CHINESE_AMOUNT.search(text) or _ANY_NUMBER.search(text))


_GENERIC_COUNT = re.compile(r"(?:多少|几)个")
_MEASURES = frozenset("分岁吨米斤度克秒")
_NEAR_ASKED = 6  # characters beside 多少个 / beside a count that say what is counted
_CLAUSE_BREAK = re.compile(r"[,，、;；。:：!?！？]")


def counts_what_is_asked(question: str, text: str) -> bool:
    """多少个 names what it counts beside it (多少个出入闸机, 岗位有多少个); a count in `text` answers it only when
    the words beside that count, in its clause, share a character with them: 284个 of 视频监控探头 does not
    count 闸机."""
    m = _GENERIC_COUNT.search(question)
    after = _CLAUSE_BREAK.split(question[m.end() :], maxsplit=1)[0][:_NEAR_ASKED]
    before = _CLAUSE_BREAK.split(question[: m.start()])[-1][-_NEAR_ASKED:]
    asked = set(HAN.findall(after)) - FUNCTION_CHARS
    if len(asked) < 2:  # 岗位有多少个? names it before
        asked = set(HAN.findall(before)) - FUNCTION_CHARS
    if not asked:
        return bool(COUNTED.search(text) or CHINESE_AMOUNT.search(text))
    for count in (*COUNTED.finditer(text), *CHINESE_AMOUNT.finditer(text)):
        head = _CLAUSE_BREAK.split(text[: count.start()])[-1][-2 * _NEAR_ASKED :]
        tail = _CLAUSE_BREAK.split(text[count.end() :], maxsplit=1)[0][:_NEAR_ASKED]
        if asked & set(head + tail):
            return True
    return False
