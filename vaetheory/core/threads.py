"""Thread control for torch linear algebra.

On small matrices MKL/OpenMP with 2 threads was measured here at ~8 ms per 8×8 Cholesky versus ~4 µs with 1 thread
(spin-waiting threads; see bench/README.md). vaetheory's matrices are small and its batching comes from vmap, so its
torch calls run single-threaded inside this context manager, which restores the caller's setting afterwards.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int = 1):
    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if old != n:
            torch.set_num_threads(old)


def single_threaded(fn):
    """Decorator: run `fn` inside ``torch_threads(1)``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch_threads(1):
            return fn(*args, **kwargs)
    return wrapper
