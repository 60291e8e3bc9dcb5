"""Convex baseline: ℓ2,1 (group-lasso) minimisation ``min Σ_j ‖u_j‖₂ s.t. ΦU = X`` through cvxpy (docs/theory.md §3, §6)."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vaetheory.core.errors import VaetheoryError
from vaetheory.oracle.exhaustive import OracleResult, fit_residual
from vaetheory.problems.problem import Problem

#: A row of the ℓ2,1 solution is in the support when its norm exceeds this fraction of the largest row norm.
SUPPORT_RTOL = 1e-5


@dataclass(frozen=True)
class RelaxationResult:
    """ℓ2,1 solution U (κ×n), its row norms, thresholded support, refit residual on it, solver status, and —
    when an oracle answer was supplied — whether the support is an optimal one (``optimal``) and the support gap
    ``len(support) − k*``."""

    U: np.ndarray
    row_norms: np.ndarray
    support: tuple[int, ...]
    residual: float
    status: str
    threshold: float
    optimal: bool | None = None
    gap: int | None = None

    def to_dict(self) -> dict:
        return {"support": list(self.support), "optimal": self.optimal, "gap": self.gap, "residual": self.residual,
                "status": self.status, "threshold": self.threshold, "row_norms": self.row_norms.tolist()}


def l21_relaxation(problem: Problem, oracle: OracleResult | None = None, *, solver: str = "CLARABEL",
                   support_rtol: float = SUPPORT_RTOL) -> RelaxationResult:
    """Solve the ℓ2,1 relaxation (equality-constrained; for noisy problems the constraint is ‖ΦU − X‖_F ≤ 3σ√(dn))."""
    Phi, X = problem.Phi, problem.X
    import cvxpy as cp  # about a second to import: only when a relaxation is actually solved

    U = cp.Variable((problem.kappa, problem.n))
    objective = cp.Minimize(cp.sum(cp.norm(U, 2, axis=1)))
    if problem.noise == 0:
        constraints = [Phi @ U == X]
    else:
        constraints = [cp.norm(Phi @ U - X, "fro") <= 3 * problem.noise * np.sqrt(X.size)]
    prob = cp.Problem(objective, constraints)
    try:
        prob.solve(solver=solver)
    except cp.error.SolverError as exc:
        raise VaetheoryError(f"l21 relaxation: solver {solver} failed ({exc})") from None
    if U.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        raise VaetheoryError(f"l21 relaxation: solver {solver} returned status {prob.status}")
    Uv = np.asarray(U.value)
    norms = np.linalg.norm(Uv, axis=1)
    thr = support_rtol * norms.max()
    support = tuple(int(j) for j in np.flatnonzero(norms > thr))
    res = fit_residual(Phi, X, support)
    out = RelaxationResult(Uv, norms, support, res, prob.status, thr)
    return out if oracle is None else judge_relaxation(out, oracle)


def judge_relaxation(rel: RelaxationResult, oracle) -> RelaxationResult:
    """`rel` with ``optimal`` and ``gap`` filled in from an oracle answer. With a certain k*: optimal when its
    support is a known optimal support (or of size k*, when the list is incomplete) and fits; gap = |support| − k*.
    With an uncertain k* (k_star only an upper bound): optimal is False when the support does not fit or is larger
    than the witness, else None (unknown); gap is None."""
    fits = rel.residual <= oracle.rtol
    if getattr(oracle, "k_star_certain", True):
        return replace(rel, optimal=bool(fits and oracle.is_optimal(rel.support)), gap=len(rel.support) - oracle.k)
    return replace(rel, optimal=False if (not fits or len(rel.support) > oracle.k) else None, gap=None)
