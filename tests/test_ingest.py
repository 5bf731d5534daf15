"""Corpus -> documents on the real reports: cleaning, outline, metadata, footnotes, encodings, bad files."""

from __future__ import annotations

import re
import zlib

import pytest

from govqa.ingest.chunking import ChunkConfig, chunk_document, split_sentences
from govqa.ingest.cleaning import split_tables
from govqa.ingest.documents import load_corpus, load_document
from govqa.ingest.loaders import LoadError, read_text
from govqa.ingest.metadata import sidecar_path
from testpaths import CORPUS

TANGQIAO = CORPUS / "003_1c4c3d7015c59f1b.txt"
CHANGBAI = CORPUS / "002_08bf58efbc4c3fde.txt"


@pytest.fixture(scope="module")
def docs():
    loaded = load_corpus(CORPUS)
    assert loaded.errors == []
    return {d.doc_id: d for d in loaded.documents}


def paragraph_with(doc, text):
    found = [p for p in doc.paragraphs if text in p.text]
    assert found, f"no paragraph contains {text!r}"
    return found[0]


EXPECTED_META = {
    "000_051ad83070a5de45.txt": ("长寿路街道", "普陀区", 2018, 2018, "2019-01-30", "工作报告"),
    "001_191eb5bed6b7048b.txt": ("新华路街道", "长宁区", 2023, 2023, "2024-02-02", "工作总结"),
    "002_08bf58efbc4c3fde.txt": ("长白新村街道", "杨浦区", 2021, 2023, "2021-08-31", "行动计划"),
    "003_1c4c3d7015c59f1b.txt": ("塘桥街道", "浦东新区", 2019, 2019, "2020-01-16", "工作报告"),
    "004_a21819862bf6781b.txt": ("万里街道", "普陀区", 2021, 2021, "2021-02-26", "工作计划"),
}


@pytest.mark.parametrize("doc_id", sorted(EXPECTED_META))
def test_metadata_of_every_seed_report(docs, doc_id):
    m = docs[doc_id].meta
    assert (m.street, m.district, m.year_start, m.year_end, m.published, m.doc_type) == EXPECTED_META[doc_id]
    assert m.title and not re.search(r"\d{4}-\d\d-\d\d", m.title)


def test_sidecar_overrides_metadata(tmp_path):
    report = tmp_path / TANGQIAO.name
    report.write_bytes(TANGQIAO.read_bytes())
    sidecar_path(report).write_text('street = "测试街道"\nyear_end = 2020\n', encoding="utf-8")
    meta = load_document(report).meta
    assert (meta.street, meta.year_start, meta.year_end, meta.district) == (
        "测试街道",
        2019,
        2020,
        "浦东新区",
    )


def test_bad_sidecar_is_a_clear_error(tmp_path):
    report = tmp_path / TANGQIAO.name
    report.write_bytes(TANGQIAO.read_bytes())
    sidecar_path(report).write_text('colour = "red"\n', encoding="utf-8")
    with pytest.raises(LoadError, match="unknown metadata fields"):
        load_document(report)


def test_section_path_of_a_known_paragraph(docs):
    para = paragraph_with(docs[TANGQIAO.name], "全年拆除违章建筑点位32个")
    assert para.section_path == (
        "一、2019年工作回顾",
        "(一)城市管理能级进一步提升,居民群众的获得感得到增强",
        "1、环境综合整治有力开展",
    )
    deep = paragraph_with(docs[CHANGBAI.name], "强化街道平安办与城运中心、派出所双向对接机制")
    assert deep.section_path[-3:] == (
        "(二)完善安全防控体系,确保社会稳定有序",
        "5.健全安全防范体系,确保一方平安稳定",
        "(1)强化社会治安综合治理",
    )


def test_paragraphs_are_verbatim_slices(docs):
    for doc in docs.values():
        raw = read_text(CORPUS / doc.doc_id)
        for p in doc.paragraphs:
            assert doc.text[p.char_start : p.char_end] == p.text
            if p.kind != "table":
                assert p.text in raw, f"{doc.doc_id} paragraph {p.number} is not verbatim in the source"


def test_table_of_contents_is_dropped(docs):
    text = docs[CHANGBAI.name].text
    assert "二、专项行动......" not in text and "目 录" not in text and "总目录" not in text
    assert not [p for p in docs[CHANGBAI.name].paragraphs if re.search(r"\.{2,}\s*\d+$", p.text)]
    assert "一、总体要求" in text  # the heading itself stays


def test_flattened_table_is_rebuilt_into_rows(docs):
    row = "2019年: 5万元以下项目数及金额 3个/14.5万元, 公开招标项目数及金额 31个/572.9万元, 总项目数 34个, 总金额 587.4万元"
    para = paragraph_with(docs[CHANGBAI.name], row)
    assert para.kind == "table" and para.text == row
    # A category cell spanning several rows is carried down to each of them.
    assert "基层党建: 序号 2, 重点任务 夯实基层党建格局, 牵头部门 党建办" in docs[CHANGBAI.name].text


def test_blocks_repeated_verbatim_are_kept_once(docs):
    text = docs[CHANGBAI.name].text
    assert text.count("总项目数 34个, 总金额 587.4万元") == 1
    raw = CHANGBAI.read_text(encoding="utf-8")
    assert raw.count("587.4万元") > 3  # the source really repeats it


def test_split_tables_handles_a_table_following_another():
    cells = [
        "序号",
        "地址",
        "租金",
        "1",
        "图们路",
        "100",
        "平均租金",
        "100",
        "年份 内容",
        "总金额",
        "2018",
        "155万元",
    ]
    assert split_tables(cells) == [["1: 地址 图们路, 租金 100", "平均租金 100"], ["2018年: 总金额 155万元"]]


def test_footnote_markers_link_to_the_glossary(docs):
    para = paragraph_with(docs[TANGQIAO.name], "布点“两网融合”智能设备[3]51个")
    notes = {f.marker: f for f in para.footnotes}
    assert notes["[3]"].term == "两网融合"
    assert notes["[3]"].definition == "源头垃圾分类投放点和再生资源交投点的融合。"
    assert "[3]" in para.text  # the marker stays in the quoted text
    glossary_entry = paragraph_with(docs[TANGQIAO.name], "3、两网融合:")
    assert glossary_entry.section_path == ("名词解释:",) and glossary_entry.kind == "text"


def test_quoted_glossary_terms_link_without_markers(docs):
    para = paragraph_with(docs[CHANGBAI.name], "运用推广“长白8法”")
    assert any(f.term == "长白8法" and f.definition.startswith("1.全面发动居民区") for f in para.footnotes)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_legacy_encodings_load_like_utf8(tmp_path, encoding):
    # GBK lacks a few symbols of the web copy (•); a report really saved as GBK would not have them.
    text = TANGQIAO.read_text(encoding="utf-8").replace("\u2022", "·")
    (tmp_path / "utf8").mkdir()
    (tmp_path / "legacy").mkdir()
    (tmp_path / "utf8" / TANGQIAO.name).write_text(text, encoding="utf-8")
    (tmp_path / "legacy" / TANGQIAO.name).write_bytes(text.encode(encoding))
    expected = load_document(tmp_path / "utf8" / TANGQIAO.name)
    doc = load_document(tmp_path / "legacy" / TANGQIAO.name)
    assert doc.text == expected.text and "全年拆除违章建筑点位32个" in doc.text
    assert doc.meta == expected.meta


def test_bad_files_are_reported_and_the_rest_still_load(tmp_path):
    (tmp_path / "good.txt").write_bytes(TANGQIAO.read_bytes())
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n ", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (tmp_path / "noise.txt").write_bytes(zlib.compress(bytes(range(256)) * 64))
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "data.xlsx").write_bytes(b"whatever")
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["good.txt"]
    reasons = {e.path.rsplit("/", 1)[-1]: e.reason for e in loaded.errors}
    assert reasons["empty.txt"] == "file is empty"
    assert reasons["blank.md"] == "file is empty"
    assert "binary" in reasons["binary.txt"]
    assert "noise.txt" in reasons and reasons["noise.txt"]
    assert "not a readable .docx" in reasons["broken.docx"]
    assert "unsupported file type" in reasons["data.xlsx"]
    for error in loaded.errors:
        assert error.path in str(error)


def test_missing_corpus_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")


def test_html_and_docx_reports_load(tmp_path):
    import docx

    html = tmp_path / "r.html"
    html.write_text(
        "<html><head><style>p{}</style></head><body><h1>江宁路街道2022年工作总结</h1>"
        "<p>一、主要工作</p><p>全年完成加装电梯12台。</p><script>var x=1;</script></body></html>",
        encoding="utf-8",
    )
    doc = load_document(html)
    assert doc.meta.title == "江宁路街道2022年工作总结" and doc.meta.street == "江宁路街道"
    para = paragraph_with(doc, "全年完成加装电梯12台。")
    assert para.section_path == ("一、主要工作",)
    assert "var x" not in doc.text

    d = docx.Document()
    d.add_paragraph("样例街道2021年工作计划")
    d.add_paragraph("一、重点任务")
    d.add_paragraph("新建睦邻点5个。")
    table = d.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "年份", (0, 1): "金额", (1, 0): "2021", (1, 1): "30万元"}.items():
        table.cell(r, c).text = value
    path = tmp_path / "r.docx"
    d.save(path)
    doc = load_document(path)
    assert doc.meta.doc_type == "工作计划"
    assert paragraph_with(doc, "新建睦邻点5个。").section_path == ("一、重点任务",)
    assert "2021年: 金额 30万元" in doc.text


def test_pdf_report_loads(tmp_path):
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(_minimal_pdf("Annual report. Built 12 parks."))
    assert "Built 12 parks." in read_text(pdf)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(LoadError, match="bad.pdf"):
        read_text(tmp_path / "bad.pdf")


def _minimal_pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_chunks_are_exact_slices_with_paragraph_numbers(docs):
    config = ChunkConfig()
    for doc in docs.values():
        chunks = chunk_document(doc, config)
        assert chunks
        for chunk in chunks:
            assert doc.text[chunk.char_start : chunk.char_end] == chunk.text
            first, last = doc.paragraph(chunk.para_start), doc.paragraph(chunk.para_end)
            assert first.char_start <= chunk.char_start and chunk.char_end <= last.char_end
            body = chunk.text.split("\n")
            # Only a bare heading may push a chunk past the limit.
            assert len(chunk.text) <= config.max_chars or first.kind == "heading", chunk.chunk_id
            assert not all(doc.paragraph(n).kind == "heading" for n in chunk.paragraphs) or len(body) == 1


def test_long_paragraphs_split_at_sentence_ends_with_overlap(docs):
    doc = docs[CHANGBAI.name]
    long_para = max(doc.paragraphs, key=lambda p: len(p.text))
    assert len(long_para.text) > 600
    pieces = [c for c in chunk_document(doc) if c.para_start == c.para_end == long_para.number]
    assert len(pieces) >= 2
    for a, b in zip(pieces, pieces[1:], strict=False):
        assert a.text[-1] in "。！？；!?;”" or len(a.text) >= 280
        assert b.char_start <= a.char_end  # consecutive pieces touch or overlap


def test_a_bare_heading_joins_the_text_under_it(docs):
    doc = docs[TANGQIAO.name]
    heading = paragraph_with(doc, "(一)城市管理能级进一步提升")
    chunk = next(c for c in chunk_document(doc) if heading.number in c.paragraphs)
    assert chunk.para_end > heading.number
    assert "实施道路清扫保洁" in chunk.text


def test_a_stop_inside_a_closed_quotation_does_not_end_the_sentence():
    text = "曾起草告示称「金钱鼠尾，乃新朝之雅政；峨冠博带，实亡国之陋规」，百姓大哗。次年去职。"
    assert split_sentences(text) == [
        "曾起草告示称「金钱鼠尾，乃新朝之雅政；峨冠博带，实亡国之陋规」，百姓大哗。",
        "次年去职。",
    ]
    # A stop just before the closing mark ends the sentence with it; enumerations still split at ；.
    assert split_sentences("他说：「今天很好。」明天更好。") == ["他说：「今天很好。」", "明天更好。"]
    assert split_sentences("一是“三会”制度；二是公开。") == ["一是“三会”制度；", "二是公开。"]
    # A mark never closed is no quotation: the text splits as if it were not there.
    assert split_sentences("未闭合「引号；后面。") == ["未闭合「引号；", "后面。"]


def test_a_large_corpus_loads_in_worker_processes_exactly_as_in_one(tmp_path):
    """Past PARALLEL_MIN_FILES reports are read in forked workers: same documents, errors (with their file
    and reason), warnings and order as one process reads them."""
    from govqa.ingest.documents import PARALLEL_MIN_FILES

    reports = sorted(CORPUS.glob("*.txt"))
    for i in range(PARALLEL_MIN_FILES):
        folder = tmp_path / f"district{i % 7}"
        folder.mkdir(exist_ok=True)
        source = reports[i % len(reports)]
        (folder / f"{i:04d}_{source.name}").write_bytes(source.read_bytes())
    (tmp_path / "district0" / "0050_empty.txt").write_bytes(b"")
    (tmp_path / "district1" / "0100_notes.xyz").write_text("not a report", encoding="utf-8")
    (tmp_path / "district2" / "0150_gbk.txt").write_bytes(TANGQIAO.read_text(encoding="utf-8").encode("gb18030"))
    one = load_corpus(tmp_path, workers=1)
    many = load_corpus(tmp_path, workers=lambda: 2)
    assert len(one.documents) == PARALLEL_MIN_FILES + 1
    assert many.documents == one.documents
    assert [(e.path, e.reason) for e in many.errors] == [(e.path, e.reason) for e in one.errors]
    assert {e.path.rsplit("/", 1)[-1] for e in many.errors} == {"0050_empty.txt", "0100_notes.xyz"}
    assert many.warnings == one.warnings
