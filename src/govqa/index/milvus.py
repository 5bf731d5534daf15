"""The Milvus backend: chunks, vectors, metadata and documents in Milvus collections, searched server-side.

    govqa index --backend milvus --milvus-uri http://milvus.example:19530     # standalone or cluster
    govqa index --backend milvus --milvus-uri ./milvus.db                     # Milvus Lite, in-process

One build is one *generation*: two collections named ``<name>__<stamp>_chunks`` and ``<name>__<stamp>_store``.

- ``_chunks``: one row per chunk, primary key = the chunk's position (as in the local FAISS index); its text,
  offsets, section path and footnotes; the document's street/district/years/type copied onto it so a metadata
  filter is a Milvus filter expression; the dense vector; and two BM25 fields, words and Han bigrams, that
  Milvus's own BM25 function scores (the lexical side is Milvus full-text search). Their terms are the ones
  the local index makes (govqa's tokenizer), handed to Milvus as ASCII tokens (`encode_terms`): the same
  terms give the same scores on both backends and let a query ask Milvus for one term's best score, which
  the fusion needs (how much of a question a chunk matches) and which a server-side jieba analyzer, cutting
  every query again, cannot give.
- ``_store``: documents (metadata, cleaned text, paragraphs), the manifest, the extra jieba words and each
  BM25 token's document frequency (the answerer weighs question words by IDF), as JSON strings cut into pieces
  that fit a VARCHAR.

The alias ``<name>`` points at the live ``_store`` collection, whose manifest names its ``_chunks`` collection,
so switching the alias publishes a finished build in one step; a crashed build leaves the live one untouched
and its half-written collections are dropped by the next build. The index folder holds only ``milvus.json``
(URI and alias); a token for a secured server is read from ``GOVQA_MILVUS_TOKEN``, never written to disk.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import write_atomic
from ..errors import (  # noqa: F401
    EmbedderMismatchError,
    IndexCorruptedError,
    IndexNotFoundError,
    MilvusUnavailableError,
)
from ..ingest.chunking import ChunkConfig
from ..records import SEARCH_TEXT_VERSION, Chunk, DocMeta, Document, Filters, Footnote, Paragraph
from .backend import MILVUS_DESCRIPTOR, LazyChunks, LexicalCandidates, lexical_candidates_by_field
from .builder import BuildReport, Progress, domain_words, old_vectors_by_doc, passage_text, plan_chunks
from .embedders import Embedder
from .local import Index
from .milvus_schema import (  # noqa: F401 - BM25_PARAMS and encode_term are read from here
    _CHUNK_FIELDS,
    BM25_PARAMS,
    EXACT_MAX,
    LEXICAL_FIELDS,
    _blob_rows,
    _chunk_from_row,
    _chunk_row,
    _doc_rows,
    _schemas,
    encode_term,
    encode_terms,
)
from .tokenize import Tokenizer

FORMAT_VERSION = 2  # 2: words and bigram BM25 fields over encoded terms (1: one jieba-analyzed field)
DEFAULT_COLLECTION = "govqa"
TOKEN_ENV = "GOVQA_MILVUS_TOKEN"
TIMEOUT_ENV = "GOVQA_MILVUS_TIMEOUT"  # seconds to wait for the server to answer the first time
HNSW_EF = 128
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,150}$")


def _client(uri: str):
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        timeout = float(os.environ.get(TIMEOUT_ENV, "10"))
        return MilvusClient(uri=uri, token=os.environ.get(TOKEN_ENV, ""), timeout=timeout)
    except (MilvusException, OSError, RuntimeError) as exc:
        raise MilvusUnavailableError(
            f"cannot connect to Milvus at {uri} ({exc}); is the server running? "
            f"(a secured server needs its token in {TOKEN_ENV})"
        ) from exc


def _literal(value: str) -> str:
    """A Milvus filter string literal (JSON escaping is what its expression parser reads)."""
    return json.dumps(value, ensure_ascii=False)


def bm25_idf(df: int, n: int) -> float:
    """The IDF local.Index.token_idf computes from the bm25s matrix, from a stored document frequency."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


# ---------------------------------------------------------------------------------------------- build


def _reusable_vectors(
    previous: MilvusIndex | Index | None, embedder: Embedder, chunk_config: ChunkConfig, documents
) -> dict[str, list[np.ndarray]]:
    """Vectors of the documents `previous` holds unchanged, if it was built the same way."""
    if previous is None:
        return {}
    m = previous.manifest
    if (
        m["embedder"]["name"] != embedder.name
        or m["chunking"] != asdict(chunk_config)
        or m.get("search_text_version") != SEARCH_TEXT_VERSION
    ):
        return {}
    same = {d.doc_id for d in documents if m["documents"].get(d.doc_id) == d.content_hash}
    if isinstance(previous, Index):
        return old_vectors_by_doc(previous, same)
    return previous.vectors_by_doc(same)


def build_milvus_index(
    documents: Sequence[Document],
    index_dir: Path | str,
    embedder: Embedder,
    *,
    uri: str,
    collection: str = DEFAULT_COLLECTION,
    chunk_config: ChunkConfig | None = None,
    progress: Progress | None = None,
    vectors_from: Index | None = None,
    batch_size: int = 256,
) -> BuildReport:
    """Write a new generation of `documents` to Milvus and point the alias `collection` at it.

    Vectors are reused from the live generation (or from the local index `vectors_from`, e.g. one built on a
    GPU machine) for every document whose content and chunking are unchanged; the rest are embedded.
    """
    started = time.perf_counter()
    chunk_config = chunk_config or ChunkConfig()
    if not _NAME.match(collection):
        raise ValueError(f"Milvus collection name {collection!r}: use letters, digits and _, not first a digit")
    ids = [d.doc_id for d in documents]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate document ids in the corpus")
    index_dir = Path(index_dir)
    uri = _absolute_uri(uri)
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)  # a new Milvus Lite file
    client = _client(uri)
    try:
        previous = MilvusIndex.connect(uri, collection, client)
    except IndexNotFoundError:
        previous = None
    except IndexCorruptedError:
        previous = None  # an unreadable generation is replaced, not reused
    reuse = _reusable_vectors(previous, embedder, chunk_config, documents) or _reusable_vectors(
        vectors_from, embedder, chunk_config, documents
    )
    old_hashes = previous.manifest["documents"] if previous else {}
    report = BuildReport(documents=len(documents), removed=sorted(set(old_hashes) - set(ids)))

    chunks, vectors = plan_chunks(documents, chunk_config, reuse, old_hashes, report)
    metas = {d.doc_id: d.meta for d in documents}
    words = sorted(domain_words(documents))

    gen = f"{collection}__{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    chunks_name, store_name = f"{gen}_chunks", f"{gen}_store"
    (chunk_schema, chunk_index), (store_schema, store_index) = _schemas(client, embedder.dim, len(chunks))
    titles = {d.doc_id: d.meta.title for d in documents}
    try:
        client.create_collection(chunks_name, schema=chunk_schema, index_params=chunk_index)
        client.create_collection(store_name, schema=store_schema, index_params=store_index)
        tokenizer = Tokenizer(words)
        df: Counter[str] = Counter()
        todo = sum(v is None for v in vectors)
        embedded = 0
        if progress:
            progress(0, todo)
        # Embed and insert batch by batch: memory holds one batch of rows, and progress shows real work.
        for start in range(0, len(chunks), batch_size):
            part = range(start, min(start + batch_size, len(chunks)))
            missing = [i for i in part if vectors[i] is None]
            # What the local index embeds and segments (title and headings first), so both agree.
            texts = {i: chunks[i].search_text(titles[chunks[i].doc_id]) for i in part}
            if missing:
                fresh = embedder.embed_passages([passage_text(chunks[i], titles[chunks[i].doc_id]) for i in missing])
                for i, vec in zip(missing, fresh, strict=True):
                    vectors[i] = vec
                embedded += len(missing)
                if progress:
                    progress(embedded, todo)
            terms = {i: tokenizer.terms(texts[i]) for i in part}
            client.insert(
                chunks_name,
                [_chunk_row(i, chunks[i], metas[chunks[i].doc_id], vectors[i], terms[i]) for i in part],
            )
            for i in part:
                df.update(set(terms[i][0]))
                vectors[i] = None  # inserted: the server has it now
        report.embedded = embedded
        rows: list[dict] = []
        for doc in documents:
            rows.extend(_doc_rows(doc))
            if len(rows) >= batch_size:
                client.insert(store_name, rows)
                rows = []
        rows += _blob_rows("words", "", json.dumps(words, ensure_ascii=False))
        client.insert(store_name, rows + _blob_rows("df", "", json.dumps(df, ensure_ascii=False)))
        manifest = {
            "format_version": FORMAT_VERSION,
            "backend": "milvus",
            "govqa_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedder": {"name": embedder.name, "dim": int(embedder.dim)},
            "chunking": asdict(chunk_config),
            "search_text_version": SEARCH_TEXT_VERSION,
            "faiss": "milvus-flat" if len(chunks) <= EXACT_MAX else "milvus-hnsw",
            "chunks_collection": chunks_name,
            "counts": {"documents": len(documents), "chunks": len(chunks), "extra_words": len(words)},
            "documents": {d.doc_id: d.content_hash for d in documents},
        }
        # The manifest goes in last: a store without one is an unfinished build.
        client.insert(store_name, _blob_rows("manifest", "", json.dumps(manifest, ensure_ascii=False)))
        for name in (chunks_name, store_name):
            client.flush(name)
            client.load_collection(name)
        if collection in client.list_aliases().get("aliases", []):
            client.alter_alias(store_name, collection)
        else:
            client.create_alias(store_name, collection)
    except BaseException:
        for name in (chunks_name, store_name):
            _drop_quietly(client, name)
        raise
    _drop_other_generations(client, collection, keep=gen)
    index_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(
        index_dir / MILVUS_DESCRIPTOR,
        json.dumps({"backend": "milvus", "uri": uri, "collection": collection}, ensure_ascii=False),
    )
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    report.path = f"{uri}#{collection}"
    return report


def _absolute_uri(uri: str) -> str:
    """A Milvus Lite file is named relative to where `govqa index` ran; later commands may run elsewhere."""
    if "://" in uri:
        return uri
    return str(Path(uri).expanduser().resolve())


def _drop_quietly(client, name: str) -> None:
    try:
        client.drop_collection(name)
    except Exception:  # noqa: BLE001 - cleanup after a failure must not hide the failure itself
        pass


def _drop_other_generations(client, collection: str, keep: str) -> None:
    pattern = re.compile(rf"^{re.escape(collection)}__\d{{14}}_\d+_(chunks|store)$")
    for name in client.list_collections():
        if pattern.match(name) and not name.startswith(f"{keep}_"):
            _drop_quietly(client, name)


# ---------------------------------------------------------------------------------------------- serve


@dataclass(frozen=True)
class MilvusSelection:
    """A metadata filter as a Milvus filter expression; `expr` is None when no document can match."""

    expr: str | None

    def any(self) -> bool:
        return self.expr is not None


class _Chunks(LazyChunks):
    """index.chunks for Milvus, fetched from the chunks collection on demand (see LazyChunks)."""

    def __init__(self, index: MilvusIndex, count: int):
        super().__init__(count)
        self._index = index

    def _read(self, positions: list[int]) -> Iterator[tuple[int, Chunk]]:
        rows = self._index.client.get(self._index.chunks_collection, ids=positions, output_fields=_CHUNK_FIELDS)
        return ((row["id"], _chunk_from_row(row)) for row in rows)

    def _read_all(self) -> Iterator[tuple[int, Chunk]]:
        rows = self._index._query_all(self._index.chunks_collection, "id >= 0", _CHUNK_FIELDS)
        return ((row["id"], _chunk_from_row(row)) for row in rows)


class MilvusIndex:
    """An index in Milvus, with the same attributes as local.Index, plus the SearchBackend look-ups."""

    def __init__(
        self,
        client,
        uri: str,
        collection: str,
        manifest: dict,
        metas: dict[str, DocMeta],
        words: list[str],
        df: dict[str, int],
    ):
        self.client = client
        self.uri = uri
        self.collection = collection
        self.path = f"{uri}#{collection}"
        self.manifest = manifest
        self.metas = metas
        self.tokenizer = Tokenizer(words)
        self.chunks_collection: str = manifest["chunks_collection"]
        self.chunks = _Chunks(self, int(manifest["counts"]["chunks"]))
        self._df = df
        self._maxima: dict[str, dict[str, float]] = {}  # field -> term -> best BM25 score (term_maxima)
        self._streets = sorted({m.street for m in metas.values() if m.street})
        self._districts = sorted({m.district for m in metas.values() if m.district})

    # -- opening

    @classmethod
    def open(cls, index_dir: Path | str) -> MilvusIndex:
        descriptor = Path(index_dir) / MILVUS_DESCRIPTOR
        try:
            spec = json.loads(descriptor.read_text(encoding="utf-8"))
            uri, collection = spec["uri"], spec["collection"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptedError(
                f"{descriptor} is unreadable ({exc}); rebuild with: govqa index --backend milvus --milvus-uri URI"
            ) from exc
        return cls.connect(uri, collection)

    @classmethod
    def connect(cls, uri: str, collection: str = DEFAULT_COLLECTION, client=None) -> MilvusIndex:
        from pymilvus.exceptions import MilvusException

        client = client or _client(uri)
        try:
            if collection not in client.list_aliases().get("aliases", []) and not client.has_collection(collection):
                raise IndexNotFoundError(
                    f"no govqa index '{collection}' in Milvus at {uri}. Build it with: "
                    f"govqa index --backend milvus --milvus-uri {uri} --milvus-collection {collection}"
                )
            client.load_collection(collection)
            blobs = _blobs(client, collection, 'kind in ["manifest", "words", "df", "meta"]')
            if ("manifest", "") not in blobs:
                raise IndexCorruptedError(f"Milvus collection '{collection}' at {uri} has no manifest; rebuild it")
            manifest = json.loads(blobs[("manifest", "")])
            if manifest.get("format_version") != FORMAT_VERSION:
                raise IndexCorruptedError(
                    f"Milvus index format {manifest.get('format_version')} is not {FORMAT_VERSION}; rebuild it"
                )
            client.load_collection(manifest["chunks_collection"])
        except MilvusException as exc:
            raise MilvusUnavailableError(f"Milvus at {uri} cannot serve '{collection}': {exc}") from exc
        metas = {
            doc_id: DocMeta(**json.loads(payload)["meta"])
            for (kind, doc_id), payload in blobs.items()
            if kind == "meta"
        }
        words = json.loads(blobs.get(("words", ""), "[]"))
        df = json.loads(blobs.get(("df", ""), "{}"))
        return cls(client, uri, collection, manifest, metas, words, df)

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> Iterator[dict]:
        return _query_all(self.client, collection, expr, fields)

    # -- what local.Index offers

    @property
    def embedder_name(self) -> str:
        return self.manifest["embedder"]["name"]

    def check_embedder(self, embedder: Embedder) -> None:
        if embedder.name != self.embedder_name:
            raise EmbedderMismatchError(
                f"this index was built with embedder '{self.embedder_name}', not '{embedder.name}': "
                f"query it with --embedder {self.embedder_name}, or rebuild it with govqa index --embedder {embedder.name}"
            )

    @cached_property
    def token_idf(self) -> dict[str, float]:
        n = max(1, int(self.manifest["counts"]["chunks"]))
        return {t: bm25_idf(df, n) for t, df in self._df.items()}

    def doc_ids(self) -> list[str]:
        return sorted(self.metas)

    def document(self, doc_id: str) -> Document:
        expr = f"doc_id == {_literal(doc_id)}"
        blobs = _blobs(self.client, self.collection, expr)
        if ("meta", doc_id) not in blobs:
            raise KeyError(f"no document {doc_id!r} in the index")
        head = json.loads(blobs[("meta", doc_id)])
        text = blobs[("text", doc_id)]
        paragraphs = tuple(
            Paragraph(n, text[a:b], tuple(path), a, b, kind, tuple(Footnote(**f) for f in notes))
            for n, path, a, b, kind, notes in json.loads(blobs[("paragraphs", doc_id)])
        )
        return Document(doc_id, DocMeta(**head["meta"]), text, paragraphs, head["content_hash"], head["source"])

    def vectors_by_doc(self, doc_ids: set[str]) -> dict[str, list[np.ndarray]]:
        if not doc_ids:
            return {}
        rows = self._query_all(
            self.chunks_collection,
            f"doc_id in {json.dumps(sorted(doc_ids), ensure_ascii=False)}",
            ["id", "doc_id", "vector"],
        )
        by_doc: dict[str, list[np.ndarray]] = {}
        for row in sorted(rows, key=lambda r: r["id"]):
            by_doc.setdefault(row["doc_id"], []).append(np.asarray(row["vector"], dtype=np.float32))
        return by_doc

    # -- SearchBackend

    def select(self, filters: Filters) -> MilvusSelection:
        clauses = []
        for wanted, known, field in (
            (filters.street, self._streets, "street"),
            (filters.district, self._districts, "district"),
        ):
            if wanted:
                # Place names match loosely (塘桥 = 塘桥街道, see Filters): resolve against the few known names
                # here, so Milvus gets an exact `in` list it can answer from its index.
                names = [name for name in known if Filters(**{field: wanted}).matches(DocMeta("", **{field: name}))]
                if not names:
                    return MilvusSelection(None)
                clauses.append(f"{field} in {json.dumps(names, ensure_ascii=False)}")
        if filters.year is not None:
            clauses.append(f"(year_start <= {int(filters.year)} and year_end >= {int(filters.year)})")
        if filters.doc_type:
            clauses.append(f"doc_type == {_literal(filters.doc_type)}")
        return MilvusSelection(" and ".join(clauses) if clauses else "id >= 0")

    def dense_top(self, query: np.ndarray, n: int, where: MilvusSelection | None) -> dict[int, float]:
        params = {"metric_type": "IP", "params": {"ef": max(HNSW_EF, n)}}
        rows = self._search([np.asarray(query, dtype=np.float32).tolist()], "vector", n, where, params)[0]
        return {row["id"]: float(row["distance"]) for row in rows}

    def lexical_top(self, field: str, terms: Sequence[str], n: int, where: MilvusSelection | None) -> dict[int, float]:
        if not terms:
            return {}
        return _scores(self._search([encode_terms(terms)], LEXICAL_FIELDS[field], n, where, _BM25)[0])

    def lexical_scores(self, field: str, terms: Sequence[str], positions: Sequence[int]) -> dict[int, float]:
        if not terms or not positions:
            return {}
        ids = sorted({int(i) for i in positions})
        rows = self._search(
            [encode_terms(terms)], LEXICAL_FIELDS[field], len(ids), MilvusSelection(f"id in {ids}"), _BM25, []
        )
        return _scores(rows[0])

    def term_maxima(self, field: str, terms: Sequence[str]) -> dict[str, float]:
        # A term's best score changes only with the generation, which this object never leaves: keep them.
        known = self._maxima.setdefault(field, {})
        distinct = list(dict.fromkeys(terms))
        best = {t: v for t in distinct if (v := known.get(t)) is not None}
        todo = [t for t in distinct if t not in best]
        if todo:
            if len(known) > _MAXIMA_KEPT:
                known.clear()  # another thread may be reading it: each query keeps its own `best`
            found = self._search([encode_term(t) for t in todo], LEXICAL_FIELDS[field], 1, None, _BM25, [])
            for t, rows in zip(todo, found, strict=True):
                best[t] = known[t] = max(_scores(rows).values(), default=0.0)
        return best

    def lexical_candidates(
        self,
        words: Sequence[str],
        bigrams: Sequence[str],
        n: int,
        bigram_weight: float,
        where: MilvusSelection | None,
        also: Iterable[int],
    ) -> LexicalCandidates:
        return lexical_candidates_by_field(self, len(self.chunks), words, bigrams, n, bigram_weight, where, also)

    def _search(
        self,
        data: list,
        field: str,
        n: int,
        where: MilvusSelection | None,
        params: dict,
        fields: list[str] = _CHUNK_FIELDS,
    ) -> list[list[dict]]:
        """One result list per query in `data`; hits carry `fields` of their chunk."""
        from pymilvus.exceptions import MilvusException

        if n <= 0 or (where is not None and not where.any()):
            return [[] for _ in data]
        try:
            result = self.client.search(
                self.chunks_collection,
                data=data,
                anns_field=field,
                limit=n,
                search_params=params,
                filter=where.expr if where is not None else "",
                output_fields=fields,
            )
        except MilvusException as exc:
            raise MilvusUnavailableError(f"Milvus search failed at {self.uri}: {exc}") from exc
        found = [
            [{"id": hit["id"], "distance": hit["distance"], **hit.get("entity", {})} for hit in hits] for hits in result
        ]
        # The hits' chunks come with the search: no second round trip for them.
        self.chunks.remember((row["id"], _chunk_from_row(row)) for rows in found for row in rows if "chunk_id" in row)
        return found


_BM25 = {"metric_type": "BM25"}
_MAXIMA_KEPT = 200_000  # terms whose best scores a server process keeps per field


def _scores(rows: list[dict]) -> dict[int, float]:
    # Milvus reports BM25 scores as they are; Milvus Lite negates them (its executor ranks by distance).
    # A BM25 score is never negative, so its magnitude is the score either way.
    return {row["id"]: abs(float(row["distance"])) for row in rows if row["distance"]}


def _query_all(client, collection: str, expr: str, fields: list[str], batch: int = 1000) -> Iterator[dict]:
    iterator = client.query_iterator(collection, batch_size=batch, filter=expr, output_fields=fields)
    try:
        while rows := iterator.next():
            yield from rows
    finally:
        iterator.close()


def _blobs(client, collection: str, expr: str) -> dict[tuple[str, str], str]:
    """(kind, doc_id) -> the JSON or text stored in pieces under it."""
    parts: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for row in _query_all(client, collection, expr, ["kind", "doc_id", "part", "payload"]):
        parts.setdefault((row["kind"], row["doc_id"]), []).append((row["part"], row["payload"]))
    return {key: "".join(p for _, p in sorted(pieces)) for key, pieces in parts.items()}
