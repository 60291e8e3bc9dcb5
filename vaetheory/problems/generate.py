"""Seeded generators for dictionaries, row-sparse codes and whole problems (docs/theory.md §1).

Every generator takes a ``numpy.random.Generator`` (or a seed) so that a run is reproduced by its seed alone.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from vaetheory.core.errors import InputError
from vaetheory.problems.problem import Problem
from vaetheory.core.validation import check_int

RowKind = Literal["orthogonal", "gaussian", "rank_deficient"]
ROW_KINDS: tuple[str, ...] = ("orthogonal", "gaussian", "rank_deficient")


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def mutual_coherence(Phi: np.ndarray) -> float:
    """max_{i≠j} |φ_iᵀφ_j| / (‖φ_i‖‖φ_j‖)."""
    U = Phi / np.linalg.norm(Phi, axis=0)
    G = np.abs(U.T @ U)
    np.fill_diagonal(G, 0.0)
    return float(G.max())


def gaussian_dictionary(d: int, kappa: int, seed=None) -> np.ndarray:
    """Gaussian d×κ dictionary with unit-norm columns (has the URP with probability 1)."""
    check_int(d, "d", low=1)
    check_int(kappa, "kappa", low=1)
    G = _rng(seed).standard_normal((d, kappa))
    return G / np.linalg.norm(G, axis=0)


def coherent_dictionary(d: int, kappa: int, coherence: float, seed=None, *, atol: float = 1e-3) -> np.ndarray:
    """Unit-norm d×κ dictionary whose mutual coherence is `coherence` (to `atol`).

    Columns are ``normalize(√ρ v + √(1−ρ) g_j)`` for a shared random direction v and Gaussian unit g_j; ρ is found by
    bisection (coherence grows with ρ). Targets below the coherence of the ρ = 0 dictionary are rejected.
    """
    if not 0 < coherence < 1:
        raise InputError(f"coherence must be in (0, 1), got {coherence}")
    rng = _rng(seed)
    G = gaussian_dictionary(d, kappa, rng)
    v = rng.standard_normal((d, 1))
    v /= np.linalg.norm(v)

    def build(rho: float) -> np.ndarray:
        M = np.sqrt(rho) * v + np.sqrt(1 - rho) * G
        return M / np.linalg.norm(M, axis=0)

    base = mutual_coherence(G)
    if coherence < base - atol:
        raise InputError(
            f"coherence {coherence} is below what this draw reaches with no shared direction ({base:.3f}); "
            "ask for more or use a Gaussian dictionary"
        )
    lo, hi = 0.0, 1.0 - 1e-12
    for _ in range(60):  # bisection on a scalar: at most 60 halvings, not a hot path
        mid = 0.5 * (lo + hi)
        mc = mutual_coherence(build(mid))
        if abs(mc - coherence) <= atol:
            return build(mid)
        lo, hi = (mid, hi) if mc < coherence else (lo, mid)
    return build(0.5 * (lo + hi))


def sparse_codes(kappa: int, r: int, n: int, rows: RowKind = "orthogonal", seed=None, *, rank: int | None = None,
                 support=None) -> np.ndarray:
    """Row-sparse κ×n code Z* with r nonzero rows.

    rows:
      - ``"orthogonal"``: nonzero rows mutually orthogonal (Z_S Z_Sᵀ diagonal, scales in [0.5, 2]); needs n ≥ r.
      - ``"gaussian"``: i.i.d. standard normal nonzero rows.
      - ``"rank_deficient"``: nonzero rows spanning a `rank`-dimensional space (default r − 1, at least 1).
    support: optional explicit row support (r distinct indices); drawn at random otherwise.
    """
    check_int(kappa, "kappa", low=1)
    check_int(r, "r", low=1, high=kappa)
    check_int(n, "n", low=1)
    rng = _rng(seed)
    S = np.sort(rng.choice(kappa, size=r, replace=False)) if support is None else np.asarray(sorted(support))
    if S.size != r or len(set(S.tolist())) != r or S.min() < 0 or S.max() >= kappa:
        raise InputError(f"support must hold {r} distinct indices in [0, {kappa}), got {list(S)}")
    if rows == "orthogonal":
        if n < r:
            raise InputError(f"orthogonal rows need n >= r, got n={n} < r={r}")
        Q, _ = np.linalg.qr(rng.standard_normal((n, r)))
        rows_S = rng.uniform(0.5, 2.0, size=(r, 1)) * Q.T
    elif rows == "gaussian":
        rows_S = rng.standard_normal((r, n))
    elif rows == "rank_deficient":
        q = max(1, r - 1) if rank is None else check_int(rank, "rank", low=1, high=r)
        rows_S = rng.standard_normal((r, q)) @ rng.standard_normal((q, n))
    else:
        raise InputError(f"rows must be one of {', '.join(ROW_KINDS)}; got {rows!r}")
    Z = np.zeros((kappa, n))
    Z[S] = rows_S
    return Z


def make_problem(d: int, kappa: int, r: int, n: int, rows: RowKind = "orthogonal", seed=None, *,
                 coherence: float | None = None, noise: float = 0.0, rank: int | None = None) -> Problem:
    """Generate a Problem: Gaussian (or coherent) unit-norm Φ, planted row-sparse Z*, X = Φ Z* (+ noise). The problem
    records how Φ was drawn (`provenance`; with an integer seed a file written by `Problem.save` can prove it)."""
    check_int(d, "d", low=1)
    rng = _rng(seed)
    provenance = {"phi": "gaussian" if coherence is None else "coherent",
                  "seed": int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else None}
    if coherence is not None:
        provenance["coherence"] = float(coherence)
    Phi = gaussian_dictionary(d, kappa, rng) if coherence is None else coherent_dictionary(d, kappa, coherence, rng)
    Z = sparse_codes(kappa, r, n, rows, rng, rank=rank)
    X = Phi @ Z
    if noise:
        if noise < 0 or not np.isfinite(noise):
            raise InputError(f"noise must be finite and >= 0, got {noise}")
        X = X + noise * rng.standard_normal(X.shape)
    return Problem(Phi=Phi, X=X, Z=Z, noise=noise, provenance=provenance)
