"""Evaluate govqa on any passages + questions, e.g. the CMRC 2018 reading-comprehension set.

Two input formats are read:

SQuAD JSON (``govqa eval FILE.json``), as published by SQuAD, CMRC 2018, DRCD ...::

    {"data": [{"title": "...", "paragraphs": [
        {"id": "DEV_0", "context": "passage text",
         "qas": [{"id": "DEV_0_QUERY_0", "question": "...", "answers": [{"text": "..."}]}]}]}]}

  Every paragraph is one passage; its id is the paragraph's ``id`` if it has one, else
  ``f"{title or article index}-{paragraph index}"`` (0-based indexes). A question's gold passage is
  the paragraph it belongs to; its gold answers are the ``answers[].text`` strings.

Two JSONL files (``govqa eval --passages P.jsonl --questions Q.jsonl``), one JSON object a line::

    passages.jsonl:  {"id": "p1", "text": "passage text", "title": "optional"}
    questions.jsonl: {"id": "q1", "question": "...", "passage_ids": ["p1"], "answers": ["..."]}

  ``passage_ids`` lists the gold passages (any one of them counts as found); ``answers`` may be
  empty, and such questions are left out of the answer metrics.

The passages are indexed into an index of their own (a temporary folder unless one is named), one
Document per passage: long passages are chunked as usual and every chunk keeps the passage id as its
doc_id. A search returns chunks; the passage ranking is the chunk ranking with repeated passages
dropped. Questions are asked as they are: no street or year filters are inferred from their text.
A kept index folder (``--index-dir``) also keeps every passage and question vector computed so far
(``embeddings.sqlite``), so a rerun after a change of chunking or scoring embeds only new texts.

Metrics, per retrieval mode (baseline, bm25, dense, hybrid), over all questions, where a passage's rank
comes from an aggregation of its chunks (retrieval.rank_documents) and a passage whose text was
collapsed into another's hit as a near-copy counts at that hit's rank:
  recall@k   share of questions with a gold passage among the first k passages;
  MRR@10     mean of 1/rank of the first gold passage, 0 when it is not in the first 10.
and for the extractive answerer (hybrid retrieval, default settings):
  answer_hit      share of questions whose answer text contains a gold answer (whitespace ignored);
  refusal_rate    share answered "not found" (Answer.supported is False);
  answer_in_hits  share whose gold answer occurs in the chunks the answerer read (its upper bound).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..engine import DEFAULT_INDEX
from ..errors import EvalError  # noqa: F401
from ..index.builder import build_index
from ..index.embedders import Embedder
from ..index.local import Index
from ..ingest.chunking import ChunkConfig
from ..ingest.documents import document_from_text
from ..ingest.loaders import LoadError
from ..qa.answering import NOT_FOUND, AnswerConfig, ExtractiveAnswerer
from ..qa.questions import QuestionError, check_question
from ..qa.retrieval import MODES, RetrievalConfig, Retriever, rank_documents
from ..records import DocMeta, Document, Hit
from .metrics import mrr_at, recall_at

__all__ = [
    "EvalError",
    "EvalQuestion",
    "EvalReport",
    "EvalSet",
    "Passage",
    "answer_hit",
    "first_gold_rank",
    "limit_questions",
    "load_jsonl",
    "load_squad",
    "mrr_at",
    "open_eval_retriever",
    "passage_ranking",
    "recall_at",
    "run_eval",
]

CHUNKS_PER_SEARCH = 30  # chunks retrieved per question: enough to fill the top 10 passages
TOP_PASSAGES = 10
VECTOR_CACHE = "embeddings.sqlite"  # in a kept eval index folder: every vector computed so far
EVAL_MARKER = "GOVQA_EVAL_INDEX"  # written into a kept eval index, so a later run may overwrite it
_MARKER_TEXT = "Built by `govqa eval`; safe to delete. A later `govqa eval --index-dir` may rebuild it.\n"


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    title: str | None = None
    article: str = ""  # passages of one article (SQuAD) or of one title (JSONL) share this key


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    passage_ids: tuple[str, ...]  # gold passages: finding any one of them counts
    answers: tuple[str, ...]  # gold answer strings; empty: not scored for answers


@dataclass
class EvalSet:
    passages: list[Passage]
    questions: list[EvalQuestion]
    source: dict = field(default_factory=dict)  # format and file names, for the report

    def check(self) -> None:
        ids = [p.id for p in self.passages]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise EvalError(f"passage id {dup!r} is used more than once")
        known = set(ids)
        for q in self.questions:
            if not q.passage_ids:
                raise EvalError(f"question {q.id!r} names no gold passage")
            missing = [p for p in q.passage_ids if p not in known]
            if missing:
                raise EvalError(f"question {q.id!r} names unknown passage id(s) {missing}")
        if not self.questions:
            raise EvalError("no questions to evaluate")


# ---------------------------------------------------------------------------------------------- loading


def load_squad(path: Path | str) -> EvalSet:
    """A SQuAD-format JSON file: data -> paragraphs -> context + qas (question, answers[].text)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise EvalError(f"{path}: not SQuAD format (expected an object with a 'data' list of articles)")
    passages: list[Passage] = []
    questions: list[EvalQuestion] = []
    for a, article in enumerate(raw["data"]):
        title = article.get("title") or None
        article_key = f"{a}:{title or ''}"
        for p, para in enumerate(article.get("paragraphs", [])):
            if "context" not in para:
                raise EvalError(f"{path}: article {a} paragraph {p} has no 'context'")
            pid = str(para["id"]) if para.get("id") is not None else f"{title or a}-{p}"
            passages.append(Passage(pid, para["context"], title, article_key))
            for n, qa in enumerate(para.get("qas", [])):
                qid = str(qa.get("id", f"{pid}-q{n}"))
                answers = tuple(dict.fromkeys(x["text"] for x in qa.get("answers", []) if x.get("text")))
                questions.append(EvalQuestion(qid, qa.get("question", ""), (pid,), answers))
    evalset = EvalSet(passages, questions, {"format": "squad", "file": str(path)})
    evalset.check()
    return evalset


def _read_jsonl(path: Path, required: Sequence[str]) -> Iterable[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot be read ({exc})") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path} line {n}: not JSON ({exc})") from exc
        missing = [k for k in required if k not in row] if isinstance(row, dict) else list(required)
        if missing:
            raise EvalError(f"{path} line {n}: missing {', '.join(missing)}")
        yield n, row


def load_jsonl(passages_path: Path | str, questions_path: Path | str) -> EvalSet:
    """passages.jsonl ({"id", "text", "title"?}) and questions.jsonl ({"id", "question", "passage_ids",
    "answers"}). Passages sharing a title form one article (see limit_questions).
    """
    passages_path, questions_path = Path(passages_path), Path(questions_path)
    passages = []
    for _, row in _read_jsonl(passages_path, ("id", "text")):
        title = row.get("title") or None
        pid = str(row["id"])
        passages.append(Passage(pid, row["text"], title, f"title:{title}" if title else f"id:{pid}"))
    questions = []
    for n, row in _read_jsonl(questions_path, ("id", "question", "passage_ids")):
        ids, answers = row["passage_ids"], row.get("answers", [])
        if isinstance(ids, str) or isinstance(answers, str):
            raise EvalError(f"{questions_path} line {n}: passage_ids and answers must be lists")
        questions.append(
            EvalQuestion(str(row["id"]), row["question"], tuple(str(i) for i in ids), tuple(a for a in answers if a))
        )
    evalset = EvalSet(
        passages,
        questions,
        {"format": "jsonl", "passages": str(passages_path), "questions": str(questions_path)},
    )
    evalset.check()
    return evalset


def limit_questions(evalset: EvalSet, n: int) -> EvalSet:
    """The first n questions, with the passages they name plus every other passage of the same articles.

    An article is a SQuAD article, or in JSONL the passages that share a title (a passage without a
    title is an article of its own).
    """
    if n < 1:
        raise EvalError("--limit must be at least 1")
    questions = evalset.questions[:n]
    by_id = {p.id: p for p in evalset.passages}
    articles = {by_id[pid].article for q in questions for pid in q.passage_ids}
    passages = [p for p in evalset.passages if p.article in articles]
    return EvalSet(passages, questions, {**evalset.source, "limit": n})


# ---------------------------------------------------------------------------------------------- metrics


def passage_ranking(hits: Sequence[Hit], top: int = TOP_PASSAGES, summed: bool = False) -> list[tuple[str, ...]]:
    """The first `top` passages, each as (passage id, *ids of passages carrying the same text).

    summed: a passage's chunk scores add up (learned fusion); else its best chunk counts.
    """
    return [ids for ids, _ in rank_documents(hits, summed)[:top]]


def first_gold_rank(ranking: Sequence[str | tuple[str, ...]], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold passage in the ranking (any copy counts), None when none is there."""
    gold = set(gold)
    return next(
        (r for r, ids in enumerate(ranking, start=1) if gold & ({ids} if isinstance(ids, str) else set(ids))),
        None,
    )


_SPACE = re.compile(r"\s+")


def answer_hit(text: str, answers: Iterable[str]) -> bool:
    """A gold answer string occurs in the text, whitespace ignored."""
    flat = _SPACE.sub("", text)
    return any(a_flat and a_flat in flat for a_flat in (_SPACE.sub("", a) for a in answers))


# ---------------------------------------------------------------------------------------------- running


class _VectorCache:
    """An embedder that computes each query and passage vector once and then reuses it.

    In memory always; with `path`, also in a SQLite file that outlives the run (committed batch by
    batch, so an interrupted build keeps what it embedded).
    """

    BATCH = 32

    def __init__(self, inner: Embedder, path: Path | None = None):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._vectors: dict[str, np.ndarray] = {}
        self._db = None
        if path is not None:
            self._db = sqlite3.connect(path)
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def _key(self, text: str, is_query: bool) -> str:
        raw = f"{self.name}\0{'q' if is_query else 'p'}\0{text}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(raw).hexdigest()

    def _lookup(self, keys: list[str]) -> None:
        missing = [k for k in keys if k not in self._vectors]
        if self._db is None or not missing:
            return
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            for key, blob in rows:
                self._vectors[key] = np.frombuffer(blob, dtype=np.float32)

    def _embed(self, texts: Sequence[str], is_query: bool, advance: Callable[[int], None] | None) -> np.ndarray:
        keys = [self._key(t, is_query) for t in texts]
        self._lookup(keys)
        todo = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        text_of = dict(zip(keys, texts, strict=True))
        if advance and len(todo) < len(keys):
            advance(len(keys) - len(todo))
        embed = self.inner.embed_queries if is_query else self.inner.embed_passages
        for start in range(0, len(todo), self.BATCH):
            part = todo[start : start + self.BATCH]
            vecs = embed([text_of[k] for k in part])
            for key, vec in zip(part, vecs, strict=True):
                self._vectors[key] = np.asarray(vec, dtype=np.float32)
            if self._db is not None:
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                        [(k, self._vectors[k].tobytes()) for k in part],
                    )
            if advance:
                done = set(part)
                advance(sum(1 for k in keys if k in done))
        if not keys:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.vstack([self._vectors[k] for k in keys]).astype(np.float32)

    def prime(self, texts: Sequence[str], advance: Callable[[int], None] | None = None) -> None:
        self._embed(list(dict.fromkeys(texts)), True, advance)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, True, None)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self._embed(texts, False, progress)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class EvalReport:
    summary: dict  # what `govqa eval --json` prints
    details: list[dict]  # one row per question: gold, passage ranks per mode, the answer


def check_index_dir(index_dir: Path | str, default_index: Path | str = DEFAULT_INDEX) -> Path:
    """Refuse the user's main index and any folder that holds something other than an earlier eval index."""
    path = Path(index_dir)
    if path.resolve() == Path(default_index).resolve():
        raise EvalError(f"--index-dir {index_dir} is the main index folder; name another folder for the eval index")
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / EVAL_MARKER).exists())):
        raise EvalError(f"{index_dir} exists and is not an index built by govqa eval; name a new or empty folder")
    return path


def run_eval(
    evalset: EvalSet,
    embedder: Embedder,
    index_dir: Path | str | None = None,
    *,
    retrieval: RetrievalConfig | None = None,
    answering: AnswerConfig | None = None,
    chunk_config: ChunkConfig | None = None,
    progress: bool = False,
    answers: bool = True,
) -> EvalReport:
    """Index the passages and score every question.

    The index goes into `index_dir` (kept, with a cache of every vector; see check_index_dir), else into
    a temporary folder that is removed afterwards. `progress` shows tqdm bars on a terminal.
    `answers=False` scores retrieval only (the answer metrics are then absent).
    """
    evalset.check()
    options = (retrieval, answering, chunk_config, progress, answers)
    if index_dir is not None:
        path = check_index_dir(index_dir)
        path.mkdir(parents=True, exist_ok=True)
        (path / EVAL_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
        cached = _VectorCache(embedder, path / VECTOR_CACHE)
        try:
            return _run(evalset, cached, path, *options, kept=True)
        finally:
            cached.close()
    with tempfile.TemporaryDirectory(prefix="govqa-eval-") as tmp:
        return _run(evalset, _VectorCache(embedder), Path(tmp) / "index", *options, kept=False)


def open_eval_retriever(
    evalset: EvalSet,
    embedder: Embedder,
    index_dir: Path | str,
    retrieval: RetrievalConfig | None = None,
    chunk_config: ChunkConfig | None = None,
) -> tuple[Retriever, _VectorCache]:
    """A retriever over an eval index kept in `index_dir` (built, or rebuilt, as `run_eval` would), for
    scripts that score many settings on cached vectors (scripts/fit_fusion.py). Close the cache after."""
    evalset.check()
    path = check_index_dir(index_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / EVAL_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    cached = _VectorCache(embedder, path / VECTOR_CACHE)
    index, _, _ = _build(evalset, cached, path, chunk_config, show=False)
    return Retriever(index, cached, retrieval), cached


def _documents(evalset: EvalSet) -> tuple[list[Document], list[str]]:
    docs, skipped = [], []
    for p in evalset.passages:
        try:
            docs.append(document_from_text(p.id, p.text, DocMeta(title=p.title or p.id)))
        except LoadError:
            skipped.append(p.id)  # nothing left after cleaning: its questions simply cannot find it
    if not docs:
        raise EvalError("no passage has any text to index")
    return docs, skipped


def _bar(total: int, desc: str, unit: str, show: bool):
    from tqdm import tqdm

    # disable=None: shown on a terminal only, never in captured output.
    return tqdm(total=total, desc=desc, unit=unit, disable=None if show else True, leave=False)


def _build(
    evalset: EvalSet, embedder: Embedder, path: Path, chunk_config: ChunkConfig | None, show: bool
) -> tuple[Index, int, list[str]]:
    """Clean, chunk, embed and index the passages: (index, chunk count, ids of passages left out)."""
    docs, skipped = _documents(evalset)
    bar = _bar(0, "indexing", "chunk", show)

    def advance(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        built = build_index(docs, path, embedder, chunk_config=chunk_config, progress=advance)
    finally:
        bar.close()
    return Index.open(path), built.chunks, skipped


def _score_question(
    q: EvalQuestion,
    text: str | None,
    retriever: Retriever,
    answerer: ExtractiveAnswerer | None,
    stages: dict[str, float],
) -> dict:
    """One question's passage rank in every mode and its answer, as a details row."""
    row: dict = {
        "id": q.id,
        "question": q.question,
        "passage_ids": list(q.passage_ids),
        "answers": list(q.answers),
        "ranks": {},
        "top": {},
    }
    for mode in MODES:
        t = time.perf_counter()
        found = retriever.search(text, k=CHUNKS_PER_SEARCH, mode=mode, infer=False) if text else []
        stages[mode] += time.perf_counter() - t
        ranking = passage_ranking(found, summed=retriever.sums_chunks(mode))
        row["ranks"][mode] = first_gold_rank(ranking, q.passage_ids)
        row["top"][mode] = [ids[0] for ids in ranking[:5]]
    if answerer is None:
        return row
    t = time.perf_counter()
    answer = answerer.answer(text, infer=False) if text else None
    stages["answer"] += time.perf_counter() - t
    row["supported"] = bool(answer and answer.supported)
    row["answer"] = answer.text if answer else NOT_FOUND
    row["answer_passages"] = list(dict.fromkeys(c.doc_id for c in answer.citations)) if answer else []
    if q.answers:
        row["answer_hit"] = row["supported"] and answer_hit(row["answer"], q.answers)
        read = answer.hits if answer else ()
        row["answer_in_hits"] = any(answer_hit(h.chunk.text, q.answers) for h in read)
    return row


def _share(rows: list[dict], key: str) -> float:
    return sum(bool(r[key]) for r in rows) / len(rows) if rows else 0.0


def _run(
    evalset: EvalSet,
    cached: _VectorCache,
    path: Path,
    retrieval: RetrievalConfig | None,
    answering: AnswerConfig | None,
    chunk_config: ChunkConfig | None,
    show: bool,
    answers: bool,
    kept: bool,
) -> EvalReport:
    embedder = cached.inner
    started = time.perf_counter()
    index, chunks, skipped = _build(evalset, cached, path, chunk_config, show)
    build_s = time.perf_counter() - started

    retriever = Retriever(index, cached, retrieval)
    answerer = ExtractiveAnswerer(retriever, answering) if answers else None
    questions = evalset.questions
    asked: list[str | None] = []
    for q in questions:
        try:
            asked.append(check_question(q.question))
        except QuestionError:
            asked.append(None)  # empty or over-long: counts as not found and not answered

    stages = dict.fromkeys(["embed_questions", *MODES, "answer"], 0.0)
    loop_started = time.perf_counter()
    # Each question is embedded once, in batches; dense, hybrid and the answerer then share the vector.
    bar = _bar(len(questions), "embedding questions", "q", show)
    cached.prime([retriever.dense_query(a) for a in asked if a], advance=bar.update)
    bar.close()
    stages["embed_questions"] = time.perf_counter() - loop_started
    details: list[dict] = []
    bar = _bar(len(questions), "evaluating", "q", show)
    for q, text in zip(questions, asked, strict=True):
        details.append(_score_question(q, text, retriever, answerer, stages))
        bar.update(1)
    bar.close()
    loop_s = time.perf_counter() - loop_started

    scored = [r for r in details if r["answers"] and "answer_hit" in r]  # with a gold answer, answered
    retrieval_scores = {}
    for mode in MODES:
        ranks = [r["ranks"][mode] for r in details]
        retrieval_scores[mode] = {
            "recall@1": recall_at(ranks, 1),
            "recall@5": recall_at(ranks, 5),
            "mrr@10": mrr_at(ranks, TOP_PASSAGES),
        }
    summary = {
        "source": evalset.source,
        "questions": len(questions),
        "passages": len(evalset.passages),
        "chunks": chunks,
        "skipped_passages": skipped,
        "embedder": embedder.name,
        "index_dir": str(path) if kept else None,
        "retrieval_config": asdict(retriever.config),
        "chunks_per_search": CHUNKS_PER_SEARCH,
        "retrieval": retrieval_scores,
        "answer": {
            "questions": len(scored),
            "answer_hit": _share(scored, "answer_hit"),
            "refusal_rate": 1.0 - _share(scored, "supported") if scored else 0.0,
            "answer_in_hits": _share(scored, "answer_in_hits"),
        }
        if answerer
        else None,
        "timing": {
            "index_build_s": round(build_s, 2),
            "loop_s": round(loop_s, 2),
            "questions_per_s": round(len(questions) / loop_s, 3) if loop_s > 0 else None,
            "stages_s": {k: round(v, 2) for k, v in stages.items()},
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    return EvalReport(summary, details)


def format_table(summary: dict) -> str:
    """The human-readable report `govqa eval` prints."""
    lines = [
        f"{summary['questions']} questions, {summary['passages']} passages ({summary['chunks']} chunks), "
        f"embedder {summary['embedder']}",
        "",
        f"{'mode':<8} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>8}",
    ]
    for mode, m in summary["retrieval"].items():
        lines.append(f"{mode:<8} {m['recall@1']:>9.4f} {m['recall@5']:>9.4f} {m['mrr@10']:>8.4f}")
    a, t = summary["answer"], summary["timing"]
    if a:
        lines += [
            "",
            f"extractive answer ({a['questions']} questions with gold answers): "
            f"answer hit {a['answer_hit']:.4f}, refusal rate {a['refusal_rate']:.4f}, "
            f"gold answer in the chunks it read {a['answer_in_hits']:.4f}",
        ]
    lines += [
        f"index build {t['index_build_s']:.1f}s; evaluation {t['loop_s']:.1f}s = "
        f"{t['questions_per_s']} questions/s ({len(summary['retrieval'])} searches{' + 1 answer' if a else ''} each; {summary['machine']['cpus']} CPUs)",
    ]
    if summary["skipped_passages"]:
        lines.append(f"passages with no text after cleaning (not indexed): {len(summary['skipped_passages'])}")
    if summary["index_dir"]:
        lines.append(f"index kept in {summary['index_dir']}")
    return "\n".join(lines)
