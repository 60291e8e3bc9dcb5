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


_blas_depth = 0
_threadpools = None


def _controller():
    """One threadpoolctl controller per process: building one scans the loaded shared libraries (about 8 ms, which
    `threadpool_limits` paid on every entry: 10 % of a sweep task at d = 100, bench/product_path.py). It is built on
    first use, after numpy's and scipy's BLAS are loaded (imported here first); a BLAS library loaded later
    would not be limited."""
    global _threadpools
    if _threadpools is None:
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _threadpools = ThreadpoolController()
    return _threadpools


@contextmanager
def blas_threads(n: int = 1):
    """Limit the BLAS libraries numpy and scipy load (OpenBLAS) to `n` threads, via threadpoolctl, restoring them
    afterwards. Measured here: scipy's L-BFGS-B spent 3 ms per call in spin-waiting OpenBLAS threads on a shared
    2-core machine, 2.7× the whole search's time (bench/speed.py). Entering costs ~5 ms, so it wraps whole stages
    (a search, a certificate), never single evaluations; nested uses are free."""
    global _blas_depth
    if _blas_depth:
        _blas_depth += 1
        try:
            yield
        finally:
            _blas_depth -= 1
        return
    with _controller().limit(limits=n, user_api="blas"):
        _blas_depth += 1
        try:
            yield
        finally:
            _blas_depth -= 1


def blas_single_threaded(fn):
    """Decorator: run `fn` inside ``blas_threads(1)`` (and torch single-threaded)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with blas_threads(1), torch_threads(1):
            return fn(*args, **kwargs)
    return wrapper
