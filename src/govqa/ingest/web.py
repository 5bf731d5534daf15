"""Web pages: the report's own text without the portal around it (navigation, share buttons, related
links, footers), found by trafilatura; the page's title and publish date become metadata."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from ..errors import LoadError
from .cleaning import Line
from .source import Source

_HEAD_LEVEL = re.compile(r"h(\d)")


def load_html(path: Path, html: str) -> Source:
    from lxml import etree

    try:
        xml = _extract(html)
        root = etree.fromstring(xml.encode("utf-8")) if xml else None
        if root is not None and len(root.findall("main/*")) < 2:
            # A short page leaves too little for the boilerplate classifier, which then falls back to one
            # blob of every text on the page; asking it to keep more keeps the page's own blocks.
            xml = _extract(html, favor_recall=True) or xml
            root = etree.fromstring(xml.encode("utf-8"))
    except Exception as exc:  # trafilatura/lxml raise assorted types on hostile markup
        raise LoadError(path, f"cannot parse the HTML ({type(exc).__name__}: {exc})") from exc
    if root is None:
        raise LoadError(path, "no main text found in the web page")
    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    lines: list[Line] = []
    table_no = 0
    for element in main.iter("head", "p", "item", "table") if main is not None else ():
        if element.tag == "table":
            table_no += 1
            for row in element.iter("row"):
                lines.extend(Line(f"{_text(cell)} |", table=table_no) for cell in row.iter("cell"))
            continue
        if _inside(element, "table") or (element.tag == "p" and _inside(element, "item")):
            continue
        text = _text(element)
        if not text:
            continue
        level = None
        if element.tag == "head":
            m = _HEAD_LEVEL.fullmatch(element.get("rend", ""))
            level = int(m.group(1)) if m else 1
        lines.append(Line(text, heading=level))
    title = root.get("title") or None
    if title and (not lines or lines[0].text != title):
        lines.insert(0, Line(title, heading=1))
    return Source(lines, title=title, published=_iso_date(root.get("date")))


def _extract(html: str, **options) -> str | None:
    import trafilatura

    return trafilatura.extract(
        html,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_formatting=False,
        include_links=False,
        include_images=False,
        with_metadata=True,
        deduplicate=False,
        config=_config(),
        # Only a date the page states (meta tags, a 发布日期 line), not one guessed from a year in the title.
        date_extraction_params={"extensive_search": False, "original_date": True},
        **options,
    )


@cache
def _config():
    from trafilatura.settings import use_config

    config = use_config()
    # The default (250 characters) is tuned for English; 80 Chinese characters are a paragraph.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "80")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # its timeout uses signals, which fail off the main thread
    return config


def _text(element) -> str:
    return " ".join("".join(element.itertext()).split())


def _inside(element, tag: str) -> bool:
    return any(parent.tag == tag for parent in element.iterancestors())


def _iso_date(value: str | None) -> str | None:
    return value if value and re.fullmatch(r"\d{4}-\d\d-\d\d", value) else None
