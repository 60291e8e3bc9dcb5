"""Energies (docs/theory.md §2, §3 and C5): collapsed energies against the full ELBO, Hadamard, gradients against finite
differences and closed forms, the Monte-Carlo ELBO, the γ → 0 slope, the profiled group-lasso AE."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vaetheory.variants.energies import (ae_energy, ae_l21_profile, collapsed_energy, data_term, elbo_energy,
                                mc_elbo_energy, optimal_covariance, optimal_means)
from vaetheory.core.errors import InputError
from vaetheory.problems.generate import make_problem


def _setup(seed: int, d: int = 5, kappa: int = 8, n: int = 3, zeros: int = 3):
    """Random Φ, X (not sparse: any X works for these identities) and w with `zeros` exact zeros."""
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((d, kappa))
    X = rng.standard_normal((d, n))
    w = rng.standard_normal(kappa)
    w[rng.choice(kappa, size=zeros, replace=False)] = 0.0
    return Phi, X, w


def _f(t) -> float:
    return float(t.detach()) if isinstance(t, torch.Tensor) else float(t)


def _sigma_x_inv(Phi, nu, gamma):
    return np.linalg.inv(gamma * np.eye(Phi.shape[0]) + (Phi * nu) @ Phi.T)


# C5: collapsed energies are the ELBO at the optimal encoder -----------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gamma", [1e-2, 0.7])
def test_full_collapsed_equals_elbo_at_optimal_encoder(seed, gamma):
    Phi, X, w = _setup(seed)
    M = optimal_means(Phi, X, w, gamma)
    S = optimal_covariance(Phi, w, gamma, "full")
    L = _f(collapsed_energy(Phi, X, w**2, gamma, "full"))
    assert _f(elbo_energy(Phi, X, w, M, S, gamma)) == pytest.approx(L, rel=1e-10, abs=1e-9)
    per_sample = S.expand(X.shape[1], *S.shape)  # the same covariance given per sample
    assert _f(elbo_energy(Phi, X, w, M, per_sample, gamma)) == pytest.approx(L, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gamma", [1e-2, 0.7])
def test_diag_collapsed_equals_elbo_at_optimal_encoder(seed, gamma):
    Phi, X, w = _setup(seed)
    M = optimal_means(Phi, X, w, gamma)
    var = optimal_covariance(Phi, w, gamma, "diag")
    c = (Phi**2).sum(0)
    np.testing.assert_allclose(var.numpy(), gamma / (gamma + w**2 * c), rtol=1e-14)
    L = _f(collapsed_energy(Phi, X, w**2, gamma, "diag"))
    assert _f(elbo_energy(Phi, X, w, M, var, gamma, diagonal=True)) == pytest.approx(L, rel=1e-10, abs=1e-9)
    per_sample = var.expand(X.shape[1], var.shape[0])
    assert _f(elbo_energy(Phi, X, w, M, per_sample, gamma, diagonal=True)) == pytest.approx(L, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_optimal_encoder_is_a_minimum_of_the_elbo(covariance):
    Phi, X, w = _setup(5)
    gamma = 0.1
    M = optimal_means(Phi, X, w, gamma).requires_grad_(True)
    S = optimal_covariance(Phi, w, gamma, covariance).requires_grad_(True)
    diagonal = covariance == "diag"
    E = elbo_energy(Phi, X, w, M, S, gamma, diagonal=diagonal)
    gM, gS = torch.autograd.grad(E, (M, S))
    assert gM.abs().max() < 1e-8 and gS.abs().max() < 1e-8
    rng = np.random.default_rng(0)
    for _ in range(3):  # random feasible perturbations only increase the energy
        dM = torch.from_numpy(1e-2 * rng.standard_normal(M.shape))
        B = 1e-2 * rng.standard_normal(S.shape[-1])
        dS = torch.from_numpy(np.abs(B) if diagonal else np.diag(np.abs(B)))
        assert _f(elbo_energy(Phi, X, w, M + dM, S, gamma, diagonal=diagonal)) > _f(E)
        assert _f(elbo_energy(Phi, X, w, M, S + dS, gamma, diagonal=diagonal)) > _f(E)


def test_data_term_is_the_profiled_fit():
    """tr(Xᵀ Σ_x⁻¹ X) = (1/γ)‖X − ΦU*‖² + Σ_j ‖u*_j‖²/ν_j with U* = Γ Φᵀ Σ_x⁻¹ X (rows with ν_j = 0 are zero)."""
    Phi, X, w = _setup(1)
    nu, gamma = w**2, 0.05
    U = nu[:, None] * (Phi.T @ _sigma_x_inv(Phi, nu, gamma) @ X)
    A = nu > 0
    direct = np.sum((X - Phi @ U) ** 2) / gamma + np.sum(U[A] ** 2 / nu[A, None])
    assert np.all(U[~A] == 0)
    assert _f(data_term(torch.from_numpy(Phi), torch.from_numpy(X), torch.from_numpy(nu),
                        torch.tensor(gamma, dtype=torch.float64))) == pytest.approx(direct, rel=1e-10)


def test_full_collapsed_is_the_marginal_likelihood():
    """L_full = −2 log N(X; 0, Σ_x) up to n d log 2π: the M-SBL cost."""
    Phi, X, w = _setup(2)
    nu, gamma = w**2, 0.3
    Sx = gamma * np.eye(Phi.shape[0]) + (Phi * nu) @ Phi.T
    expected = X.shape[1] * np.linalg.slogdet(Sx)[1] + np.trace(X.T @ np.linalg.solve(Sx, X))
    assert _f(collapsed_energy(Phi, X, nu, gamma, "full")) == pytest.approx(expected, rel=1e-12)


# Hadamard ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_diag_is_an_upper_bound_of_full(seed):
    Phi, X, w = _setup(seed, zeros=seed % 3)
    for gamma in (1e-4, 1e-2, 1.0):
        full = _f(collapsed_energy(Phi, X, w**2, gamma, "full"))
        diag = _f(collapsed_energy(Phi, X, w**2, gamma, "diag"))
        assert diag >= full - 1e-9 * abs(full)
        assert diag > full  # strictly: ΦᵀΦ is not diagonal on the active set


def test_diag_equals_full_for_orthogonal_columns():
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 4)))
    Phi = Q * np.array([1.0, 2.0, 0.5, 3.0])  # orthogonal, not normalised: Hadamard holds with equality
    X = np.random.default_rng(1).standard_normal((6, 2))
    nu = np.array([0.3, 0.0, 2.0, 1.1])
    assert _f(collapsed_energy(Phi, X, nu, 0.2, "diag")) == pytest.approx(
        _f(collapsed_energy(Phi, X, nu, 0.2, "full")), rel=1e-12)


# Gradients in ν --------------------------------------------------------------------------------------------------------

def _closed_form_grad(Phi, X, nu, gamma, covariance):
    Si = _sigma_x_inv(Phi, nu, gamma)
    n = X.shape[1]
    fit = np.sum((Phi.T @ Si @ X) ** 2, axis=1)  # ‖φ_jᵀ Σ_x⁻¹ X‖²
    if covariance == "full":
        return n * np.einsum("dj,de,ej->j", Phi, Si, Phi) - fit
    c = (Phi**2).sum(0)
    return n * c / (gamma + nu * c) - fit


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("seed", range(3))
def test_gradient_matches_finite_differences_and_closed_form(covariance, seed):
    Phi, X, w = _setup(seed)
    nu = torch.from_numpy(w**2).requires_grad_(True)
    gamma = 0.05
    (g,) = torch.autograd.grad(collapsed_energy(Phi, X, nu, gamma, covariance), nu)
    g = g.numpy()
    closed = _closed_form_grad(Phi, X, w**2, gamma, covariance)
    np.testing.assert_allclose(g, closed, rtol=1e-9, atol=1e-9 * np.abs(closed).max())
    h = 1e-5
    E = np.eye(len(w))
    fd = np.array([(_f(collapsed_energy(Phi, X, w**2 + h * e, gamma, covariance))
                    - _f(collapsed_energy(Phi, X, w**2 - h * e, gamma, covariance))) / (2 * h) for e in E])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * np.abs(g).max())


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_gradient_in_gamma_matches_finite_differences(covariance):
    Phi, X, w = _setup(4)
    gamma = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(collapsed_energy(Phi, X, w**2, gamma, covariance), gamma)
    h = 1e-6
    fd = (_f(collapsed_energy(Phi, X, w**2, 0.2 + h, covariance))
          - _f(collapsed_energy(Phi, X, w**2, 0.2 - h, covariance))) / (2 * h)
    assert float(g) == pytest.approx(fd, rel=1e-6)


# Monte-Carlo ELBO ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_mc_elbo_agrees_with_analytic(seed):
    Phi, X, w = _setup(seed)
    gamma = 0.5
    M = optimal_means(Phi, X, w, gamma)
    S = optimal_covariance(Phi, w, gamma, "full")
    # a shared full covariance that is not the optimum, so the check is not only at a stationary point
    S = S + 0.1 * torch.eye(len(w), dtype=torch.float64)
    chol = torch.linalg.cholesky(S)
    gen = torch.Generator().manual_seed(seed)
    est, se = mc_elbo_energy(Phi, X, w, M + 0.1, chol, gamma, 4000, gen)
    exact = _f(elbo_energy(Phi, X, w, M + 0.1, S, gamma))
    assert 0 < _f(se) < 0.05 * abs(exact)
    assert abs(_f(est) - exact) <= 4 * _f(se)


def test_mc_elbo_is_reproducible_and_differentiable():
    Phi, X, w = _setup(0)
    chol = torch.eye(len(w), dtype=torch.float64)
    M = torch.zeros(len(w), X.shape[1], dtype=torch.float64)
    a, _ = mc_elbo_energy(Phi, X, w, M, chol, 0.3, 16, torch.Generator().manual_seed(3))
    b, _ = mc_elbo_energy(Phi, X, w, M, chol, 0.3, 16, torch.Generator().manual_seed(3))
    assert _f(a) == _f(b)
    wt = torch.from_numpy(w).requires_grad_(True)
    est, _ = mc_elbo_energy(Phi, X, wt, M, chol, 0.3, 16, torch.Generator().manual_seed(3))
    (g,) = torch.autograd.grad(est, wt)
    assert torch.isfinite(g).all() and g.abs().max() > 0


# γ → 0 (C5) ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("m", [1, 2, 4])
def test_small_gamma_slope_is_n_times_d_minus_active(covariance, m):
    d, kappa, n = 6, 10, 3
    rng = np.random.default_rng(m)
    Phi = rng.standard_normal((d, kappa))
    A = rng.choice(kappa, size=m, replace=False)
    X = Phi[:, A] @ rng.standard_normal((m, n))  # an exact fit on the active set A
    nu = np.zeros(kappa)
    nu[A] = rng.uniform(0.5, 2.0, size=m)
    g1, g2 = 1e-7, 1e-9
    slope = (_f(collapsed_energy(Phi, X, nu, g1, covariance))
             - _f(collapsed_energy(Phi, X, nu, g2, covariance))) / (np.log(g1) - np.log(g2))
    assert slope == pytest.approx(n * (d - m), rel=1e-4)


def test_small_gamma_blows_up_without_exact_fit():
    """Without an exact fit the data term grows like 1/γ: the slope in log γ is not n(d − |A|)."""
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((6, 10))
    X = rng.standard_normal((6, 3))
    nu = np.zeros(10)
    nu[:2] = 1.0
    slope = (_f(collapsed_energy(Phi, X, nu, 1e-7, "full"))
             - _f(collapsed_energy(Phi, X, nu, 1e-9, "full"))) / (np.log(1e-7) - np.log(1e-9))
    assert slope < -1e6


# Deterministic AE -------------------------------------------------------------------------------------------------------

def _ae_l21_direct(Phi, X, nu, gamma, lam, beta):
    """min over U of ‖X − ΦU‖²/γ + λ Σ_j ‖u_j‖²/ν_j (rows with ν_j = 0 fixed at 0), plus β Σ ν, in closed form:
    U_A = (Φ_AᵀΦ_A/γ + λ Γ_A⁻¹)⁻¹ Φ_AᵀX/γ."""
    A = np.flatnonzero(nu > 0)
    PA = Phi[:, A]
    U_A = np.linalg.solve(PA.T @ PA / gamma + lam * np.diag(1 / nu[A]), PA.T @ X / gamma)
    value = np.sum((X - PA @ U_A) ** 2) / gamma + lam * np.sum(U_A**2 / nu[A, None]) + beta * nu.sum()
    return value, A, U_A


@pytest.mark.parametrize("lam, beta, gamma", [
    (1.0, 1.0, 1e-2), (1.0, 3.0, 0.5),
    (0.3, 2.0, 0.5), (2.0, 0.1, 1e-3),
])
def test_ae_l21_profile_is_the_minimum_over_u(lam, beta, gamma):
    Phi, X, w = _setup(7)
    nu = w**2
    direct, A, U_A = _ae_l21_direct(Phi, X, nu, gamma, lam, beta)
    prof = _f(ae_l21_profile(Phi, X, nu, gamma, lam, beta))
    assert prof == pytest.approx(direct, rel=1e-10)
    # the closed form really is the minimum over U
    rng = np.random.default_rng(1)
    for _ in range(3):
        U = U_A + 1e-3 * rng.standard_normal(U_A.shape)
        PA = Phi[:, A]
        other = np.sum((X - PA @ U) ** 2) / gamma + lam * np.sum(U**2 / nu[A, None]) + beta * nu.sum()
        assert other > direct
    # and it is ae_energy with R = ‖·‖² at M = U / w
    M = np.zeros((len(w), X.shape[1]))
    M[A] = U_A / w[A, None]
    assert _f(ae_energy(Phi, X, w, M, gamma, lam, beta, "l2sq")) == pytest.approx(prof, rel=1e-10)


def test_ae_energy_penalties_by_hand():
    Phi = np.eye(2)
    X = np.array([[1.0], [2.0]])
    w = np.array([1.0, 2.0])
    M = np.array([[1.0], [-0.5]])  # ΦDM = (1, −1): residual (0, 3)
    fit = 9.0 / 0.5
    assert _f(ae_energy(Phi, X, w, M, 0.5, 0.1, 3.0, "l2sq")) == pytest.approx(fit + 0.1 * 1.25 + 3.0 * 5.0)
    assert _f(ae_energy(Phi, X, w, M, 0.5, 0.1, 3.0, "l1")) == pytest.approx(fit + 0.1 * 1.5 + 15.0)
    assert _f(ae_energy(Phi, X, w, M, 0.5, 0.1, 3.0, "log", eps=0.5)) == pytest.approx(
        fit + 0.1 * (np.log(1.5) + np.log(1.0)) + 15.0)
    absM = torch.tensor([[2.0], [0.5]], dtype=torch.float64)  # a stand-in for |M| is used by l1 and log
    assert _f(ae_energy(Phi, X, w, M, 0.5, 0.1, 3.0, "l1", abs_M=absM)) == pytest.approx(fit + 0.1 * 2.5 + 15.0)


# Bad input ---------------------------------------------------------------------------------------------------------------

def test_bad_covariance_string():
    Phi, X, w = _setup(0)
    with pytest.raises(InputError, match="covariance must be 'full' or 'diag', got 'ful'"):
        collapsed_energy(Phi, X, w**2, 0.1, "ful")


def test_bad_covariance_string_in_optimal_covariance():
    Phi, _, w = _setup(0)
    with pytest.raises(InputError, match="covariance"):
        optimal_covariance(Phi, w, 0.1, "ful")


def test_bad_penalty_string():
    Phi, X, w = _setup(0)
    with pytest.raises(InputError, match="penalty must be 'l2sq', 'l1' or 'log', got 'l0'"):
        ae_energy(Phi, X, w, np.zeros((len(w), X.shape[1])), 0.1, 1.0, 1.0, "l0")


def test_energies_accept_read_only_problem_arrays():
    p = make_problem(5, 8, 2, 3, seed=0)
    assert not p.Phi.flags.writeable
    nu = np.ones(p.kappa)
    assert np.isfinite(_f(collapsed_energy(p.Phi, p.X, nu, 1e-3, "full")))
    assert np.isfinite(_f(ae_l21_profile(p.Phi, p.X, nu, 1e-2, 1.0, 1.0)))


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_collapsed_hessian_matches_autograd(covariance):
    """The closed-form Hessian (used by certificates and the Newton phase) equals autograd's, with zeros in ν."""
    from torch.func import hessian

    from vaetheory.variants.energies import collapsed_hessian

    rng = np.random.default_rng(11)
    Phi, X = rng.standard_normal((6, 12)), rng.standard_normal((6, 4))
    nu = rng.exponential(size=12)
    nu[[0, 5]] = 0.0
    gamma = torch.tensor(1e-2, dtype=torch.float64)
    H_ref = hessian(lambda v: collapsed_energy(Phi, X, v, gamma, covariance))(torch.tensor(nu)).numpy()
    H = collapsed_hessian(Phi, X, nu, gamma, covariance).numpy()
    np.testing.assert_allclose(H, H_ref, rtol=1e-7, atol=1e-9 * np.abs(H_ref).max())
