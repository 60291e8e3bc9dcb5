r"""A VAE that learns a per-dimension prior variance: prior N(0, S), S = diag(s), s_j > 0 learned.

Model: prior N(0, S), decoder N(Φ D z, γ I_d) with D = diag(w), Gaussian encoder N(μ_i, Σ_i), full or diagonal.
Twice the negative ELBO (without n d log 2π), with K = DΦᵀΦD:

    L = Σ_i [ (‖x_i − ΦDμ_i‖² + tr(K Σ_i)) / γ + d log γ + tr(S⁻¹Σ_i) + μ_iᵀ S⁻¹ μ_i − log|Σ_i| + log|S| − κ ]

The redundancy between w_j and s_j (derived here). Substitute μ̃ = S^{-1/2} μ, Σ̃ = S^{-1/2} Σ S^{-1/2} and
w̃ = w ⊙ √s. Then ΦDμ = ΦD̃μ̃, tr(KΣ) = tr(K̃Σ̃), tr(S⁻¹Σ) = tr Σ̃, μᵀS⁻¹μ = ‖μ̃‖² and log|Σ| − log|S| = log|Σ̃|:
L(w, s, μ, Σ) is the standard-prior energy of docs/theory.md §2 at (w̃, μ̃, Σ̃), and the substitution maps full
covariances to full ones and diagonal ones to diagonal ones. So L depends on (w_j, s_j) only through
ν_j = w_j² s_j: every latent dimension carries a one-parameter family (t w_j, s_j / t²) of equal energy.

How this variant handles it: it fixes the gauge w ≡ 1 (decoder Φ z; the prior variances are then the ARD
hyperparameters of sparse Bayesian learning) and learns s ≥ 0 alone, so ν = s. Learning both would

* put every point in a flat valley (a zero Hessian eigenvalue per active dimension), and worse,
* make ν = w² s quadratic in w: at w_j = 0 the gradients in w_j and in s_j both vanish whatever ∂L/∂ν_j is, so a
  saddle of L(ν) — an inactive dimension whose energy drops when it is switched on (docs/theory.md §5) — would pass the
  certificate's first-order test and could be reported as a bad local minimum.

With ν = s linear in the parameter, the certificate tests ∂L/∂ν_j itself. Profiling out the encoder as in
docs/theory.md §2 (Σ_x = γ I + Φ S Φᵀ, c_j = ‖φ_j‖²):

    full:  L(s, γ) = n log|Σ_x| + tr(Xᵀ Σ_x⁻¹ X)                      (−2 log p(X) + const: the ELBO is tight)
    diag:  L(s, γ) = tr(Xᵀ Σ_x⁻¹ X) + n Σ_j log(γ + s_j c_j) + n (d − κ) log γ

These are L_full and L_diag at ν = s, so the claims are C1 (full encoder) and C2 (diagonal encoder) under the same
conditions. The energy is computed here from one Cholesky factor of Σ_x, independently of vaetheory.variants.energies.
Parameters: ``s`` (κ,) ≥ 0; dimension j is active when s_j > 0; representation U = M* = S Φᵀ Σ_x⁻¹ X.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from vaetheory.variants.energies import posterior_mean
from vaetheory.core.protocol import Claim, GammaPolicy, ParamSpec

from ._starts import data_scale, row_power


@dataclass(frozen=True)
class LearnedPriorVAE:
    """VAE with learned prior variances s ≥ 0 in the gauge w ≡ 1, encoder (full or diagonal) profiled out."""

    covariance: Literal["full", "diag"] = "full"
    name: str = "learned-prior-vae"
    gamma: GammaPolicy = GammaPolicy(default=1e-4, learnable=True, floor=1e-6)

    def __post_init__(self) -> None:
        if self.covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be 'full' or 'diag', got {self.covariance!r}")

    @property
    def description(self) -> str:
        return (f"VAE with learned prior variances s (decoder gauge w = 1), {self.covariance} Gaussian encoder "
                "profiled out: L(nu = s)")

    @property
    def claim(self) -> Claim:
        if self.covariance == "full":
            return Claim("optimal_minima", ("urp", "r_less_than_d", "orthogonal_rows", "fixed_gamma", "small_gamma"),
                         "its energy is L_full(nu = s): every local minimum at fixed small gamma is optimally "
                         "sparse (C1)")
        return Claim("bad_minima_exist", ("nonoptimal_bfs_exists", "fixed_gamma", "small_gamma"),
                     "its energy is L_diag(nu = s): a non-optimal BFS is a bad local minimum (C2)")

    def param_specs(self, d, kappa, n):
        return {"s": ParamSpec((kappa,), nonneg=True)}

    def energy(self, params, Phi, X, gamma):
        d, n = X.shape
        s = params["s"]
        chol = torch.linalg.cholesky(gamma * torch.eye(d, dtype=Phi.dtype) + (Phi * s) @ Phi.T)
        whitened = torch.linalg.solve_triangular(chol, X, upper=False)
        fit = (whitened * whitened).sum()  # tr(Xᵀ Σ_x⁻¹ X)
        if self.covariance == "full":
            return n * 2 * torch.log(torch.diagonal(chol)).sum() + fit
        c = (Phi * Phi).sum(0)
        return fit + n * torch.log(gamma + s * c).sum() + n * (d - Phi.shape[1]) * torch.log(gamma)

    def init_random(self, problem, rng, size):
        return {"s": data_scale(problem.Phi, problem.X) * rng.exponential(size=(size, problem.kappa))}

    def init_from_support(self, problem, masks, gamma):
        return {"s": row_power(problem.Phi, problem.X, masks)}

    def latent_scales(self, params):
        return params["s"]

    def representation(self, params, Phi, X, gamma):
        return posterior_mean(Phi, X, params["s"], gamma)


#: The registered instance (entry point ``learned-prior-vae``): full-covariance encoder.
LEARNED_PRIOR_VAE = LearnedPriorVAE()
