"""Build the long-document question set (tests/data/longdoc.jsonl) from the bundled reports.

    python scripts/make_longdoc_set.py [--corpus corpus] [--out tests/data/longdoc.jsonl]

Questions whose answer lies deep inside a long section: for every top-level section of at least
MIN_SECTION characters, clauses that start at least MIN_DEPTH characters after the section's
beginning, so the section heading is far away and, once chunked, only the title and section path in
front of the chunk tell its topic. Each question is written mechanically from its clause (its first
content words, numbers dropped, followed by a question phrase); its evidence is the clause verbatim, in
the gold-set format (goldset.load_gold reads it). Questions alternate between the dev split (for
fitting) and the test split (for reporting). Deterministic: the same corpus gives the same file.

These are keyword questions, not natural ones: they measure where in a long report retrieval still
finds a passage, not how well it understands paraphrase (the gold set does that).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from govqa.index.tokenize import STOPWORDS, Tokenizer
from govqa.ingest.documents import load_corpus

MIN_SECTION = 2000  # characters in a top-level section
MIN_DEPTH = 800  # characters between the section start and the clause
PER_REPORT = 40  # at most, spread evenly over the report's eligible clauses
_CLAUSE = re.compile(r"[^，。；：！？,;:!?\n]{14,60}")
_NUMBER = re.compile(r"^[\d.%万亿千百十余个多]+$")
ENDINGS = ("有哪些做法？", "情况如何？", "是怎么做的？", "取得了什么进展？")


def questions(corpus: Path) -> list[dict]:
    tokenizer = Tokenizer()
    out: list[dict] = []
    for doc in load_corpus(corpus).documents:
        clauses: list[str] = []
        sections: dict[str, list] = {}
        for para in doc.paragraphs:
            if para.kind == "text" and para.section_path:
                sections.setdefault(para.section_path[0], []).append(para)
        for paras in sections.values():
            start = paras[0].char_start
            if paras[-1].char_end - start < MIN_SECTION:
                continue
            for para in paras:
                for m in _CLAUSE.finditer(para.text):
                    clause = m.group().strip()
                    if para.char_start + m.start() - start < MIN_DEPTH or len(clause) < 14:
                        continue
                    if doc.text.count(clause) == 1:  # a repeated clause has no single gold place
                        clauses.append(clause)
        step = max(1, -(-len(clauses) // PER_REPORT))
        for clause in clauses[step // 2 :: step]:
            words = [
                w
                for w in dict.fromkeys(tokenizer._jieba.cut(clause))
                if len(w) >= 2 and w not in STOPWORDS and not _NUMBER.match(w)
            ][:4]
            if len(words) < 3:
                continue
            n = len(out)
            out.append(
                {
                    "id": f"L{n + 1:03d}",
                    "question": "".join(words) + ENDINGS[n % len(ENDINGS)],
                    "type": "longdoc",
                    "doc": doc.doc_id,
                    "evidence": [clause],
                    "answer": [],
                    "street": doc.meta.street,
                    "split": "dev" if n % 2 == 0 else "test",
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=Path("tests/data/longdoc.jsonl"))
    args = parser.parse_args(argv)
    rows = questions(args.corpus)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
