"""The example variants: found through their entry points once installed (``pip install -e
examples/vaetheory_examples``), accepted by the import checker, energies equal to the unprofiled ELBOs they were
derived from, and a search-and-certify run completes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("vaetheory_examples")

from vaetheory.verdict.check import run_check  # noqa: E402
from vaetheory.verdict.claims import STATUSES  # noqa: E402
from vaetheory.variants.energies import collapsed_energy, optimal_covariance, optimal_means  # noqa: E402
from vaetheory.problems.generate import make_problem  # noqa: E402
from vaetheory.variants import available_variants, get_variant  # noqa: E402
from vaetheory.certify.plugin_check import check_variant  # noqa: E402
from vaetheory.variants.registry import describe_variant  # noqa: E402
from vaetheory_examples import BETA_VAE, LEARNED_PRIOR_VAE, BetaVAE, LearnedPriorVAE  # noqa: E402

REGISTERED = {"beta-vae": BETA_VAE, "learned-prior-vae": LEARNED_PRIOR_VAE}
CONFIGURATIONS = [BETA_VAE, BetaVAE(2.0), BetaVAE(0.5, "diag"), LEARNED_PRIOR_VAE, LearnedPriorVAE("diag")]


@pytest.fixture(scope="module")
def problem():
    return make_problem(6, 12, 2, 4, seed=0)


def _t(a) -> torch.Tensor:
    return torch.tensor(np.array(a, dtype=np.float64))


def test_entry_points_are_installed():
    names = available_variants()
    for name, variant in REGISTERED.items():
        assert name in names, "run `pip install -e examples/vaetheory_examples` first"
        assert get_variant(name) is variant
        info = describe_variant(name)
        assert info["origin"]["kind"] == "entry point"
        assert "vaetheory-examples" in info["origin"]["source"]


@pytest.mark.parametrize("variant", CONFIGURATIONS, ids=lambda v: f"{v.name}-{v.description[:24]}")
def test_the_import_checker_accepts_them(variant):
    assert check_variant(variant) == []


def test_claims_follow_beta():
    assert BETA_VAE.claim.kind == "optimal_minima" and BetaVAE(1.0).claim.kind == "optimal_minima"
    assert BetaVAE(1.5).claim.kind == "none"
    assert BetaVAE(0.5, "diag").claim.kind == "bad_minima_exist"
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        BetaVAE(0.0)


def _beta_elbo(Phi, X, w, M, Sigma, gamma, beta, diagonal):
    """Twice the negative β-ELBO (module docstring of beta_vae), one covariance shared by the n samples."""
    d, kappa = Phi.shape
    n = X.shape[1]
    PD = Phi * w
    K = PD.T @ PD
    if diagonal:
        tr_K, tr_S, logdet = n * (Sigma * torch.diagonal(K)).sum(), n * Sigma.sum(), n * torch.log(Sigma).sum()
    else:
        tr_K, tr_S, logdet = n * (Sigma * K).sum(), n * torch.trace(Sigma), n * torch.linalg.slogdet(Sigma)[1]
    recon = ((X - PD @ M) ** 2).sum()
    return (recon + tr_K) / gamma + n * d * torch.log(gamma) + beta * (tr_S + (M**2).sum() - logdet - n * kappa)


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("beta", [0.3, 1.0, 2.5])
def test_beta_vae_energy_is_the_beta_elbo_at_the_optimal_encoder(problem, beta, covariance):
    rng = np.random.default_rng(1)
    Phi, X = _t(problem.Phi), _t(problem.X)
    w = _t(rng.uniform(0.2, 1.5, problem.kappa) * (rng.random(problem.kappa) < 0.7))  # some inactive rows
    gamma = torch.tensor(3e-2, dtype=torch.float64)
    variant = BetaVAE(beta, covariance)
    profiled = variant.energy({"nu": w**2}, Phi, X, gamma)
    M = optimal_means(Phi, X, w, beta * gamma)
    Sigma = optimal_covariance(Phi, w, beta * gamma, covariance)
    direct = _beta_elbo(Phi, X, w, M, Sigma, gamma, beta, covariance == "diag")
    torch.testing.assert_close(profiled, direct, rtol=1e-10, atol=1e-8)
    # the encoder is optimal: moving it raises the energy
    dM = 1e-3 * _t(rng.standard_normal(M.shape))
    assert _beta_elbo(Phi, X, w, M + dM, Sigma, gamma, beta, covariance == "diag") > direct
    assert _beta_elbo(Phi, X, w, M, Sigma * 1.01, gamma, beta, covariance == "diag") > direct
    if beta == 1.0:  # β = 1 is the plain VAE
        torch.testing.assert_close(profiled, collapsed_energy(Phi, X, w**2, gamma, covariance), rtol=1e-12, atol=0)


def _learned_prior_elbo(Phi, X, s, M, Sigma, gamma, diagonal):
    """Twice the negative ELBO with prior N(0, diag(s)) and decoder Φ z (module docstring of learned_prior)."""
    d, kappa = Phi.shape
    n = X.shape[1]
    G = Phi.T @ Phi
    if diagonal:
        tr_G, tr_Sinv_S, logdet = n * (Sigma * torch.diagonal(G)).sum(), n * (Sigma / s).sum(), n * torch.log(
            Sigma).sum()
    else:
        tr_G, tr_Sinv_S, logdet = n * (Sigma * G).sum(), n * torch.trace(Sigma / s[:, None]), \
            n * torch.linalg.slogdet(Sigma)[1]
    recon = ((X - Phi @ M) ** 2).sum()
    return ((recon + tr_G) / gamma + n * d * torch.log(gamma) + tr_Sinv_S + (M**2 / s[:, None]).sum() - logdet
            + n * torch.log(s).sum() - n * kappa)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_learned_prior_energy_is_the_elbo_at_the_optimal_encoder(problem, covariance):
    rng = np.random.default_rng(2)
    Phi, X = _t(problem.Phi), _t(problem.X)
    s = _t(rng.uniform(0.05, 2.0, problem.kappa))  # log|S| needs s > 0
    gamma = torch.tensor(1e-2, dtype=torch.float64)
    diagonal = covariance == "diag"
    # optimal encoder for this model, derived directly (not through the w̃ = √s substitution of the docstring)
    precision = torch.diag(1 / s) + Phi.T @ Phi / gamma
    M = torch.linalg.solve(precision, Phi.T @ X / gamma)
    Sigma = 1 / torch.diagonal(precision) if diagonal else torch.linalg.inv(precision)
    direct = _learned_prior_elbo(Phi, X, s, M, Sigma, gamma, diagonal)
    profiled = LearnedPriorVAE(covariance).energy({"s": s}, Phi, X, gamma)
    torch.testing.assert_close(profiled, direct, rtol=1e-10, atol=1e-8)
    torch.testing.assert_close(profiled, collapsed_energy(Phi, X, s, gamma, covariance), rtol=1e-10, atol=1e-8)
    assert _learned_prior_elbo(Phi, X, s, M * 1.001, Sigma, gamma, diagonal) > direct
    # the redundancy: scaling the prior of a row by t² and its encoder by t is the decoder weight t on that row
    t = torch.ones(problem.kappa, dtype=torch.float64)
    t[0] = 3.0
    Sigma_t = Sigma * t**2 if diagonal else Sigma * t[:, None] * t[None, :]
    scaled = _learned_prior_elbo(Phi / t, X, s * t**2, M * t[:, None], Sigma_t, gamma, diagonal)
    torch.testing.assert_close(scaled, direct, rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("name", list(REGISTERED))
def test_a_check_on_a_tiny_problem_completes(problem, name):
    result = run_check(problem, get_variant(name), restarts=4, seed=0)
    assert sum(result.summary.values()) == 4
    assert result.claim_status in STATUSES and result.claim_status != "refuted"
    assert result.summary["optimal"] > 0
    assert result.to_dict()["variant"] == name
