"""Real report files: PDF (text layer and scanned), images, Word, web pages; normalisation; hostile files.

Files are generated here: PDFs by headless Chromium with the Noto CJK fonts (as the fidelity benchmark
does), images with Pillow, Word files with python-docx. Tests that need a missing tool are skipped.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from govqa.ingest.cleaning import normalize_text
from govqa.ingest.documents import load_corpus, load_document
from govqa.ingest.loaders import LoadError, load_source, read_text

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
needs_pdf_renderer = pytest.mark.skipif(
    not (CHROMIUM and CJK_FONT.exists()), reason="needs chromium and fonts-noto-cjk (see .ci/run)"
)

REPORT_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>长寿路街道2019年工作报告</title>
<style>
@page {{ size: A5; margin: 18mm 14mm; }}
body {{ font-family: "Noto Sans CJK SC"; font-size: 11pt; line-height: 1.7; }}
h1 {{ font-size: 18pt; text-align: center; }} h2 {{ font-size: 15pt; }} h3 {{ font-size: 13pt; }}
p {{ text-indent: 2em; margin: 0; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #000; padding: 2pt; }}
.next {{ break-before: page; }}
</style></head><body>
<h1>长寿路街道2019年工作报告</h1>
<p>2019年01月30日 来源: 上海普陀</p>
<h2>一、2018年度工作回顾</h2>
<h3>(一)着眼治理新格局</h3>
<p>{long}</p>
<table><thead><tr><th>年份</th><th>总项目数</th><th>总金额</th></tr></thead>
<tbody><tr><td>2018</td><td>34个</td><td>587.4万元</td></tr><tr><td>2019</td><td>36个</td><td>602万元</td></tr></tbody></table>
<h2 class="next">二、2019年主要任务</h2>
<p>全面开展帮困就业,全年完成加装电梯12台。</p>
</body></html>"""
LONG = "推进社区治理创新,完善长寿社会组织联合会运作,提升服务社会组织能力,影响力进一步扩大。" * 6


def render_pdf(tmp_path: Path, page_html: str, name: str = "report.pdf") -> Path:
    source = tmp_path / "page.html"
    source.write_text(page_html, encoding="utf-8")
    target = tmp_path / name
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


@pytest.fixture(scope="module")
def text_pdf(tmp_path_factory) -> Path:
    if not (CHROMIUM and CJK_FONT.exists()):
        pytest.skip("needs chromium and fonts-noto-cjk (see .ci/run)")
    return render_pdf(tmp_path_factory.mktemp("pdf"), REPORT_HTML.format(long=LONG))


def paragraph_with(doc, text):
    found = [p for p in doc.paragraphs if text in p.text]
    assert found, f"no paragraph contains {text!r}"
    return found[0]


# --- normalisation ----------------------------------------------------------------------------------------


def test_radicals_full_width_and_control_characters_are_normalised():
    # U+2ED3 (CJK radical supplement), U+2F2F and U+2FA5 (Kangxi radicals) as PDF text layers give them.
    assert normalize_text("\u2ed3寿路街道\u2f2f作 万\u2fa5") == "长寿路街道工作 万里"
    assert normalize_text("ＡＢＣ１２３（一）：") == "ABC123(一):"
    assert normalize_text("a\x00b\x1b[31m红\x1b[0m\x07\tc\u200b") == "ab红\tc"


def test_control_characters_are_stripped_at_ingest(tmp_path):
    report = tmp_path / "r.txt"
    report.write_text("测试街道2020年工作总结\n全年\x00完成\x1b[2J加装电梯12台。\n", encoding="utf-8")
    assert "全年完成加装电梯12台。" in load_document(report).text


def test_lines_hard_wrapped_by_a_page_layout_are_rejoined(tmp_path):
    first = "完善长寿社会组织联合会运作,提升服务社会组织能力,影响力进一步扩大,接待多批次参观交流" * 2 + "。"
    second = "推进社区治理创新,开发推出集社会组织项目对接、绩效考评、风采展示功能为一体的网站" * 2 + "。"
    lines = [p[i : i + 24] for p in (first, second) for i in range(0, len(p), 24)]
    text = "测试街道2020年工作总结\n一、主要工作\n" + "\n".join(lines) + "\n二、下一步打算\n"
    (tmp_path / "r.txt").write_text(text, encoding="utf-8")
    doc = load_document(tmp_path / "r.txt")
    body = [p.text for p in doc.paragraphs if p.section_path == ("一、主要工作",) and p.kind == "text"]
    assert body == [first, second]
    assert paragraph_with(doc, "二、下一步打算").kind == "heading"
    # Text written one paragraph per line (the bundled reports) has no wrap width and is left as it is.
    (tmp_path / "r.txt").write_text("\n".join([first, second] * 3), encoding="utf-8")
    assert read_text(tmp_path / "r.txt").split("\n") == [first, second] * 3


# --- text encodings (issue 12 item 11) ------------------------------------------------------------------


def test_utf8_with_one_bad_byte_loads_with_a_warning_giving_the_offset(tmp_path):
    good = "测试街道2020年工作总结\n全年完成加装电梯12台。\n" * 20
    data = good.encode("utf-8")
    offset = data.index(b"12")
    damaged = data[:offset] + b"\xff" + data[offset + 1 :]
    (tmp_path / "r.txt").write_bytes(damaged)
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["r.txt"]
    assert "加装电梯\ufffd2台。" in loaded.documents[0].text and "全年完成加装电梯12台。" in loaded.documents[0].text
    assert len(loaded.warnings) == 1 and "r.txt" in loaded.warnings[0] and f"offset(s) {offset}" in loaded.warnings[0]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected(tmp_path, codec):
    (tmp_path / "r.txt").write_bytes("测试街道2020年工作总结\nHello 全年完成加装电梯12台。\n".encode(codec))
    assert "全年完成加装电梯12台。" in read_text(tmp_path / "r.txt")


def test_dangling_symlink_is_reported_with_its_name(tmp_path):
    (tmp_path / "good.txt").write_text("测试街道2020年工作总结\n全年完成加装电梯12台。\n", encoding="utf-8")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "missing.txt")
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["good.txt"]
    assert [Path(e.path).name for e in loaded.errors] == ["gone.txt"]
    assert "broken symbolic link" in str(loaded.errors[0]) and "gone.txt" in str(loaded.errors[0])


# --- PDF with a text layer ------------------------------------------------------------------------------


def test_pdf_text_layer_reads_as_the_text_would(text_pdf):
    doc = load_document(text_pdf)
    # Chromium writes 长 and 里 as radicals; metadata read from the normalised text is right.
    assert doc.meta.street == "长寿路街道" and doc.meta.published == "2019-01-30"
    long = paragraph_with(doc, "推进社区治理创新")
    assert long.text == LONG  # rejoined: one paragraph over many lines and a page break
    assert long.section_path == ("一、2018年度工作回顾", "(一)着眼治理新格局")
    assert paragraph_with(doc, "2019年: 总项目数 36个, 总金额 602万元").kind == "table"
    last = paragraph_with(doc, "全年完成加装电梯12台。")
    assert last.section_path == ("二、2019年主要任务",)
    assert last.page is not None and last.page > long.page >= 1
    # Chromium's running header and footer (title, date, file URL, page x/y) are gone.
    assert "file://" not in doc.text and "/3" not in doc.text
    assert sum("长寿路街道2019年工作报告" in p.text for p in doc.paragraphs) == 1


# --- scanned pages and images (OCR) ---------------------------------------------------------------------


def _page_image(lines: list[str], size=(900, 420)):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(CJK_FONT), 34)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * 64), line, font=font, fill=0)
    return image


needs_ocr = pytest.mark.skipif(not CJK_FONT.exists(), reason="needs fonts-noto-cjk to draw a page")


@needs_ocr
def test_scanned_pdf_page_is_read_by_ocr_with_a_page_number(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    image = _page_image(["江宁路街道2020年工作总结", "一、主要工作", "全年完成加装电梯12台。"])
    pdf = tmp_path / "scan.pdf"
    image.save(pdf, resolution=150)
    source = load_source(pdf)
    assert any("no text layer" in w and "OCR" in w for w in source.warnings)
    assert list(source.ocr_confidence) == [1] and source.ocr_confidence[1] > 0.85
    doc = load_document(pdf)
    para = paragraph_with(doc, "加装电梯12台")
    assert para.section_path == ("一、主要工作",) and para.page == 1
    assert doc.meta.street == "江宁路街道"


@needs_ocr
def test_a_hard_to_read_scan_is_reported_as_low_confidence(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    from PIL import Image, ImageFilter

    clean = _page_image(["测试街道2020年工作总结", "一、主要工作", "全年完成加装电梯12台。"])
    blurred = np.asarray(clean.filter(ImageFilter.GaussianBlur(3.0)), dtype=float)
    noisy = blurred + np.random.default_rng(0).normal(0, 40, blurred.shape)  # a poor photocopy
    Image.fromarray(np.clip(noisy, 0, 255).astype("uint8")).save(tmp_path / "blurred.png")
    clean.save(tmp_path / "clean.png")
    bad = load_source(tmp_path / "blurred.png")
    assert bad.ocr_confidence[1] < 0.85
    assert any(w.startswith("page 1: low OCR confidence") for w in bad.warnings)
    good = load_source(tmp_path / "clean.png")
    assert good.ocr_confidence[1] >= 0.85 and not any("low OCR confidence" in w for w in good.warnings)


@needs_ocr
def test_image_reports_load_and_an_image_without_text_is_a_clear_error(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    _page_image(["测试街道2020年工作总结", "全年完成加装电梯12台。"]).save(tmp_path / "page.png")
    from PIL import Image

    Image.new("L", (600, 400), 255).save(tmp_path / "blank.jpg")
    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["page.png"]
    assert "加装电梯12台" in loaded.documents[0].text
    assert [Path(e.path).name for e in loaded.errors] == ["blank.jpg"]
    assert "no text found" in loaded.errors[0].reason


# --- Word ---------------------------------------------------------------------------------------------------


def test_docx_styles_numbering_and_tables_in_body_order(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("样例街道2021年工作计划", style="Title")
    d.add_heading("工作回顾", level=1)  # a heading known only by its style
    d.add_paragraph("新建睦邻点5个。")
    table = d.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "年份", (0, 1): "金额", (1, 0): "2021", (1, 1): "30万元"}.items():
        table.cell(r, c).text = value
    d.add_paragraph("加强党建引领", style="List Number")  # Word's automatic numbering: "1." is not in the text
    d.add_paragraph("党建引领全面加强。")
    d.add_heading("下一步打算", level=1)
    d.add_paragraph("继续推进加装电梯。")
    path = tmp_path / "r.docx"
    d.save(path)
    doc = load_document(path)
    assert doc.meta.title == "样例街道2021年工作计划" and doc.meta.doc_type == "工作计划"
    assert paragraph_with(doc, "新建睦邻点5个。").section_path == ("工作回顾",)
    row = paragraph_with(doc, "2021年: 金额 30万元")
    assert row.kind == "table" and row.section_path == ("工作回顾",)
    numbered = paragraph_with(doc, "党建引领全面加强。")
    assert numbered.section_path == ("工作回顾", "1.加强党建引领")
    assert row.number < numbered.number < paragraph_with(doc, "继续推进加装电梯。").number
    assert paragraph_with(doc, "继续推进加装电梯。").section_path == ("下一步打算",)


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(not SOFFICE, reason="needs LibreOffice (libreoffice-writer-nogui, see .ci/run)")


def _legacy_doc(tmp_path: Path) -> Path:
    """A real Word 97-2003 file: a .docx with heading styles and a table, saved as .doc by LibreOffice."""
    import docx

    d = docx.Document()
    d.add_paragraph("曹家渡街道2021年工作计划", style="Title")
    d.add_heading("一、2020年工作回顾", level=1)
    for _ in range(6):  # antiword refuses a text stream of only a few lines
        d.add_paragraph("持续推进社区治理创新,完善睦邻点运作,全年新建睦邻点5个,服务居民一万余人次。")
    table = d.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "年份", (0, 1): "金额", (1, 0): "2021", (1, 1): "30万元"}.items():
        table.cell(r, c).text = value
    d.add_heading("二、2021年主要任务", level=1)
    d.add_paragraph("继续推进加装电梯,全年完成12台。")
    d.save(tmp_path / "r.docx")
    out = tmp_path / "legacy"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
            "--headless",
            "--convert-to",
            "doc",
            "--outdir",
            str(out),
            str(tmp_path / "r.docx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    doc = out / "r.doc"
    assert doc.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: the binary Word format
    (tmp_path / "r.docx").unlink()
    return doc


def _check_legacy(doc) -> None:
    assert doc.meta.street == "曹家渡街道" and doc.meta.year_start == 2021
    assert paragraph_with(doc, "全年新建睦邻点5个").section_path == ("一、2020年工作回顾",)
    assert paragraph_with(doc, "2021年: 金额 30万元").kind == "table"
    assert paragraph_with(doc, "全年完成12台").section_path == ("二、2021年主要任务",)


@needs_libreoffice
def test_legacy_doc_and_wps_convert_through_libreoffice(tmp_path):
    doc_path = _legacy_doc(tmp_path)
    # Kingsoft WPS Writer's .wps is the same binary Word format under another name.
    wps_path = doc_path.with_suffix(".wps")
    wps_path.write_bytes(doc_path.read_bytes())
    # Beside them, a .doc of random bytes (LibreOffice would import it as text) and a truncated one.
    (doc_path.parent / "noise.doc").write_bytes(np.random.default_rng(0).bytes(3000))
    (doc_path.parent / "cut.doc").write_bytes(doc_path.read_bytes()[:4000])
    loaded = load_corpus(doc_path.parent)
    reasons = {Path(e.path).name: e.reason for e in loaded.errors}
    assert "no Word 97-2003 or RTF signature" in reasons.pop("noise.doc")
    assert "could not convert" in reasons.pop("cut.doc") and not reasons
    assert sorted(d.doc_id for d in loaded.documents) == ["r.doc", "r.wps"]
    for doc in loaded.documents:
        _check_legacy(doc)
        assert paragraph_with(doc, "曹家渡街道2021年工作计划").number == 1


@needs_libreoffice
@pytest.mark.skipif(not shutil.which("antiword"), reason="needs antiword (see .ci/run)")
def test_legacy_doc_through_antiword_when_libreoffice_is_absent(tmp_path, monkeypatch):
    doc_path = _legacy_doc(tmp_path)  # LibreOffice writes the file; antiword alone reads it
    from govqa.ingest import word

    real_which = shutil.which
    monkeypatch.setattr(word.shutil, "which", lambda name: None if "office" in name else real_which(name))
    _check_legacy(load_document(doc_path))


def test_legacy_word_without_a_converter_is_a_clear_error(tmp_path, monkeypatch):
    from govqa.ingest import word

    monkeypatch.setattr(word.shutil, "which", lambda name: None)  # a machine with neither tool
    (tmp_path / "r.wps").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(LoadError, match=r"r\.wps: legacy \.wps files need LibreOffice"):
        read_text(tmp_path / "r.wps")


# --- web pages ----------------------------------------------------------------------------------------------


def test_web_page_main_text_without_portal_chrome(tmp_path):
    body = "".join(f"<p>{LONG[:60]}第{i}项工作全面完成。</p>" for i in range(6))
    page = f"""<html><head><title>江宁路街道2022年工作总结_普陀区人民政府</title>
    <meta name="PubDate" content="2023-01-16"></head><body>
    <nav><ul><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li></ul></nav>
    <div class="breadcrumb">当前位置: 首页 &gt; 政务公开</div>
    <article><h1>江宁路街道2022年工作总结</h1><h2>一、主要工作</h2>{body}
    <table><tr><td>年份</td><td>金额</td></tr><tr><td>2022</td><td>30万元</td></tr></table></article>
    <div class="share">分享到: 微信 微博</div>
    <aside class="related"><h3>相关链接</h3><ul><li><a href="/a">区政府常务会议研究部署重点工作</a></li></ul></aside>
    <footer>版权所有 普陀区人民政府 沪ICP备12345678号</footer></body></html>"""
    (tmp_path / "r.html").write_text(page, encoding="utf-8")
    doc = load_document(tmp_path / "r.html")
    assert doc.meta.title == "江宁路街道2022年工作总结" and doc.meta.published == "2023-01-16"
    assert doc.meta.street == "江宁路街道"
    assert paragraph_with(doc, "第5项工作全面完成。").section_path == ("一、主要工作",)
    assert "2022年: 金额 30万元" in doc.text
    for chrome in ("政务公开", "分享到", "相关链接", "常务会议", "版权所有", "ICP"):
        assert chrome not in doc.text


# --- hostile files ------------------------------------------------------------------------------------------


def test_hostile_files_get_clear_messages_and_the_rest_still_loads(tmp_path, monkeypatch):
    from pypdf import PdfWriter

    from govqa.ingest import word

    (tmp_path / "good.txt").write_text("测试街道2020年工作总结\n全年完成加装电梯12台。\n", encoding="utf-8")
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with open(tmp_path / "locked.pdf", "wb") as f:
        writer.write(f)
    big = PdfWriter()
    for _ in range(500):
        big.add_blank_page(200, 200)
    with open(tmp_path / "long.pdf", "wb") as f:
        big.write(f)
    whole = (tmp_path / "long.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(whole[: len(whole) // 3])
    # A zip bomb named .docx. The limit is lowered so the test writes megabytes, not hundreds of them.
    monkeypatch.setattr(word, "MAX_UNZIPPED_BYTES", 4 * 1024 * 1024)
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"\0" * (5 * 1024 * 1024))
    blank = PdfWriter()
    blank.add_blank_page(200, 200)
    with open(tmp_path / "blank.pdf", "wb") as f:
        blank.write(f)

    loaded = load_corpus(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["good.txt"]
    reasons = {Path(e.path).name: e.reason for e in loaded.errors}
    assert "encrypted PDF that needs a password" in reasons["locked.pdf"]
    assert "500 pages, over the limit of 300" in reasons["long.pdf"]
    assert "not a readable PDF" in reasons["truncated.pdf"]
    assert "zip bomb" in reasons["bomb.docx"]
    assert "no text found" in reasons["blank.pdf"] or "OCR" in reasons["blank.pdf"]
    for error in loaded.errors:
        assert Path(error.path).name in str(error)


@needs_pdf_renderer
def test_truncated_real_pdf_names_the_file(text_pdf, tmp_path):
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(text_pdf.read_bytes()[:2000])
    with pytest.raises(LoadError, match=r"cut\.pdf: not a readable PDF"):
        read_text(cut)


def test_owner_only_encryption_still_reads(tmp_path):
    """Many official PDFs forbid copying with an owner password but open without one: they index."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_text_pdf_bytes("Built 12 parks this year."))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    with open(tmp_path / "r.pdf", "wb") as f:
        writer.write(f)
    assert "Built 12 parks this year." in read_text(tmp_path / "r.pdf")


def _text_pdf_bytes(text: str) -> bytes:
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


@needs_pdf_renderer
def test_page_numbers_are_stored_in_the_index(text_pdf, tmp_path, embedder):
    from govqa.engine import GovQA, build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(text_pdf, corpus / "report.pdf")
    build(corpus, tmp_path / "index", embedder)
    stored = GovQA.open(tmp_path / "index", embedder).document("report.pdf")
    loaded = load_document(corpus / "report.pdf")
    assert [p.page for p in stored.paragraphs] == [p.page for p in loaded.paragraphs]
    assert {p.page for p in stored.paragraphs} == {1, 2}
    # End to end: an answer from the PDF cites the page its paragraph is on, as the CLI prints it.
    answer = GovQA.open(tmp_path / "index", embedder).ask("全年完成加装电梯多少台?")
    cited = next(c for c in answer.citations if "加装电梯12台" in c.quote)
    assert cited.page == paragraph_with(loaded, "加装电梯12台").page
    from click.testing import CliRunner

    from govqa.cli import cli

    out = CliRunner().invoke(cli, ["ask", "全年完成加装电梯多少台?", "--index", str(tmp_path / "index")])
    assert out.exit_code == 0, out.output
    assert f"第{cited.page}页 第{cited.paragraph}段" in out.output


def test_layout_rules_on_positioned_lines():
    """The rules behind PDF and OCR reading, on hand-placed lines (A4 points, 12 pt body text)."""
    from govqa.ingest.layout import PageBox, TableBox, TextLine, assemble, drop_running_lines

    def line(text, page, top, x0=72.0, x1=520.0, size=12.0, bold=False):
        return TextLine(text, page, x0, x1, top, top + size, size, bold)

    header = "测试街道2020年工作报告"
    pages = [
        PageBox(
            1,
            595,
            842,
            [
                line(header, 1, 20, x0=200, x1=400, size=9),  # running header
                line("一、主要工作", 1, 100, x1=200, size=16, bold=True),
                line("全年完成加装电梯12台,新建睦邻点5个,社区", 1, 130, x0=96),  # first line, indented
                line("服务更加完善,居民满意度进一步提升,各项", 1, 150),  # runs to the margin at the page end
                line("- 1 -", 1, 800, x0=280, x1=310, size=9),  # page number
            ],
            [],
        ),
        PageBox(
            2,
            595,
            842,
            [
                line(header, 2, 20, x0=200, x1=400, size=9),
                line("工作扎实推进。", 2, 100, x1=160),  # the paragraph of page 1 goes on
                line("- 2 -", 2, 800, x0=280, x1=310, size=9),
            ],
            [TableBox([["年份", "金额"], ["2019", "20万元"]], 2, 700)],
        ),
        PageBox(
            3,
            595,
            842,
            [line(header, 3, 20, x0=200, x1=400, size=9)],
            [TableBox([["2020", "30万元"]], 3, 60)],
        ),
    ]
    drop_running_lines(pages)
    lines = assemble(pages)
    texts = [x.text for x in lines]
    assert header not in texts and "- 1 -" not in texts and "- 2 -" not in texts
    assert lines[0].text == "一、主要工作" and lines[0].heading == 1
    assert texts[1] == "全年完成加装电梯12台,新建睦邻点5个,社区服务更加完善,居民满意度进一步提升,各项工作扎实推进。"
    assert lines[1].page == 1 and lines[1].heading is None
    # The table broken by a page break is one table again.
    cells = [x for x in lines if x.table is not None]
    assert [c.text for c in cells] == ["年份 |", "金额 |", "2019 |", "20万元 |", "2020 |", "30万元 |"]
    assert len({c.table for c in cells}) == 1 and [c.page for c in cells][-1] == 3
