"""Convex baseline: ℓ2,1 (group-lasso) minimisation ``min Σ_j ‖u_j‖₂ s.t. ΦU = X`` through cvxpy (docs/theory.md §3, §6)."""
from __future__ import annotations

from dataclasses import dataclass

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
    optimal = gap = None
    if oracle is not None:
        optimal = oracle.is_optimal(support) and res <= oracle.rtol
        gap = len(support) - oracle.k
    return RelaxationResult(Uv, norms, support, res, prob.status, thr, optimal, gap)
