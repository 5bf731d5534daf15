"""Ranking and latency metrics shared by the gold-set benchmark and external evaluation.

A rank is the 1-based position of the first relevant result, or None when none was retrieved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def first_relevant(relevant: Sequence[bool]) -> int | None:
    return next((i for i, ok in enumerate(relevant, start=1) if ok), None)


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if len(seconds) else float("nan")
