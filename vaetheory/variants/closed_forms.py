"""Closed-form, batched values and first derivatives of the built-in energies (docs/theory.md §2–3), in torch float64.

These implement the optional protocol hook ``value_and_grad_batch`` (`vaetheory.core.protocol`): energies, gradients
in the parameters and, on request, ∂E/∂γ for a whole batch of points at once, without an autograd graph. Autograd of
`vaetheory.variants.energies` stays the reference: tests/test_closed_forms.py compares the two on Hypothesis-drawn
problems and points, and the import checker compares any variant's hook with autograd.

Collapsed energies (vae-full, vae-diag, ae-l21), with S = g I + ΦΓΦᵀ, g = a·γ (a the noise factor), L = chol(S),
[Wφ | Y] = L⁻¹[Φ | X] (one triangular solve per point), K_jj = ‖Wφ_j‖² (column norms) and Bm = WφᵀY = ΦᵀS⁻¹X:

    E      = f ‖Y‖² + logdet-part + β Σ ν
    ∂E/∂ν_j = −f ‖Bm_j‖² + n K_jj (full) or n c_j/(g + ν_j c_j) (diag) + β
    ∂E/∂γ  = a [−f ‖L⁻ᵀY‖² + n ‖L⁻¹‖²_F (full) or n Σ_j 1/(g + ν_j c_j) + n(d − κ)/g (diag)]

(f the fit weight; vae-full/vae-diag: a = f = 1, β = 0; ae-l21: a = f = λ, no log-determinant.) The γ derivative
costs one more triangular solve (and L⁻¹ for vae-full), so it is computed only when asked for.

Split-sign AE (ae-l1, ae-log), M = M⁺ − M⁻, |M| ≈ M⁺ + M⁻, R = X − Φ diag(w) M, Q = ΦᵀR:

    E = ‖R‖²/γ + λ Σ ρ(M⁺ + M⁻) + β‖w‖²,   ∂E/∂w_j = −(2/γ) Σ_i Q_ji M_ji + 2β w_j,
    ∂E/∂M± = ∓(2/γ) w ∘ Q + λ ρ'(M⁺ + M⁻),   ∂E/∂γ = −‖R‖²/γ²,

with ρ(t) = t (ℓ1) or log(t + ε) (log).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["collapsed_gamma_curvature", "collapsed_value_and_grad", "split_sign_value_and_grad"]


def collapsed_value_and_grad(Phi: Tensor, X: Tensor, nu: Tensor, gamma: Tensor, covariance: str, *,
                             with_gamma: bool = True, noise_factor: float = 1.0, fit_weight: float = 1.0,
                             linear: float = 0.0, parts: dict | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Energies (B,), ∂E/∂ν (B, κ) and ∂E/∂γ (B,) (None unless `with_gamma`) of the collapsed energy for ν (B, κ)
    and γ (B,); covariance "full", "diag" or "none" (no log-determinant term: ae-l21). Module docstring: formulas."""
    d, kappa = Phi.shape
    n = X.shape[1]
    B = nu.shape[0]
    g = noise_factor * gamma
    eye = torch.eye(d, dtype=Phi.dtype)
    S = (Phi * nu[:, None, :]) @ Phi.T + g[:, None, None] * eye
    L = torch.linalg.cholesky(S)
    W = torch.linalg.solve_triangular(L, torch.cat([Phi, X], 1).expand(B, d, kappa + n), upper=False)
    Wp, Y = W[:, :, :kappa], W[:, :, kappa:]
    Bm = Wp.transpose(1, 2) @ Y  # Φᵀ S⁻¹ X, (B, κ, n)
    E = fit_weight * (Y * Y).sum((1, 2)) + linear * nu.sum(1)
    g_nu = linear - fit_weight * (Bm * Bm).sum(2)
    g_gamma = None
    if with_gamma:
        Z = torch.linalg.solve_triangular(L.transpose(1, 2), Y, upper=True)  # S⁻¹ X
        g_gamma = -fit_weight * (Z * Z).sum((1, 2))
        if parts is not None:  # for `collapsed_gamma_curvature`
            parts.update(L=L, Wp=Wp, Bm=Bm, Z=Z)
    if covariance == "full":
        E = E + 2 * n * torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(1)
        g_nu = g_nu + n * (Wp * Wp).sum(1)
        if with_gamma:
            Linv = torch.linalg.solve_triangular(L, eye.expand(B, d, d), upper=False)
            g_gamma = g_gamma + n * (Linv * Linv).sum((1, 2))
    elif covariance == "diag":
        c = (Phi * Phi).sum(0)
        t = g[:, None] + nu * c
        E = E + n * torch.log(t).sum(1) + n * (d - kappa) * torch.log(g)
        g_nu = g_nu + n * c / t
        if with_gamma:
            g_gamma = g_gamma + n * (1 / t).sum(1) + n * (d - kappa) / g
    elif covariance != "none":
        raise ValueError(f"covariance must be 'full', 'diag' or 'none', got {covariance!r}")
    if with_gamma:
        g_gamma = noise_factor * g_gamma
    return E, g_nu, g_gamma


def collapsed_gamma_curvature(Phi: Tensor, X: Tensor, nu: Tensor, gamma: Tensor, covariance: str
                              ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """E (B,), ∂E/∂ν (B, κ), ∂E/∂γ (B,), ∂²E/∂ν∂γ (B, κ) and ∂²E/∂γ² (B,) of L_full / L_diag (covariance "full"
    or "diag") in closed form, for ν (B, κ) and γ (B,): the optional hook ``gamma_curvature_batch``, in place of a
    reverse pass through `collapsed_value_and_grad` (the Newton phase and the certificate with γ learned).

    With S = γI + ΦΓΦᵀ = LLᵀ, Wφ = L⁻¹Φ, Y = L⁻¹X, Z = S⁻¹X = L⁻ᵀY, V = S⁻¹Φ = L⁻ᵀWφ, Bm = ΦᵀZ and ∂S⁻¹/∂γ = −S⁻²:

        ∂/∂γ tr(XᵀS⁻¹X) = −‖Z‖²_F,               ∂²/∂γ² = 2 tr(XᵀS⁻³X) = 2‖L⁻¹Z‖²_F,
        ∂/∂ν_j tr(XᵀS⁻¹X) = −‖Bm_j‖²,             ∂²/∂ν_j∂γ = 2 Σ_k Bm_jk (VᵀZ)_jk,
        full:  ∂/∂γ n log|S| = n tr S⁻¹,  ∂²/∂γ² = −n ‖S⁻¹‖²_F,  ∂/∂ν_j = n ‖Wφ_j‖²,  ∂²/∂ν_j∂γ = −n ‖V_j‖²;
        diag (t_j = γ + ν_j c_j):  ∂/∂γ = n Σ_j 1/t_j + n(d − κ)/γ,  ∂²/∂γ² = −n Σ_j 1/t_j² − n(d − κ)/γ²,
                                   ∂/∂ν_j = n c_j/t_j,  ∂²/∂ν_j∂γ = −n c_j/t_j².

    Checked against autograd of the energy in tests/test_gamma_curvature.py (and a wrong form fails there)."""
    if covariance not in ("full", "diag"):
        raise ValueError(f"covariance must be 'full' or 'diag', got {covariance!r}")
    d, kappa = Phi.shape
    n = X.shape[1]
    # E, ∂E/∂ν and ∂E/∂γ by `collapsed_value_and_grad` itself (the same numbers bit for bit: the Newton phase
    # compares energies from both), which hands over its factor and solves
    parts: dict = {}
    E, g_nu, g_gamma = collapsed_value_and_grad(Phi, X, nu, gamma, covariance, with_gamma=True, parts=parts)
    L, Wp, Bm, Z = parts["L"], parts["Wp"], parts["Bm"], parts["Z"]
    Lt = L.transpose(1, 2)
    V = torch.linalg.solve_triangular(Lt, Wp, upper=True)  # S⁻¹ Φ
    LZ = torch.linalg.solve_triangular(L, Z, upper=False)  # L⁻¹ S⁻¹ X
    h_nu_gamma = 2 * (Bm * (V.transpose(1, 2) @ Z)).sum(2)
    h_gamma = 2 * (LZ * LZ).sum((1, 2))
    if covariance == "full":
        Sinv = torch.cholesky_inverse(L)
        h_nu_gamma = h_nu_gamma - n * (V * V).sum(1)
        h_gamma = h_gamma - n * (Sinv * Sinv).sum((1, 2))
    else:
        c = (Phi * Phi).sum(0)
        t = gamma[:, None] + nu * c
        h_nu_gamma = h_nu_gamma - n * c / t**2
        h_gamma = h_gamma - n * (1 / t**2).sum(1) - n * (d - kappa) / gamma**2
    return E, g_nu, g_gamma, h_nu_gamma, h_gamma


def split_sign_value_and_grad(Phi: Tensor, X: Tensor, w: Tensor, Mp: Tensor, Mm: Tensor, gamma: Tensor, *,
                              lam: float, beta: float, penalty: str, eps: float, with_gamma: bool = True
                              ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor], Tensor | None]:
    """Energies (B,), (∂E/∂w (B, κ), ∂E/∂M⁺, ∂E/∂M⁻ (B, κ, n)) and ∂E/∂γ (B,) (None unless `with_gamma`) of the
    split-sign AE energy (module docstring)."""
    M = Mp - Mm
    A = Mp + Mm  # the smooth stand-in for |M|
    R = X - Phi @ (w[:, :, None] * M)  # (B, d, n)
    fit = (R * R).sum((1, 2))
    Q = Phi.T @ R  # (B, κ, n)
    if penalty == "l1":
        pen, dpen = A.sum((1, 2)), torch.ones_like(A)
    elif penalty == "log":
        pen, dpen = torch.log(A + eps).sum((1, 2)), 1 / (A + eps)
    else:
        raise ValueError(f"penalty must be 'l1' or 'log', got {penalty!r}")
    E = fit / gamma + lam * pen + beta * (w * w).sum(1)
    gM = (-2 / gamma)[:, None, None] * w[:, :, None] * Q
    g_w = (-2 / gamma)[:, None] * (Q * M).sum(2) + 2 * beta * w
    return E, (g_w, gM + lam * dpen, -gM + lam * dpen), (-fit / gamma**2 if with_gamma else None)


def split_sign_hessian(Phi: Tensor, X: Tensor, w: Tensor, Mp: Tensor, Mm: Tensor, gamma: Tensor, *, lam: float,
                       beta: float, penalty: str, eps: float) -> Tensor:
    """Exact (P, P) Hessian of the split-sign AE energy at ONE point, flat order (w, M⁺, M⁻) with M row-major.

    With G = ΦᵀΦ, W = diag(w), Q = ΦᵀR and M = M⁺ − M⁻ (P = κ(1 + 2n)):
    ∂²/∂w∂w = (2/γ) G∘(MMᵀ) + 2βI;  ∂²/∂M∂M = (2/γ) (WGW) ⊗ I_n;
    ∂²/∂w_j∂M_kl = (2/γ)(G_jk w_k M_jl − δ_jk Q_jl);  the penalty adds λρ''(M⁺ + M⁻) on the diagonals of the
    (M⁺, M⁺), (M⁺, M⁻), (M⁻, M⁻) blocks (0 for ℓ1, −λ/(|M| + ε)² for log); M = M⁺ − M⁻ gives the signs.
    Composable with vmap (the search batches it)."""
    kappa, n = Mp.shape
    M = Mp - Mm
    G = Phi.T @ Phi
    R = X - Phi @ (w[:, None] * M)
    Q = Phi.T @ R
    c = 2 / gamma
    eye_k = torch.eye(kappa, dtype=Phi.dtype)
    H_ww = c * G * (M @ M.T) + 2 * beta * eye_k
    H_MM = torch.kron(c * (w[:, None] * G * w[None, :]), torch.eye(n, dtype=Phi.dtype))
    H_wM = (c * (G * w[None, :])[:, :, None] * M[:, None, :] - c * eye_k[:, :, None] * Q[:, None, :]
            ).reshape(kappa, kappa * n)
    if penalty == "l1":
        D = torch.zeros(kappa * n, dtype=Phi.dtype)
    elif penalty == "log":
        D = (-lam / (Mp + Mm + eps) ** 2).reshape(-1)
    else:
        raise ValueError(f"penalty must be 'l1' or 'log', got {penalty!r}")
    Dm = torch.diag(D)
    top = torch.cat([H_ww, H_wM, -H_wM], 1)
    mid = torch.cat([H_wM.T, H_MM + Dm, -H_MM + Dm], 1)
    bot = torch.cat([-H_wM.T, -H_MM + Dm, H_MM + Dm], 1)
    return torch.cat([top, mid, bot], 0)


def split_sign_hessian_at(Phi: Tensor, X: Tensor, w: Tensor, Mp: Tensor, Mm: Tensor, gamma: Tensor, index: Tensor, *,
                          lam: float, beta: float, penalty: str, eps: float) -> Tensor:
    """`split_sign_hessian` restricted to the flat coordinates `index` (m,), ONE point, without forming the P×P
    matrix: O(m²(n + κ)) work instead of O(P²). Composable with vmap over (point, index) (the Newton phase
    batches it).

    Each coordinate a (a row j_a of w, or an entry (j_a, l_a) of M± with sign s_a = ±1) moves the reconstruction
    Φ W M along Φ_{:, j_a} ⊗ u_a, with u_a = M_{j_a, :} for w and s_a w_{j_a} e_{l_a} for M±. So the Gauss–Newton
    part of the fit's Hessian is (2/γ) G_{j_a j_b} ⟨u_a, u_b⟩: a gather of G times a rank-n Gram matrix. The rest
    lives on pairs in the same latent row: −(2/γ) s_b Q_{j, l_b} between w_j and M±_{j, l_b}, 2β between w_j and
    itself, and the penalty's curvature ρ'' between M±_{j,l} and M±_{j,l}."""
    kappa, n = Mp.shape
    M = Mp - Mm
    G = Phi.T @ Phi
    Q = Phi.T @ (X - Phi @ (w[:, None] * M))
    c = 2 / gamma
    if penalty == "l1":
        D = torch.zeros_like(M)
    elif penalty == "log":
        D = -lam / (Mp + Mm + eps) ** 2
    else:
        raise ValueError(f"penalty must be 'l1' or 'log', got {penalty!r}")
    is_w = index < kappa
    r = torch.where(is_w, torch.zeros_like(index), (index - kappa) % (kappa * n))
    j = torch.where(is_w, index, r // n)  # latent row of each coordinate
    e = is_w.to(Phi.dtype)  # 1 on w coordinates
    sign = (1 - e) * torch.where(index < kappa + kappa * n, 1.0, -1.0).to(Phi.dtype)  # ±1 on M±, 0 on w
    onehot_l = torch.nn.functional.one_hot(r % n, n).to(Phi.dtype)  # (m, n)
    S = sign[:, None] * onehot_l  # s_a e_{l_a} on M± coordinates, 0 on w
    U = e[:, None] * M[j] + w[j][:, None] * S  # u_a (module docstring), (m, n)
    same_j = (j[:, None] == j[None, :]).to(Phi.dtype)
    T = e[:, None] * Q[j]  # Q_{j_a, :} on w coordinates
    cross = T @ S.T  # (w_a, M±_b): s_b Q_{j_a, l_b}
    # the penalty's curvature sits on pairs (M±_{j,l}, M±_{j,l}) whatever the signs: |s_a s_b| δ_{l_a l_b}
    pen = (S.abs() * D[j]) @ S.abs().T
    return (c * G[j][:, j] * (U @ U.T)
            + same_j * (2 * beta * e[:, None] * e[None, :] - c * (cross + cross.T) + pen))
