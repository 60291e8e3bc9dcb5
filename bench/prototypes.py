"""Prototype of a proposed library optimisation, measured but NOT applied (the library is not ours to edit).

Closed-form batched value-and-gradient of the collapsed vae-full energy (docs/theory.md §2):
    E = n log|Σ_x| + ‖L⁻¹X‖²_F,   ∂E/∂ν_j = n ‖L⁻¹φ_j‖² − ‖(L⁻¹φ_j)ᵀ(L⁻¹X)‖²,   ∂E/∂γ = n ‖L⁻¹‖²_F − ‖L⁻ᵀL⁻¹X‖²_F
with L = chol(Σ_x): one Cholesky and one triangular solve with [Φ X] per point, no autograd graph. Compared with
`Objective.value_and_grad` (vmap of autograd through cholesky) on the same points.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.common import best_rate, load, timed
from vaetheory.core.threads import torch_threads
from vaetheory.problems.generate import make_problem
from vaetheory.search.objective import Objective
from vaetheory.variants.registry import get_variant


def full_value_and_grad(Phi: torch.Tensor, X: torch.Tensor, nu: torch.Tensor, gamma: torch.Tensor):
    """Energies (B,), ∂/∂ν (B, κ), ∂/∂γ (B,) of L_full for ν (B, κ), γ (B,), batched in closed form."""
    d, n = Phi.shape[0], X.shape[1]
    S = torch.einsum("ik,bk,jk->bij", Phi, nu, Phi) + gamma[:, None, None] * torch.eye(d, dtype=Phi.dtype)
    L = torch.linalg.cholesky(S)
    W = torch.linalg.solve_triangular(L, torch.cat([Phi, X], 1).expand(len(nu), -1, -1), upper=False)
    Wp, Y = W[:, :, :Phi.shape[1]], W[:, :, Phi.shape[1]:]
    E = 2 * n * torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1) + (Y * Y).sum((1, 2))
    g_nu = n * (Wp * Wp).sum(1) - (torch.einsum("bik,bil->bkl", Wp, Y) ** 2).sum(2)
    Linv = torch.linalg.solve_triangular(L, torch.eye(d, dtype=Phi.dtype).expand(len(nu), -1, -1), upper=False)
    Z = torch.linalg.solve_triangular(L.transpose(1, 2), Y, upper=True)  # Σ_x⁻¹ X
    g_gamma = n * (Linv * Linv).sum((1, 2)) - (Z * Z).sum((1, 2))
    return E, g_nu, g_gamma


def full_hessian(Phi: torch.Tensor, X: torch.Tensor, nu: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """(B, κ, κ) Hessian of L_full in ν in closed form: with K = ΦᵀΣ_x⁻¹Φ and B = ΦᵀΣ_x⁻¹X,
    H = −n K∘K + 2 K∘(B Bᵀ) (∘ = elementwise). One Cholesky, O(dκ² + κ²n) per point."""
    d, n = Phi.shape[0], X.shape[1]
    S = torch.einsum("ik,bk,jk->bij", Phi, nu, Phi) + gamma[:, None, None] * torch.eye(d, dtype=Phi.dtype)
    L = torch.linalg.cholesky(S)
    W = torch.linalg.solve_triangular(L, torch.cat([Phi, X], 1).expand(len(nu), -1, -1), upper=False)
    Wp, Y = W[:, :, :Phi.shape[1]], W[:, :, Phi.shape[1]:]
    K = Wp.transpose(1, 2) @ Wp
    Bm = Wp.transpose(1, 2) @ Y
    return -n * K * K + 2 * K * (Bm @ Bm.transpose(1, 2))


def hessian_rows(cases) -> list[dict[str, Any]]:
    """Closed-form Hessian vs `Objective.active_hessian` with every coordinate active (the Newton phase's worst
    case): agreement and points per second."""
    rows = []
    variant = get_variant("vae-full")
    for d, kappa, n, B in cases:
        p = make_problem(d, kappa, min(5, d - 1), n, "gaussian", seed=0)
        obj = Objective(variant, p)
        theta = np.random.default_rng(1).random((B, kappa))
        gam = np.full(B, 1e-4)
        H0, _, _ = obj.active_hessian(theta, gam, np.ones((B, kappa), dtype=bool))
        Phi, X = torch.from_numpy(np.array(p.Phi)), torch.from_numpy(np.array(p.X))
        th, ga = torch.from_numpy(theta), torch.from_numpy(gam)
        with torch_threads(1):
            H1 = full_hessian(Phi, X, th, ga).numpy()
            fast = best_rate(lambda: (full_hessian(Phi, X, th, ga), B)[1], 0.3, 3)
        lib = best_rate(lambda: (obj.active_hessian(theta, gam, np.ones((B, kappa), dtype=bool)), B)[1], 0.3, 1)
        rows.append({"d": d, "kappa": kappa, "n": n, "points": B, "library_points_per_s": lib,
                     "closed_form_points_per_s": fast, "speedup": fast / lib,
                     "max_rel_diff": float(np.abs(H1 - H0).max() / np.abs(H0).max()), "load": load()})
    return rows


def patched_active_hessian(self: Objective, theta, gamma, active):
    """Drop-in for `Objective.active_hessian` (same (H, order, valid) contract) using `full_hessian`; vae-full only."""
    active = np.asarray(active, dtype=bool)
    counts = active.sum(1)
    m = max(int(counts.max()), 1)
    order = np.argsort(~active, axis=1, kind="stable")[:, :m]
    valid = np.arange(m)[None, :] < counts[:, None]
    with torch_threads(1):
        H = full_hessian(self.Phi, self.X, torch.from_numpy(np.array(theta)), torch.from_numpy(np.array(gamma)))
    H = H.numpy()
    H = np.take_along_axis(np.take_along_axis(H, order[:, :, None], 1), order[:, None, :], 2)
    return H * (valid[:, :, None] & valid[:, None, :]), order, valid


def search_with_patch(d: int, kappa: int, r: int, n: int, restarts_list: list[int]) -> list[dict[str, Any]]:
    """`minimise` (vae-full, fixed γ = 1e-6, random starts) with the library Hessian and with the monkeypatched
    closed form, on the same starts: seconds and whether the end points agree."""
    from unittest import mock

    from vaetheory.search.multistart import make_starts, minimise
    variant = get_variant("vae-full")
    obj = Objective(variant, make_problem(d, kappa, r, n, "gaussian", seed=1))
    rows = []
    for R in restarts_list:
        starts = make_starts(obj, R, np.random.default_rng(0), 1e-6)
        lib_res, lib_s = timed(lambda: minimise(obj, starts, 1e-6))
        with mock.patch.object(Objective, "active_hessian", patched_active_hessian):
            new_res, new_s = timed(lambda: minimise(obj, starts, 1e-6))
        same = np.array_equal(obj.latent_scales(lib_res.theta) > 1e-6 * obj.latent_scales(lib_res.theta).max(1,
                              keepdims=True), obj.latent_scales(new_res.theta) > 1e-6 * obj.latent_scales(
                              new_res.theta).max(1, keepdims=True))
        rows.append({"d": d, "kappa": kappa, "r": r, "n": n, "restarts": R, "library_seconds": lib_s,
                     "patched_seconds": new_s, "speedup": lib_s / new_s, "same_supports": bool(same),
                     "energy_max_abs_diff": float(np.abs(lib_res.energy - new_res.energy).max()), "load": load()})
    return rows


def cholesky_threads() -> dict[str, float]:
    """Microseconds per 8×8 torch Cholesky with 1 and with 2 threads (why vaetheory/_threads.py exists)."""
    A = torch.eye(8, dtype=torch.float64) * 8 + torch.ones(8, 8, dtype=torch.float64)
    out = {}
    for threads in (1, 2):
        with torch_threads(threads):
            out[f"us_per_8x8_cholesky_{threads}_threads"] = 1e6 / best_rate(
                lambda: (torch.linalg.cholesky(A), 1)[1], 0.2, 3)
    return out | {"load": load()}


def run(quick: bool) -> dict[str, Any]:
    """Agreement and speed of the closed form vs the library's autograd path, for a few (d, κ, n, B)."""
    cases = [(8, 16, 6, 8)] if quick else [(20, 40, 20, 32), (100, 200, 1, 4), (100, 200, 1, 32)]
    rows = []
    variant = get_variant("vae-full")
    for d, kappa, n, B in cases:
        p = make_problem(d, kappa, min(5, d - 1), n, "gaussian", seed=0)
        obj = Objective(variant, p)
        rng = np.random.default_rng(0)
        theta = rng.random((B, kappa)) * (rng.random((B, kappa)) < 0.5)
        gam = np.full(B, 1e-4)
        E0, g0, gg0 = obj.value_and_grad(theta, gam)
        Phi, X = torch.from_numpy(np.array(p.Phi)), torch.from_numpy(np.array(p.X))
        th, ga = torch.from_numpy(theta), torch.from_numpy(gam)
        with torch_threads(1):
            E1, g1, gg1 = (t.numpy() for t in full_value_and_grad(Phi, X, th, ga))
            fast = best_rate(lambda: (full_value_and_grad(Phi, X, th, ga), B)[1], 0.3, 3)
        lib = best_rate(lambda: (obj.value_and_grad(theta, gam), B)[1], 0.3, 3)
        rel = max(np.abs(E1 - E0).max() / np.abs(E0).max(), np.abs(g1 - g0).max() / np.abs(g0).max(),
                  np.abs(gg1 - gg0).max() / np.abs(gg0).max())
        rows.append({"d": d, "kappa": kappa, "n": n, "points": B, "library_points_per_s": lib,
                     "closed_form_points_per_s": fast, "speedup": fast / lib, "max_rel_diff": float(rel),
                     "load": load()})
    return {"proposal": "vaetheory/objective.py Objective.value_and_grad: use a variant-provided closed-form "
                        "value_and_grad when present (vae-full/vae-diag); keep autograd for Hessians",
            "rows": rows, "threads": cholesky_threads(),
            "hessian_proposal": "vaetheory/objective.py Objective.active_hessian (used by search.projected_newton "
                                "and certify): take the variant's closed-form Hessian when it provides one; for "
                                "vae-full H = -n K∘K + 2 K∘(BBᵀ), K = ΦᵀΣ⁻¹Φ, B = ΦᵀΣ⁻¹X",
            "search_patched": search_with_patch(*((8, 16, 3, 1) if quick else (100, 200, 10, 1)),
                                                [1, 2] if quick else [1, 4]),
            "hessian_rows": hessian_rows([(8, 16, 6, 4)] if quick else [(20, 40, 20, 8), (100, 200, 1, 2)])}
