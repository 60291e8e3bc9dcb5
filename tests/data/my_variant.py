"""A theory variant in a file vaetheory never saw: the M-SBL cost of Wipf & Rao (2007), written from scratch.

vaetheory loads it with ``get_variant("tests/data/my_variant.py:VARIANT")`` (or ``vaetheory variants
tests/data/my_variant.py:VARIANT``). Its energy is −2 log p(X) for X = Φ Z, Z with i.i.d. N(0, diag(ν)) columns,
plus N(0, γ I) noise (up to n d log 2π): n log|Σ_x| + tr(Xᵀ Σ_x⁻¹ X) with Σ_x = γ I + Φ diag(ν) Φᵀ — the same
function as the built-in vae-full (docs/theory.md §2), computed differently (an explicit inverse), so a run must give
the same verdicts.

Written first with ``torch.linalg.slogdet`` and ``torch.linalg.solve``, it was rejected by the import checker: in
torch 2.13 their Hessian-vector products are wrong under nested vmap, and the certificates turned 10 of 12 optimal
minima into "saddles". The Cholesky log-determinant and ``torch.linalg.inv`` batch correctly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaetheory.core.protocol import Claim, GammaPolicy, ParamSpec


@dataclass(frozen=True)
class MSBL:
    """M-SBL cost in the hyperparameters ν ≥ 0 (one prior variance per dictionary column)."""

    name: str = "my-msbl"
    description: str = "M-SBL cost n log|Sigma_x| + tr(X' Sigma_x^-1 X), written outside vaetheory"
    claim: Claim = Claim("optimal_minima", ("urp", "r_less_than_d", "orthogonal_rows", "fixed_gamma", "small_gamma"),
                         "no bad local minima with orthogonal nonzero rows (Wipf & Rao 2007)")
    gamma: GammaPolicy = GammaPolicy(default=1e-4, learnable=True, floor=1e-6)

    def param_specs(self, d, kappa, n):
        return {"nu": ParamSpec((kappa,), nonneg=True)}

    def _sigma_x(self, nu, Phi, gamma):
        return gamma * torch.eye(Phi.shape[0], dtype=Phi.dtype) + Phi @ torch.diag(nu) @ Phi.T

    def energy(self, params, Phi, X, gamma):
        S = self._sigma_x(params["nu"], Phi, gamma)
        logdet = 2 * torch.log(torch.diagonal(torch.linalg.cholesky(S))).sum()
        return X.shape[1] * logdet + torch.trace(X.T @ torch.linalg.inv(S) @ X)

    def init_random(self, problem, rng, size):
        return {"nu": np.mean(problem.X**2) * rng.uniform(0.1, 2.0, size=(size, problem.kappa))}

    def init_from_support(self, problem, masks, gamma):
        # variance of the least-squares row on each support (zero off the support)
        codes = np.linalg.pinv(problem.Phi[None] * masks[:, None, :]) @ problem.X
        return {"nu": np.mean(codes**2, axis=-1)}

    def latent_scales(self, params):
        return params["nu"]

    def representation(self, params, Phi, X, gamma):
        nu = params["nu"]
        return nu[:, None] * (Phi.T @ torch.linalg.solve(self._sigma_x(nu, Phi, gamma), X))


VARIANT = MSBL()
