"""Objective: batched values, gradients and active-block Hessians agree with single-point torch.func, error paths."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch.func import grad, hessian

from vaetheory.core.errors import VariantError
from vaetheory.problems.generate import make_problem
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant
from vaetheory.variants.builtin import CollapsedVAE

# torch.func.hessian goes through a deprecated torch.jit path internally: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

VARIANTS = ("vae-full", "vae-diag", "ae-l21", "ae-l1", "ae-log")


@pytest.fixture(scope="module")
def small_problem():
    return make_problem(4, 6, 2, 2, "orthogonal", seed=1)


def _points(objective: Objective, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    init = objective.variant.init_random(objective.problem, rng, count)
    return objective.layout.pack(init, count)


def _single_energy(objective: Objective, gamma: float):
    g = torch.tensor(gamma, dtype=torch.float64)
    return lambda th: objective.variant.energy(objective.layout.unpack(th), objective.Phi, objective.X, g)


@pytest.mark.parametrize("name", VARIANTS)
def test_value_and_grad_match_single_points(small_problem, name):
    obj = Objective(get_variant(name), small_problem)
    theta = _points(obj, 4, 0)
    gammas = np.array([1e-2, 2e-2, 5e-2, 1e-1])
    E, g, g_gamma = obj.value_and_grad(theta, gammas)
    assert E.shape == (4,) and g.shape == (4, obj.size) and g_gamma.shape == (4,)
    for i in range(4):  # the reference is deliberately unbatched
        f = _single_energy(obj, gammas[i])
        th = torch.from_numpy(theta[i])
        assert E[i] == pytest.approx(float(f(th)), rel=1e-12)
        np.testing.assert_allclose(g[i], grad(f)(th).numpy(), rtol=1e-10, atol=1e-10 * np.abs(g[i]).max())
        h = 1e-6 * gammas[i]
        fd = (float(_single_energy(obj, gammas[i] + h)(th)) - float(_single_energy(obj, gammas[i] - h)(th))) / (2 * h)
        assert g_gamma[i] == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("name", VARIANTS)
def test_active_hessian_matches_torch_func_hessian(small_problem, name):
    """Regression test: nested vmap + jvp through cholesky_solve (torch 2.13) gave wrong Hessian-vector products for
    every batch element but the first. Several points, each with its own active set and γ, in one batch."""
    obj = Objective(get_variant(name), small_problem)
    B, P = 5, obj.size
    theta = _points(obj, B, 1)
    gammas = np.array([1e-2, 3e-2, 1e-1, 2e-2, 5e-2])
    rng = np.random.default_rng(2)
    active = rng.random((B, P)) < 0.6
    active[0] = True  # every coordinate
    active[1] = False
    active[1, rng.integers(P)] = True  # a single one
    H, order, valid = obj.active_hessian(theta, gammas, active)
    m = int(active.sum(1).max())
    assert H.shape == (B, m, m) and order.shape == (B, m) and valid.shape == (B, m)
    for i in range(B):
        A = np.flatnonzero(active[i])
        k = len(A)
        assert valid[i].sum() == k and valid[i, :k].all()
        np.testing.assert_array_equal(order[i, :k], A)  # active coordinates first, increasing
        full = hessian(_single_energy(obj, gammas[i]))(torch.from_numpy(theta[i])).numpy()
        ref = full[np.ix_(A, A)]
        scale = np.abs(ref).max()
        np.testing.assert_allclose(H[i, :k, :k], ref, rtol=1e-8, atol=1e-9 * scale,
                                   err_msg=f"{name}: Hessian of batch element {i} is wrong")
        assert not H[i, k:].any() and not H[i, :, k:].any()  # padding slots are zero


def test_active_hessian_in_memory_sized_chunks(small_problem, monkeypatch):
    """With a tiny memory budget the batch is split point by point; the result must not change."""
    import vaetheory.search.objective as objective_module

    obj = Objective(get_variant("vae-full"), small_problem)
    theta = _points(obj, 3, 4)
    gammas = np.full(3, 1e-2)
    active = np.ones((3, obj.size), dtype=bool)
    active[2, :3] = False
    whole = obj.active_hessian(theta, gammas, active)
    monkeypatch.setattr(objective_module, "HESSIAN_MEMORY_BUDGET", 1)
    chunked = obj.active_hessian(theta, gammas, active)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_latent_scales_and_representation(small_problem):
    obj = Objective(get_variant("vae-full"), small_problem)
    theta = _points(obj, 3, 5)
    np.testing.assert_array_equal(obj.latent_scales(theta), theta)  # ν itself
    gamma = 1e-3
    U = obj.representation(theta, np.full(3, gamma))
    Phi, X = small_problem.Phi, small_problem.X
    for i in range(3):
        nu = theta[i]
        expected = nu[:, None] * (Phi.T @ np.linalg.solve(gamma * np.eye(4) + (Phi * nu) @ Phi.T, X))
        np.testing.assert_allclose(U[i], expected, rtol=1e-9, atol=1e-12)


def test_read_only_inputs_are_accepted(small_problem):
    obj = Objective(get_variant("vae-diag"), small_problem)
    theta = _points(obj, 2, 6)
    theta.setflags(write=False)
    gammas = np.full(2, 1e-2)
    gammas.setflags(write=False)
    E, _, _ = obj.value_and_grad(theta, gammas)
    assert np.all(np.isfinite(E))


@dataclass(frozen=True)
class _BrokenVAE(CollapsedVAE):
    def energy(self, params, Phi, X, gamma):
        raise RuntimeError("boom")


@dataclass(frozen=True)
class _VectorEnergyVAE(CollapsedVAE):
    def energy(self, params, Phi, X, gamma):
        return params["nu"] * 2.0  # not a scalar


@pytest.mark.parametrize("cls, match", [(_BrokenVAE, "boom"), (_VectorEnergyVAE, "")])
def test_failing_variant_is_a_variant_error(small_problem, cls, match):
    variant = cls("full", "broken", "a variant whose energy fails", get_variant("vae-full").claim)
    obj = Objective(variant, small_problem)
    with pytest.raises(VariantError, match=f"variant 'broken': energy failed: .*{match}"):
        obj.value_and_grad(np.ones((2, obj.size)), np.full(2, 1e-2))


def test_indefinite_covariance_is_a_floating_point_error(small_problem):
    obj = Objective(get_variant("vae-full"), small_problem)
    with pytest.raises(FloatingPointError, match="energy evaluation failed"):
        obj.value_and_grad(-10.0 * np.ones((2, obj.size)), np.full(2, 1e-2))
