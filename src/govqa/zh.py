"""The Chinese that reports and questions are both written in: years and year ranges, street names, numerals.

At the lowest layer, beside records and errors, so that reading a report (ingest) and reading a question (qa)
use one pattern where they mean the same thing. A module keeps its own pattern where it deliberately reads
differently: ingest/metadata.py's year range (a title's 2021-2023, without 2021年-2023年 or ～) and its
date numerals (二〇二〇年十二月, with ○ and O for zero), and index/figures.py's own year and numeral readers.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------------------- years

YEAR = re.compile(r"((?:19|20)\d\d)\s*年")  # 2019年 -> 2019
YEAR_RANGE = re.compile(r"((?:19|20)\d\d)\s*年?\s*(?:-|—|–|~|～|至|到)\s*((?:19|20)\d\d)\s*年?")


def years_in(text: str) -> set[int]:
    """Every year a text names, ranges spelled out: 2021-2023年 names 2021, 2022 and 2023."""
    years = {int(y) for y in YEAR.findall(text)}
    for a, b in YEAR_RANGE.findall(text):
        if 0 <= int(b) - int(a) <= 10:
            years.update(range(int(a), int(b) + 1))
    return years


# -------------------------------------------------------------------------------------------------- streets

# A street or town named by its full name (长寿路街道, 江桥镇): two to six characters that are not digits,
# Latin, administrative words (区市省) or function words before the suffix.
STREET = re.compile(r"([^\W\d_a-zA-Z年区市省的在和与及各个哪该本这那全每]{2,6}?(?:街道|镇))")
STREET_SUFFIX = re.compile(r"(街道|镇)$")

# -------------------------------------------------------------------------------------------------- numerals

# The digits (两 is 2, 〇 and 零 are 0), units and large units of Chinese numerals.
CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNIT = {"十": 10, "百": 100, "千": 1000}
CN_BIG = {"万": 10**4, "亿": 10**8}


def chinese_number(run: str) -> float | None:
    """The value of a Chinese numeral (五十, 四千, 一万二千, 三点五, 二〇一九), None if it is not one (十四五)."""
    whole, _, frac = run.partition("点")
    if frac and not all(ch in CN_DIGIT for ch in frac):
        return None
    if len(whole) > 1 and all(ch in CN_DIGIT for ch in whole):
        value = float("".join(str(CN_DIGIT[ch]) for ch in whole))  # read digit by digit: 二〇一九
    else:
        total = section = 0
        digit: int | None = None
        for ch in whole:
            if ch in CN_DIGIT:
                if digit is not None:
                    return None  # two digits in a row without a unit: 十四五 is a name, not a number
                digit = CN_DIGIT[ch]
            elif ch in CN_UNIT:
                section += (1 if digit is None else digit) * CN_UNIT[ch]
                digit = None
            else:  # 万, 亿
                section += digit or 0
                if section == 0 and total == 0:
                    return None
                total = (total + section) * CN_BIG[ch] if ch == "亿" else total + section * CN_BIG[ch]
                section, digit = 0, None
        value = float(total + section + (digit or 0))
    if frac:
        value += float("0." + "".join(str(CN_DIGIT[ch]) for ch in frac))
    return value
