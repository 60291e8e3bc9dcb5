"""The closed-form γ derivatives of the collapsed VAEs (``gamma_curvature_batch``,
`vaetheory.variants.closed_forms.collapsed_gamma_curvature`) against autograd of the energy at random points, to
1e-10 relative; a wrong closed form (source mutations) fails the same comparison."""
from __future__ import annotations

import inspect
import textwrap

import numpy as np
import pytest
import torch

from vaetheory.problems.generate import make_problem
from vaetheory.search.multistart import gamma_derivatives
from vaetheory.search.objective import Objective
from vaetheory.variants import closed_forms
from vaetheory.variants.energies import collapsed_energy
from vaetheory.variants.registry import get_variant

RTOL = 1e-10


def reference(Phi, X, nu, gamma, covariance):
    """(E, ∂E/∂ν, ∂E/∂γ, ∂²E/∂ν∂γ, ∂²E/∂γ²) at one point by plain autograd of `collapsed_energy`."""
    nu_t = torch.tensor(nu, dtype=torch.float64, requires_grad=True)
    ga_t = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    E = collapsed_energy(torch.from_numpy(np.array(Phi)), torch.from_numpy(np.array(X)), nu_t, ga_t, covariance)
    g_nu, g_ga = torch.autograd.grad(E, (nu_t, ga_t), create_graph=True)
    h_nu, h_ga = torch.autograd.grad(g_ga, (nu_t, ga_t))
    return [E.item(), g_nu.detach().numpy(), g_ga.item(), h_nu.numpy(), h_ga.item()]


def points(seed: int):
    """Random problems (d < κ and d > κ, n = 1 and n > 1) and points: ν with some zeros and a spread of decades,
    γ from 1e-3 to 1."""
    rng = np.random.default_rng(seed)
    for d, kappa, r, n in ((6, 12, 1, 1), (8, 16, 3, 4), (10, 6, 2, 3)):
        p = make_problem(d, kappa, r, n, seed=int(rng.integers(1 << 30)))
        for _ in range(3):
            nu = rng.exponential(size=kappa) * 10.0 ** rng.uniform(-3, 1, size=kappa)
            nu[rng.random(kappa) < 0.3] = 0.0
            yield p, nu, float(10.0 ** rng.uniform(-3, 0))


def worst_error(fn, covariance: str, seed: int = 0) -> float:
    """Largest relative disagreement (per quantity, relative to its largest magnitude) of `fn` with autograd."""
    worst = 0.0
    for p, nu, gamma in points(seed):
        got = fn(torch.from_numpy(np.array(p.Phi)), torch.from_numpy(np.array(p.X)), torch.from_numpy(nu[None]),
                 torch.tensor([gamma], dtype=torch.float64), covariance)
        ref = reference(p.Phi, p.X, nu, gamma, covariance)
        for a, b in zip(got, ref):
            a, b = np.atleast_1d(a.numpy()[0]), np.atleast_1d(b)
            worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)))
    return worst


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_closed_form_matches_autograd(covariance):
    assert worst_error(closed_forms.collapsed_gamma_curvature, covariance) < RTOL


MUTATIONS = [
    ("h_nu_gamma = 2 * (Bm", "h_nu_gamma = 1 * (Bm"),  # the data term's mixed derivative halved
    ("h_gamma = 2 * (LZ * LZ)", "h_gamma = 2 * (Z * Z)"),  # tr(XᵀS⁻²X) for tr(XᵀS⁻³X)
    ("h_gamma = h_gamma - n * (Sinv * Sinv)", "h_gamma = h_gamma + n * (Sinv * Sinv)"),  # sign of the log|S| term
    ("h_nu_gamma = h_nu_gamma - n * (V * V)", "h_nu_gamma = h_nu_gamma - n * (Wp * Wp)"),  # φᵀS⁻¹φ for φᵀS⁻²φ
    ("h_nu_gamma = h_nu_gamma - n * c / t**2", "h_nu_gamma = h_nu_gamma - n * c / t"),
    ("- n * (d - kappa) / gamma**2", "- n * (d - kappa) / gamma"),
]


@pytest.mark.parametrize("old,new", MUTATIONS)
def test_a_wrong_closed_form_fails(old, new):
    src = textwrap.dedent(inspect.getsource(closed_forms.collapsed_gamma_curvature))
    assert old in src
    ns = dict(vars(closed_forms))
    exec(compile(src.replace(old, new), "<mutant>", "exec"), ns)
    mutant = ns["collapsed_gamma_curvature"]
    errors = [worst_error(mutant, cov) for cov in ("full", "diag")]
    assert max(errors) > 1e-4, errors


@pytest.mark.parametrize("name", ["vae-full", "vae-diag"])
def test_search_uses_the_hook_and_agrees_with_autograd(name):
    """`gamma_derivatives` (the Newton phase's and the certificate's) through the hook equals the autograd path
    through the gradient hook on a batch of points."""
    p = make_problem(8, 16, 2, 2, seed=3)
    obj = Objective(get_variant(name), p)
    assert obj.has_closed_form_gamma_curvature
    rng = np.random.default_rng(1)
    theta = rng.exponential(size=(5, 16))
    theta[:, :4] = 0.0
    gamma = 10.0 ** rng.uniform(-3, 0, size=5)
    got = gamma_derivatives(obj, theta, gamma)
    ref = obj.autograd_gamma_curvature(theta, gamma)
    for a, b in zip(got, ref):
        a, b = np.asarray(a).reshape(5, -1), np.asarray(b).reshape(5, -1)
        assert np.all(np.abs(a - b) <= RTOL * np.maximum(np.abs(b).max(1, keepdims=True), 1e-300))


def test_import_checker_catches_a_wrong_curvature_hook():
    from dataclasses import dataclass

    from vaetheory.certify.plugin_check import check_variant
    from vaetheory.variants.builtin import CollapsedVAE

    base = get_variant("vae-full")

    @dataclass(frozen=True)
    class Wrong(CollapsedVAE):
        def gamma_curvature_batch(self, params, Phi, X, gamma):
            E, g, gg, h, hgg = super().gamma_curvature_batch(params, Phi, X, gamma)
            return E, g, gg, h, 1.01 * hgg

    wrong = Wrong(base.covariance, "vae-wrong", base.description, base.claim, base.gamma)
    assert check_variant(base) == []
    found = check_variant(wrong)
    assert any("gamma_curvature_batch" in p and "second gamma derivative" in p for p in found), found
