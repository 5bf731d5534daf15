"""A synthetic corpus of street reports for scale tests, made from the bundled ones.

Each report takes a bundled report as its skeleton (so lengths, headings and the title/metadata lines are
realistic), swaps about a third of its body paragraphs for body paragraphs of other reports, and renames every
street and district to a generated one, shifts its years and rescales its other numbers. The ingest pipeline
reads the result like any corpus: the titles name the new street and year. A generated street is no real
division, so the metadata reader would not take it for one: each report's sidecar (<file>.meta.toml) states
its street and district, as a user states what the reader cannot know.

    python scripts/make_synthetic_corpus.py --chunks 100k --out /tmp/corpus-100k
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ingest.chunking import chunk_document
from ..ingest.documents import load_corpus
from ..ingest.metadata import sidecar_path

DISTRICTS = (
    "黄浦区 徐汇区 长宁区 静安区 普陀区 虹口区 杨浦区 闵行区 宝山区 嘉定区 浦东新区 金山区 松江区 青浦区 奉贤区 崇明区"
).split()
_SYLLABLES = "江湾虹桥花木金杨洋泾陆家潍坊周渡钢南码头东明三林高行曹路华漕古美田枫凌云龙斜土天平宜川甘泉石门真如彭浦临汾芷新程沙惠场泗泾九亭洞泾车墩叶榭亭林朱泾吕巷廊下漕泾山阳"
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)")
# Quantities, not dates or document numbers: 2,000 -> 2,480 but never 2月26日 -> 3月36日.
_NUMBER = re.compile(r"(?<![\d.\-年月/])\d{2,}(?![\d\-月日/])")
SUFFIX = "街道"


def parse_size(text: str) -> int:
    """'10k' -> 10000, '1M' -> 1000000, '2500' -> 2500."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 10k, 100k, 1M)")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


@dataclass(frozen=True)
class _Template:
    lines: tuple[str, ...]
    body: tuple[int, ...]  # line numbers of body paragraphs (long prose lines)
    names: tuple[tuple[str, str], ...]  # (original, role) pairs to rename: role "street", "root", "district"


def _is_body(line: str) -> bool:
    return len(line) >= 60 and not re.match(
        r"^\s*([一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\([一二三四五六七八九十]+\))", line
    )


class SyntheticCorpus:
    """Makes reports from the bundled corpus; `chars_per_chunk` lets a caller aim at a number of chunks."""

    def __init__(self, corpus: Path | str, seed: int = 0):
        loaded = load_corpus(corpus)
        if not loaded.documents:
            raise ValueError(f"no reports in {corpus} to make a synthetic corpus from")
        self.rng = np.random.default_rng(seed)
        self.templates: list[_Template] = []
        chars = chunks = 0
        streets = {d.meta.street for d in loaded.documents if d.meta.street}
        districts = {d.meta.district for d in loaded.documents if d.meta.district}
        roots = {s.removesuffix("街道").removesuffix("镇") for s in streets}
        roots |= {r.removesuffix("新村").removesuffix("路") for r in roots}  # 长白新村 is also just 长白
        names = [(s, "street") for s in streets] + [(r, "root") for r in roots if len(r) >= 2]
        names += [(d, "district") for d in districts] + [
            (d.removesuffix("新区").removesuffix("区"), "droot") for d in districts
        ]
        names.sort(key=lambda nr: -len(nr[0]))  # longest first: 塘桥街道 before 塘桥
        for doc in loaded.documents:
            raw = Path(doc.source_path) if doc.source_path else Path(corpus) / doc.doc_id
            text = raw.read_text(encoding="utf-8") if raw.exists() else doc.text
            lines = tuple(text.splitlines())
            self.templates.append(
                _Template(lines, tuple(i for i, ln in enumerate(lines) if _is_body(ln)), tuple(names))
            )
            chars += len(text)
            chunks += len(chunk_document(doc))
        self.chars_per_chunk = chars / max(1, chunks)
        self.pool = [t.lines[i] for t in self.templates for i in t.body]
        self._used = {root for root, role in names if role == "root"}  # never reuse a real street's name

    def street_name(self) -> str:
        for attempt in range(1_000_000):
            # Two characters, like most real names, while they last (~4,800); then three.
            name = "".join(self.rng.choice(list(_SYLLABLES), 2 if attempt < 50 else 3, replace=False))
            if name not in self._used:
                self._used.add(name)
                return name
        raise RuntimeError("ran out of street names")

    def report(self) -> tuple[str, str, str]:
        """(street, district, text) of one new report."""
        template = self.templates[int(self.rng.integers(len(self.templates)))]
        lines = list(template.lines)
        for i in template.body:
            if self.rng.random() < 1 / 3:
                lines[i] = self.pool[int(self.rng.integers(len(self.pool)))]
        root = self.street_name()
        district = DISTRICTS[int(self.rng.integers(len(DISTRICTS)))]
        new = {
            "street": root + SUFFIX,
            "root": root,
            "district": district,
            "droot": district.removesuffix("新区").removesuffix("区"),
        }
        text = "\n".join(lines)
        for original, role in template.names:
            text = text.replace(original, new[role])
        shift = int(self.rng.integers(-4, 5))
        text = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), text)
        factor = self.rng.uniform(0.6, 1.4)

        def rescale(m: re.Match) -> str:
            value = int(m.group(0))
            if 1900 <= value <= 2050:
                return m.group(0)  # a year (already shifted)
            return str(max(1, round(value * factor)))

        return new["street"], district, _NUMBER.sub(rescale, text) + "\n"

    def reports(self, chunks: int) -> Iterator[tuple[str, str, str]]:
        """(street, district, text) of reports until their estimated chunk count reaches `chunks`."""
        made = 0.0
        while made < chunks:
            street, district, text = self.report()
            made += len(text) / self.chars_per_chunk
            yield street, district, text

    def write(self, out: Path | str, chunks: int) -> int:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        for n, (street, district, text) in enumerate(self.reports(chunks), start=1):
            report = out / f"{n:06d}_{street}.txt"
            report.write_text(text, encoding="utf-8")
            sidecar_path(report).write_text(f'street = "{street}"\ndistrict = "{district}"\n', encoding="utf-8")
        return n
