"""The ``mip`` oracle method (docs/oracles.md): P0 as a big-M mixed-integer program, cvxpy + HiGHS, time-limited.

With the columns of Φ scaled to unit norm and X to ‖X‖_F = 1 (so M does not depend on units)::

    minimise    Σ_j b_j
    subject to  Φ U = X,   −M b_j ≤ U_jl ≤ M b_j,   b ∈ {0, 1}^κ,
                rank X ≤ Σ_j b_j ≤ |witness|          (valid cuts: k* ≥ rank X, and the witness fits)

**Big-M, stated.** M = `BIG_M_FACTOR` (10) × the largest |coefficient| of the known exact fits, in the scaled units:
the least-squares fit on the witness (the planted support, when it fits) and on the ℓ2,1 support (when given), and
the minimum-norm solution Φ⁺X. The MIP optimum is k* only if *some* sparsest solution has every |U_jl| ≤ M; the
solver cannot check that, so a proven MIP answer is certain *under that assumption* (`OracleAnswer.assumption`).
When the returned solution touches the box (max |U| ≥ 0.999 M, "the bound was active") M is multiplied by 10 and the
MIP solved again, up to `M_RETRIES` times; if it is still active the answer is not certain.

**Proven.** HiGHS's dual bound (rounded up: the objective is an integer) reaches the size of the best exact fit
(the refitted MIP solution or the witness): k* certain. On the
time limit the answer keeps the best exact fit known (the MIP incumbent or the witness), an upper bound on k*, and
HiGHS's dual bound as a lower bound; k* is then *not* certain. Every support the MIP returns is refitted by exact
least squares before it is used. `optimal_supports` holds the one witness: the list may be incomplete.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings

import numpy as np

from vaetheory.core.linalg import numerical_rank
from vaetheory.oracle.answer import (DEFAULT_MIP_TIME_LIMIT, OracleAnswer, OracleNotApplicable, canonical,
                                     exact_rtol)
from vaetheory.oracle.exhaustive import fit_residual
from vaetheory.problems.problem import Problem

#: big-M = this factor × the largest |coefficient| of the known exact fits (unit-norm columns, ‖X‖_F = 1).
BIG_M_FACTOR = 10.0
#: How many times M is multiplied by 10 and the MIP re-solved when its solution touches the box.
M_RETRIES = 2
#: A returned row counts as nonzero when its largest |entry| exceeds this fraction of M.
ROW_RTOL = 1e-9


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS prints a banner on fd 1 from C; send fd 1 to stderr while it runs, so ``--json`` stays pure JSON."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        _flush_c_stdio()  # the banner sits in C's stdio buffer: flush it while fd 1 still points to stderr
        os.dup2(saved, 1)
        os.close(saved)


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to reach (not Linux/macOS): nothing buffered that we know of
        pass


def _lstsq_max(Phin: np.ndarray, Xn: np.ndarray, support) -> float:
    T = list(support)
    if not T:
        return 0.0
    coef, *_ = np.linalg.lstsq(Phin[:, T], Xn, rcond=None)
    return float(np.abs(coef).max())


def big_m(Phin: np.ndarray, Xn: np.ndarray, supports) -> tuple[float, str]:
    """(M, how it was chosen) from the scaled problem and the known exact-fit supports."""
    parts = {"minimum-norm solution": float(np.abs(np.linalg.pinv(Phin) @ Xn).max())}
    for name, s in supports.items():
        if s is not None:
            parts[name] = _lstsq_max(Phin, Xn, s)
    largest = max(parts.values())
    src = max(parts, key=parts.get)
    return BIG_M_FACTOR * largest, (f"{BIG_M_FACTOR:g} × the largest |coefficient| ({largest:.3g}, of the {src}) "
                                    f"among the known exact fits, unit-norm columns of Φ and ‖X‖_F = 1")


def _solve(Phin, Xn, M, k_lo, k_hi, time_limit, solver):
    import cvxpy as cp  # about a second to import: only when a MIP is actually solved

    kappa, n = Phin.shape[1], Xn.shape[1]
    U = cp.Variable((kappa, n))
    b = cp.Variable(kappa, boolean=True)
    box = M * cp.reshape(b, (kappa, 1), order="F") @ np.ones((1, n))
    cons = [Phin @ U == Xn, U <= box, U >= -box, cp.sum(b) >= k_lo]
    if k_hi is not None:
        cons.append(cp.sum(b) <= k_hi)
    prob = cp.Problem(cp.Minimize(cp.sum(b)), cons)
    opts = {"time_limit": float(time_limit), "mip_abs_gap": 0.999} if solver == "HIGHS" else {}
    t = time.perf_counter()
    try:
        with warnings.catch_warnings(), _quiet_stdout():
            warnings.simplefilter("ignore", UserWarning)  # "solution may be inaccurate": the status says so
            prob.solve(solver=solver, **opts)
        status = str(prob.status)
    except (cp.error.SolverError, ValueError) as exc:
        status = f"solver_error: {' '.join(str(exc).split())[:200]}"
    seconds = time.perf_counter() - t
    dual = None
    info = getattr(prob.solver_stats, "extra_stats", None) if prob.solver_stats is not None else None
    if info is not None and hasattr(info, "mip_dual_bound"):
        v = float(info.mip_dual_bound)
        dual = v if math.isfinite(v) else None
    Uv = None if U.value is None else np.asarray(U.value)
    return status, Uv, dual, seconds


def oracle_mip(problem: Problem, *, time_limit: float = DEFAULT_MIP_TIME_LIMIT, candidate=None,
               l21_support=None, solver: str = "HIGHS") -> OracleAnswer:
    """k* by the big-M MIP (module docstring). candidate: a known exact-fit support (default: the planted support
    when it fits); l21_support: the ℓ2,1 support, used for big-M. OracleNotApplicable for noisy problems."""
    t0 = time.perf_counter()
    if problem.noise != 0:
        raise OracleNotApplicable(f"mip: exact-fit constraints need noiseless data; this problem has noise "
                                  f"{problem.noise:g}")
    if not time_limit > 0:
        raise OracleNotApplicable(f"mip: time limit must be > 0 s, got {time_limit}")
    Phi, X = problem.Phi, problem.X
    rtol = exact_rtol(problem)
    norms = np.linalg.norm(Phi, axis=0)
    Phin, Xn = Phi / norms, X / np.linalg.norm(X)
    known: dict[str, tuple[int, ...] | None] = {}
    for name, s in (("given candidate", candidate),
                    ("planted support", None if problem.Z is None else problem.support),
                    ("ℓ2,1 support", l21_support)):
        if s is not None and fit_residual(Phi, X, s) <= rtol:
            known[name] = canonical(s)
    best_name = min(known, key=lambda k: len(known[k])) if known else None
    best = known.get(best_name)
    rank_X = max(numerical_rank(X, 1e-8), 1)
    M, how = big_m(Phin, Xn, known)
    k_hi = None if best is None else len(best)
    tries = []
    proven = active = False
    lower = rank_X
    for attempt in range(M_RETRIES + 1):
        remaining = time_limit - (time.perf_counter() - t0)
        if remaining <= 0:
            break
        status, Uv, dual, secs = _solve(Phin, Xn, M, rank_X, k_hi, remaining, solver)
        if dual is not None:
            lower = max(lower, math.ceil(dual - 1e-6))
        found = None
        active = False
        if Uv is not None and np.all(np.isfinite(Uv)):
            rows = np.abs(Uv).max(axis=1)
            T = canonical(np.flatnonzero(rows > ROW_RTOL * M))
            if T and fit_residual(Phi, X, T) <= rtol:
                found = T
                active = bool(rows.max() >= 0.999 * M)
        tries.append({"big_m": M, "status": status, "seconds": secs, "dual_bound": dual,
                      "support_size": None if found is None else len(found), "bound_active": active})
        if found is not None and (best is None or len(found) < len(best)):
            best, best_name = found, "MIP solution"
        # proven: the solver's dual bound reaches the best exact fit (rows the solver kept at tiny |U| with b_j
        # inside its integrality tolerance are counted by the refit, so they cannot fake a proof); a solver that
        # reports no dual bound is trusted on its "optimal" status
        proven = best is not None and (lower >= len(best) or (dual is None and status == "optimal"))
        if not (proven and active):
            break
        M *= 10.0  # the box was touching: a sparser solution may need larger entries; widen and solve again
        how += "; widened ×10 because the bound was active"
    if best is None:
        status = tries[-1]["status"] if tries else "not run"
        raise OracleNotApplicable(f"mip: no exact fit known within {time_limit:g} s (status {status}); give a "
                                  "candidate support or a longer time limit")
    certain = proven and not active
    res = fit_residual(Phi, X, best)
    last = tries[-1] if tries else {"status": "not run"}
    if certain:
        basis = (f"MIP (HiGHS) proven optimal: k* = {len(best)} with big-M = {M:.4g} ({how}); bound not active; "
                 f"witness: {best_name}")
        assumption = (f"big-M is valid: some sparsest solution has every |U_jl| ≤ {M:.4g} (unit-norm columns, "
                      "‖X‖_F = 1)")
    else:
        why = ("the bound stayed active after widening M" if proven and active
               else f"not proven optimal within {time_limit:g} s (status {last['status']})")
        basis = (f"MIP {why}; best exact fit known has {len(best)} rows ({best_name}), lower bound {lower}: "
                 f"k* not certain (big-M = {M:.4g})")
        assumption = None
    details = {"search": "mip", "big_m": M, "big_m_rule": how, "bound_active": active, "proven": proven,
               "status": last["status"], "lower_bound": min(lower, len(best)), "time_limit": time_limit,
               "attempts": tries, "witness_source": best_name}
    return OracleAnswer("mip", len(best), certain, best, res, basis, (best,), False, rtol,
                        time.perf_counter() - t0, assumption, details)
