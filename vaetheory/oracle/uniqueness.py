"""The ``uniqueness`` oracle method (docs/oracles.md): certify a candidate support by the MMV uniqueness bound.

Fact used (Chen & Huo 2006; Cotter, Rao, Engan & Kreutz-Delgado 2005): if ``X = Φ Z`` and the row support S of Z
satisfies ``|S| < (spark(Φ) − 1 + rank X) / 2``, then Z is the unique solution of P0, so k* = |S| and S is the only
optimal support. The bound holds exactly when ``spark(Φ) ≥ m + 1`` with ``m = 2|S| + 1 − rank X``, i.e. when every
m columns of Φ are linearly independent. That is established, cheapest first, by:

1. the coherence bound ``spark(Φ) ≥ 1 + 1/μ(Φ)`` (or full column rank when κ ≤ d): certain, no enumeration;
2. testing every m-subset of columns (batched singular values, `vaetheory.core.subsets`) when C(κ, m) fits the
   budget: certain;
3. otherwise, when ``assume_generic``: spark(Φ) = d + 1 — after the checks that are affordable (rank Φ = d, every
   small set of columns independent). That is *known* (with probability one) only for a Φ that vaetheory drew from
   a continuous distribution (`vaetheory.problems.provenance`): then k* is certain and the answer names the
   genericity it rests on (`OracleAnswer.assumption`). For any other Φ (a user's file) genericity is an assumption
   nobody checked: k* is reported as an upper bound (``k_star_certain`` False) with the assumption named.

The candidate (the planted support, or one given) must fit X exactly; it is refitted by least squares.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from vaetheory.core.linalg import numerical_rank
from vaetheory.core.subsets import iter_subset_chunks, n_subsets
from vaetheory.core.threads import single_threaded
from vaetheory.oracle.answer import OracleAnswer, OracleNotApplicable, exact_rtol, planted_witness
from vaetheory.oracle.exhaustive import fit_residual
from vaetheory.problems.conditions import spark_bounds
from vaetheory.problems.generate import mutual_coherence
from vaetheory.problems.problem import Problem
from vaetheory.problems.provenance import describe, drawn_continuous

#: Most m-subsets the exact spark test may check (batched SVDs of d×m blocks).
DEFAULT_SPARK_BUDGET = 2_000_000
#: Subsets the genericity sanity check may test (levels 2, 3, ... enumerated whole, as in `spark_bounds`).
GENERIC_CHECK_BUDGET = 250_000
#: A set of columns counts as dependent when its smallest singular value is below this fraction of its largest.
DEPENDENCE_RTOL = 1e-10
#: rank X is counted with this relative tolerance: a looser tolerance can only lower rank X and so the bound.
RANK_RTOL = 1e-8


@single_threaded
def first_dependent_subset(Phi: np.ndarray, m: int, *, chunk: int = 16384) -> tuple[int, ...] | None:
    """The first m-subset of columns of Φ that is linearly dependent (batched SVDs), or None when all m-subsets
    are independent (then spark(Φ) ≥ m + 1)."""
    Un = torch.from_numpy(Phi / np.linalg.norm(Phi, axis=0))
    for T in iter_subset_chunks(Phi.shape[1], m, chunk):
        s = torch.linalg.svdvals(Un[:, torch.from_numpy(T)].permute(1, 0, 2))
        bad = (s[:, -1] <= DEPENDENCE_RTOL * s[:, 0]).numpy()
        if bad.any():
            return tuple(int(j) for j in T[int(np.argmax(bad))])
    return None


def oracle_uniqueness(problem: Problem, *, candidate=None, spark_budget: int = DEFAULT_SPARK_BUDGET,
                      assume_generic: bool = True) -> OracleAnswer:
    """k* = |S| and S the unique optimal support, when the MMV uniqueness bound holds for the candidate S (default:
    the planted support). Raises OracleNotApplicable (with the reason) when the problem is noisy, S does not fit X,
    the bound fails, or the spark cannot be established within `spark_budget` and genericity is not assumed."""
    t0 = time.perf_counter()
    if problem.noise != 0:
        raise OracleNotApplicable("uniqueness: the MMV bound is for noiseless data; this problem has noise "
                                  f"{problem.noise:g}")
    Phi, X = problem.Phi, problem.X
    d, kappa = Phi.shape
    S, origin = planted_witness(problem, candidate)
    rtol = exact_rtol(problem)
    res = fit_residual(Phi, X, S)
    if res > rtol:
        raise OracleNotApplicable(f"uniqueness: {origin} {list(S)} does not fit X (relative residual {res:.3g} > "
                                  f"{rtol:g})")
    size = len(S)
    if numerical_rank(Phi[:, list(S)], DEPENDENCE_RTOL) < size:
        raise OracleNotApplicable(f"uniqueness: the columns of {origin} are linearly dependent: it is not a minimal "
                                  "support")
    rank_X = numerical_rank(X, RANK_RTOL)
    m = 2 * size + 1 - rank_X  # the bound holds iff every m columns are independent (spark >= m + 1)
    mu = mutual_coherence(Phi) if kappa > 1 else 0.0
    rank_Phi = numerical_rank(Phi, DEPENDENCE_RTOL)
    details = {"support_size": size, "rank_X": rank_X, "columns_needed_independent": m, "coherence": mu,
               "candidate": origin}
    assumption = None
    certain = True
    if kappa <= d and rank_Phi == kappa:
        spark_text, details["spark"] = "spark = ∞ (Φ has full column rank)", None
    elif m > min(d, kappa) or m > rank_Phi:
        raise OracleNotApplicable(
            f"uniqueness: the bound fails: |S| = {size} needs spark(Φ) ≥ {m + 1}, but spark(Φ) ≤ rank Φ + 1 = "
            f"{rank_Phi + 1} (bound (spark − 1 + rank X)/2 ≤ {(rank_Phi + rank_X) / 2:g})")
    elif mu > 0 and 1 + 1 / mu >= m + 1:
        details["spark_lower_bound"] = int(np.ceil(1 + 1 / mu))
        spark_text = f"spark ≥ 1 + 1/μ = {1 + 1 / mu:.4g} (coherence μ = {mu:.3g})"
    elif n_subsets(kappa, m) <= spark_budget:
        dep = first_dependent_subset(Phi, m)
        details["spark_subsets_tested"] = n_subsets(kappa, m)
        if dep is not None:
            raise OracleNotApplicable(f"uniqueness: the bound fails: columns {list(dep)} are dependent, so spark(Φ) "
                                      f"≤ {m} < {m + 1} (needed for |S| = {size}, rank X = {rank_X})")
        details["spark_lower_bound"] = m + 1
        spark_text = f"spark ≥ {m + 1}: all {n_subsets(kappa, m):,} sets of {m} columns tested independent"
    else:
        exact, verified = spark_bounds(Phi, budget=min(GENERIC_CHECK_BUDGET, spark_budget), rtol=DEPENDENCE_RTOL)
        if exact is not None and exact < m + 1:  # a small dependent set: the exact spark decides the bound
            raise OracleNotApplicable(f"uniqueness: the bound fails: spark(Φ) = {exact} (exact) < {m + 1}")
        if exact is not None:  # every level enumerated up to min(d, κ): the spark is computed, not assumed
            details["spark"] = exact
            spark_text = f"spark = {exact} computed exactly"
        elif not assume_generic:
            raise OracleNotApplicable(
                f"uniqueness: spark(Φ) ≥ {m + 1} is needed; testing the C({kappa}, {m}) = {n_subsets(kappa, m):.3g} "
                f"sets of {m} columns is over the budget of {spark_budget:,} and genericity is not assumed")
        elif rank_Phi < d:
            raise OracleNotApplicable(f"uniqueness: Φ is not generic (rank {rank_Phi} < d = {d}); spark unknown")
        else:
            details["spark"] = d + 1
            details["spark_verified_lower_bound"] = verified
            drawn = drawn_continuous(problem)
            details["provenance"] = describe(problem)
            certain = drawn
            assumption = (f"Φ is generic: spark(Φ) = d + 1 = {d + 1} (every d columns independent), "
                          + ("which holds with probability one for the Φ vaetheory drew from a continuous "
                             f"distribution ({describe(problem)})" if drawn else
                             f"ASSUMED, not known: {describe(problem)}, so k* = {size} is only an upper bound")
                          + f"; verified only rank Φ = d and every set of ≤ {verified - 1} columns independent (the "
                          f"{m}-column sets are too many: C({kappa}, {m}) = {n_subsets(kappa, m):.3g})")
            spark_text = f"spark = d + 1 = {d + 1} by genericity (not verified)"
    basis = (f"MMV uniqueness bound (Chen & Huo 2006): |S| = {size} < (spark − 1 + rank X)/2 with rank X = {rank_X} "
             f"and {spark_text}; {origin} fits X (residual {res:.2g})")
    if not certain:
        basis += "; NOT certain: Φ's genericity is assumed, not known (k* ≤ |S|)"
    return OracleAnswer("uniqueness", size, certain, S, res, basis, (S,), certain, rtol, time.perf_counter() - t0,
                        assumption, details | {"search": "uniqueness"})
