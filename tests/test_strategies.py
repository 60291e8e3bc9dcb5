"""The strategies produce what they promise: C1 problems inside every condition, broken ones outside exactly one."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from vaetheory.problems.conditions import check_conditions
from vaetheory.problems.problem import Problem
from vaetheory.problems.strategies import BROKEN_CONDITIONS, MAX_KAPPA, broken_problems, c1_problems

FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FAST
@given(problem=c1_problems())
def test_c1_problems_meet_every_condition(problem):
    assert isinstance(problem, Problem) and problem.kappa <= MAX_KAPPA
    report = check_conditions(problem)
    assert report.urp is True and report.r_less_than_d and report.orthogonal_rows
    assert report.within_uniqueness_bound is True


@pytest.mark.parametrize("condition", BROKEN_CONDITIONS)
def test_broken_problems_break_their_condition(condition):
    @FAST
    @given(problem=broken_problems(condition))
    def check(problem):
        report = check_conditions(problem)
        if condition == "n_lt_r":
            assert problem.n < len(problem.support) and not report.orthogonal_rows
        elif condition == "correlated_rows":
            assert not report.orthogonal_rows and report.urp
        elif condition == "coherent":
            assert report.coherence >= 0.69
        else:
            assert report.urp and report.within_uniqueness_bound is False
            assert len(problem.support) == (report.spark - 1 + report.rank_X) / 2

    check()


def test_unknown_condition_is_rejected():
    with pytest.raises(ValueError, match="condition must be one of"):
        broken_problems("nonsense")
