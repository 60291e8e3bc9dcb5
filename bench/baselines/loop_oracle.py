"""Naive exhaustive P0 oracle: a per-subset Python loop over ``itertools.combinations``.

This is the "what a user hand-rolls" baseline for problem P0 of docs/theory.md §1,

    minimise #{j : u_j != 0}  subject to  Phi U = X,

solved by brute force: for k = rank(X), rank(X)+1, ... try every support T of size k, fit
``U_T = lstsq(Phi[:, T], X)`` and accept T when ``||X - Phi_T U_T||_F <= rtol * ||X||_F``. The first k with an
accepted support is k*, and *all* accepted supports of that size are returned (so non-uniqueness is visible).
Starting at rank(X) is exact because any support that fits X has ``|T| >= rank(Phi_T U_T) = rank(X)``.

It is intentionally unoptimised (one ``np.linalg.lstsq`` per subset, Python-level loop): the benchmark measures
how much faster batched linear algebra is. Cost is ``sum_k C(kappa, k)`` least-squares solves.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

__all__ = ["loop_sparsest", "loop_subsets_per_second"]


def _as_2d(Phi: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Phi = np.asarray(Phi, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if Phi.ndim != 2 or X.ndim != 2 or Phi.shape[0] != X.shape[0]:
        raise ValueError(f"shape mismatch: Phi {Phi.shape}, X {X.shape}")
    return Phi, X


def _fits(Phi: np.ndarray, X: np.ndarray, T: tuple[int, ...], tol: float) -> bool:
    """One subset test: least squares on the columns T, exact fit when the residual is within tol."""
    PT = Phi[:, T]
    coef = np.linalg.lstsq(PT, X, rcond=None)[0]
    return bool(np.linalg.norm(X - PT @ coef) <= tol)


def loop_sparsest(
    Phi: np.ndarray,
    X: np.ndarray,
    k_max: int | None = None,
    rtol: float = 1e-8,
) -> tuple[int | None, list[list[int]], int]:
    """Smallest exact-fit support size of ``Phi U = X`` by exhaustive enumeration.

    Args:
        Phi: dictionary, shape (d, kappa).
        X: data, shape (d, n) or (d,) (treated as n = 1).
        k_max: largest support size to try; default ``rank(Phi)`` (a fit always exists there when X lies in
            range(Phi)).
        rtol: a support T fits when ``||X - Phi_T lstsq(Phi_T, X)||_F <= rtol * ||X||_F``.

    Returns:
        ``(k, supports, n_subsets)``: the smallest fitting size k (``None`` if nothing up to k_max fits), every
        fitting support of that size as a sorted list of ints (lexicographic order), and the number of
        least-squares solves performed in total.
    """
    Phi, X = _as_2d(Phi, X)
    kappa = Phi.shape[1]
    x_norm = float(np.linalg.norm(X))
    if x_norm == 0.0:
        return 0, [[]], 0
    tol = rtol * x_norm
    k_min = max(1, int(np.linalg.matrix_rank(X)))
    if k_max is None:
        k_max = int(np.linalg.matrix_rank(Phi))
    k_max = min(k_max, kappa)

    n_subsets = 0
    for k in range(k_min, k_max + 1):
        found: list[list[int]] = []
        for T in itertools.combinations(range(kappa), k):
            n_subsets += 1
            if _fits(Phi, X, T, tol):
                found.append(list(T))
        if found:
            return k, found, n_subsets
    return None, [], n_subsets


def loop_subsets_per_second(
    Phi: np.ndarray,
    X: np.ndarray,
    k: int,
    max_subsets: int,
    rtol: float = 1e-8,
) -> float:
    """Throughput of the per-subset loop: time exactly ``max_subsets`` subset tests of size k.

    Each test is what ``loop_sparsest`` does per subset (generate the combination, ``lstsq``, residual norm,
    compare). Subsets are taken in ``itertools.combinations`` order; if fewer than ``max_subsets`` exist the
    enumeration restarts, so the count is always exact.

    Returns:
        subsets per second (wall clock, ``time.perf_counter``).
    """
    Phi, X = _as_2d(Phi, X)
    if max_subsets < 1:
        raise ValueError("max_subsets must be >= 1")
    kappa = Phi.shape[1]
    if not 1 <= k <= kappa:
        raise ValueError(f"need 1 <= k <= kappa={kappa}, got {k}")
    tol = rtol * float(np.linalg.norm(X))
    done = 0
    t0 = time.perf_counter()
    while done < max_subsets:
        for T in itertools.islice(itertools.combinations(range(kappa), k), max_subsets - done):
            _fits(Phi, X, T, tol)
            done += 1
    return max_subsets / (time.perf_counter() - t0)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    d, kappa, r, n = 8, 16, 3, 2
    Phi = rng.standard_normal((d, kappa))
    Phi /= np.linalg.norm(Phi, axis=0)
    S = sorted(rng.choice(kappa, r, replace=False).tolist())
    Z = np.zeros((kappa, n))
    Z[S] = rng.standard_normal((r, n))
    X = Phi @ Z
    t0 = time.perf_counter()
    k, supports, n_sub = loop_sparsest(Phi, X)
    dt = time.perf_counter() - t0
    print(f"planted support {S}; loop oracle: k={k}, supports={supports}, {n_sub} subsets in {dt:.3f}s")
    assert k == r and supports == [S]
    rate = loop_subsets_per_second(Phi, X, r, 2000)
    print(f"throughput d={d} kappa={kappa} n={n} k={r}: {rate:,.0f} subsets/s ({1e6 / rate:.1f} us/subset)")
    d, kappa = 100, 200
    Phi = rng.standard_normal((d, kappa))
    Phi /= np.linalg.norm(Phi, axis=0)
    for n in (1, 20):
        X = Phi[:, :10] @ rng.standard_normal((10, n))
        for k in (2, 10, 50):
            rate = loop_subsets_per_second(Phi, X, k, 5000)
            print(f"throughput d={d} kappa={kappa} n={n} k={k}: {rate:,.0f} subsets/s ({1e6 / rate:.1f} us/subset)")
