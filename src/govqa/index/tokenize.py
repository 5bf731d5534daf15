"""Chinese word segmentation for BM25: jieba in search mode, with the reports' own terms kept whole."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from importlib import resources

import jieba

_KEEP = re.compile(r"[\w\u4e00-\u9fff]")  # drop tokens that are only punctuation or spaces
# Function words that match everywhere and only dilute BM25 scores.
STOPWORDS = frozenset(
    "的 了 和 与 及 等 在 是 对 为 以 将 把 被 从 到 由 于 并 也 又 其 之 而 或 个 年 中 上 下 "
    "哪些 什么 多少 如何 怎么 怎样 是否 哪个 哪 吗 呢 了吗 有 有没有 进行 开展 工作 方面 情况 关于 "
    "请问 一下 主要 分别 做 做了 哪里 几 谁".split()
)

jieba.setLogLevel(logging.WARNING)


class Tokenizer:
    """A jieba tokenizer of its own (the global one is shared state) with the domain dictionary loaded."""

    def __init__(self, extra_words: Iterable[str] = ()):
        self._jieba = jieba.Tokenizer()
        with resources.as_file(resources.files("govqa") / "data" / "userdict.txt") as path:
            self._jieba.load_userdict(str(path))
        self.extra_words = sorted({w for w in extra_words if w})
        for word in self.extra_words:
            self._jieba.add_word(word, freq=10)

    def tokens(self, text: str) -> list[str]:
        return [
            t.lower()
            for t in self._jieba.cut_for_search(text)
            if t.strip() and _KEEP.search(t) and t not in STOPWORDS
        ]
