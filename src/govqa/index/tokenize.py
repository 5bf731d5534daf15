"""Text normalisation and the lexical terms BM25 scores: jieba words (search mode) and character bigrams.

Words come from jieba-next, jieba's algorithm and dictionary with the word graph and its best path computed in
Rust: the same words as jieba (checked on the bundled corpus and a 10k-chunk synthetic one) at about three
times the speed, which is most of what an index build spends outside the embedder.

Everything that is matched or scored goes through `normalise` first (traditional script to simplified with
OpenCC, full-width forms folded by NFKC, lower case), so 塘橋街道 finds 塘桥街道. What is quoted to a
user is never normalised: citations keep the original text.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache
from importlib import resources

import jieba_next as jieba
import opencc

# Bump when what `Tokenizer.tokens` keeps changes (filters, stop words are hashed already).
SEGMENTATION_VERSION = 1
_KEEP = re.compile(r"[\w\u4e00-\u9fff]")  # drop tokens that are only punctuation or spaces
# Function words that match everywhere and only dilute BM25 scores.
STOPWORDS = frozenset(
    "的 了 和 与 及 等 在 是 对 为 以 将 把 被 从 到 由 于 并 也 又 其 之 而 或 个 年 中 上 下 "
    "哪些 什么 多少 如何 怎么 怎样 是否 哪个 哪 吗 呢 了吗 有 有没有 进行 开展 工作 方面 情况 关于 "
    "请问 一下 主要 分别 做 做了 哪里 几 谁".split()
)
# How a question asks, not what about: removed from the query before words and bigrams are taken, so
# 应该怎么办 adds neither the words nor the bigrams 应该/该怎/怎么/么办 that match any advice text. Removed as
# jieba words, not substrings, so 怎么办理 keeps 办理 and 申请 keeps 请.
QUESTION_WORDS = frozenset(
    "如何 什么 哪些 是否 怎么 怎么办 怎么样 怎样 应该 应当 哪个 哪里 哪儿 哪家 为什么 为何 多少 几个 "
    "是不是 有没有 能不能 可不可以 能否 请问 吗 呢 啥 谁 么".split()
)
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_ALNUM_RUN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")

jieba.set_log_level(logging.WARNING)

_converter_lock = threading.Lock()


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional script converted to simplified (OpenCC t2s); simplified text passes unchanged.

    What the embedder reads, on both sides, so a traditional question meets a simplified report.
    """
    if not _HAN_RUN.search(text):
        return text
    with _converter_lock:  # one converter per process; serialise calls rather than trust its thread safety
        return _converter().convert(text)


def normalise(text: str) -> str:
    """The form text is matched in: simplified script, NFKC (full-width digits and letters folded), lower case."""
    return simplified(unicodedata.normalize("NFKC", text).lower())


def char_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of each Han run (a lone character stays a unigram), plus Latin/digit words.

    Independent of any segmenter, so 广西壮族自治区 and 广西 still share 广西 whichever way jieba cuts them.
    Expects normalised text.
    """
    out: list[str] = []
    for run in _HAN_RUN.findall(text):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    out.extend(_ALNUM_RUN.findall(text))
    return out


def char_unigrams_bigrams(text: str) -> list[str]:
    """The naive reference tokenization: every non-space character and every adjacent pair, raw text."""
    chars = [c for c in text.lower() if not c.isspace()]
    return chars + [a + b for a, b in zip(chars, chars[1:], strict=False)]


# Below this many texts a build segments in one process: forking workers and collecting their results costs
# about as much as segmenting a few hundred chunks.
PARALLEL_MIN_TEXTS = 2000
# Joins a text's terms ("packed" terms): one string pickles far faster than a list of thousands back from a
# worker, and a build stores and counts them without making a Python string per term. No term contains it
# (terms hold a letter, digit or Han character and come from runs of those).
TERM_SEP = "\x1f"
_SEP = TERM_SEP
_forked: Tokenizer | None = None  # the tokenizer forked workers inherit
_fork_lock = threading.Lock()


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _packed_terms(texts: list[str]) -> tuple[list[str], list[str]]:
    """In a forked worker: each normalised text's words and bigrams, each joined into one string."""
    assert _forked is not None
    return (
        [_SEP.join(_forked._words(t)) for t in texts],
        [_SEP.join(char_bigrams(t)) for t in texts],
    )


@lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int, dict[str, str]]:
    """jieba's dictionary with the domain dictionary added: (FREQ, total, tags), loaded once per process.

    Loading takes about a second; a build opens the previous index and writes a new one, and a server reloads,
    so each Tokenizer starts from a copy instead (tens of milliseconds)."""
    tokenizer = jieba.Tokenizer()
    with resources.as_file(resources.files("govqa") / "data" / "userdict.txt") as path:
        tokenizer.load_userdict(str(path))
    return tokenizer.FREQ, tokenizer.total, tokenizer.user_word_tag_tab


class Tokenizer:
    """A jieba tokenizer of its own (the global one is shared state) with the domain dictionary loaded."""

    def __init__(self, extra_words: Iterable[str] = ()):
        freq, total, tags = _base_dictionary()
        self._jieba = jieba.Tokenizer()
        # What initialize() and load_userdict() would have produced, without reading the files again.
        self._jieba.FREQ, self._jieba.total, self._jieba.user_word_tag_tab = dict(freq), total, dict(tags)
        self._jieba.initialized = True
        self.extra_words = sorted({w for w in extra_words if w})
        for word in self.extra_words:
            self._jieba.add_word(normalise(word), freq=10)

    @cached_property
    def segmentation_key(self) -> str:
        """Changes whenever the same text might be cut into other words: segmenter, dictionaries, stop words,
        normalisation. Words stored under an equal key can be reused instead of segmenting again."""
        digest = hashlib.sha256()
        userdict = (resources.files("govqa") / "data" / "userdict.txt").read_bytes()
        parts = [
            str(SEGMENTATION_VERSION),
            jieba.__version__,
            opencc.__version__,
            unicodedata.unidata_version,
        ]
        for part in (*parts, userdict.decode("utf-8"), *sorted(STOPWORDS), "", *self.extra_words):
            digest.update(part.encode("utf-8") + b"\n")
        return digest.hexdigest()

    def tokens(self, text: str) -> list[str]:
        """jieba search-mode words of the normalised text, function words dropped."""
        return self._words(normalise(text))

    def words(self, text: str) -> list[str]:
        """jieba precise-mode words of the normalised text, in order, nothing dropped: they join back to it."""
        return list(self._jieba.cut(normalise(text)))

    def bigrams(self, text: str) -> list[str]:
        return char_bigrams(normalise(text))

    def terms(self, text: str) -> tuple[list[str], list[str]]:
        """(tokens, bigrams) of a text, normalised once: what a build indexes for each chunk."""
        text = normalise(text)
        return self._words(text), char_bigrams(text)

    def terms_of_all(
        self, texts: Sequence[str], workers: int = 1, min_parallel: int = PARALLEL_MIN_TEXTS
    ) -> tuple[list[list[str]], list[list[str]]]:
        """(tokens of each text, bigrams of each text), the same as `terms` text by text.

        With `workers` > 1 and at least `min_parallel` texts, segmenting is shared by that many forked
        processes (where fork exists): below that, starting them costs more than it saves."""
        with self.start_terms_of_all(texts, workers, min_parallel) as job:
            return job.result()

    def start_terms_of_all(
        self, texts: Sequence[str], workers: int = 1, min_parallel: int = PARALLEL_MIN_TEXTS
    ) -> Segmenting:
        """`terms_of_all` started in forked workers, returning at once: the caller works on (a build writes
        rows and embeds) while they segment, and collects with `.result()`.

        The children inherit this tokenizer and run only the segmenter and regular expressions, no lock
        another thread of this process could hold at the fork (OpenCC's is why normalising stays here)."""
        normalised = [normalise(t) for t in texts]
        if workers < 2 or len(texts) < min_parallel or not _can_fork():
            return Segmenting(self, normalised)
        global _forked
        self._jieba.lcut("预热")  # build the word graph's prefix dictionary once, before the children copy it
        size = -(-len(normalised) // (workers * 4))  # a few shards each, so a slow worker does not hold all
        shards = [normalised[i : i + size] for i in range(0, len(normalised), size)]
        with _fork_lock:  # the workers start (fork) inside Pool(): each copies the tokenizer set just before
            _forked = self
            try:
                pool = multiprocessing.get_context("fork").Pool(workers)
            finally:
                _forked = None
        return Segmenting(self, normalised, pool, pool.map_async(_packed_terms, shards))

    def _words(self, normalised: str) -> list[str]:
        return [
            t for t in self._jieba.cut_for_search(normalised) if t.strip() and _KEEP.search(t) and t not in STOPWORDS
        ]

    def query_terms(self, query: str) -> tuple[list[str], list[str]]:
        """(words, bigrams) of a query with its question words removed; the whole query if nothing is left."""
        text = normalise(query)
        stripped = "".join(" " if w in QUESTION_WORDS else w for w in self._jieba.cut(text))
        if not _KEEP.search(stripped):
            stripped = text
        return self.tokens(stripped), char_bigrams(stripped)


def unpack_terms(packed: str) -> list[str]:
    return packed.split(_SEP) if packed else []


class Segmenting:
    """Segmentation under way (see Tokenizer.start_terms_of_all); a context manager that stops its workers."""

    def __init__(self, tokenizer: Tokenizer, normalised: list[str], pool=None, pending=None):
        self._tokenizer, self._normalised, self._pool, self._pending = tokenizer, normalised, pool, pending

    def result(self) -> tuple[list[list[str]], list[list[str]]]:
        words, bigrams = self.packed()
        return [unpack_terms(w) for w in words], [unpack_terms(b) for b in bigrams]

    def packed(self) -> tuple[list[str], list[str]]:
        """Each text's words and bigrams, each packed into one string (see TERM_SEP)."""
        if self._pending is None:  # no workers: segment here, now
            words = [_SEP.join(self._tokenizer._words(t)) for t in self._normalised]
            return words, [_SEP.join(char_bigrams(t)) for t in self._normalised]
        packed = self._pending.get()
        self.close()
        return [w for part in packed for w in part[0]], [b for part in packed for b in part[1]]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Segmenting:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
