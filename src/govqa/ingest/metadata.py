"""Read a report's title, street, district, covered years, publish date and type from its text.

A sidecar file `<report file>.meta.toml` beside the report overrides any field, e.g.::

    street = "塘桥街道"
    year_start = 2019
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections import Counter
from pathlib import Path

from ..records import DocMeta

SIDECAR_SUFFIX = ".meta.toml"

# Shanghai's 16 districts; the short form is how reports usually name them (来源: 上海普陀).
DISTRICTS = {
    "黄浦": "黄浦区", "徐汇": "徐汇区", "长宁": "长宁区", "静安": "静安区", "普陀": "普陀区",
    "虹口": "虹口区", "杨浦": "杨浦区", "闵行": "闵行区", "宝山": "宝山区", "嘉定": "嘉定区",
    "浦东": "浦东新区", "金山": "金山区", "松江": "松江区", "青浦": "青浦区", "奉贤": "奉贤区",
    "崇明": "崇明区",
}  # fmt: skip
# Longest first so 工作计划 is not read as 计划 and 行动计划 wins over 计划.
DOC_TYPES = (
    ("行动计划", "行动计划"),
    ("工作计划", "工作计划"),
    ("工作要点", "工作要点"),
    ("工作总结", "工作总结"),
    ("工作报告", "工作报告"),
    ("社代会报告", "工作报告"),
    ("代表会议上的报告", "工作报告"),
    ("政府工作报告", "工作报告"),
    ("报告", "工作报告"),
    ("总结", "工作总结"),
    ("计划", "工作计划"),
    ("规划", "规划"),
)
PLAN_TYPES = {"行动计划", "工作计划", "工作要点", "规划"}

# A street name is a run of Chinese characters; 年, 区 and 市 end the date or district before it.
_NAME_CHARS = re.compile(r"[^\W\d_a-zA-Z年区市省的在和与及]+")
_STREET_IN_TITLE = re.compile(r"([^\W\d_a-zA-Z年区市省的在和与及]{2,6}?(?:街道|镇))")
_DATE = re.compile(r"(20\d\d|19\d\d)\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})\s*日?")
_DATE_LABEL = re.compile(r"(发布日期|发布时间|成文日期|日期)\s*[|:：]?\s*[|]?\s*")
_YEAR_RANGE = re.compile(r"((?:19|20)\d\d)\s*[-—–~至到]\s*((?:19|20)\d\d)\s*年?")
_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")
_REVIEW_YEAR = re.compile(r"((?:19|20)\d\d)\s*年度?\s*(?:工作)?回顾")
HEADER_LINES = 8  # title, source and date lines sit at the top of every report seen so far


def extract_metadata(raw: str, fallback_title: str) -> DocMeta:
    lines = [line.strip() for line in raw.split("\n") if line.strip()]
    title = clean_title(lines[0]) if lines else fallback_title
    header = "\n".join(lines[:HEADER_LINES])
    published = _published(header)
    doc_type = next((kind for word, kind in DOC_TYPES if word in title), None)
    year_start, year_end = _covered_years(title, raw, doc_type, published)
    return DocMeta(
        title=title,
        street=_street(title, raw),
        district=_district(header, raw),
        year_start=year_start,
        year_end=year_end,
        published=published,
        doc_type=doc_type,
    )


def clean_title(line: str) -> str:
    # "安康和美·活力长白行动计划(2021-2023年) 2021-08-31": the date belongs to the header, not the title.
    return _DATE.sub("", line).strip(" |") or line


def _published(header: str) -> str | None:
    labelled = _DATE_LABEL.search(header)
    match = _DATE.search(header, labelled.end()) if labelled else None
    match = match or _DATE.search(header)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _street(title: str, raw: str) -> str | None:
    if m := _STREET_IN_TITLE.search(title):
        return m.group(1)
    return _most_named_street(raw)


def _most_named_street(raw: str) -> str | None:
    """The street the text names most: the longest name before 街道/镇 that is as frequent as its tail.

    "长白新村街道" recurs as a whole while "推动长白新村街道" does not, so growing the name one character
    at a time stops at the real name.
    """
    counts: Counter[str] = Counter()
    for m in re.finditer(r"街道|镇", raw):
        before = raw[max(0, m.start() - 6) : m.start()]
        for size in range(2, len(before) + 1):
            name = before[-size:]
            if not _NAME_CHARS.fullmatch(name):
                break
            counts[name + m.group(0)] += 1
    if not counts:
        return None
    best_tail = max((n for n in counts if len(n) == 4), key=counts.__getitem__, default=None)
    if best_tail is None:
        return None
    name = best_tail
    while True:
        longer = [n for n in counts if n.endswith(name) and len(n) == len(name) + 1]
        grown = max(longer, key=counts.__getitem__, default=None)
        if grown is None or counts[grown] < 0.8 * counts[best_tail]:
            return name
        name = grown


def _district(header: str, raw: str) -> str | None:
    """The district named in the header (来源: 上海普陀; 上海市长宁区...), else the one the text names most."""
    for short, full in DISTRICTS.items():
        if full in header or f"上海{short}" in header:
            return full
    counts = Counter({full: raw.count(short) for short, full in DISTRICTS.items()})
    best, n = counts.most_common(1)[0]
    return best if n else None


def _covered_years(
    title: str, raw: str, doc_type: str | None, published: str | None
) -> tuple[int | None, int | None]:
    if m := _YEAR_RANGE.search(title):
        return int(m.group(1)), int(m.group(2))
    pub_year = int(published[:4]) if published else None
    if doc_type in PLAN_TYPES or doc_type == "工作总结":
        if m := _YEAR.search(title):
            year = int(m.group(1))
            return year, year
    if doc_type == "工作报告":
        # A 社代会 report is given early in a year and reviews the year before.
        if m := _REVIEW_YEAR.search(raw[:5000]):
            year = int(m.group(1))
            return year, year
        if pub_year:
            return pub_year - 1, pub_year - 1
    if m := _YEAR.search(title):
        year = int(m.group(1))
        return year, year
    return (pub_year, pub_year) if pub_year else (None, None)


def sidecar_path(report: Path) -> Path:
    return report.with_name(report.name + SIDECAR_SUFFIX)


def apply_sidecar(meta: DocMeta, report: Path) -> DocMeta:
    """Override extracted fields with those in the report's sidecar file, if it has one."""
    path = sidecar_path(report)
    if not path.exists():
        return meta
    try:
        overrides = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid metadata sidecar: {exc}") from exc
    unknown = set(overrides) - set(DocMeta.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"{path}: unknown metadata fields {sorted(unknown)}; known: {list(DocMeta.__dataclass_fields__)}"
        )
    merged = meta.with_overrides(**{name: _checked(path, name, value) for name, value in overrides.items()})
    if merged.year_start is not None and merged.year_end is not None and merged.year_end < merged.year_start:
        raise ValueError(
            f"{path}: year_end {merged.year_end} is before year_start {merged.year_start}; "
            "set both in the sidecar"
        )
    return merged


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
YEARS = range(1949, 2101)  # what a year of a government report can plausibly be


def _checked(path: Path, name: str, value: object) -> object:
    """A sidecar value of the type its DocMeta field needs, or ValueError naming the file and field."""
    if name in ("year_start", "year_end"):
        # bool is an int subclass: `year_start = true` is not a year.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{path}: {name} must be a whole number such as 2019, not {value!r} (write {name} = 2019, no quotes)"
            )
        if value not in YEARS:
            raise ValueError(
                f"{path}: {name} = {value} is not a plausible year ({YEARS.start}-{YEARS.stop - 1})"
            )
        return value
    if name == "published":
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()  # TOML's bare date: published = 2020-01-16
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            try:
                return datetime.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise ValueError(f"{path}: published must be a date such as 2020-01-16, not {value!r}")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'{path}: {name} must be a non-empty text such as "塘桥街道", not {value!r}')
    return value.strip()
