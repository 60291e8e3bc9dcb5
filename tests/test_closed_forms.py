"""The closed-form hooks (``value_and_grad_batch``, ``hessian``) of the built-ins against autograd, the test oracle,
on Hypothesis-drawn problems, points and noise levels, at fixed γ and with γ learned; and the mutation tests: a hook
with a wrong gradient is caught by the comparison and by the import checker."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaetheory.certify.plugin_check import HOOK_RTOL, check_variant, hook_disagreement
from vaetheory.problems.generate import make_problem
from vaetheory.search.objective import Objective, closed_form_hook
from vaetheory.variants.builtin import BUILTINS, CollapsedVAE, SplitSignAE

NAMES = sorted(BUILTINS)


@st.composite
def cases(draw):
    """(problem, points (B, P), γ (B,)) for a drawn variant: sizes, seeds, point scales and γ over decades."""
    name = draw(st.sampled_from(NAMES))
    variant = BUILTINS[name]
    d = draw(st.integers(2, 7))
    kappa = draw(st.integers(d + 1, 14))
    n = draw(st.integers(1, 6))
    r = draw(st.integers(1, d - 1)) if d > 1 else 1
    seed = draw(st.integers(0, 2**16))
    problem = make_problem(d, kappa, r, n, "gaussian", seed=seed)
    rng = np.random.default_rng(seed)
    obj = Objective(variant, problem)
    B = 3
    theta = obj.layout.pack(variant.init_random(problem, rng, B), B)
    theta = theta * 10.0 ** draw(st.floats(-2, 2))
    zeros = rng.random(theta.shape) < draw(st.floats(0, 0.5))  # some coordinates at the bound
    theta = np.where(zeros & obj.layout.nonneg[None], 0.0, theta)
    gamma = 10.0 ** rng.uniform(draw(st.floats(-6, -1)), 0, B)
    return name, obj, theta, gamma


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_has_the_hooks(name):
    variant = BUILTINS[name]
    assert closed_form_hook(variant, "value_and_grad_batch") is not None
    assert Objective(variant, make_problem(4, 8, 2, 3, seed=0)).has_closed_form_gradient


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_value_and_grad_hook_matches_autograd(case):
    name, obj, theta, gamma = case
    # learned γ: the γ derivative too; fixed γ: the hook may skip it, values and gradients unchanged
    assert hook_disagreement(obj, theta, gamma, with_gamma=True) is None
    assert hook_disagreement(obj, theta, gamma, with_gamma=False) is None
    E1, g1, gg1 = obj.value_and_grad(theta, gamma, with_gamma=False)
    E2, g2, gg2 = obj.value_and_grad(theta, gamma, with_gamma=True)
    np.testing.assert_array_equal(E1, E2)
    np.testing.assert_array_equal(g1, g2)
    assert gg2.shape == (len(theta),)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_hessian_hook_matches_autograd(case):
    name, obj, theta, gamma = case
    if closed_form_hook(obj.variant, "hessian") is None:
        return
    H, _, _ = obj.active_hessian(theta, gamma, np.ones(theta.shape, dtype=bool))
    for i in range(len(theta)):
        ref = torch.autograd.functional.hessian(lambda t: obj._energy(t, torch.tensor(gamma[i])),
                                                torch.from_numpy(theta[i])).numpy()
        assert np.abs(H[i] - ref).max() <= 1e-7 * max(np.abs(ref).max(), 1.0)


# --- mutation tests ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WrongGradientVAE(CollapsedVAE):
    """vae-full whose hook gets one coordinate's gradient 1% wrong (the energy is right)."""

    def value_and_grad_batch(self, params, Phi, X, gamma, with_gamma=True):
        E, grads, g_gamma = super().value_and_grad_batch(params, Phi, X, gamma, with_gamma)
        g = grads["nu"].clone()
        g[:, 0] = 1.01 * g[:, 0]
        return E, {"nu": g}, g_gamma


@dataclass(frozen=True)
class DroppedGammaVAE(CollapsedVAE):
    """vae-full whose hook leaves out the log-determinant part of ∂E/∂γ."""

    def value_and_grad_batch(self, params, Phi, X, gamma, with_gamma=True):
        E, grads, g_gamma = super().value_and_grad_batch(params, Phi, X, gamma, with_gamma)
        if with_gamma:
            Xt = X
            S = gamma[:, None, None] * torch.eye(Phi.shape[0], dtype=Phi.dtype) + (Phi * params["nu"][:, None, :]) @ Phi.T
            Z = torch.linalg.solve(S, Xt.expand(len(S), -1, -1))
            g_gamma = -(Z * Z).sum((1, 2))
        return E, grads, g_gamma


@dataclass(frozen=True)
class WrongAEGradient(SplitSignAE):
    """ae-log whose hook forgets the penalty's gradient on M⁻."""

    def value_and_grad_batch(self, params, Phi, X, gamma, with_gamma=True):
        E, grads, g_gamma = super().value_and_grad_batch(params, Phi, X, gamma, with_gamma)
        grads = dict(grads)
        grads["Mm"] = grads["Mm"] - self.lam / (params["Mp"] + params["Mm"] + self.eps)
        return E, grads, g_gamma


def _full_like(cls):
    v = BUILTINS["vae-full"]
    return cls(v.covariance, "mutant", v.description, v.claim, v.gamma, v.learned_gamma_claim)


MUTANTS = {"wrong_gradient": lambda: _full_like(WrongGradientVAE),
           "dropped_gamma_term": lambda: _full_like(DroppedGammaVAE),
           "ae_penalty_gradient": lambda: WrongAEGradient("log", "mutant", "ae-log with a wrong hook")}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_mutation_wrong_hook_is_caught(mutant):
    variant = MUTANTS[mutant]()
    problem = make_problem(5, 10, 2, 3, seed=1)
    obj = Objective(variant, problem)
    assert obj.has_closed_form_gradient
    theta = obj.layout.pack(variant.init_random(problem, np.random.default_rng(0), 3), 3)
    found = hook_disagreement(obj, theta, np.full(3, variant.gamma.default), with_gamma=True)
    assert found is not None and found[1] > HOOK_RTOL
    problems = check_variant(variant)
    assert any("value_and_grad_batch" in p for p in problems), problems


def test_hook_is_ignored_when_energy_is_overridden_below_it():
    @dataclass(frozen=True)
    class Doubled(CollapsedVAE):
        def energy(self, params, Phi, X, gamma):
            return 2 * super().energy(params, Phi, X, gamma)

    v = _full_like(Doubled)
    assert closed_form_hook(v, "value_and_grad_batch") is None
    assert not Objective(v, make_problem(4, 8, 2, 3, seed=0)).has_closed_form_gradient
    assert check_variant(v) == []


@pytest.mark.parametrize("penalty", ["l1", "log"])
def test_split_sign_hessian_at_is_the_restricted_hessian(penalty):
    """`hessian_at` on any index set (any order) equals the full closed-form Hessian restricted to it."""
    from vaetheory.variants.closed_forms import split_sign_hessian, split_sign_hessian_at

    problem = make_problem(4, 6, 2, 3, seed=2)
    v = SplitSignAE(penalty, "t", "t")
    rng = np.random.default_rng(3)
    p = {k: torch.from_numpy(a[0]) for k, a in v.init_random(problem, rng, 1).items()}
    Phi, X = torch.tensor(problem.Phi), torch.tensor(problem.X)
    g = torch.tensor(0.05, dtype=torch.float64)
    kw = dict(lam=v.lam, beta=v.beta, penalty=penalty, eps=v.eps)
    H = split_sign_hessian(Phi, X, p["w"], p["Mp"], p["Mm"], g, **kw).numpy()
    for size in (1, 7, H.shape[0]):
        idx = rng.permutation(H.shape[0])[:size]
        Hi = split_sign_hessian_at(Phi, X, p["w"], p["Mp"], p["Mm"], g, torch.from_numpy(idx), **kw).numpy()
        assert np.abs(Hi - H[np.ix_(idx, idx)]).max() <= 1e-12 * np.abs(H).max()


@dataclass(frozen=True)
class WrongRestrictedHessian(SplitSignAE):
    """ae-l1 whose `hessian_at` drops the w–M coupling (the full `hessian` is right)."""

    def hessian_at(self, params, Phi, X, gamma, index):
        H = super().hessian_at(params, Phi, X, gamma, index)
        is_w = index < params["w"].shape[0]
        return torch.where(is_w[:, None] ^ is_w[None, :], torch.zeros_like(H), H)


def test_mutation_wrong_restricted_hessian_is_caught():
    problems = check_variant(WrongRestrictedHessian("l1", "mutant", "ae-l1 with a wrong hessian_at"))
    assert any("Hessian" in p for p in problems), problems


@dataclass(frozen=True)
class WorseCanonical(SplitSignAE):
    """ae-l1 whose `canonical` map adds to both M⁺ and M⁻ (raises the penalty): the search must not take it."""

    def canonical(self, params):
        return {"w": params["w"], "Mp": params["Mp"] + 1.0, "Mm": params["Mm"] + 1.0}


def test_canonical_never_raises_the_energy():
    problem = make_problem(5, 10, 2, 3, seed=1)
    rng = np.random.default_rng(0)
    for variant, changes in ((BUILTINS["ae-l1"], True), (WorseCanonical("l1", "m", "m"), False)):
        obj = Objective(variant, problem)
        theta = obj.layout.pack(variant.init_random(problem, rng, 3), 3)
        theta[:, variant_offset(obj, "Mm"):] += 0.3  # both signs positive: the built-in map lowers the energy
        gamma = np.full(3, variant.gamma.default)
        new = obj.canonical(theta, gamma)
        E0, E1 = obj.value_and_grad(theta, gamma)[0], obj.value_and_grad(new, gamma)[0]
        assert np.all(E1 <= E0)
        assert (not np.array_equal(new, theta)) == changes


def variant_offset(obj, name):
    return obj.layout.offsets[obj.layout.names.index(name)]
