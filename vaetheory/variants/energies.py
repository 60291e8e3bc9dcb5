"""Energies of docs/theory.md §2–3 in torch float64. All functions are unbatched and `torch.func`-compatible, so the
search and certificates batch them with ``vmap`` and differentiate them with ``grad``/``hessian``.

Notation: Φ (d×κ), X (d×n), w ∈ R^κ, ν = w², Γ = diag(ν), Σ_x = γI + ΦΓΦᵀ, c_j = ‖φ_j‖².
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

from vaetheory.core.errors import InputError

Covariance = Literal["full", "diag"]
DTYPE = torch.float64


def as_tensor(a) -> Tensor:
    """float64 tensor view/copy of an array-like (no copy for float64 tensors)."""
    if isinstance(a, Tensor):
        return a.to(DTYPE)
    return torch.from_numpy(np.array(a, dtype=np.float64))  # a copy: inputs are often read-only arrays


def _sigma_x(Phi: Tensor, nu: Tensor, gamma: Tensor) -> Tensor:
    d = Phi.shape[0]
    return gamma * torch.eye(d, dtype=Phi.dtype) + (Phi * nu) @ Phi.T


def _chol_terms(Phi: Tensor, X: Tensor, nu: Tensor, gamma: Tensor) -> tuple[Tensor, Tensor]:
    """(log|Σ_x|, tr(Xᵀ Σ_x⁻¹ X)) from one Cholesky factor L: log|Σ_x| = 2 Σ log L_ii, tr = ‖L⁻¹X‖²_F.

    Triangular solves rather than ``cholesky_solve``: the latter's batching rule gave wrong Hessian-vector
    products under nested ``vmap``/``jvp`` in torch 2.13 (caught by tests/test_objective.py).
    """
    L = torch.linalg.cholesky(_sigma_x(Phi, nu, gamma))
    Y = torch.linalg.solve_triangular(L, X, upper=False)
    return 2 * torch.log(torch.diagonal(L)).sum(), (Y * Y).sum()


def data_term(Phi: Tensor, X: Tensor, nu: Tensor, gamma: Tensor) -> Tensor:
    """tr(Xᵀ Σ_x⁻¹ X) = min_U (1/γ)‖X − ΦU‖²_F + Σ_j ‖u_j‖²/ν_j."""
    return _chol_terms(Phi, X, nu, gamma)[1]


def collapsed_energy(Phi, X, nu, gamma, covariance: Covariance = "full") -> Tensor:
    """L_full or L_diag of docs/theory.md §2: twice the negative ELBO at the optimal encoder, without n d log 2π.

    L_full(ν, γ) = n log|Σ_x| + tr(Xᵀ Σ_x⁻¹ X)
    L_diag(ν, γ) = tr(Xᵀ Σ_x⁻¹ X) + n Σ_j log(γ + ν_j c_j) + n (d − κ) log γ

    Accepts numpy arrays or tensors (ν ≥ 0, γ > 0); returns a float64 scalar tensor, differentiable in ν and γ.
    """
    Phi, X, nu, gamma = as_tensor(Phi), as_tensor(X), as_tensor(nu), as_tensor(gamma)
    d, kappa = Phi.shape
    n = X.shape[1]
    logdet, fit = _chol_terms(Phi, X, nu, gamma)
    if covariance == "full":
        return n * logdet + fit
    if covariance == "diag":
        c = (Phi * Phi).sum(0)
        return fit + n * torch.log(gamma + nu * c).sum() + n * (d - kappa) * torch.log(gamma)
    raise InputError(f"covariance must be 'full' or 'diag', got {covariance!r}")


def collapsed_hessian(Phi, X, nu, gamma, covariance: Covariance = "full") -> Tensor:
    """Closed-form Hessian in ν of L_full / L_diag (κ×κ), from one Cholesky factor of Σ_x.

    With K = ΦᵀΣ_x⁻¹Φ and B = ΦᵀΣ_x⁻¹X: ∇²tr(XᵀΣ_x⁻¹X) = 2 K∘(BBᵀ); ∇²(n log|Σ_x|) = −n K∘K; and
    ∇²(n Σ_j log(γ + ν_j c_j)) = −n diag(c_j²/(γ + ν_j c_j)²). Measured 70–800× faster than autograd
    Hessian-vector products (bench/prototypes.py); agreement with autograd is tested and checked by the import checker.
    """
    Phi = as_tensor(Phi)
    return collapsed_hessian_at(Phi, X, nu, gamma, torch.arange(Phi.shape[-1]), covariance)


def collapsed_hessian_at(Phi, X, nu, gamma, index, covariance: Covariance = "full") -> Tensor:
    """`collapsed_hessian` restricted to the coordinates `index` (an (m,) int64 tensor), without the κ×κ matrix:
    the same formulas with Φ replaced by its columns Φ_I (triangular solves with m columns instead of κ).
    Composable with vmap over (point, index)."""
    Phi, X, nu, gamma = map(as_tensor, (Phi, X, nu, gamma))
    L = torch.linalg.cholesky(_sigma_x(Phi, nu, gamma))
    PI = Phi[:, index]
    A = torch.linalg.solve_triangular(L, PI, upper=False)
    C = torch.linalg.solve_triangular(L, X, upper=False)
    K = A.T @ A
    B = A.T @ C
    H = 2 * K * (B @ B.T)
    n = X.shape[1]
    if covariance == "full":
        return H - n * K * K
    if covariance == "none":  # the data term alone (ae-l21 with γ → λγ, times λ)
        return H
    c = (PI * PI).sum(0)
    return H - n * torch.diag(c**2 / (gamma + nu[index] * c) ** 2)


def posterior_mean(Phi, X, nu, noise) -> Tensor:
    """U* = Γ Φᵀ (noise·I + ΦΓΦᵀ)⁻¹ X (κ×n): the minimiser of (1/noise)‖X − ΦU‖² + Σ_j ‖u_j‖²/ν_j (docs/theory.md §2).

    For plain evaluation and ``vmap`` (it uses ``linalg.solve``, whose Hessian-vector products are wrong under
    nested vmap/jvp in torch 2.13: never differentiate twice through it).
    """
    Phi, X, nu, noise = map(as_tensor, (Phi, X, nu, noise))
    S = noise * torch.eye(Phi.shape[0], dtype=DTYPE) + (Phi * nu) @ Phi.T
    return nu[:, None] * (Phi.T @ torch.linalg.solve(S, X))


def optimal_means(Phi, X, w, gamma) -> Tensor:
    """Encoder means M* (κ×n) minimising the ELBO for decoder weights w: (DΦᵀΦD + γI)⁻¹ DΦᵀ X."""
    Phi, X, w, gamma = as_tensor(Phi), as_tensor(X), as_tensor(w), as_tensor(gamma)
    PD = Phi * w
    A = PD.T @ PD + gamma * torch.eye(Phi.shape[1], dtype=DTYPE)
    return torch.linalg.solve(A, PD.T @ X)


def optimal_covariance(Phi, w, gamma, covariance: Covariance = "full") -> Tensor:
    """Optimal encoder covariance: (I + DΦᵀΦD/γ)⁻¹ (κ×κ) for "full"; variances γ/(γ + ν_j c_j) (κ,) for "diag"."""
    Phi, w, gamma = as_tensor(Phi), as_tensor(w), as_tensor(gamma)
    if covariance not in ("full", "diag"):
        raise InputError(f"covariance must be 'full' or 'diag', got {covariance!r}")
    if covariance == "full":
        PD = Phi * w
        return torch.linalg.inv(torch.eye(Phi.shape[1], dtype=DTYPE) + PD.T @ PD / gamma)
    return gamma / (gamma + w**2 * (Phi * Phi).sum(0))


def elbo_energy(Phi, X, w, M, Sigma, gamma, *, diagonal: bool = False) -> Tensor:
    """Twice the negative ELBO (without n d log 2π) with analytic expectations, docs/theory.md §2:

    Σ_i [(‖x_i − ΦDμ_i‖² + tr(DΦᵀΦD Σ_i))/γ + d log γ + tr Σ_i + ‖μ_i‖² − log|Σ_i| − κ]

    M: encoder means (κ×n). Sigma: one shared covariance (κ×κ) or per-sample covariances (n×κ×κ); with
    ``diagonal=True``, variances (κ,) shared or (n×κ) per sample.
    """
    Phi, X, w, M, Sigma, gamma = map(as_tensor, (Phi, X, w, M, Sigma, gamma))
    d, kappa = Phi.shape
    n = X.shape[1]
    PD = Phi * w
    K = PD.T @ PD  # DΦᵀΦD
    recon = ((X - PD @ M) ** 2).sum()
    if diagonal:
        var = Sigma.expand(n, kappa) if Sigma.ndim == 1 else Sigma
        tr_K = (var * torch.diagonal(K)).sum()
        tr_S = var.sum()
        logdet = torch.log(var).sum()
    else:
        S = Sigma.expand(n, kappa, kappa) if Sigma.ndim == 2 else Sigma
        tr_K = (S * K).sum()
        tr_S = torch.diagonal(S, dim1=-2, dim2=-1).sum()
        logdet = torch.linalg.slogdet(S)[1].sum()
    return (recon + tr_K) / gamma + n * d * torch.log(gamma) + tr_S + (M**2).sum() - logdet - n * kappa


def mc_elbo_energy(Phi, X, w, M, chol, gamma, n_samples: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Reparameterised Monte-Carlo estimate of `elbo_energy` with a shared full covariance chol cholᵀ.

    The reconstruction expectation is sampled (z = μ + chol ε); the KL term is analytic. Returns the estimate and
    its standard error over the samples.
    """
    Phi, X, w, M, chol, gamma = map(as_tensor, (Phi, X, w, M, chol, gamma))
    d, kappa = Phi.shape
    n = X.shape[1]
    eps = torch.randn((n_samples, kappa, n), generator=generator, dtype=DTYPE)
    Zs = M + chol @ eps  # (S, κ, n)
    recon = (((X - (Phi * w) @ Zs) ** 2).sum(dim=(1, 2))) / gamma  # (S,)
    Sigma = chol @ chol.T
    kl2 = n * torch.trace(Sigma) + (M**2).sum() - n * torch.linalg.slogdet(Sigma)[1] - n * kappa
    per = recon + n * d * torch.log(gamma) + kl2
    return per.mean(), per.std() / np.sqrt(n_samples)


# Deterministic autoencoders (docs/theory.md §3) -------------------------------------------------------------------------

def ae_l21_profile(Phi, X, nu, gamma, lam: float, beta: float) -> Tensor:
    """ae-l21 with M profiled out: min_M ‖X − ΦDM‖²/γ + λ‖M‖²_F + β‖w‖² as a function of ν = w²:

    λ tr(Xᵀ (λγ I + ΦΓΦᵀ)⁻¹ X) + β Σ ν_j    (minimising over ν gives 2√(λβ) Σ_j ‖u_j‖₂: group lasso).

    Derivation: with U = DM, λ‖M‖² = λ Σ_j ‖u_j‖²/ν_j, so the energy is λ [ (1/(λγ))‖X − ΦU‖² + Σ_j ‖u_j‖²/ν_j ] +
    βΣν, and the bracket's minimum over U is tr(Xᵀ(λγI + ΦΓΦᵀ)⁻¹X) (docs/theory.md §2 with γ → λγ).
    """
    Phi, X, nu, gamma = map(as_tensor, (Phi, X, nu, gamma))
    return lam * data_term(Phi, X, nu, lam * gamma) + beta * nu.sum()


def ae_energy(Phi, X, w, M, gamma, lam: float, beta: float, penalty: str, eps: float = 1e-2,
              abs_M=None) -> Tensor:
    """L_AE(w, M) = ‖X − ΦDM‖²_F/γ + λ Σ_i R(μ_i) + β‖w‖², R ∈ {"l2sq": ‖·‖², "l1": ‖·‖₁, "log": Σ log(|z| + ε)}.

    abs_M: optional stand-in for |M| (e.g. M⁺ + M⁻ in split-sign coordinates, where it is smooth).
    """
    Phi, X, w, M, gamma = map(as_tensor, (Phi, X, w, M, gamma))
    fit = ((X - (Phi * w) @ M) ** 2).sum() / gamma
    absM = M.abs() if abs_M is None else abs_M
    if penalty == "l2sq":
        pen = (M**2).sum()
    elif penalty == "l1":
        pen = absM.sum()
    elif penalty == "log":
        pen = torch.log(absM + eps).sum()
    else:
        raise InputError(f"penalty must be 'l2sq', 'l1' or 'log', got {penalty!r}")
    return fit + lam * pen + beta * (w**2).sum()
