"""Plain M-SBL (Wipf & Rao 2007) by its fixed-point update, in numpy, one thread: the anchor of bench/product_path.py.

Minimises L(ν, λ) = n log|Σ_x| + tr(Xᵀ Σ_x⁻¹ X), Σ_x = λ I + Φ diag(ν) Φᵀ, from random starts ν ~ Exp(‖X‖²/(nd)).
Each iteration: M = Γ Φᵀ Σ_x⁻¹ X, Σ_jj = ν_j − ν_j² φ_jᵀ Σ_x⁻¹ φ_j, then
ν_j ← (‖μ_j‖²/n) / (1 − Σ_jj/ν_j) and, when λ is learned, λ ← (‖X − ΦM‖²_F/n) / (d − κ + Σ_j Σ_jj/ν_j)
(the M-SBL noise update). It stops when the largest relative change of ν is below `tol`. It does not import vaetheory.
Support of an end point: {j : ν_j > 1e-6 · max ν}; the winner of a problem is its lowest-energy end point.
"""
from __future__ import annotations

import numpy as np


def msbl(Phi, X, nu0, lam=1e-6, learn_lam=False, max_iter=2000, tol=1e-8, lam_floor=1e-6):
    """One start: returns (ν, λ, energy, iterations)."""
    d, n = X.shape
    nu = np.array(nu0, dtype=np.float64)
    for it in range(1, max_iter + 1):
        S = lam * np.eye(d) + (Phi * nu) @ Phi.T
        Si_Phi = np.linalg.solve(S, Phi)                        # Σ_x⁻¹ Φ
        M = nu[:, None] * (Si_Phi.T @ X)                        # posterior mean Γ Φᵀ Σ_x⁻¹ X
        ratio = nu * np.einsum("ij,ij->j", Phi, Si_Phi)         # 1 − Σ_jj/ν_j = ν_j φ_jᵀ Σ_x⁻¹ φ_j
        new = np.divide((M**2).sum(1) / n, ratio, out=np.zeros_like(nu), where=ratio > 0)
        if learn_lam:
            lam = max(np.sum((X - Phi @ M) ** 2) / n / max(d - ratio.sum(), 1e-300), lam_floor)
        change = np.max(np.abs(new - nu)) / max(np.max(new), 1e-300)
        nu = new
        if change < tol:
            break
    return nu, lam, energy(Phi, X, nu, lam), it


def energy(Phi, X, nu, lam):
    """n log|Σ_x| + tr(Xᵀ Σ_x⁻¹ X)."""
    S = lam * np.eye(Phi.shape[0]) + (Phi * nu) @ Phi.T
    return X.shape[1] * np.linalg.slogdet(S)[1] + np.sum(X * np.linalg.solve(S, X))


def msbl_multistart(Phi, X, starts=8, seed=0, **kw):
    """`starts` random starts; returns a dict with the winner's support, its energy and the iterations per start."""
    rng = np.random.default_rng(seed)
    scale = np.sum(X**2) / X.size
    runs = [msbl(Phi, X, scale * rng.exponential(size=Phi.shape[1]), **kw) for _ in range(starts)]
    best = min(runs, key=lambda r: r[2])
    support = np.flatnonzero(best[0] > 1e-6 * best[0].max())
    return {"support": [int(j) for j in support], "energy": float(best[2]), "gamma": float(best[1]),
            "iterations": [r[3] for r in runs]}


if __name__ == "__main__":  # smoke demo: d = 100, κ = 200, r = 20, n = 1
    import time

    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((100, 200))
    Phi /= np.linalg.norm(Phi, axis=0)
    z = np.zeros((200, 1))
    S = rng.choice(200, 20, replace=False)
    z[S, 0] = rng.standard_normal(20)
    t = time.perf_counter()
    out = msbl_multistart(Phi, Phi @ z)
    print(f"recovered {sorted(out['support']) == sorted(S.tolist())}, {time.perf_counter() - t:.2f} s, "
          f"iterations {out['iterations']}")
