"""Write a synthetic corpus of street reports made from the bundled ones (see govqa.evaluation.synthetic).

python scripts/make_synthetic_corpus.py --chunks 100k --out /tmp/corpus-100k [--corpus corpus] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from govqa.evaluation.synthetic import SyntheticCorpus, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=parse_size, required=True, help="about how many chunks: 10k, 100k, 1M")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the reports to")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="the reports to recombine")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty; give a new folder")
    made = SyntheticCorpus(args.corpus, args.seed).write(args.out, args.chunks)
    print(f"wrote {made} reports (about {args.chunks} chunks) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
