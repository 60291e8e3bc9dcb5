"""Batched enumeration of k-subsets of range(κ): chunks of index arrays, produced in C (itertools), never one
Python iteration per subset."""
from __future__ import annotations

import itertools
from math import comb
from typing import Iterator, Sequence

import numpy as np

#: Most subsets the exhaustive oracle may test before it fails with a BudgetError (here, on the ground floor, so that
#: the CLI can show it in --help without importing the oracle and torch).
DEFAULT_BUDGET = 20_000_000


def iter_subset_chunks(items: Sequence[int] | int, k: int, chunk: int = 65536) -> Iterator[np.ndarray]:
    """Yield (B, k) int64 arrays holding every k-subset of `items` (or of range(items)) in lexicographic order."""
    pool = list(range(items)) if isinstance(items, (int, np.integer)) else [int(i) for i in items]
    if k == 0:
        yield np.zeros((1, 0), dtype=np.int64)
        return
    flat = itertools.chain.from_iterable(itertools.combinations(pool, k))
    total = comb(len(pool), k)
    for start in range(0, total, chunk):  # one iteration per chunk of up to `chunk` subsets
        b = min(chunk, total - start)
        yield np.fromiter(flat, dtype=np.int64, count=b * k).reshape(b, k)


def n_subsets(n_items: int, k: int) -> int:
    return comb(n_items, k)
