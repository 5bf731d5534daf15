"""Checks several test modules make of an answer (a module of its own, as testpaths is)."""

from __future__ import annotations

from govqa.ingest.loaders import read_text
from testpaths import CORPUS


def assert_verbatim(qa, answer):
    for c in answer.citations:
        doc = qa.document(c.doc_id)
        assert doc.text[c.char_start : c.char_end] == c.quote
        para = doc.paragraph(c.paragraph)
        assert para.char_start <= c.char_start and c.char_end <= para.char_end
        assert c.section_path == para.section_path or c.section_path[: len(para.section_path)] == para.section_path
        if para.kind != "table":
            assert c.quote in read_text(CORPUS / c.doc_id)  # word for word in the report as received
        assert f"[{c.n}]" in answer.text
