"""BM25 postings written batch by batch, in bounded memory, as the files `bm25s.BM25.load` reads.

`bm25s.BM25.index` wants every document's tokens at once: at a million chunks the Python strings of the words
and bigrams alone outgrow a 24 GB machine (the first 1M build was killed by the kernel there). Here each batch's
tokens become integer ids and per-document term counts as soon as they arrive, and go to spill files on disk;
`save` then scores every posting in one pass over those files and scatters the scores into memory-mapped
column-compressed arrays. What is held in memory is the vocabulary, one integer per document and per term, and
one batch.

The scores are bm25s's own default ("lucene": idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part
tf / (tf + k1 (1 - b + b dl / avgdl))), with the parameters read from a `bm25s.BM25` so the two cannot drift;
tests compare both on the same corpus.

    >>> writer = PostingsWriter(spill_dir)               # doctest: +SKIP
    >>> for batch in batches: writer.add(batch)          # doctest: +SKIP  (lists of tokens, one per document)
    >>> writer.add_packed(["a\x1fb", ""])               # doctest: +SKIP  (or each document's terms packed)
    >>> writer.save(index_dir / "bm25")                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from .tokenize import TERM_SEP

EMPTY = ""  # the term a document without any gets (bm25s does the same): no query contains it


class PostingsWriter:
    def __init__(self, spill_dir: Path | str):
        self.spill_dir = Path(spill_dir)
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        self.vocab: dict[str, int] = {EMPTY: 0}
        self._df = np.zeros(1024, dtype=np.int64)
        self._doc_lengths: list[np.ndarray] = []
        self._batches = 0
        self.documents = 0

    def add(self, docs: Sequence[Sequence[str]]) -> None:
        """Append documents (each a list of its terms, repeats counted) after those added before."""
        self.add_packed([TERM_SEP.join(d) for d in docs])

    def add_packed(self, docs: Sequence[str]) -> None:
        """Append documents, each its terms joined by TERM_SEP (tokenize.Segmenting.packed)."""
        if not docs:
            return
        # One split for the batch; a document without terms splits to the one term EMPTY, as bm25s gives it.
        flat = TERM_SEP.join(docs).split(TERM_SEP)
        vocab = self.vocab
        for term in dict.fromkeys(flat):  # new terms take the next ids in order of first appearance
            if term not in vocab:
                vocab[term] = len(vocab)
        ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        lengths = np.fromiter((d.count(TERM_SEP) + 1 for d in docs), dtype=np.int64, count=len(docs))
        owner = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        # One sort gives every document's distinct terms (in id order) and how often each occurs.
        pairs, tf = np.unique(owner * len(vocab) + ids, return_counts=True)
        doc_of, term_of = np.divmod(pairs, len(vocab))
        per_doc = np.bincount(doc_of, minlength=len(docs))
        if len(vocab) > len(self._df):
            self._df = np.concatenate([self._df, np.zeros(max(len(vocab), 2 * len(self._df)), np.int64)])
        self._df[: len(vocab)] += np.bincount(term_of, minlength=len(vocab))
        np.savez(
            self.spill_dir / f"batch-{self._batches:06d}.npz",
            terms=term_of.astype(np.int32),
            tf=tf.astype(np.int32),
            per_doc=per_doc.astype(np.int32),
        )
        self._batches += 1
        self._doc_lengths.append(lengths.astype(np.int32))
        self.documents += len(docs)

    def save(self, out_dir: Path | str) -> None:
        """Write the index as bm25s saves one (mmap-loadable), then delete the spill files."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        params = bm25s.BM25()  # its defaults are the scoring this writer reproduces
        if params.method != "lucene" or params.idf_method != "lucene":
            raise RuntimeError(f"bm25s's default scoring changed to {params.method!r}; update postings.py")
        k1, b = float(params.k1), float(params.b)
        n_terms = len(self.vocab)
        df = self._df[:n_terms]
        n_docs = self.documents
        lengths = np.concatenate(self._doc_lengths).astype(np.float64) if self._doc_lengths else np.zeros(0)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = (k1 * ((1 - b) + b * lengths / avgdl)).astype(np.float32)  # per document
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        nnz = int(indptr[-1])
        data = np.lib.format.open_memmap(out / "data.csc.index.npy", "w+", np.float32, (nnz,))
        indices = np.lib.format.open_memmap(out / "indices.csc.index.npy", "w+", np.int32, (nnz,))
        cursor = indptr[:-1].copy()  # next free slot of each term's column
        first_doc = 0
        for i in range(self._batches):
            with np.load(self.spill_dir / f"batch-{i:06d}.npz") as spill:
                terms = spill["terms"].astype(np.int64)
                tf = spill["tf"].astype(np.float32)
                per_doc = spill["per_doc"]
            docs = first_doc + np.repeat(np.arange(len(per_doc), dtype=np.int64), per_doc)
            scores = idf[terms] * (tf / (tf + norm[docs]))
            # Stable by term: within a column the documents stay in ascending order, as in a CSC matrix.
            order = np.argsort(terms, kind="stable")
            sorted_terms = terms[order]
            run_start = np.flatnonzero(np.r_[True, sorted_terms[1:] != sorted_terms[:-1]])
            run_len = np.diff(np.r_[run_start, len(sorted_terms)])
            rank = np.arange(len(sorted_terms)) - np.repeat(run_start, run_len)
            slots = cursor[sorted_terms] + rank
            data[slots] = scores[order]
            indices[slots] = docs[order]
            cursor[sorted_terms[run_start]] += run_len
            first_doc += len(per_doc)
        data.flush()
        indices.flush()
        del data, indices
        np.save(out / "indptr.csc.index.npy", indptr)
        (out / "vocab.index.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        saved = {
            "k1": params.k1,
            "b": params.b,
            "delta": params.delta,
            "method": params.method,
            "idf_method": params.idf_method,
            "dtype": params.dtype,
            "int_dtype": params.int_dtype,
            "num_docs": n_docs,
            "version": bm25s.__version__,
            "backend": params.backend,
        }
        (out / "params.index.json").write_text(json.dumps(saved, indent=4), encoding="utf-8")
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.spill_dir, ignore_errors=True)
