"""Conditions: spark on hand-built dictionaries, URP, the uniqueness bound, row orthogonality, undecided cases."""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.problems.conditions import check_conditions, orthogonal_rows, spark, spark_bounds
from vaetheory.problems.generate import gaussian_dictionary, make_problem
from vaetheory.problems.problem import Problem


def _generic(d: int, kappa: int, seed: int = 0) -> np.ndarray:
    return gaussian_dictionary(d, kappa, seed)


def test_duplicated_column_gives_spark_2():
    Phi = _generic(5, 8)
    Phi[:, 6] = Phi[:, 2]
    assert spark(Phi) == 2


def test_scaled_column_gives_spark_2():
    Phi = _generic(5, 8)
    Phi[:, 0] = -3.0 * Phi[:, 4]
    assert spark(Phi) == 2


def test_dependent_triple_gives_spark_3():
    Phi = _generic(5, 8)
    Phi[:, 7] = Phi[:, 1] - 0.5 * Phi[:, 3]
    assert spark(Phi) == 3
    assert spark_bounds(Phi) == (3, 3)


def test_dependent_quadruple_gives_spark_4():
    Phi = _generic(6, 9)
    Phi[:, 8] = Phi[:, 0] + Phi[:, 2] + Phi[:, 5]
    assert spark(Phi) == 4


@pytest.mark.parametrize("d", [3, 4, 6])
def test_identity_plus_all_ones_gives_d_plus_1(d):
    # every d of the columns e_1, …, e_d, 1 are independent
    Phi = np.hstack([np.eye(d), np.ones((d, 1))])
    assert spark(Phi) == d + 1


def test_identity_plus_sparse_sum_is_dependent():
    # e_1 + e_2 is a third column: the triple is dependent although no pair is
    Phi = np.hstack([np.eye(4), np.array([[1.0], [1.0], [0.0], [0.0]])])
    assert spark(Phi) == 3


def test_full_column_rank_convention():
    assert spark(np.eye(5)[:, :3]) == 4  # κ ≤ d with full column rank: κ + 1 by convention


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_has_urp(seed):
    assert spark(_generic(5, 10, seed)) == 6


def test_spark_over_budget_is_undecided():
    Phi = _generic(5, 10)
    # level 2 (45 subsets) fits in 100, level 3 (120 more) does not
    assert spark_bounds(Phi, budget=100) == (None, 3)
    assert spark(Phi, budget=100) is None
    assert spark_bounds(Phi, budget=44) == (None, 2)
    # a dependent pair is still found when its level fits the budget
    Phi[:, 9] = Phi[:, 0]
    assert spark(Phi, budget=100) == 2


def test_orthogonal_rows_by_hand():
    Z = np.zeros((5, 3))
    Z[1] = [1.0, 0.0, 0.0]
    Z[3] = [0.0, 2.0, 1.0]
    assert orthogonal_rows(Z)
    Z[3, 0] = 1e-3
    assert not orthogonal_rows(Z)
    assert orthogonal_rows(np.zeros((4, 2)))  # no nonzero rows: vacuously orthogonal


def test_report_for_a_problem_meeting_c1():
    p = make_problem(5, 10, 2, 4, "orthogonal", seed=1)
    rep = check_conditions(p)
    assert (rep.d, rep.kappa, rep.n, rep.r, rep.rank_X) == (5, 10, 4, 2, 2)
    assert rep.spark == rep.spark_lower_bound == 6
    assert rep.urp is True
    assert rep.uniqueness_bound == (6 - 1 + 2) / 2
    assert rep.within_uniqueness_bound is True
    assert rep.orthogonal_rows is True and rep.r_less_than_d is True
    assert rep.c1_conditions is True
    assert 0 < rep.coherence < 1
    d = rep.to_dict()
    assert d["c1_conditions"] is True and d["spark"] == 6


def test_report_when_conditions_fail():
    p = make_problem(5, 10, 5, 6, "gaussian", seed=2)
    rep = check_conditions(p)
    assert rep.orthogonal_rows is False
    assert rep.r_less_than_d is False
    assert rep.within_uniqueness_bound is False  # 5 < (6 − 1 + 5)/2 = 5 fails
    assert rep.c1_conditions is False


def test_report_without_z():
    p = make_problem(5, 10, 2, 3, seed=0)
    rep = check_conditions(Problem(Phi=p.Phi, X=p.X))
    assert rep.r is None and rep.orthogonal_rows is None and rep.r_less_than_d is None
    assert rep.within_uniqueness_bound is None
    assert rep.urp is True
    assert rep.c1_conditions is None


def test_report_with_dependent_columns_is_not_urp():
    p = make_problem(5, 10, 1, 2, seed=0)
    Phi = np.array(p.Phi)
    j = next(j for j in range(10) if j not in p.support)
    Phi[:, j] = Phi[:, p.support[0]]
    rep = check_conditions(Problem(Phi=Phi, X=p.X, Z=p.Z))
    assert rep.spark == 2 and rep.urp is False
    assert rep.uniqueness_bound == (2 - 1 + 1) / 2 and rep.within_uniqueness_bound is False
    assert rep.c1_conditions is False


def test_undecided_spark_with_lower_bound_deciding_uniqueness():
    # level 2 tested (45 subsets), level 3 not: verified lower bound 3; r = 1, rank 1: 1 < (3 − 1 + 1)/2
    drawn = make_problem(5, 10, 1, 2, seed=0)
    p = Problem(Phi=drawn.Phi, X=drawn.X, Z=drawn.Z)  # the same numbers from a user: no provenance
    rep = check_conditions(p, spark_budget=100)
    assert rep.spark is None and rep.uniqueness_bound is None
    assert rep.spark_lower_bound >= 3
    assert rep.urp is None  # 1 + 1/μ < d + 1 for any overcomplete Gaussian draw this small
    assert rep.within_uniqueness_bound is True
    assert rep.c1_conditions is None
    # drawn by vaetheory from a continuous distribution: spark = d + 1 with probability one, and it says so
    rep = check_conditions(drawn, spark_budget=100)
    assert rep.urp is True and rep.spark is None and rep.spark_basis.startswith("generic")
    assert rep.uniqueness_bound == (5 + 1) / 2 and rep.within_uniqueness_bound is True


def test_undecided_spark_and_undecided_uniqueness():
    # r = 2, rank 2: the bound needs spark > 3, which the verified lower bound 3 cannot show (a user's Φ)
    drawn = make_problem(5, 10, 2, 4, seed=0)
    p = Problem(Phi=drawn.Phi, X=drawn.X, Z=drawn.Z)
    rep = check_conditions(p, spark_budget=100)
    assert rep.spark is None
    assert rep.spark_lower_bound == max(3, int(np.ceil(1 + 1 / rep.coherence)))
    assert rep.spark_lower_bound - 1 + rep.rank_X <= 2 * rep.r  # the lower bound does not settle it here
    assert rep.within_uniqueness_bound is None
    assert rep.urp is None
    assert rep.c1_conditions is None
