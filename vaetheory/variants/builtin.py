"""The five built-in variants, written against the public protocol (`vaetheory.core.protocol`).

* ``vae-full`` / ``vae-diag``: the VAE of docs/theory.md §2 with the encoder profiled out in closed form, so the
  parameter is ν = w² ≥ 0 and the energy is L_full / L_diag (equal to the full ELBO at the optimal encoder: tested).
* ``ae-l21``: the deterministic AE with R = ‖·‖² and β‖w‖², M profiled out: a function of ν = w² ≥ 0 (§3).
* ``ae-l1`` / ``ae-log``: the deterministic AE with R = ‖·‖₁ or Σ log(|z| + ε), parameters w ≥ 0 (the sign of w_j is
  absorbed into row j of M) and M = M⁺ − M⁻ with M± ≥ 0, which makes the non-smooth penalty smooth on the orthant,
  so the same KKT certificate applies.
"""
from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

from vaetheory.core.protocol import Claim, GammaPolicy, ParamSpec

if TYPE_CHECKING:
    from vaetheory.problems.problem import Problem

# torch and the energies are imported inside the methods that use them, so that naming or describing a built-in
# (`vaetheory variants`, argument checks before a run) does not load torch.


def least_squares_on_supports(Phi: np.ndarray, X: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(B, κ, n) least-squares codes U with rows outside each support zero, for (B, κ) boolean masks (batched pinv).

    The pseudo-inverse of Φ with the columns outside a support zeroed has zero rows there, so only the support's
    columns are factorised: gathered into (B, d, m) with m the largest support (zero columns as padding), at the
    threshold the full (d, κ) pinv would use (max(d, κ)·eps relative). At d = 100, κ = 200 and supports of 20 the
    SVDs are 100×20, not 100×200."""
    import torch

    masks = np.asarray(masks, dtype=bool)
    Phi, X = np.asarray(Phi, dtype=np.float64), np.asarray(X, dtype=np.float64)
    B, (d, kappa) = len(masks), Phi.shape
    counts = masks.sum(1)
    m = max(int(counts.max(initial=0)), 1)
    order = np.argsort(~masks, axis=1, kind="stable")[:, :m]  # support columns first
    valid = np.arange(m)[None, :] < counts[:, None]
    cols = np.where(valid[:, None, :], Phi[:, order].transpose(1, 0, 2), 0.0)  # (B, d, m)
    rtol = max(d, kappa) * np.finfo(np.float64).eps
    V = (torch.linalg.pinv(torch.from_numpy(cols), rtol=rtol) @ torch.from_numpy(np.array(X))).numpy()  # (B, m, n)
    U = np.zeros((B, kappa, X.shape[1]))
    np.put_along_axis(U, order[:, :, None], np.where(valid[:, :, None], V, 0.0), axis=1)
    return U


def _scale(problem: Problem) -> float:
    """Typical ν for this data: mean energy per sample and dimension."""
    return float(np.sum(problem.X**2) / (problem.n * problem.d))


@dataclass(frozen=True)
class CollapsedVAE:
    """VAE with decoder Φ diag(w) z, prior N(0, I), Gaussian encoder (full or diagonal covariance), profiled in ν."""

    covariance: str
    name: str
    description: str
    claim: Claim
    gamma: GammaPolicy = GammaPolicy(default=1e-4, learnable=True, floor=1e-6)
    #: optional protocol attribute: the claim judged when γ is learned (`vaetheory.verdict.claims.claim_for`)
    learned_gamma_claim: Claim | None = None

    def param_specs(self, d, kappa, n):
        return {"nu": ParamSpec((kappa,), nonneg=True)}

    def energy(self, params, Phi, X, gamma):
        from vaetheory.variants.energies import collapsed_energy

        return collapsed_energy(Phi, X, params["nu"], gamma, self.covariance)

    def hessian(self, params, Phi, X, gamma):  # optional protocol method: closed form, exact
        from vaetheory.variants.energies import collapsed_hessian

        return collapsed_hessian(Phi, X, params["nu"], gamma, self.covariance)

    def hessian_at(self, params, Phi, X, gamma, index):  # optional protocol method: `hessian` on `index` only
        from vaetheory.variants.energies import collapsed_hessian_at

        return collapsed_hessian_at(Phi, X, params["nu"], gamma, index, self.covariance)

    def value_and_grad_batch(self, params, Phi, X, gamma, with_gamma=True):  # optional hook: closed form, batched
        from vaetheory.variants.closed_forms import collapsed_value_and_grad

        E, g_nu, g_gamma = collapsed_value_and_grad(Phi, X, params["nu"], gamma, self.covariance,
                                                    with_gamma=with_gamma)
        return E, {"nu": g_nu}, g_gamma

    def gamma_curvature_batch(self, params, Phi, X, gamma):  # optional hook: closed-form γ derivatives, batched
        from vaetheory.variants.closed_forms import collapsed_gamma_curvature

        E, g_nu, g_gamma, h_nu_gamma, h_gamma = collapsed_gamma_curvature(Phi, X, params["nu"], gamma,
                                                                          self.covariance)
        return E, {"nu": g_nu}, g_gamma, {"nu": h_nu_gamma}, h_gamma

    def fixed_point_batch(self, params, Phi, X, gamma, gamma_floor, safe):  # optional hook: M-SBL-type updates
        from vaetheory.variants.fixed_points import collapsed_fixed_point

        E, nu, new_gamma = collapsed_fixed_point(Phi, X, params["nu"], gamma, self.covariance, gamma_floor, safe)
        return E, {"nu": nu}, new_gamma

    def interval_derivatives(self, theta, Phi, X, gamma, active, with_gamma):  # optional hook: interval proofs
        from vaetheory.variants.interval_forms import collapsed_interval_derivatives

        return collapsed_interval_derivatives(theta, Phi, X, gamma, active, with_gamma, self.covariance)

    def init_random(self, problem, rng, size):
        return {"nu": _scale(problem) * rng.exponential(size=(size, problem.kappa))}

    def init_from_support(self, problem, masks, gamma):
        U = least_squares_on_supports(problem.Phi, problem.X, masks)
        return {"nu": (U**2).sum(-1) / problem.n}

    def latent_scales(self, params):
        return params["nu"]

    def representation(self, params, Phi, X, gamma):
        from vaetheory.variants.energies import posterior_mean

        return posterior_mean(Phi, X, params["nu"], gamma)


@dataclass(frozen=True)
class GroupLassoAE:
    """Deterministic AE, R = ‖·‖² with β‖w‖²: group lasso once the scale is eliminated; M profiled in ν = w²."""

    name: str = "ae-l21"
    description: str = "deterministic AE, R=||.||^2 + beta||w||^2 (group lasso l2,1), M profiled out"
    claim: Claim = Claim("none", (), "convex baseline: no bad minima, but not always the sparsest (docs/theory.md C4)")
    gamma: GammaPolicy = GammaPolicy(default=1e-2, learnable=False, floor=1e-2)
    lam: float = 1.0
    beta: float = 1.0

    def param_specs(self, d, kappa, n):
        return {"nu": ParamSpec((kappa,), nonneg=True)}

    def energy(self, params, Phi, X, gamma):
        from vaetheory.variants.energies import ae_l21_profile

        return ae_l21_profile(Phi, X, params["nu"], gamma, self.lam, self.beta)

    def value_and_grad_batch(self, params, Phi, X, gamma, with_gamma=True):  # optional hook: closed form, batched
        from vaetheory.variants.closed_forms import collapsed_value_and_grad

        E, g_nu, g_gamma = collapsed_value_and_grad(Phi, X, params["nu"], gamma, "none", with_gamma=with_gamma,
                                                    noise_factor=self.lam, fit_weight=self.lam, linear=self.beta)
        return E, {"nu": g_nu}, g_gamma

    def hessian(self, params, Phi, X, gamma):  # optional protocol method: closed form, exact
        from vaetheory.variants.energies import collapsed_hessian

        return self.lam * collapsed_hessian(Phi, X, params["nu"], self.lam * gamma, "none")

    def interval_derivatives(self, theta, Phi, X, gamma, active, with_gamma):  # optional hook: interval proofs
        from vaetheory.variants.interval_forms import collapsed_interval_derivatives

        return collapsed_interval_derivatives(theta, Phi, X, gamma, active, with_gamma, "none",
                                              noise_factor=self.lam, fit_weight=self.lam, linear=self.beta)

    def init_random(self, problem, rng, size):
        return {"nu": np.sqrt(_scale(problem)) * rng.exponential(size=(size, problem.kappa))}

    def init_from_support(self, problem, masks, gamma):
        U = least_squares_on_supports(problem.Phi, problem.X, masks)
        return {"nu": np.sqrt(self.lam / self.beta) * np.linalg.norm(U, axis=-1)}  # argmin of λ‖u‖²/ν + βν

    def latent_scales(self, params):
        return params["nu"]

    def representation(self, params, Phi, X, gamma):
        from vaetheory.variants.energies import posterior_mean

        return posterior_mean(Phi, X, params["nu"], self.lam * gamma)


@dataclass(frozen=True)
class SplitSignAE:
    """Deterministic AE with an entrywise penalty (ℓ1 or log) in orthant coordinates w ≥ 0, M⁺ ≥ 0, M⁻ ≥ 0."""

    penalty: str
    name: str
    description: str
    claim: Claim = Claim("bad_minima_exist", ("nonoptimal_bfs_exists",),
                         "every non-optimal basic feasible solution is a bad local minimum (docs/theory.md C3)")
    gamma: GammaPolicy = GammaPolicy(default=1e-2, learnable=False, floor=1e-2)
    lam: float = 0.1
    beta: float = 1.0
    eps: float = 1e-2

    def param_specs(self, d, kappa, n):
        return {"w": ParamSpec((kappa,), nonneg=True), "Mp": ParamSpec((kappa, n), nonneg=True),
                "Mm": ParamSpec((kappa, n), nonneg=True)}

    def energy(self, params, Phi, X, gamma):
        # M⁺ + M⁻ = |M| wherever M⁺M⁻ = 0, which holds at every stationary point (the penalty's gradient is > 0)
        from vaetheory.variants.energies import ae_energy

        return ae_energy(Phi, X, params["w"], params["Mp"] - params["Mm"], gamma, self.lam, self.beta,
                         self.penalty, self.eps, abs_M=params["Mp"] + params["Mm"])

    def value_and_grad_batch(self, params, Phi, X, gamma, with_gamma=True):  # optional hook: closed form, batched
        from vaetheory.variants.closed_forms import split_sign_value_and_grad

        E, (g_w, g_p, g_m), g_gamma = split_sign_value_and_grad(
            Phi, X, params["w"], params["Mp"], params["Mm"], gamma, lam=self.lam, beta=self.beta,
            penalty=self.penalty, eps=self.eps, with_gamma=with_gamma)
        return E, {"w": g_w, "Mp": g_p, "Mm": g_m}, g_gamma

    def hessian(self, params, Phi, X, gamma):  # optional protocol method: closed form, exact
        from vaetheory.variants.closed_forms import split_sign_hessian

        return split_sign_hessian(Phi, X, params["w"], params["Mp"], params["Mm"], gamma, lam=self.lam,
                                  beta=self.beta, penalty=self.penalty, eps=self.eps)

    def hessian_at(self, params, Phi, X, gamma, index):  # optional protocol method: `hessian` on `index` only
        from vaetheory.variants.closed_forms import split_sign_hessian_at

        return split_sign_hessian_at(Phi, X, params["w"], params["Mp"], params["Mm"], gamma, index, lam=self.lam,
                                     beta=self.beta, penalty=self.penalty, eps=self.eps)

    def canonical(self, params):  # optional protocol method: an equivalent point with no larger energy
        # M⁺ = max(M, 0), M⁻ = max(−M, 0): the same M (so the same fit) and M⁺ + M⁻ = |M| ≤ the old sum, so the
        # increasing penalty does not grow. It removes the flat direction (M⁺ + δ, M⁻ + δ) that stalls Newton.
        M = params["Mp"] - params["Mm"]
        return {"w": params["w"], "Mp": np.maximum(M, 0.0), "Mm": np.maximum(-M, 0.0)}

    def init_random(self, problem, rng, size):
        k, n = problem.kappa, problem.n
        M = rng.standard_normal((size, k, n)) * np.sqrt(_scale(problem))
        return {"w": rng.uniform(0.5, 1.5, size=(size, k)), "Mp": np.maximum(M, 0), "Mm": np.maximum(-M, 0)}

    def init_from_support(self, problem, masks, gamma):
        U = least_squares_on_supports(problem.Phi, problem.X, masks)
        l1 = np.abs(U).sum(-1)
        # balance the scale per row: w³ = λ‖u‖₁/(2β) minimises λ‖u‖₁/w + βw² (for the log penalty a fair guess)
        w = np.cbrt(self.lam * l1 / (2 * self.beta))
        M = np.divide(U, w[..., None], out=np.zeros_like(U), where=w[..., None] > 0)
        return {"w": w, "Mp": np.maximum(M, 0), "Mm": np.maximum(-M, 0)}

    def latent_scales(self, params):
        return params["w"] * (params["Mp"] - params["Mm"]).abs().sum(-1)

    def representation(self, params, Phi, X, gamma):
        return params["w"][:, None] * (params["Mp"] - params["Mm"])


VAE_FULL = CollapsedVAE(
    "full", "vae-full", "VAE, full-covariance Gaussian encoder (exact marginalisation): L_full = M-SBL cost",
    Claim("optimal_minima", ("urp", "r_less_than_d", "orthogonal_rows", "fixed_gamma", "small_gamma"),
          "every local minimum at fixed small gamma is optimally sparse (docs/theory.md C1)"),
    learned_gamma_claim=Claim(
        "optimal_minima", ("urp", "r_less_than_d", "orthogonal_rows", "learned_gamma"),
        "with gamma learned (down to the floor, confirmed as a gamma -> 0 limit there) every local minimum is "
        "optimally sparse (docs/theory.md C6(b))"))
VAE_DIAG = CollapsedVAE(
    "diag", "vae-diag", "VAE, diagonal (mean-field) Gaussian encoder: L_diag",
    Claim("bad_minima_exist", ("nonoptimal_bfs_exists", "fixed_gamma", "small_gamma"),
          "a non-optimal basic feasible solution is a bad local minimum at fixed small gamma (docs/theory.md C2)"),
    learned_gamma_claim=Claim(
        "bad_minima_exist", ("nonoptimal_bfs_exists", "learned_gamma"),
        "with gamma learned the mean-field VAE has bad local minima (interior in gamma, at non-optimal supports; "
        "docs/theory.md C6(c)); each certified one refutes 'the mean-field VAE has no bad local minima when gamma is "
        "learned' (docs/learned-gamma.md)"))
AE_L21 = GroupLassoAE()
AE_L1 = SplitSignAE("l1", "ae-l1", "deterministic AE, R=||.||_1 + beta||w||^2 (row penalty ~ ||u_j||_1^(2/3))")
AE_LOG = SplitSignAE("log", "ae-log", "deterministic AE, R=sum log(|z|+eps) + beta||w||^2 (separable concave)")

BUILTINS = {v.name: v for v in (VAE_FULL, VAE_DIAG, AE_L21, AE_L1, AE_LOG)}
