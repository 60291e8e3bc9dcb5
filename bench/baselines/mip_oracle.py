"""Mixed-integer (big-M) P0 oracle through cvxpy.

Formulation of P0 (docs/theory.md §1) with one binary indicator per row of U:

    minimise    sum_j b_j
    subject to  Phi U = X,
                -M b_j <= U[j, :] <= M b_j      (j = 1..kappa),
                U in R^{kappa x n},  b in {0, 1}^kappa.

What the answer certifies (read this before using it as ground truth):
    The MIP optimum equals k* only if M is a valid bound, i.e. some optimal solution of P0 has
    ``max |U_jl| <= M``. If every sparsest solution needs a larger entry, the MIP is a *restriction* of P0 and its
    optimum can be larger than k* (or infeasible). The bound is an assumption the caller makes, not something
    the solver checks. Benchmark convention: when Z* is planted, use ``big_m = c * max|Z*|`` with a safety factor
    (c = 10 by default in the demo below) and, when the planted support is the unique sparsest one (e.g. under
    the uniqueness bound of §1), the bound is valid for c >= 1 because the unique solution is Z* itself. Always
    report the value of M and the ``bound_binding`` flag: if the returned U touches the box, the bound may be
    cutting off solutions and the certificate is suspect. Equality is enforced up to the solver's feasibility
    tolerance (HiGHS default 1e-7), which acts like an exact-fit tolerance.

Solvers: any cvxpy MILP solver; tested with "HIGHS" (default) and "SCIPY" (scipy.optimize.milp, also HiGHS).
CLARABEL has no integer support and is rejected by cvxpy.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import cvxpy as cp
import numpy as np

__all__ = ["mip_sparsest"]

_SUCCESS = ("optimal", "optimal_inaccurate")


def _time_limit_opts(solver: str, time_limit: float | None) -> dict[str, Any]:
    if time_limit is None:
        return {}
    if solver == "SCIPY":
        return {"scipy_options": {"method": "highs", "time_limit": float(time_limit)}}
    if solver == "HIGHS":
        return {"time_limit": float(time_limit)}
    return {"TimeLimit": float(time_limit)}  # GUROBI-style name; other solvers may ignore or reject it


def mip_sparsest(
    Phi: np.ndarray,
    X: np.ndarray,
    big_m: float,
    solver: str = "HIGHS",
    time_limit: float | None = None,
    feas_rtol: float = 1e-6,
) -> dict[str, Any]:
    """Sparsest exact representation by a big-M mixed-integer program (see module docstring for validity).

    Args:
        Phi: dictionary, shape (d, kappa).
        X: data, shape (d, n) or (d,) (n = 1).
        big_m: box bound M on every entry of U; certified only if some optimal P0 solution satisfies it.
        solver: cvxpy solver name ("HIGHS" or "SCIPY").
        time_limit: wall-clock limit in seconds passed to the solver (None = no limit).
        feas_rtol: a returned U is used only if ``||Phi U - X||_F <= feas_rtol * max(1, ||X||_F)``.

    Returns:
        dict with
        ``k`` (int, number of rows with b_j > 0.5, or None when no feasible solution is available),
        ``support`` (sorted list of ints, b_j > 0.5),
        ``status`` (cvxpy status string: "optimal" means certified under the big-M assumption; anything else,
        e.g. "user_limit" on a time limit, "infeasible", or "solver_error: ..." is not a certificate; after a
        time limit k/support describe the best incumbent, an upper bound on k*),
        ``solve_seconds`` (wall clock around ``Problem.solve``),
        ``U`` (the returned representation or None), ``bound_binding`` (True when max|U| >= 0.999 M),
        ``residual`` (``||Phi U - X||_F`` of whatever the solver returned, or None).
        Never raises on solver failure.
    """
    Phi = np.asarray(Phi, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    kappa, n = Phi.shape[1], X.shape[1]
    if not big_m > 0:
        raise ValueError("big_m must be positive")

    U = cp.Variable((kappa, n))
    b = cp.Variable(kappa, boolean=True)
    box = big_m * cp.reshape(b, (kappa, 1), order="F") @ np.ones((1, n))
    prob = cp.Problem(cp.Minimize(cp.sum(b)), [Phi @ U == X, U <= box, U >= -box])

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():  # "solution may be inaccurate": the status string already says so
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=solver, **_time_limit_opts(solver, time_limit))
        status = str(prob.status)
    except (cp.error.SolverError, ValueError) as exc:  # solver crash, bad option, missing solver
        status = f"solver_error: {exc}"
    seconds = time.perf_counter() - t0

    out: dict[str, Any] = {"k": None, "support": [], "status": status, "solve_seconds": seconds,
                           "U": None, "bound_binding": False, "residual": None}
    if b.value is None or U.value is None:
        return out
    Uv = np.array(U.value)
    residual = float(np.linalg.norm(Phi @ Uv - X))
    out["residual"] = residual
    # On a time limit cvxpy may hand back a non-solution (e.g. all zeros): keep it out of k/support.
    if residual > feas_rtol * max(1.0, float(np.linalg.norm(X))):
        return out
    support = np.flatnonzero(b.value > 0.5).tolist()
    out.update(k=len(support), support=support, U=Uv,
               bound_binding=bool(np.max(np.abs(Uv), initial=0.0) >= 0.999 * big_m))
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="big-M MIP oracle on a planted Gaussian instance")
    ap.add_argument("--d", type=int, default=15)
    ap.add_argument("--kappa", type=int, default=30)
    ap.add_argument("--r", type=int, default=4)
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--solvers", default="HIGHS,SCIPY")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    Phi = rng.standard_normal((a.d, a.kappa))
    Phi /= np.linalg.norm(Phi, axis=0)
    S = sorted(rng.choice(a.kappa, a.r, replace=False).tolist())
    Z = np.zeros((a.kappa, a.n))
    Z[S] = rng.standard_normal((a.r, a.n))
    X = Phi @ Z
    M = 10.0 * np.abs(Z).max()
    print(f"d={a.d} kappa={a.kappa} r={a.r} n={a.n}, big_m = 10 max|Z*| = {M:.3g}, planted {S}")
    for name in a.solvers.split(","):
        res = mip_sparsest(Phi, X, big_m=M, solver=name, time_limit=a.time_limit)
        print(f"{name}: status={res['status']} k={res['k']} support==planted: {res['support'] == S} "
              f"binding={res['bound_binding']} in {res['solve_seconds']:.2f}s")
    if a.time_limit is None:  # failure modes, on the same instance
        res = mip_sparsest(Phi, X, big_m=M, time_limit=1e-3)
        print(f"time_limit=1ms: status={res['status']} k={res['k']} (no feasible incumbent)")
        res = mip_sparsest(Phi, X, big_m=1e-3 * np.abs(Z).max())
        print(f"big_m = 1e-3 max|Z*| (invalid bound): status={res['status']} k={res['k']}")
