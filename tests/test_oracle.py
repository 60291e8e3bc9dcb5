"""Oracle: k* and all optimal supports against a brute-force lstsq reference, the rank-aware shortcut, budgets,
noisy problems."""
from __future__ import annotations

import itertools
import json
from math import comb

import numpy as np
import pytest

from vaetheory.core.errors import BudgetError
from vaetheory.problems.generate import gaussian_dictionary, make_problem
from vaetheory.oracle.exhaustive import OracleResult, fit_residual, numerical_rank, sparsest_supports
from vaetheory.problems.problem import RANGE_RTOL, Problem


def brute_force(Phi: np.ndarray, X: np.ndarray, rtol: float) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """Reference for P0: (k*, every optimal support) by np.linalg.lstsq over itertools.combinations.

    A per-subset Python loop on purpose: it is the independent, obviously-correct reference the batched oracle is
    compared with, and only ever runs on tiny problems.
    """
    kappa = Phi.shape[1]
    xnorm = np.linalg.norm(X)
    for k in range(1, kappa + 1):
        found = []
        for T in itertools.combinations(range(kappa), k):
            coef, *_ = np.linalg.lstsq(Phi[:, T], X, rcond=None)
            if np.linalg.norm(X - Phi[:, T] @ coef) <= rtol * xnorm:
                found.append(T)
        if found:
            return k, tuple(sorted(found))
    raise AssertionError("the full support always fits")


@pytest.mark.parametrize("d, kappa, r, n, rows, seed", [
    (4, 8, 2, 1, "gaussian", 0),
    (5, 10, 3, 2, "gaussian", 1),
    (5, 9, 3, 1, "gaussian", 2),
    (6, 10, 3, 6, "rank_deficient", 3),
    (4, 8, 4, 4, "gaussian", 4),
    (6, 12, 2, 4, "orthogonal", 5),
])
def test_matches_brute_force(d, kappa, r, n, rows, seed):
    p = make_problem(d, kappa, r, n, rows, seed)
    res = sparsest_supports(p)
    assert (res.k, res.supports) == brute_force(p.Phi, p.X, res.rtol)
    assert res.k >= res.rank_X == numerical_rank(p.X)
    assert res.k <= r


def _two_way_problem(seed: int = 0) -> Problem:
    """n = 1, X = φ0 + φ1 = φ2 + φ3 (φ3 built for it), other columns generic: two optimal supports of size 2."""
    Phi = gaussian_dictionary(5, 9, seed)
    X = Phi[:, [0]] + Phi[:, [1]]
    Phi[:, 3] = X[:, 0] - 0.7 * Phi[:, 2]
    return Problem(Phi=Phi, X=X)


def test_two_column_sets_both_optimal():
    p = _two_way_problem()
    res = sparsest_supports(p)
    assert res.k == 2
    assert res.supports == ((0, 1), (2, 3))
    assert not res.unique
    assert res.method == "enumeration"
    assert (res.k, res.supports) == brute_force(p.Phi, p.X, res.rtol)


def test_duplicated_column_doubles_the_optimal_supports():
    # rank(X) = k* = 3 but the in-range pool has 4 members: the shortcut must enumerate it, not pick one
    p0 = make_problem(6, 10, 3, 4, "orthogonal", seed=1)
    S = p0.support
    j = next(j for j in range(10) if j not in S)
    Phi = np.array(p0.Phi)
    Phi[:, j] = Phi[:, S[0]]
    p = Problem(Phi=Phi, X=p0.X, Z=p0.Z)
    res = sparsest_supports(p)
    expected = tuple(sorted([tuple(S), tuple(sorted((j, *S[1:])))]))
    assert res.k == 3 and res.supports == expected
    assert res.method == "enumeration"
    assert res.n_subsets == comb(4, 3)  # only subsets of the in-range columns were tested
    assert (res.k, res.supports) == brute_force(p.Phi, p.X, res.rtol)


def test_duplicated_column_single_response():
    p0 = make_problem(5, 8, 2, 1, "gaussian", seed=6)
    S = p0.support
    j = next(j for j in range(8) if j not in S)
    Phi = np.array(p0.Phi)
    Phi[:, j] = -2.0 * Phi[:, S[1]]
    p = Problem(Phi=Phi, X=p0.X)
    res = sparsest_supports(p)
    assert len(res.supports) == 2
    assert (res.k, res.supports) == brute_force(p.Phi, p.X, res.rtol)


def test_rank_aware_shortcut(easy_problem):
    res = sparsest_supports(easy_problem)
    assert res.method == "rank-aware"
    assert res.k == res.rank_X == 2
    assert res.supports == (easy_problem.support,)
    assert res.n_subsets == 1
    assert res.unique and res.is_optimal(reversed(easy_problem.support))


def test_no_shortcut_when_rank_is_below_k(single_response_problem):
    res = sparsest_supports(single_response_problem)
    assert res.rank_X == 1 and res.k == 2
    assert res.method == "enumeration"
    assert res.n_subsets == comb(10, 2)  # no column is parallel to X: level 1 is skipped, level 2 is tested whole
    assert (res.k, res.supports) == brute_force(single_response_problem.Phi, single_response_problem.X, res.rtol)


def test_single_column_problem_uses_shortcut():
    p = make_problem(4, 7, 1, 3, seed=0)
    res = sparsest_supports(p)
    assert res.method == "rank-aware" and res.k == 1 and res.supports == (p.support,)


def test_budget_error_names_the_budget(single_response_problem):
    with pytest.raises(BudgetError) as info:
        sparsest_supports(single_response_problem, budget=44)
    msg = str(info.value)
    assert "over the budget of 44" in msg
    assert f"needs {comb(10, 2)} more subsets" in msg and "k=2" in msg


def test_budget_error_is_raised_before_the_level(single_response_problem):
    seen = []
    with pytest.raises(BudgetError, match="budget of 1,000"):
        sparsest_supports(make_problem(6, 14, 4, 1, "gaussian", seed=0), budget=1000, progress=seen.append)
    assert seen[-1] == comb(14, 2) + comb(14, 3)  # levels 2 and 3 ran, level 4 (1,001 subsets) did not start
    # exactly enough budget succeeds
    res = sparsest_supports(single_response_problem, budget=comb(10, 2))
    assert res.n_subsets == comb(10, 2)


def test_progress_reports_every_tested_subset(single_response_problem):
    seen = []
    res = sparsest_supports(single_response_problem, chunk=7, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == res.n_subsets
    assert len(seen) == -(-comb(10, 2) // 7)


@pytest.mark.parametrize("seed", [0, 1])
def test_noisy_problem(seed):
    p = make_problem(6, 10, 2, 3, "orthogonal", seed, noise=1e-3)
    res = sparsest_supports(p)
    expected_rtol = min(0.5, 3 * 1e-3 * np.sqrt(p.X.size) / np.linalg.norm(p.X))
    assert res.rtol == pytest.approx(expected_rtol)
    assert res.rank_X == 1  # rank is not used for noisy data
    assert res.method == "enumeration"
    assert (res.k, res.supports) == brute_force(p.Phi, p.X, res.rtol)
    assert p.support in res.supports
    assert all(fit_residual(p.Phi, p.X, s) <= res.rtol for s in res.supports)


def test_explicit_rtol(single_response_problem):
    res = sparsest_supports(single_response_problem, rtol=0.3)
    assert res.rtol == 0.3
    assert (res.k, res.supports) == brute_force(single_response_problem.Phi, single_response_problem.X, 0.3)


def test_fit_residual_and_rank():
    p = make_problem(5, 8, 2, 3, seed=0)
    assert fit_residual(p.Phi, p.X, p.support) <= RANGE_RTOL
    assert fit_residual(p.Phi, p.X, []) == 1.0
    assert fit_residual(p.Phi, p.X, p.support[:1]) > 0.01
    assert numerical_rank(p.X) == 2
    assert numerical_rank(np.zeros((3, 3))) == 0


def test_result_to_dict_is_json():
    res = OracleResult(2, ((0, 3), (1, 2)), "enumeration", 1, 10, 1e-8, 0.1)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["supports"] == [[0, 3], [1, 2]] and d["k"] == 2
    assert res.is_optimal([3, 0]) and not res.is_optimal([0, 1]) and not res.unique
