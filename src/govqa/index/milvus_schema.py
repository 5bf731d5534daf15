"""What the Milvus collections hold: their schemas, and a chunk or document as the rows written there.

Kept together because they are the index format: a change here is a new milvus.FORMAT_VERSION, and the
reader's `_chunk_from_row` sits beside the writer's `_chunk_row` so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from ..records import Chunk, DocMeta, Document, Footnote

# Exact search up to this many chunks (the gold figures then match the local flat index); HNSW above it.
EXACT_MAX = 200_000
HNSW_PARAMS = {"M": 32, "efConstruction": 200}
# bm25s's defaults, so Milvus ranks lexical matches as the local index does.
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
_PIECE_CHARS = 15_000  # a VARCHAR holds 65,535 bytes; a character is at most 4
_VARCHAR = 65_535
# The lexical fields: terms as Milvus stores them (encoded text) -> the sparse vector its BM25 function fills.
LEXICAL_FIELDS = {"words": "words_bm25", "bigrams": "bigrams_bm25"}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_term(term: str) -> str:
    """A term as one token of Milvus's standard analyzer: its UTF-8 bytes as a base-36 number after a letter.

    Every analyzer keeps a run of ASCII letters and digits whole, so Milvus counts exactly govqa's terms
    (a jieba analyzer on the server would cut a query's words again, and its dictionary and normalisation
    would drift from the local index's). The mapping is one-to-one: UTF-8 has no leading zero byte.
    """
    n = int.from_bytes(term.encode("utf-8"), "big")
    digits = []
    while n:
        n, d = divmod(n, 36)
        digits.append(_DIGITS[d])
    return "t" + "".join(reversed(digits))


def encode_terms(terms: Sequence[str]) -> str:
    return " ".join(encode_term(t) for t in terms)


def _pieces(text: str) -> list[str]:
    return [text[i : i + _PIECE_CHARS] for i in range(0, len(text), _PIECE_CHARS)] or [""]


def _schemas(client, dim: int, n_chunks: int):
    from pymilvus import DataType, Function, FunctionType

    chunks = client.create_schema(auto_id=False, enable_dynamic_field=False)
    chunks.add_field("id", DataType.INT64, is_primary=True)
    for name in ("chunk_id", "doc_id", "street", "district", "doc_type"):
        chunks.add_field(name, DataType.VARCHAR, max_length=1024)
    for name in ("para_start", "para_end", "char_start", "char_end", "year_start", "year_end"):
        chunks.add_field(name, DataType.INT64)
    for name in ("section_path", "text", "footnotes"):
        chunks.add_field(name, DataType.VARCHAR, max_length=_VARCHAR)
    chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    for terms, sparse in LEXICAL_FIELDS.items():
        chunks.add_field(
            terms,
            DataType.VARCHAR,
            max_length=_VARCHAR,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        chunks.add_field(sparse, DataType.SPARSE_FLOAT_VECTOR)
        chunks.add_function(
            Function(
                name=f"{terms}_bm25",
                function_type=FunctionType.BM25,
                input_field_names=[terms],
                output_field_names=[sparse],
            )
        )
    chunk_index = client.prepare_index_params()
    if n_chunks <= EXACT_MAX:
        chunk_index.add_index("vector", index_type="FLAT", metric_type="IP")
    else:
        chunk_index.add_index("vector", index_type="HNSW", metric_type="IP", params=HNSW_PARAMS)
    for sparse in LEXICAL_FIELDS.values():
        chunk_index.add_index(sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)

    store = client.create_schema(auto_id=False, enable_dynamic_field=False)
    store.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
    store.add_field("kind", DataType.VARCHAR, max_length=32)
    store.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    store.add_field("part", DataType.INT64)
    store.add_field("payload", DataType.VARCHAR, max_length=_VARCHAR)
    store.add_field("pad", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    store_index = client.prepare_index_params()
    store_index.add_index("pad", index_type="FLAT", metric_type="L2")
    return (chunks, chunk_index), (store, store_index)


def _blob_rows(kind: str, doc_id: str, payload: str) -> list[dict]:
    return [
        {
            "key": f"{kind}/{doc_id}/{part}",
            "kind": kind,
            "doc_id": doc_id,
            "part": part,
            "payload": piece,
            "pad": [0.0, 0.0],
        }
        for part, piece in enumerate(_pieces(payload))
    ]


def _doc_rows(doc: Document) -> list[dict]:
    meta = {"meta": asdict(doc.meta), "content_hash": doc.content_hash, "source": doc.source_path}
    paragraphs = [
        [p.number, list(p.section_path), p.char_start, p.char_end, p.kind, [asdict(f) for f in p.footnotes]]
        for p in doc.paragraphs
    ]
    return [
        *_blob_rows("meta", doc.doc_id, json.dumps(meta, ensure_ascii=False)),
        *_blob_rows("text", doc.doc_id, doc.text),
        *_blob_rows("paragraphs", doc.doc_id, json.dumps(paragraphs, ensure_ascii=False)),
    ]


def _chunk_row(i: int, chunk: Chunk, meta: DocMeta, vector: np.ndarray, terms: tuple[list[str], list[str]]) -> dict:
    start = meta.year_start if meta.year_start is not None else -1
    lexical = {field: encode_terms(t) for field, t in zip(LEXICAL_FIELDS, terms, strict=True)}
    for field, text in lexical.items():
        if len(text) > _VARCHAR:  # ASCII: a character is a byte
            raise ValueError(
                f"chunk {chunk.chunk_id} has too many {field} for a Milvus field ({len(text)} bytes encoded, "
                f"at most {_VARCHAR}): build with a smaller chunk size (ChunkConfig.max_chars)"
            )
    return {
        "id": i,
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "street": meta.street or "",
        "district": meta.district or "",
        "doc_type": meta.doc_type or "",
        "para_start": chunk.para_start,
        "para_end": chunk.para_end,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "year_start": start,
        "year_end": meta.year_end if meta.year_end is not None else start,
        "section_path": json.dumps(chunk.section_path, ensure_ascii=False),
        "text": chunk.text,
        "footnotes": json.dumps([asdict(f) for f in chunk.footnotes], ensure_ascii=False),
        "vector": vector.astype(np.float32).tolist(),
        **lexical,
    }


_CHUNK_FIELDS = [
    "id",
    "chunk_id",
    "doc_id",
    "section_path",
    "para_start",
    "para_end",
    "char_start",
    "char_end",
    "text",
    "footnotes",
]


def _chunk_from_row(row: dict) -> Chunk:
    return Chunk(
        row["chunk_id"],
        row["doc_id"],
        tuple(json.loads(row["section_path"])),
        row["para_start"],
        row["para_end"],
        row["char_start"],
        row["char_end"],
        row["text"],
        tuple(Footnote(**f) for f in json.loads(row["footnotes"])),
    )
