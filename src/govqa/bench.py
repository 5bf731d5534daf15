"""`python -m govqa.bench`: the documented entry point of the benchmark in govqa.evaluation.bench."""

import sys

from .evaluation.bench import main

if __name__ == "__main__":
    sys.exit(main())
