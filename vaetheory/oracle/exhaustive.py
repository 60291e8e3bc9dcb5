"""The ``enumerate`` oracle method (docs/oracles.md): the exact sparsest row support k* and *all* optimal supports.

Enumeration runs k = rank(X), rank(X)+1, … and tests every k-subset T for an exact fit X ∈ range(Φ_T), in batches:
with G = ΦᵀΦ and C = ΦᵀX precomputed, the squared residual of the least-squares fit on T is
``‖X‖² − tr(C_Tᵀ G_TT⁻¹ C_T)``, a k×k batched Cholesky solve that never touches d. That difference loses precision
(its error grows with cond(G_TT)), so it only *screens* with a loose tolerance; every candidate is then confirmed
with an exact least-squares refit at the strict tolerance.

The rank-aware shortcut: an optimal support of size rank(X) must consist of columns lying in range(X), so at
k = rank(X) only subsets of ``{j : φ_j ∈ range(X)}`` are tested (exactly one when that set has rank(X) members:
the MUSIC-type test of docs/theory.md §1).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from vaetheory.core.threads import single_threaded
from vaetheory.core.errors import BudgetError
from vaetheory.problems.problem import RANGE_RTOL, Problem
from vaetheory.core.linalg import numerical_rank
from vaetheory.core.subsets import DEFAULT_BUDGET, iter_subset_chunks, n_subsets
from vaetheory.oracle.answer import OracleAnswer

_SCREEN_RTOL = 1e-4  # loose screen on the Gram-form residual; confirmed exactly afterwards


@dataclass(frozen=True)
class OracleResult:
    """Answer of the exhaustive oracle.

    k: the sparsest row-support size k*; supports: every optimal support (sorted tuples, sorted);
    method: "rank-aware" when the shortcut decided it alone, else "enumeration"; rank_X: numerical rank of X;
    n_subsets: how many subsets were tested; rtol: relative residual below which a fit counts as exact.
    """

    k: int
    supports: tuple[tuple[int, ...], ...]
    method: str
    rank_X: int
    n_subsets: int
    rtol: float
    seconds: float

    @property
    def unique(self) -> bool:
        return len(self.supports) == 1

    def is_optimal(self, support) -> bool:
        return tuple(sorted(int(j) for j in support)) in set(self.supports)

    # A finished enumeration is certain and lists every optimal support (the OracleAnswer vocabulary).
    k_star_certain = True
    supports_complete = True

    def to_dict(self) -> dict:
        out = asdict(self)
        out["supports"] = [list(s) for s in self.supports]
        return out

    def answer(self, Phi: np.ndarray, X: np.ndarray) -> OracleAnswer:
        """This enumeration as an `OracleAnswer` (method "enumerate", k* certain, every optimal support)."""
        witness = self.supports[0]
        what = ("the rank-aware test (the columns in range(X))" if self.method == "rank-aware"
                else "exhaustive enumeration")
        if self.method not in ("rank-aware", "enumeration"):  # hand-built by a caller (e.g. a benchmark)
            return OracleAnswer(
                self.method, self.k, True, witness, fit_residual(Phi, X, witness),
                f"OracleResult supplied by the caller (method {self.method!r}), taken as certain", self.supports,
                True, self.rtol, self.seconds, "the caller's OracleResult is right", {"search": self.method})
        return OracleAnswer(
            "enumerate", self.k, True, witness, fit_residual(Phi, X, witness),
            f"{what} of {self.n_subsets:,} subsets: k* = {self.k}, {len(self.supports)} optimal support(s)",
            self.supports, True, self.rtol, self.seconds, None,
            {"search": self.method, "n_subsets": self.n_subsets, "rank_X": self.rank_X})


def fit_residual(Phi: np.ndarray, X: np.ndarray, support) -> float:
    """Relative residual ‖X − Φ_T Φ_T⁺ X‖ / ‖X‖ of the exact least-squares refit on support T."""
    T = np.asarray(sorted(support), dtype=np.int64)
    if T.size == 0:
        return 1.0
    coef, *_ = np.linalg.lstsq(Phi[:, T], X, rcond=None)
    return float(np.linalg.norm(X - Phi[:, T] @ coef) / np.linalg.norm(X))


def _screen(G: torch.Tensor, C: torch.Tensor, x2: float, T: np.ndarray, tol2: float) -> np.ndarray:
    """Rows of T (B, k) whose Gram-form squared residual is below tol2 (batched Cholesky, no per-subset loop)."""
    idx = torch.from_numpy(T)
    G_TT = G[idx[:, :, None], idx[:, None, :]]
    C_T = C[idx]
    L, info = torch.linalg.cholesky_ex(G_TT)
    ok = info == 0
    sol = torch.cholesky_solve(C_T, L)
    fit = (C_T * sol).sum(dim=(1, 2))
    keep = ok & (x2 - fit <= tol2)
    return T[keep.numpy()]


@single_threaded
def sparsest_supports(problem: Problem, *, budget: int = DEFAULT_BUDGET, rtol: float | None = None,
                      chunk: int = 65536, progress=None) -> OracleResult:
    """Exact k* and all optimal supports of P0 by batched exhaustive enumeration.

    budget: maximum number of subsets to test; BudgetError is raised *before* a level that would exceed it.
    rtol: relative residual counted as an exact fit (default RANGE_RTOL for noiseless problems; for noisy ones
        ``3 · noise · √(dn) / ‖X‖`` capped at 0.5, i.e. the fit must be at the noise level).
    progress: optional callable(n_tested_so_far) for progress reporting.
    """
    t0 = time.perf_counter()
    Phi, X = problem.Phi, problem.X
    d, kappa = Phi.shape
    xnorm = float(np.linalg.norm(X))
    if rtol is None:
        rtol = RANGE_RTOL if problem.noise == 0 else min(0.5, 3 * problem.noise * np.sqrt(X.size) / xnorm)
    rank_X = numerical_rank(X) if problem.noise == 0 else 1
    screen = max(_SCREEN_RTOL, 10 * rtol)
    G = torch.from_numpy(Phi.T @ Phi)
    C = torch.from_numpy(Phi.T @ X)
    x2, tol2 = xnorm**2, (screen * xnorm) ** 2
    tested = 0

    def confirm(cands: np.ndarray) -> list[tuple[int, ...]]:
        return [tuple(int(j) for j in T) for T in cands if fit_residual(Phi, X, T) <= rtol]

    def level(pool, k: int) -> list[tuple[int, ...]]:
        nonlocal tested
        need = n_subsets(len(pool) if not isinstance(pool, int) else pool, k)
        if tested + need > budget:
            raise BudgetError(
                f"enumeration at k={k} needs {need:,} more subsets ({tested:,} tested so far), over the budget of "
                f"{budget:,}; raise the budget or use a smaller problem"
            )
        found: list[tuple[int, ...]] = []
        for T in iter_subset_chunks(pool, k, chunk):
            found += confirm(_screen(G, C, x2, T, tol2))
            tested += len(T)
            if progress is not None:
                progress(tested)
        return found

    k0 = max(rank_X, 1)
    if problem.noise == 0:
        # Columns in range(X): projection residual of each unit column onto the column space of X.
        U, s, _ = np.linalg.svd(X, full_matrices=False)
        Ur = U[:, :rank_X]
        Pn = Phi / np.linalg.norm(Phi, axis=0)
        off = np.linalg.norm(Pn - Ur @ (Ur.T @ Pn), axis=0)
        in_range = [int(j) for j in np.flatnonzero(off <= 1e-7)]
        if len(in_range) >= k0:
            found = level(in_range, k0)
            if found:
                method = "rank-aware" if len(in_range) == k0 else "enumeration"
                return OracleResult(k0, tuple(sorted(found)), method, rank_X, tested, rtol,
                                    time.perf_counter() - t0)
        k0 += 1
    for k in range(k0, kappa + 1):
        found = level(kappa, k)
        if found:
            return OracleResult(k, tuple(sorted(found)), "enumeration", rank_X, tested, rtol,
                                time.perf_counter() - t0)
    raise AssertionError("unreachable: the full support always fits a problem that passed validation")


def enumeration_cost(problem: Problem, k_max: int) -> int:
    """Subsets `sparsest_supports` tests at most when k* ≤ k_max (levels rank(X)..k_max, no shortcut counted)."""
    k0 = max(numerical_rank(problem.X) if problem.noise == 0 else 1, 1)
    return sum(n_subsets(problem.kappa, k) for k in range(k0, k_max + 1))


def oracle_enumerate(problem: Problem, *, budget: int = DEFAULT_BUDGET, progress=None) -> OracleAnswer:
    """The ``enumerate`` method: `sparsest_supports` as an `OracleAnswer` (BudgetError when over `budget`)."""
    return sparsest_supports(problem, budget=budget, progress=progress).answer(problem.Phi, problem.X)
