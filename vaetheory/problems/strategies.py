"""Hypothesis strategies for sparse-regression problems: inside the theorem's conditions, and breaking one at a time.

Every problem is built through `vaetheory.problems.generate` / `vaetheory.problems.problem.Problem`. Sizes are drawn first and
shrink toward small d, κ, n, r; the random parts come from a drawn seed (which shrinks toward 0) and, for the
dictionaries, from a small perturbation array drawn with ``hypothesis.extra.numpy`` (which shrinks toward 0, i.e.
toward the seeded Gaussian dictionary). Sizes stay at κ ≤ 16, where the exhaustive oracle is exact and fast.

Conditions (docs/theory.md §4, claim C1): URP, r < d, orthogonal nonzero rows, r inside the uniqueness bound.
`broken_problems(condition)` keeps the others where it can and breaks one:

* ``"n_lt_r"``: fewer samples than nonzero rows (so the rows cannot be orthogonal);
* ``"correlated_rows"``: Gaussian nonzero rows with a common correlation ρ ∈ [0.5, 0.95];
* ``"coherent"``: a dictionary with mutual coherence ∈ [0.7, 0.95];
* ``"at_bound"``: r exactly at the uniqueness bound, r = (spark − 1 + rank X)/2, with rank-deficient rows.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vaetheory.problems.conditions import spark
from vaetheory.problems.generate import coherent_dictionary, gaussian_dictionary, mutual_coherence, sparse_codes
from vaetheory.core.errors import InputError
from vaetheory.problems.problem import Problem

#: Upper limits that keep the exhaustive oracle and the exact spark cheap.
MAX_D, MAX_KAPPA, MAX_N = 8, 16, 8
BROKEN_CONDITIONS: tuple[str, ...] = ("n_lt_r", "correlated_rows", "coherent", "at_bound")

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def sizes(draw, *, max_d: int = MAX_D, max_kappa: int = MAX_KAPPA, max_n: int = MAX_N, min_d: int = 3
          ) -> tuple[int, int, int, int]:
    """(d, κ, r, n) with κ > d (overcomplete), 1 ≤ r < d and r ≤ n ≤ max_n: inside the C1 size conditions."""
    d = draw(st.integers(min_d, max_d))
    kappa = draw(st.integers(d + 1, max(d + 1, max_kappa)))
    r = draw(st.integers(1, d - 1))
    n = draw(st.integers(r, max(r, max_n)))
    return d, kappa, r, n


@st.composite
def dictionaries(draw, d: int, kappa: int, *, urp: bool = True, max_coherence: float = 0.95) -> np.ndarray:
    """Unit-norm d×κ dictionary: a seeded Gaussian one plus a drawn perturbation (entries in [−0.3, 0.3]).

    urp: reject draws without the URP (exact spark); max_coherence: reject draws more coherent than this.
    """
    base = gaussian_dictionary(d, kappa, draw(seeds))
    bump = draw(hnp.arrays(np.float64, (d, kappa),
                           elements=st.floats(-0.3, 0.3, allow_nan=False, allow_infinity=False)))
    Phi = base + bump
    norms = np.linalg.norm(Phi, axis=0)
    assume(bool(norms.min() > 1e-3))
    Phi = Phi / norms
    assume(mutual_coherence(Phi) <= max_coherence)
    if urp:
        assume(spark(Phi) == d + 1)
    return Phi


@st.composite
def supports(draw, kappa: int, r: int) -> tuple[int, ...]:
    """r distinct row indices in [0, κ); shrinks toward (0, …, r − 1)."""
    return tuple(sorted(draw(st.lists(st.integers(0, kappa - 1), min_size=r, max_size=r, unique=True))))


@st.composite
def row_sparse_codes(draw, kappa: int, r: int, n: int, rows: str = "orthogonal", *, rank: int | None = None
                     ) -> np.ndarray:
    """κ×n code with r nonzero rows (`generate.sparse_codes`); orthogonal rows need n ≥ r."""
    return sparse_codes(kappa, r, n, rows, draw(seeds), rank=rank, support=draw(supports(kappa, r)))


def _problem(Phi: np.ndarray, Z: np.ndarray) -> Problem:
    return Problem(Phi=Phi, X=Phi @ Z, Z=Z)


@st.composite
def c1_problems(draw, *, max_d: int = MAX_D, max_kappa: int = MAX_KAPPA, max_n: int = MAX_N) -> Problem:
    """Problems inside every condition of claim C1: URP Φ, r < d, orthogonal nonzero rows (hence rank X = r and
    r < (spark − 1 + rank X)/2 = (d + r)/2: inside the uniqueness bound)."""
    d, kappa, r, n = draw(sizes(max_d=max_d, max_kappa=max_kappa, max_n=max_n))
    return _problem(draw(dictionaries(d, kappa)), draw(row_sparse_codes(kappa, r, n, "orthogonal")))


@st.composite
def bfs_problems(draw, *, max_d: int = 5, max_kappa: int = 10, max_n: int = 3) -> Problem:
    """Small C1 problems with k* = r < d < κ, so non-optimal basic feasible solutions exist (for the AE variants,
    whose κ + 2κn parameters make them the slow ones)."""
    return draw(c1_problems(max_d=max_d, max_kappa=max_kappa, max_n=max_n))


def _correlated(Z: np.ndarray, rho: float) -> np.ndarray:
    """Mix the nonzero rows of Z so that any two have correlation ≈ ρ (equicorrelation, Cholesky factor)."""
    S = np.flatnonzero(np.any(Z != 0, axis=1))
    C = np.full((S.size, S.size), rho) + (1 - rho) * np.eye(S.size)
    out = Z.copy()
    out[S] = np.linalg.cholesky(C) @ Z[S]
    return out


@st.composite
def _broken_problems(draw, condition: str, *, max_d: int = MAX_D, max_kappa: int = MAX_KAPPA) -> Problem:
    if condition == "n_lt_r":
        d = draw(st.integers(3, max_d))
        kappa = draw(st.integers(d + 1, max_kappa))
        r = draw(st.integers(2, d - 1))
        n = draw(st.integers(1, r - 1))
        return _problem(draw(dictionaries(d, kappa)), draw(row_sparse_codes(kappa, r, n, "gaussian")))
    if condition == "correlated_rows":
        d, kappa, r, n = draw(sizes(max_d=max_d, max_kappa=max_kappa))
        assume(r >= 2)
        rho = draw(st.floats(0.5, 0.95))
        Z = _correlated(draw(row_sparse_codes(kappa, r, n, "gaussian")), rho)
        return _problem(draw(dictionaries(d, kappa)), Z)
    if condition == "coherent":
        d, kappa, r, n = draw(sizes(max_d=max_d, max_kappa=max_kappa))
        coherence = draw(st.floats(0.7, 0.95))
        try:
            Phi = coherent_dictionary(d, kappa, coherence, draw(seeds))
        except InputError:  # this draw is already more coherent than the target without a shared direction
            assume(False)
        return _problem(Phi, draw(row_sparse_codes(kappa, r, n, "orthogonal")))
    # at_bound: URP Φ (spark = d + 1), rank X = q, r = (d + q)/2 exactly, so q = 2r − d with 1 ≤ q < r
    d = draw(st.integers(3, max_d))
    kappa = draw(st.integers(d + 1, max_kappa))
    r = draw(st.integers((d + 2) // 2, d - 1))
    q = 2 * r - d
    n = draw(st.integers(max(q, 1), MAX_N))
    return _problem(draw(dictionaries(d, kappa)), draw(row_sparse_codes(kappa, r, n, "rank_deficient", rank=q)))


def broken_problems(condition: str, *, max_d: int = MAX_D, max_kappa: int = MAX_KAPPA) -> st.SearchStrategy[Problem]:
    """Problems that break exactly the named condition of C1 (see the module docstring); the name is checked here,
    when the strategy is built, not when it is drawn from."""
    if condition not in BROKEN_CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(BROKEN_CONDITIONS)}; got {condition!r}")
    return _broken_problems(condition, max_d=max_d, max_kappa=max_kappa)
