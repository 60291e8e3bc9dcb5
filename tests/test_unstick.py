"""Points the block-scaled Newton phase leaves short of stationarity get a second phase at their own scales
(`vaetheory.search.multistart._unstick`): at d = 100, κ = 200, r = 60 (n = 1, γ = 1e-6) the first phase stops where a
coordinate at ~1e-6 of its block's scale has a scaled gradient of up to 1e2, and those end points were reported
not_converged; after the second phase the unchanged certificate certifies them, at energies no higher."""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.certify.numeric import certify
from vaetheory.problems.generate import make_problem
from vaetheory.search.multistart import _unstick, make_starts, minimise, unfinished
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant


@pytest.fixture(scope="module")
def stuck():
    problem = make_problem(100, 200, 60, 1, "gaussian", seed=1436949773436817660)  # bench/product_path.py's r = 60
    obj = Objective(get_variant("vae-full"), problem)
    starts = make_starts(obj, 8, np.random.default_rng(1436949773436817660), 1e-6, continuation=True)
    search = minimise(obj, starts, 1e-6, unstick=False)  # the first phase alone (the mutation)
    return obj, search


def test_the_block_scaled_phase_leaves_points_uncertified(stuck):
    obj, search = stuck
    cert = certify(obj, search.theta, search.gamma)
    left = unfinished(obj, search.theta, search.gamma)
    assert left.any() and not cert.certified[left].any()
    assert (left == ~cert.stationary).all()  # the same test as the certificate's active stationarity


def test_the_own_scale_phase_makes_them_certified_minima(stuck):
    obj, search = stuck
    theta, gamma = _unstick(obj, search.theta, search.gamma, 100, 1e-12, None)
    cert = certify(obj, theta, gamma)
    assert cert.certified.all(), cert.kkt
    E0, _, _ = obj.value_and_grad(search.theta, search.gamma, with_gamma=False)
    assert (cert.energy <= E0 + 1e-9 * np.abs(E0)).all()
    done = ~unfinished(obj, search.theta, search.gamma)
    assert (theta[done] == search.theta[done]).all()  # points already stationary are not touched


@pytest.fixture(scope="module")
def stuck_ae():
    """ae-l1 on the CLI problem (bench/cli_checks.py: d = 20, κ = 40, r = 5, n = 20, orthogonal rows, seed 0; 1640
    coordinates), with the starts `run_check` makes, after the first Newton phase alone."""
    from vaetheory.verdict.check import analyse_problem

    problem = make_problem(20, 40, 5, 20, "orthogonal", seed=0)
    variant = get_variant("ae-l1")
    obj = Objective(variant, problem)
    analysis = analyse_problem(problem)
    starts = make_starts(obj, 32, np.random.default_rng(0), variant.gamma.default,
                         optimal_supports=analysis.oracle.supports, l21_support=analysis.relaxation.support)
    return obj, minimise(obj, starts, variant.gamma.default, unstick=False)


def test_truncated_newton_points_get_a_short_own_scale_phase(stuck_ae, monkeypatch):
    """The points left unfinished there have more free coordinates than the dense limit: the own-scale phase gives
    them UNSTICK_CG_STEPS truncated-Newton iterations (100 took 43 s, for no further point finished), and still
    finishes the one it finished with 100."""
    from vaetheory.search import multistart

    obj, search = stuck_ae
    calls = []
    real = multistart.projected_newton

    def counted(objective, theta, gamma, **kw):
        out = real(objective, theta, gamma, **kw)
        if kw.get("own_scale"):
            calls.append((multistart.free_counts(objective, theta, gamma), out[-1]))
        return out

    monkeypatch.setattr(multistart, "projected_newton", counted)
    before = unfinished(obj, search.theta, search.gamma)
    assert before.any()
    theta, gamma = _unstick(obj, search.theta, search.gamma, 100, 1e-12, None)
    dense_max = multistart.NEWTON_DENSE_MAX_CLOSED if obj.has_closed_form_hessian else multistart.NEWTON_DENSE_MAX
    assert calls and all((free > dense_max).all() and iters <= multistart.UNSTICK_CG_STEPS for free, iters in calls)
    after = unfinished(obj, theta, gamma)
    assert after.sum() < before.sum() and not (after & ~before).any()
    E0, _, _ = obj.value_and_grad(search.theta, search.gamma, with_gamma=False)
    E1, _, _ = obj.value_and_grad(theta, gamma, with_gamma=False)
    assert (E1 <= E0).all()
