"""The Newton phase (search/multistart.py): per-point convergence, the truncated-Newton (trust-region CG) path, the
Hessian-vector products it uses, and γ-continuation starts at fixed γ."""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.certify.numeric import certify
from vaetheory.problems.generate import make_problem
from vaetheory.search import multistart as ms
from vaetheory.search.objective import Objective
from vaetheory.variants.registry import get_variant


@pytest.fixture(scope="module")
def setup():
    problem = make_problem(6, 12, 2, 4, "orthogonal", seed=2)
    obj = Objective(get_variant("vae-full"), problem)
    starts = ms.make_starts(obj, 6, np.random.default_rng(0), 1e-4)
    res = ms.minimise(obj, starts, 1e-4, newton_steps=0, maxiter=40)
    return obj, res.theta, res.gamma


@pytest.mark.parametrize("name", ["vae-full", "ae-l21", "ae-log"])
def test_hvp_matches_the_dense_hessian(name):
    problem = make_problem(5, 10, 2, 3, seed=0)
    v = get_variant(name)
    obj = Objective(v, problem)
    rng = np.random.default_rng(1)
    theta = obj.layout.pack(v.init_random(problem, rng, 3), 3)
    gamma = np.full(3, v.gamma.default)
    V = rng.standard_normal(theta.shape)
    H, _, _ = obj.active_hessian(theta, gamma, np.ones(theta.shape, dtype=bool))
    ref = np.einsum("bij,bj->bi", H, V)
    assert np.abs(obj.hvp(theta, gamma, V) - ref).max() <= 1e-9 * np.abs(ref).max()


@pytest.mark.parametrize("path", ["dense", "truncated"])
def test_newton_paths_reach_certified_points(setup, monkeypatch, path):
    obj, theta, gamma = setup
    if path == "truncated":  # every point takes trust-region CG steps on Hessian-vector products
        monkeypatch.setattr(ms, "NEWTON_DENSE_MAX", 0)
        monkeypatch.setattr(ms, "NEWTON_DENSE_MAX_CLOSED", 0)
    out, _ = ms.projected_newton(obj, theta, gamma, max_iter=200)
    cert = certify(obj, out, gamma)
    assert cert.certified.all(), (cert.kkt_active, cert.min_hessian_eig_rel)


def test_finished_points_stop_paying(setup, monkeypatch):
    obj, theta, gamma = setup
    done, _ = ms.projected_newton(obj, theta, gamma, max_iter=200)
    calls = []
    real = obj.active_hessian

    def counting(th, ga, active):
        calls.append(len(th))
        return real(th, ga, active)

    monkeypatch.setattr(obj, "active_hessian", counting)
    mixed = np.concatenate([done, theta[:1]])
    ms.projected_newton(obj, mixed, np.concatenate([gamma, gamma[:1]]), max_iter=200)
    assert calls and max(calls) == 1  # only the unfinished point is factorised


def test_mutation_newton_without_damping_increase_stalls(setup, monkeypatch):
    """Mutation: with the damping ceiling below its start, no step is ever tried and points stay where they are."""
    obj, theta, gamma = setup
    monkeypatch.setattr(ms, "NEWTON_MU_MAX", 0.0)
    out, _ = ms.projected_newton(obj, theta, gamma, max_iter=20)
    np.testing.assert_array_equal(out, theta)


def test_continuation_starts_at_fixed_gamma():
    problem = make_problem(6, 12, 2, 4, "orthogonal", seed=2)
    obj = Objective(get_variant("vae-full"), problem)
    starts = ms.make_starts(obj, 1, np.random.default_rng(0), 1e-4, continuation=True)
    assert starts.kinds == ("anneal",)
    res = ms.minimise(obj, starts, 1e-4)
    assert certify(obj, res.theta, res.gamma).certified.all()
    plain = ms.make_starts(obj, 1, np.random.default_rng(0), 1e-4)
    assert plain.kinds == ("random",)


def test_points_at_their_rounding_floor_stop(setup):
    """With tol = 0 (out of reach), converged points stop once their scaled gradient is below NEWTON_STALL_TOL and
    no longer halves, instead of shuffling rounding errors until the damping gives up."""
    obj, theta, gamma = setup
    done, _ = ms.projected_newton(obj, theta, gamma, max_iter=200)
    _, iters = ms.projected_newton(obj, done, gamma, max_iter=200, tol=0.0)
    assert iters <= 4 * ms.NEWTON_STALL_ITERS  # without the rule: all 200 (measured)


def test_no_adversarial_starts_when_the_fraction_is_zero():
    problem = make_problem(6, 12, 2, 4, "orthogonal", seed=2)
    obj = Objective(get_variant("vae-full"), problem)
    starts = ms.make_starts(obj, 8, np.random.default_rng(0), 1e-4, optimal_supports=[tuple(problem.support)],
                            adversarial_fraction=0.0)
    assert set(starts.kinds) == {"random"}
    with_adv = ms.make_starts(obj, 8, np.random.default_rng(0), 1e-4, optimal_supports=[tuple(problem.support)],
                              adversarial_fraction=0.25)
    assert "bfs" in with_adv.kinds
