r"""β-VAE: the VAE of vaetheory's docs/theory.md §2 with its KL term weighted by β > 0.

Model: prior N(0, I_κ), decoder N(Φ D z, γ I_d) with D = diag(w), Gaussian encoder N(μ_i, Σ_i) with a full or a
diagonal Σ_i. Write ν_j = w_j², Γ = diag(ν), K = DΦᵀΦD, c_j = ‖φ_j‖². The energy is twice the negative β-ELBO
(without n d log 2π):

    L_β = Σ_i [ (‖x_i − ΦDμ_i‖² + tr(K Σ_i)) / γ + d log γ + β (tr Σ_i + ‖μ_i‖² − log|Σ_i| − κ) ]

Profiling out the encoder (derived here; tests/test_examples.py checks it against the unprofiled formula):

* means: ‖x − ΦDμ‖²/γ + β‖μ‖² is a ridge problem with penalty λ = βγ (after factoring out 1/γ); its minimum is
  β xᵀ Σ_β⁻¹ x with Σ_β = βγ I_d + Φ Γ Φᵀ, at μ* = (K + βγ I)⁻¹ D Φᵀ x;
* full Σ: stationarity K/γ + β I − β Σ⁻¹ = 0 gives Σ* = (I + K/(βγ))⁻¹. Then tr(KΣ*)/γ + β tr Σ* = βκ, which
  cancels −βκ, and −β log|Σ*| = β log|I_κ + K/(βγ)| = β (log|Σ_β| − d log βγ) (Sylvester's determinant identity);
* diagonal Σ: σ_j² = βγ / (βγ + ν_j c_j); again tr(KΣ)/γ + β tr Σ = βκ, and −β log|Σ| = β Σ_j log((βγ + ν_j c_j)/βγ).

Summing over the n samples, with L_full and L_diag the β = 1 energies of docs/theory.md §2:

    L_β,full(ν, γ) = β · L_full(ν, βγ) + n d (log γ − β log βγ)
    L_β,diag(ν, γ) = β · L_diag(ν, βγ) + n d (log γ − β log βγ)

So at a fixed γ the β-VAE's landscape in ν is the plain VAE's at noise βγ, scaled by β > 0 and shifted by a
constant: the same stationary points, local minima and verdicts. The claim is declared accordingly:

* β ≤ 1 and γ ≤ 1e-3 (``small_gamma``) give βγ ≤ 1e-3, inside the built-in claims: ``optimal_minima`` under the
  conditions of vae-full (C1) for the full encoder, ``bad_minima_exist`` under those of vae-diag (C2) for the
  diagonal one;
* β > 1 would need βγ ≤ 1e-3, which no condition of `vaetheory.verdict.claims.CONDITIONS` expresses: no claim (``none``);
* with γ learned the energies differ (the γ-derivative does), and the built-in claims are at fixed γ: the claims
  are conditioned on ``fixed_gamma``.

Parameters: ``nu`` (κ,) ≥ 0; latent dimension j is active when ν_j > 0; representation U = D M* = Γ Φᵀ Σ_β⁻¹ X.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from vaetheory.variants.energies import collapsed_energy, posterior_mean
from vaetheory.core.protocol import Claim, GammaPolicy, ParamSpec

from ._starts import data_scale, row_power

_C1 = ("urp", "r_less_than_d", "orthogonal_rows", "fixed_gamma", "small_gamma")
_C2 = ("nonoptimal_bfs_exists", "fixed_gamma", "small_gamma")


@dataclass(frozen=True)
class BetaVAE:
    """β-weighted VAE with the encoder (full or diagonal covariance) profiled out; parameter ν = w² ≥ 0."""

    beta: float = 0.5
    covariance: Literal["full", "diag"] = "full"
    name: str = "beta-vae"
    gamma: GammaPolicy = GammaPolicy(default=1e-4, learnable=True, floor=1e-6)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"beta must be finite and > 0, got {self.beta}")
        if self.covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be 'full' or 'diag', got {self.covariance!r}")

    @property
    def description(self) -> str:
        return (f"beta-VAE, KL weight beta={self.beta:g}, {self.covariance} Gaussian encoder profiled out: "
                f"beta * L_{self.covariance}(nu, beta*gamma) + const")

    @property
    def claim(self) -> Claim:
        if self.beta > 1:
            return Claim("none", (), "equals the beta=1 VAE at noise beta*gamma; its claims would need "
                                     "beta*gamma <= 1e-3, which no named condition expresses")
        if self.covariance == "full":
            return Claim("optimal_minima", _C1, "at fixed gamma the landscape is vae-full's at noise beta*gamma "
                                                "<= gamma: every local minimum is optimally sparse (C1)")
        return Claim("bad_minima_exist", _C2, "at fixed gamma the landscape is vae-diag's at noise beta*gamma "
                                              "<= gamma: a non-optimal BFS is a bad local minimum (C2)")

    def param_specs(self, d, kappa, n):
        return {"nu": ParamSpec((kappa,), nonneg=True)}

    def energy(self, params, Phi, X, gamma):
        d, n = X.shape
        beta = self.beta
        shift = n * d * (torch.log(gamma) - beta * torch.log(beta * gamma))
        return beta * collapsed_energy(Phi, X, params["nu"], beta * gamma, self.covariance) + shift

    def init_random(self, problem, rng, size):
        return {"nu": data_scale(problem.Phi, problem.X) * rng.exponential(size=(size, problem.kappa))}

    def init_from_support(self, problem, masks, gamma):
        return {"nu": row_power(problem.Phi, problem.X, masks)}

    def latent_scales(self, params):
        return params["nu"]

    def representation(self, params, Phi, X, gamma):
        return posterior_mean(Phi, X, params["nu"], self.beta * gamma)


#: The registered instance (entry point ``beta-vae``): β = 0.5, full-covariance encoder.
BETA_VAE = BetaVAE()
