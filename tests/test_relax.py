"""ℓ2,1 relaxation: optimal on easy problems, a support gap past its recovery threshold, noisy and error paths."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vaetheory.core.errors import VaetheoryError
from vaetheory.problems.generate import make_problem
from vaetheory.oracle.exhaustive import fit_residual, sparsest_supports
from vaetheory.oracle.relax import SUPPORT_RTOL, l21_relaxation


@pytest.mark.parametrize("seed", range(3))
def test_single_row_is_recovered(seed):
    # r = 1 meets Tropp's exact recovery condition for any unit-norm Φ without parallel columns: |φ_jᵀφ_s| < 1
    p = make_problem(6, 12, 1, 3, "gaussian", seed)
    oracle = sparsest_supports(p)
    res = l21_relaxation(p, oracle)
    assert res.status in ("optimal", "optimal_inaccurate")
    assert res.support == p.support
    assert res.optimal is True and res.gap == 0
    assert res.residual <= oracle.rtol
    np.testing.assert_allclose(p.Phi @ res.U, p.X, atol=1e-6 * np.abs(p.X).max())


def test_relaxation_fails_past_its_threshold():
    """d=5, κ=12, r=3 Gaussian rows: ℓ2,1 is not the sparsest on most draws; on every draw the gap is the extra
    support size, positive exactly when the support is not optimal (an exact fit of size k* is optimal)."""
    outcomes = []
    for seed in range(6):
        p = make_problem(5, 12, 3, 2, "gaussian", seed)
        oracle = sparsest_supports(p)
        res = l21_relaxation(p, oracle)
        assert res.gap == len(res.support) - oracle.k
        assert res.residual == pytest.approx(fit_residual(p.Phi, p.X, res.support))
        assert res.residual <= oracle.rtol  # the constraint ΦU = X makes every solution an exact fit
        assert res.optimal == (res.gap == 0)
        assert res.optimal == oracle.is_optimal(res.support)
        outcomes.append(res.optimal)
    assert not all(outcomes), "no draw past the threshold: the test lost its power"


def test_threshold_and_row_norms(easy_problem):
    res = l21_relaxation(easy_problem)
    assert res.optimal is None and res.gap is None  # no oracle given
    norms = np.linalg.norm(res.U, axis=1)
    np.testing.assert_allclose(res.row_norms, norms)
    assert res.threshold == pytest.approx(SUPPORT_RTOL * norms.max())
    assert res.support == tuple(np.flatnonzero(norms > res.threshold))
    looser = l21_relaxation(easy_problem, support_rtol=0.999)
    assert looser.support == (int(np.argmax(norms)),)


def test_noisy_constraint():
    p = make_problem(6, 12, 2, 4, "orthogonal", seed=1, noise=1e-3)
    res = l21_relaxation(p, sparsest_supports(p))
    slack = np.linalg.norm(p.Phi @ res.U - p.X)
    assert slack <= 3e-3 * np.sqrt(p.X.size) * (1 + 1e-6)
    assert set(p.support) <= set(res.support)


def test_to_dict_is_json(easy_problem):
    res = l21_relaxation(easy_problem, sparsest_supports(easy_problem))
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["support"] == list(res.support) and d["optimal"] is res.optimal and d["gap"] == res.gap
    assert len(d["row_norms"]) == easy_problem.kappa


def test_unknown_solver_is_a_vaetheory_error(easy_problem):
    with pytest.raises(VaetheoryError, match="l21 relaxation: solver NO_SUCH_SOLVER"):
        l21_relaxation(easy_problem, solver="NO_SUCH_SOLVER")
