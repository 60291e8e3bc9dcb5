"""`run_oracle`: one entry point for every oracle method, and ``auto``, the cheapest method that gives a certain k*.

``auto`` tries, in order (docs/oracles.md):

0. a screen that costs almost nothing: k* ≥ rank X always, and a fit of size rank X uses only columns in range(X);
   when a few such columns exist, their rank-X subsets are tested, and a fit found is the best known fit (so a
   column that is a multiple of x, with n = 1, gives k* = 1 at once, whatever else the planted support says);
1. ``enumerate`` when it is sure to finish within the subset budget: the enumeration up to the best known exact
   fit (the planted support, a candidate, the ℓ2,1 support, the screen's fit; else min(d, κ)) costs at most the
   budget, or that fit has size rank X and the rank-aware test needs few subsets;
2. ``uniqueness`` when the MMV bound holds for the best known exact fit (it says why when not); its answer is
   certain only for a Φ known to be generic (`vaetheory.problems.provenance`);
3. ``mip`` within the time limit (noiseless problems; its answer says whether optimality was proven), when Φ has
   at most `MIP_AUTO_MAX_KAPPA` columns or no exact fit is known (above that size the MIP has not been seen to
   prove k* within its time limit: with a known fit it is skipped and says so; ``method="mip"`` still runs it);
4. ``none`` when nothing else applies (a noisy problem over the budget).
An answer that is not certain does not end the search: the next method is tried, and when none is certain the
uncertain answer with the smallest k* (the tightest upper bound) is returned.

The answer's `basis` starts with "auto → <method>" and ``details["auto"]`` lists why earlier methods were skipped.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from vaetheory.core.errors import InputError
from vaetheory.core.linalg import numerical_rank
from vaetheory.core.subsets import DEFAULT_BUDGET, n_subsets
from vaetheory.oracle.answer import (DEFAULT_MIP_TIME_LIMIT, ORACLE_METHODS, OracleAnswer, OracleNotApplicable,
                                     canonical, exact_rtol)
from vaetheory.oracle.exhaustive import enumeration_cost, fit_residual, oracle_enumerate
from vaetheory.oracle.mip import oracle_mip
from vaetheory.oracle.planted import oracle_none
from vaetheory.oracle.uniqueness import DEFAULT_SPARK_BUDGET, oracle_uniqueness
from vaetheory.problems.problem import Problem


def check_method(method: str) -> str:
    if method not in ORACLE_METHODS:
        raise InputError(f"oracle method must be one of {', '.join(ORACLE_METHODS)}; got {method!r}")
    return method


def best_known_fit(problem: Problem, candidates) -> tuple[int, ...] | None:
    """The smallest of the given supports (None entries skipped) that fits X exactly, or None."""
    rtol = exact_rtol(problem)
    fits = [canonical(s) for s in candidates if s is not None and len(s) and
            fit_residual(problem.Phi, problem.X, s) <= rtol]
    return min(fits, key=len) if fits else None


def _in_range_count(problem: Problem, rank_X: int) -> int:
    """How many unit columns of Φ lie in range(X) (the rank-aware test's pool; see `exhaustive`)."""
    U, _, _ = np.linalg.svd(problem.X, full_matrices=False)
    Ur = U[:, :rank_X]
    Pn = problem.Phi / np.linalg.norm(problem.Phi, axis=0)
    return int(np.sum(np.linalg.norm(Pn - Ur @ (Ur.T @ Pn), axis=0) <= 1e-7))


def range_fit(problem: Problem, budget: int) -> tuple[int, ...] | None:
    """A support of size rank X that fits X, found among the columns in range(X) when testing their rank-X subsets
    fits `budget` (the rank-aware level of the enumeration, alone); None otherwise. Noiseless problems only."""
    if problem.noise != 0:
        return None
    rank_X = max(numerical_rank(problem.X), 1)
    U, _, _ = np.linalg.svd(problem.X, full_matrices=False)
    Ur = U[:, :rank_X]
    Pn = problem.Phi / np.linalg.norm(problem.Phi, axis=0)
    pool = np.flatnonzero(np.linalg.norm(Pn - Ur @ (Ur.T @ Pn), axis=0) <= 1e-7)
    if len(pool) < rank_X or n_subsets(len(pool), rank_X) > min(budget, RANGE_SCREEN_SUBSETS):
        return None
    from itertools import combinations

    rtol = exact_rtol(problem)
    for T in combinations(pool.tolist(), rank_X):  # at most RANGE_SCREEN_SUBSETS small least-squares fits
        if fit_residual(problem.Phi, problem.X, T) <= rtol:
            return canonical(T)
    return None


#: Most subsets the range(X) screen may test.
RANGE_SCREEN_SUBSETS = 2_000
#: ``auto`` runs the MIP only when Φ has at most this many columns (binaries of the MIP). Measured with n = 1 and
#: Gaussian Φ (bench/mip_reach.json, bench/README.md's oracle table): the MIP proved k* in 0.4–6.5 s up to κ = 100,
#: and proved nothing within its 60 s at κ = 200, whether k* = 4 or 60 (HiGHS's lower bound stayed at 2–3); so
#: above this size it costs its whole time limit for an answer that is not certain, and when an exact fit is known
#: the tightest uncertain answer is returned without it (the verdicts then say k* is uncertain, as after a MIP that
#: timed out). With no exact fit known the MIP still runs: its incumbent may be the only witness.
MIP_AUTO_MAX_KAPPA = 100


def enumeration_affordable(problem: Problem, k_ub: int | None, budget: int) -> tuple[bool, str]:
    """(sure to finish within `budget`?, the estimate) for an enumeration when k* ≤ k_ub."""
    k_max = min(problem.d, problem.kappa) if k_ub is None else k_ub
    if problem.noise == 0 and k_ub is not None:
        rank_X = max(numerical_rank(problem.X), 1)
        if k_ub == rank_X:  # k* = rank X is reached at the first level, on the in-range columns only
            cost = n_subsets(_in_range_count(problem, rank_X), rank_X)
            if 0 < cost <= budget:
                return True, f"rank-aware level needs {cost:,} subsets"
    cost = enumeration_cost(problem, k_max)
    return cost <= budget, f"enumeration up to k = {k_max} needs up to {cost:.3g} subsets (budget {budget:,})"


def run_oracle(problem: Problem, method: str = "auto", *, budget: int = DEFAULT_BUDGET,
               mip_time_limit: float = DEFAULT_MIP_TIME_LIMIT, candidate=None, l21_support=None,
               spark_budget: int = DEFAULT_SPARK_BUDGET, assume_generic: bool = True, progress=None) -> OracleAnswer:
    """k* for `problem` by `method` (one of ORACLE_METHODS). candidate / l21_support: exact-fit supports known from
    elsewhere (the uniqueness, mip and none methods use the best of them with the planted support; default: the
    planted support). Errors: InputError for an unknown method; BudgetError (enumerate over budget) and
    OracleNotApplicable (the method cannot decide) for an explicit method."""
    check_method(method)
    planted = None if problem.Z is None else problem.support
    screened = range_fit(problem, budget)
    best = best_known_fit(problem, [candidate, planted, l21_support, screened])
    if best is not None and planted is not None and best == canonical(planted):
        best = None if candidate is None else best  # the methods then name it "the planted support"
    cand = best if best is not None else candidate
    if method == "enumerate":
        return oracle_enumerate(problem, budget=budget, progress=progress)
    if method == "uniqueness":
        return oracle_uniqueness(problem, candidate=cand,
                                 spark_budget=spark_budget, assume_generic=assume_generic)
    if method == "mip":
        return oracle_mip(problem, time_limit=mip_time_limit, candidate=cand, l21_support=l21_support)
    if method == "none":
        return oracle_none(problem, candidate=cand)
    skipped: dict[str, str] = {}
    known = best_known_fit(problem, [cand, planted])
    ok, why = enumeration_affordable(problem, None if known is None else len(known), budget)
    if ok:
        return _chosen(oracle_enumerate(problem, budget=budget, progress=progress), skipped, why)
    skipped["enumerate"] = why
    steps = [("uniqueness", lambda: oracle_uniqueness(problem, candidate=cand, spark_budget=spark_budget,
                                                      assume_generic=assume_generic)),
             ("mip", lambda: oracle_mip(problem, time_limit=mip_time_limit, candidate=cand,
                                        l21_support=l21_support)),
             ("none", lambda: oracle_none(problem, candidate=cand))]
    uncertain: list[OracleAnswer] = []
    for name, step in steps:
        if name == "uniqueness" and known is None:
            skipped[name] = "no exact-fit candidate support known"
            continue
        if name == "mip" and problem.kappa > MIP_AUTO_MAX_KAPPA and known is not None:
            skipped[name] = (f"kappa = {problem.kappa} > {MIP_AUTO_MAX_KAPPA}: at this size the MIP has not proven "
                             "k* within its time limit (bench/mip_reach.json); run it with method 'mip'")
            continue
        try:
            answer = step()
        except OracleNotApplicable as exc:
            skipped[name] = str(exc).removeprefix(f"{name}: ")
            continue
        if answer.k_star_certain:
            return _chosen(answer, skipped, None)
        uncertain.append(answer)
        skipped[name] = f"answered k* <= {answer.k_star} but not certainly"
    if uncertain:  # the tightest upper bound (earliest method on ties: it says more about how it was found)
        best_answer = min(uncertain, key=lambda a: a.k_star)
        skipped.pop(best_answer.method, None)
        return _chosen(best_answer, skipped, None)
    raise OracleNotApplicable("auto: no oracle method applies: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))


def _chosen(answer: OracleAnswer, skipped: dict[str, str], why: str | None) -> OracleAnswer:
    note = f"auto → {answer.method}" + (f" ({why})" if why else "")
    if skipped:
        note += "; skipped " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
    return replace(answer, basis=f"{note}. {answer.basis}",
                   details=answer.details | {"auto": {"chosen": answer.method, "skipped": skipped}})
