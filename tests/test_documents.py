"""Adding and removing reports through the library (engine.add_document / remove_document) and the app's panel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from govqa import corpus
from govqa.engine import (
    DocumentError,
    DocumentExistsError,
    DocumentNotFoundError,
    GovQA,
    UnsupportedFileTypeError,
    add_document,
    check_document,
    remove_document,
    safe_file_name,
)
from govqa.index.store import Index
from govqa.records import Filters
from testpaths import CORPUS, ROOT


def small_report(street: str) -> str:
    text = (CORPUS / "000_051ad83070a5de45.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()][:14]
    return "\n\n".join(lines).replace("长寿路街道", street)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"


@pytest.mark.parametrize(
    "given, safe",
    [
        ("../../etc/报告.txt", "报告.txt"),
        ("C:\\Users\\x\\a b.TXT", "a b.txt"),
        (".hidden.md", "hidden.md"),
        ("a<script>.html", "a_script_.html"),
        ("x\x00y\u202e.pdf", "xy.pdf"),
    ],
)
def test_file_names_are_sanitised(given, safe):
    assert safe_file_name(given) == safe


@pytest.mark.parametrize("name", ["tool.exe", "noext", "..txt", "/", ""])
def test_unusable_names_are_refused(name):
    with pytest.raises(DocumentError):
        safe_file_name(name)


@pytest.mark.parametrize("name", ["tool.exe", "noext", "表格.xlsx"])
def test_a_name_without_a_supported_suffix_is_an_unsupported_type(name):
    with pytest.raises(UnsupportedFileTypeError):  # the HTTP API answers 415 for it, not 422
        safe_file_name(name)


def test_uploads_are_checked_before_anything_is_written():
    with pytest.raises(DocumentError, match="limit"):
        check_document("a.txt", "长寿路街道".encode() * 100, max_bytes=100)
    with pytest.raises(DocumentError, match="empty"):
        check_document("a.txt", b"   ")
    with pytest.raises(DocumentError, match="cannot be indexed: binary"):
        check_document("a.txt", b"\x00\x01\x02" * 50)
    with pytest.raises(DocumentError, match="cannot be indexed"):
        check_document("a.docx", b"not a zip file")
    assert check_document("../x.txt", small_report("临江街道").encode()) == "x.txt"


def test_add_then_remove_updates_corpus_and_index(index_copy, corpus_copy, embedder):
    report = small_report("临江街道").encode()
    change = add_document(corpus_copy, index_copy, "../临江街道报告.txt", report, embedder=embedder)
    assert (change.doc_id, change.action) == ("临江街道报告.txt", "added")
    assert (corpus_copy / "临江街道报告.txt").read_bytes() == report
    assert not (corpus_copy.parent / "临江街道报告.txt").exists()
    assert change.build.report.added == ["临江街道报告.txt"] and change.build.report.reused > 0
    qa = GovQA.open(index_copy, embedder)
    hits = qa.search("临江街道的工作", filters=Filters(street="临江街道"))
    assert hits and {h.chunk.doc_id for h in hits} == {"临江街道报告.txt"}

    again = add_document(corpus_copy, index_copy, "临江街道报告.txt", report, embedder=embedder)
    assert again.action == "unchanged" and again.build.report.embedded == 0  # a retried upload is harmless
    with pytest.raises(DocumentExistsError):
        add_document(corpus_copy, index_copy, "临江街道报告.txt", report + b"\nmore", embedder=embedder)
    assert (corpus_copy / "临江街道报告.txt").read_bytes() == report

    removed = remove_document(corpus_copy, index_copy, "临江街道报告.txt", embedder=embedder)
    assert removed.build.report.removed == ["临江街道报告.txt"]
    assert not (corpus_copy / "临江街道报告.txt").exists()
    assert "临江街道报告.txt" not in Index.open(index_copy).metas
    # Nothing of govqa's is left in the corpus folder (it may be under git): no lock, no moved-aside file.
    assert sorted(p.name for p in corpus_copy.iterdir()) == sorted(p.name for p in CORPUS.iterdir())
    with pytest.raises(DocumentNotFoundError):
        remove_document(corpus_copy, index_copy, "临江街道报告.txt", embedder=embedder)
    with pytest.raises(DocumentNotFoundError):
        remove_document(corpus_copy, index_copy, "../corpus/000_051ad83070a5de45.txt", embedder=embedder)


def test_a_failed_build_puts_the_corpus_back(index_copy, corpus_copy, monkeypatch):
    def broken_build(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(corpus, "build", broken_build)

    def listing() -> list[str]:
        return sorted(p.name for p in corpus_copy.iterdir() if not p.name.startswith("."))

    before = listing()
    with pytest.raises(OSError):
        add_document(corpus_copy, index_copy, "new.txt", small_report("临江街道").encode())
    with pytest.raises(OSError):
        remove_document(corpus_copy, index_copy, "000_051ad83070a5de45.txt")
    assert listing() == before
    assert (corpus_copy / "000_051ad83070a5de45.txt").read_bytes() == (CORPUS / "000_051ad83070a5de45.txt").read_bytes()


def test_app_documents_panel_adds_and_deletes(index_copy, corpus_copy, monkeypatch):
    monkeypatch.setenv("GOVQA_INDEX", str(index_copy))
    monkeypatch.setenv("GOVQA_CORPUS", str(corpus_copy))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.sidebar.radio[0].set_value("文档 Documents").run()
    at.text_input(key="paste_name").set_value("望海街道报告.txt")
    at.text_area(key="paste_text").set_value(small_report("望海街道"))
    at.button(key="paste_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("望海街道报告.txt" in s.value and "已添加" in s.value for s in at.success)
    assert "望海街道报告.txt" in Index.open(index_copy).metas

    at.selectbox(key="delete_doc").set_value("望海街道报告.txt")
    at.checkbox(key="delete_sure").check().run()  # the button is enabled only once both are chosen
    at.button(key="delete_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("已删除" in s.value for s in at.success)
    assert "望海街道报告.txt" not in Index.open(index_copy).metas
    assert sorted(p.name for p in corpus_copy.iterdir()) == sorted(p.name for p in CORPUS.iterdir())

    at.text_input(key="paste_name").set_value("tool.exe")
    at.text_area(key="paste_text").set_value("x")
    at.button(key="paste_go").click().run()
    assert any("unsupported file type" in e.value for e in at.error)
