"""The fixed-point stage (vaetheory.search.fixed_point) and the collapsed VAEs' ``fixed_point_batch`` hook: the safe
step is a majorise–minimise step (never increases the energy), the stage's accepted energies never increase, its
end points polished by Newton are certified minima, and wrong updates are caught."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from vaetheory.certify.numeric import certify
from vaetheory.problems.generate import make_problem
from vaetheory.search import multistart as ms
from vaetheory.search.fixed_point import fixed_point_stage
from vaetheory.search.objective import Objective
from vaetheory.variants.builtin import VAE_DIAG, VAE_FULL, CollapsedVAE

FLOOR = 1e-6


def _problem(seed=0, d=10, kappa=20, r=3, n=2):
    return make_problem(d, kappa, r, n, "gaussian", seed=seed)


def _points(obj, rng, size):
    th = obj.layout.pack(obj.variant.init_random(obj.problem, rng, size), size)
    th[:, rng.random(th.shape[1]) < 0.3] *= 1e-3  # some small coordinates, as mid-search
    return th


def _energy(obj, theta, gamma):
    return obj.value_and_grad(theta, gamma, with_gamma=False)[0]


def _safe_step_increases(obj, theta, gamma, floor):
    """Largest relative increase of the energy over one safe step from each point (≤ rounding for an MM step)."""
    E0, new, g_new = obj.fixed_point(theta, gamma, floor, safe=True)
    E1 = _energy(obj, new, g_new)
    return float(np.max((E1 - E0) / np.maximum(np.abs(E0), 1.0)))


@pytest.mark.parametrize("variant", [VAE_FULL, VAE_DIAG], ids=lambda v: v.name)
@pytest.mark.parametrize("floor", [None, FLOOR], ids=["fixed", "learned"])
@pytest.mark.parametrize("seed", range(3))
def test_the_safe_step_never_increases_the_energy(variant, floor, seed):
    rng = np.random.default_rng(seed)
    obj = Objective(variant, _problem(seed))
    theta = _points(obj, rng, 16)
    gamma = 10.0 ** rng.uniform(-5, 0, 16)
    assert _safe_step_increases(obj, theta, gamma, floor) <= 1e-10


@pytest.mark.parametrize("variant", [VAE_FULL, VAE_DIAG], ids=lambda v: v.name)
def test_the_hook_energy_is_the_energy(variant):
    rng = np.random.default_rng(4)
    obj = Objective(variant, _problem(4))
    theta, gamma = _points(obj, rng, 5), np.full(5, 1e-3)
    E, _, g = obj.fixed_point(theta, gamma, None, safe=False)
    np.testing.assert_allclose(E, _energy(obj, theta, gamma), rtol=1e-10)
    np.testing.assert_array_equal(g, gamma)  # γ fixed: unchanged


@pytest.mark.parametrize("variant", [VAE_FULL, VAE_DIAG], ids=lambda v: v.name)
@pytest.mark.parametrize("floor", [None, FLOOR], ids=["fixed", "learned"])
def test_the_stage_decreases_the_energy_monotonically(variant, floor):
    obj = Objective(variant, _problem(1, d=20, kappa=40, r=5, n=1))
    theta = _points(obj, np.random.default_rng(1), 8)
    gamma0 = 1e-2 if floor else 1e-6
    res = fixed_point_stage(obj, theta, gamma0, gamma_floor=floor, trace=True)
    assert res.used and res.trace is not None and len(res.trace) > 2
    steps = np.diff(res.trace, axis=0)
    scale = np.maximum(np.abs(res.trace[:-1]), 1.0)
    assert np.nanmax(steps / scale) <= 1e-9
    # and it made progress: the end energies are the trace's last finite values and below the starts'
    np.testing.assert_allclose(res.energy, _energy(obj, res.theta, res.gamma), rtol=1e-9)
    assert np.all(res.energy < _energy(obj, theta, np.full(8, gamma0)))
    if floor:
        assert np.all(res.gamma >= floor)


def test_mmsbl_fixed_point_matches_the_textbook_update():
    """vae-full's fast step is M-SBL's ν_j ← (‖μ_j‖²/n)/(1 − Σ_jj/ν_j) with posterior mean and covariance computed
    directly (Wipf & Rao 2007)."""
    p = _problem(2)
    obj = Objective(VAE_FULL, p)
    nu = 0.5 + np.random.default_rng(2).random(p.kappa)
    lam = 1e-2
    _, new, _ = obj.fixed_point(nu[None], np.array([lam]), None, safe=False)
    S = lam * np.eye(p.d) + (p.Phi * nu) @ p.Phi.T
    M = nu[:, None] * (p.Phi.T @ np.linalg.solve(S, p.X))
    Sigma = np.diag(nu) - (nu[:, None] * p.Phi.T) @ np.linalg.solve(S, p.Phi * nu)
    expected = ((M**2).sum(1) / p.n) / (1 - np.diag(Sigma) / nu)
    np.testing.assert_allclose(new[0], expected, rtol=1e-8)


@pytest.mark.parametrize("variant", [VAE_FULL, VAE_DIAG], ids=lambda v: v.name)
@pytest.mark.parametrize("floor", [None, FLOOR], ids=["fixed", "learned"])
def test_the_safe_step_is_the_minimiser_of_the_majoriser(variant, floor):
    """docs/search.md: with Ū = M (posterior mean) and Ē = X − ΦM at the current point, L ≤ ‖Ē‖²/γ + Σ‖ū_j‖²/ν_j
    + (tangent of the concave log terms), and the safe step is that bound's minimiser, computed here in numpy."""
    p = _problem(6)
    obj = Objective(variant, p)
    rng = np.random.default_rng(6)
    nu = 0.1 + rng.random(p.kappa)
    lam = 1e-2
    _, new, g_new = obj.fixed_point(nu[None], np.array([lam]), floor, safe=True)
    S = lam * np.eye(p.d) + (p.Phi * nu) @ p.Phi.T
    Si = np.linalg.inv(S)
    M = nu[:, None] * (p.Phi.T @ Si @ p.X)
    Ebar = p.X - p.Phi @ M
    c = (p.Phi**2).sum(0)
    n = p.n
    if variant is VAE_FULL:  # tangent of n log|S| in (ν, γ): n Σ_j φ_jᵀS⁻¹φ_j ν_j + n tr(S⁻¹) γ
        w_nu, w_gamma = np.einsum("ij,ik,kj->j", p.Phi, Si, p.Phi), np.trace(Si)
        expected_gamma = np.linalg.norm(Ebar) / np.sqrt(n * w_gamma)
    else:  # tangent of n Σ log(γ + ν_j c_j); −n(κ − d) log γ kept: the bound a/γ + bγ − m log γ
        w_nu = c / (lam + nu * c)
        a, b, m = np.sum(Ebar**2), n * np.sum(1 / (lam + nu * c)), n * (p.kappa - p.d)
        expected_gamma = (m + np.sqrt(m * m + 4 * a * b)) / (2 * b)
    np.testing.assert_allclose(new[0], np.linalg.norm(M, axis=1) / np.sqrt(n * w_nu), rtol=1e-8)
    np.testing.assert_allclose(g_new[0], lam if floor is None else max(expected_gamma, floor), rtol=1e-8)


@pytest.mark.parametrize("variant", [VAE_FULL, VAE_DIAG], ids=lambda v: v.name)
@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learned"])
def test_the_search_with_the_stage_reaches_certified_minima(variant, learn):
    p = make_problem(8, 16, 2, 4, "orthogonal", seed=3)
    obj = Objective(variant, p)
    starts = ms.make_starts(obj, 6, np.random.default_rng(0), 1e-4, learn_gamma=learn)
    res = ms.minimise(obj, starts, 1e-4, learn_gamma=learn)
    assert res.message.startswith("fixed-point stage"), res.message  # the L-BFGS stages were not needed
    cert = certify(obj, res.theta, res.gamma, gamma_floor=FLOOR if learn else None)
    assert cert.certified.all()


@dataclass(frozen=True)
class WrongFastStep(CollapsedVAE):
    """A mutation: the fast step moves ν against M-SBL's ratio (ν_j ← ν_j n s̃_j/q̃_j)."""

    def fixed_point_batch(self, params, Phi, X, gamma, gamma_floor, safe):
        E, new, g = super().fixed_point_batch(params, Phi, X, gamma, gamma_floor, safe)
        if safe:
            return E, new, g
        nu = params["nu"]
        return E, {"nu": torch.where(new["nu"] > 0, nu * nu / new["nu"].clamp_min(1e-300), nu)}, g


@dataclass(frozen=True)
class WrongSafeStep(CollapsedVAE):
    """A mutation: the 'safe' step divides by the square-root ratio instead of multiplying (a sign error in the
    exponent: ν_j ← ν_j √(n s̃_j/q̃_j))."""

    def fixed_point_batch(self, params, Phi, X, gamma, gamma_floor, safe):
        E, new, g = super().fixed_point_batch(params, Phi, X, gamma, gamma_floor, safe)
        if not safe:
            return E, new, g
        nu = params["nu"]
        return E, {"nu": torch.where(new["nu"] > 0, nu * nu / new["nu"].clamp_min(1e-300), nu)}, g


@dataclass(frozen=True)
class WrongEnergy(CollapsedVAE):
    """A mutation: the hook reports an energy that is not the variant's."""

    def fixed_point_batch(self, params, Phi, X, gamma, gamma_floor, safe):
        E, new, g = super().fixed_point_batch(params, Phi, X, gamma, gamma_floor, safe)
        return E + 1.0, new, g


def _mutant(cls):
    return cls("full", "vae-full-mutant", "mutation", VAE_FULL.claim)


def test_a_wrong_safe_step_is_caught():
    obj = Objective(_mutant(WrongSafeStep), _problem(0))
    theta = _points(obj, np.random.default_rng(0), 16)
    assert _safe_step_increases(obj, theta, np.full(16, 1e-3), None) > 1e-3


def test_a_wrong_fast_step_is_refused_and_the_search_stays_sound():
    p = make_problem(8, 16, 2, 4, "orthogonal", seed=3)
    obj = Objective(_mutant(WrongFastStep), p)
    theta = _points(obj, np.random.default_rng(0), 6)
    res = fixed_point_stage(obj, theta, 1e-4, trace=True)
    assert res.rejected.sum() > 0  # its steps raised the energy and were replaced by safe steps
    steps = np.diff(res.trace, axis=0) / np.maximum(np.abs(res.trace[:-1]), 1.0)
    assert np.nanmax(steps) <= 1e-9
    starts = ms.make_starts(obj, 6, np.random.default_rng(0), 1e-4)
    out = ms.minimise(obj, starts, 1e-4)
    assert certify(obj, out.theta, out.gamma).certified.all()


def test_a_hook_with_a_wrong_energy_is_not_used():
    p = _problem(0)
    obj = Objective(_mutant(WrongEnergy), p)
    theta = _points(obj, np.random.default_rng(0), 4)
    res = fixed_point_stage(obj, theta, 1e-3)
    assert not res.used and "disagrees" in res.message
    np.testing.assert_array_equal(res.theta, theta)


def test_without_the_hook_the_stage_does_nothing():
    from vaetheory.variants.registry import get_variant

    obj = Objective(get_variant("ae-l21"), _problem(0))
    assert not obj.has_fixed_point
    theta = _points(obj, np.random.default_rng(0), 3)
    assert not fixed_point_stage(obj, theta, 1e-2).used


def test_the_fast_step_revives_a_coordinate_with_a_negative_gradient():
    """A multiplicative step keeps a coordinate at 0 forever; the fast step sets a ~0 coordinate whose gradient is
    negative to its one-coordinate stationary value (Tipping & Faul), so the stage does not stop beside a saddle."""
    p = make_problem(20, 40, 4, 1, "gaussian", seed=5)
    obj = Objective(VAE_FULL, p)
    planted = np.flatnonzero(np.abs(p.Z).sum(1))
    nu = np.zeros((1, p.kappa))
    nu[0, planted[1:]] = 1.0  # one planted coordinate missing: its gradient is strongly negative at 0
    E0, g0, _ = obj.value_and_grad(nu, np.array([1e-6]), with_gamma=False)
    assert g0[0, planted[0]] < 0
    _, new, _ = obj.fixed_point(nu, np.array([1e-6]), None, safe=False)
    assert new[0, planted[0]] > 0
    res = fixed_point_stage(obj, nu, 1e-6)
    assert set(np.flatnonzero(res.theta[0] > 1e-6 * res.theta[0].max())) == set(planted)


def test_rows_at_the_same_point_share_one_newton_polish_and_others_do_not():
    p = make_problem(8, 16, 2, 4, "orthogonal", seed=3)
    obj = Objective(VAE_FULL, p)
    theta = _points(obj, np.random.default_rng(0), 3)
    theta = np.concatenate([theta, theta[:1] * (1 + 1e-9), theta[:1] * (1 + 1e-3)])  # rows 3 ≈ 0; row 4 is not
    rep = ms._same_points(obj, theta, np.full(5, 1e-4))
    assert list(rep) == [0, 1, 2, 0, 4]
    starts = ms.Starts(theta, ("random",) * 5, (None,) * 5)
    res = ms.minimise(obj, starts, 1e-4)
    assert res.message.startswith("fixed-point stage")
    assert certify(obj, res.theta, res.gamma).certified.all()
