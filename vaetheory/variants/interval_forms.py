"""Closed-form gradients and Hessians of the collapsed energies in ball arithmetic (python-flint's Arb), for the
interval proofs of `vaetheory.certify.interval`.

This is the optional ``interval_derivatives`` hook of the variant protocol (`vaetheory.core.protocol`) for the
built-ins whose energy is a smooth function of ν on the active face: ``vae-full``, ``vae-diag`` (with γ as one more
coordinate when it is learned) and ``ae-l21``. Every function here takes balls and returns balls that enclose the
exact value for *every* point of the input balls (Arb's contract), at the working precision ``flint.ctx.prec``.

Notation (THEORY.md §2): Σ = γI + Φ diag(ν) Φᵀ, S = Σ⁻¹, K = Φᵀ S Φ, B = Φᵀ S X, M = B Bᵀ, c_j = ‖φ_j‖².
With ∂Σ/∂ν_j = φ_jφ_jᵀ, ∂Σ/∂γ = I and ∂S = −S (∂Σ) S:

* f = tr(Xᵀ S X):      ∂f/∂ν_j = −M_jj,   ∂f/∂γ = −‖SX‖²_F,
                        ∂²f/∂ν_j∂ν_k = 2 K_jk M_jk,   ∂²f/∂ν_j∂γ = 2 Σ_i (ΦᵀS²X)_ji B_ji,
                        ∂²f/∂γ² = 2 tr((SX)ᵀ S (SX));
* ℓ = log|Σ|:           ∂ℓ/∂ν_j = K_jj,    ∂ℓ/∂γ = tr S,
                        ∂²ℓ/∂ν_j∂ν_k = −K_jk²,   ∂²ℓ/∂ν_j∂γ = −‖Sφ_j‖²,   ∂²ℓ/∂γ² = −‖S‖²_F;
* p = Σ_j log(γ + ν_j c_j) + (d − κ) log γ, with t_j = γ + ν_j c_j:
                        ∂p/∂ν_j = c_j/t_j,  ∂p/∂γ = Σ_j 1/t_j + (d − κ)/γ,
                        ∂²p/∂ν_j² = −c_j²/t_j²,  ∂²p/∂ν_j∂γ = −c_j/t_j²,  ∂²p/∂γ² = −Σ_j 1/t_j² − (d − κ)/γ².

L_full = n ℓ + f; L_diag = f + n p; ae-l21 = λ f(γ → λγ) + β Σ_j ν_j. (tests/test_interval.py checks all of them
against torch autograd.)
"""
from __future__ import annotations

from typing import Sequence


def _flint():
    import flint  # python-flint; imported on use so that the rest of the package does not need it loaded

    return flint


def _sigma_products(theta, Phi, X, gamma, active: Sequence[int], with_gamma: bool, full_K: bool):
    """S-products the derivatives need; only active ν enter Σ (inactive ones are exactly 0 on the proved face).
    KA = Φ_Aᵀ S Φ_A always; K = Φᵀ S Φ and SΦ over all κ columns only with `full_K` (L_full's gradient needs every
    K_jj; the others need only the active block); B2 = Φ_Aᵀ S² X (active rows) with `with_gamma`."""
    flint = _flint()
    arb, arb_mat = flint.arb, flint.arb_mat
    d, kappa = Phi.nrows(), Phi.ncols()
    m = len(active)
    PA = arb_mat(d, m)
    PAs = arb_mat(d, m)
    for col, j in enumerate(active):
        for i in range(d):
            PA[i, col] = Phi[i, j]
            PAs[i, col] = Phi[i, j] * theta[j]
    Sigma = PAs * PA.transpose()
    for i in range(d):
        Sigma[i, i] = Sigma[i, i] + gamma
    S = Sigma.inv()  # raises ZeroDivisionError when the enclosure cannot be inverted
    SX = S * X
    B = Phi.transpose() * SX
    SPA = S * PA
    out = {"S": S, "SX": SX, "B": B, "KA": PA.transpose() * SPA, "SPA": SPA, "arb": arb, "arb_mat": arb_mat}
    if full_K:
        out["SPhi"] = S * Phi
        out["K"] = Phi.transpose() * out["SPhi"]
    if with_gamma:
        out["B2"] = SPA.transpose() * SX  # Φ_Aᵀ S² X (S symmetric)
    return out


def _frob2(A):
    s = 0
    for row in A.tolist():
        for v in row:
            s += v * v
    return s


def collapsed_interval_derivatives(theta, Phi, X, gamma, active: Sequence[int], with_gamma: bool, covariance: str,
                                   *, noise_factor: float = 1.0, fit_weight: float = 1.0, linear: float = 0.0):
    """Enclosures of the gradient (all κ coordinates, then ∂/∂γ when `with_gamma`) and of the Hessian over the active
    coordinates (then γ) of

    * ``covariance="full"``: L_full = n log|Σ| + tr(XᵀΣ⁻¹X);
    * ``covariance="diag"``: L_diag = tr(XᵀΣ⁻¹X) + n Σ_j log(γ + ν_j c_j) + n(d − κ) log γ;
    * ``covariance="none"``: fit_weight · tr(Xᵀ(noise_factor·γ I + ΦΓΦᵀ)⁻¹X) + linear · Σ_j ν_j (ae-l21's profile).

    theta: κ balls (ν), gamma: a ball, Phi/X: `flint.arb_mat`. Returns (list of balls, `flint.arb_mat`).
    """
    flint = _flint()
    arb = flint.arb
    d, kappa, n = Phi.nrows(), Phi.ncols(), X.ncols()
    if covariance == "none" and with_gamma:
        raise ValueError("the ae-l21 profile has no learned gamma")
    g_eff = gamma * arb(noise_factor) if covariance == "none" else gamma
    P = _sigma_products(theta, Phi, X, g_eff, active, with_gamma, covariance == "full")
    KA, B, S, SX = P["KA"], P["B"], P["S"], P["SX"]
    nn = arb(n)
    w = arb(fit_weight)
    M = B * B.transpose()  # one ball matrix product (C) instead of κ + m²/2 dot products in Python
    Mdiag = [M[j, j] for j in range(kappa)]
    grad = []
    if covariance == "full":
        grad = [nn * P["K"][j, j] - Mdiag[j] for j in range(kappa)]
    elif covariance == "diag":
        c = [_col_norm2(Phi, j) for j in range(kappa)]
        t = [gamma + theta[j] * c[j] for j in range(kappa)]
        grad = [nn * c[j] / t[j] - Mdiag[j] for j in range(kappa)]
    elif covariance == "none":
        grad = [arb(linear) - w * Mdiag[j] for j in range(kappa)]
    else:
        raise ValueError(f"covariance must be 'full', 'diag' or 'none', got {covariance!r}")
    m = len(active)
    size = m + (1 if with_gamma else 0)
    H = flint.arb_mat(size, size)
    for a, j in enumerate(active):
        for b in range(a, m):
            k = active[b]
            h = 2 * KA[a, b] * M[j, k]
            if covariance == "full":
                h -= nn * KA[a, b] * KA[a, b]
            elif covariance == "diag" and j == k:
                h -= nn * c[j] * c[j] / (t[j] * t[j])
            elif covariance == "none":
                h = w * h
            H[a, b] = h
            H[b, a] = h
    if with_gamma:
        SX2 = _frob2(SX)
        SSX = S * SX
        quad = 0
        for i in range(d):
            for k in range(n):
                quad += SX[i, k] * SSX[i, k]
        B2, SPA = P["B2"], P["SPA"]
        if covariance == "full":
            trS = S[0, 0]
            for i in range(1, d):
                trS += S[i, i]
            grad.append(nn * trS - SX2)
            H[m, m] = 2 * quad - nn * _frob2(S)
        else:  # diag
            inv_t = sum((1 / tj for tj in t[1:]), 1 / t[0])
            inv_t2 = sum((1 / (tj * tj) for tj in t[1:]), 1 / (t[0] * t[0]))
            dk = arb(d - kappa)
            grad.append(nn * inv_t + nn * dk / gamma - SX2)
            H[m, m] = 2 * quad - nn * inv_t2 - nn * dk / (gamma * gamma)
        for a, j in enumerate(active):
            h = 2 * _row_dot_pair2(B2, a, B, j, n)
            if covariance == "full":
                sphi2 = SPA[0, a] * SPA[0, a]
                for i in range(1, d):
                    sphi2 += SPA[i, a] * SPA[i, a]
                h -= nn * sphi2
            else:
                h -= nn * c[j] / (t[j] * t[j])
            H[a, m] = h
            H[m, a] = h
    return grad, H


def _col_norm2(Phi, j):
    s = Phi[0, j] * Phi[0, j]
    for i in range(1, Phi.nrows()):
        s += Phi[i, j] * Phi[i, j]
    return s


def _row_dot_pair2(A, a, B, j, n):
    """Σ_i A[a, i] B[j, i]."""
    s = A[a, 0] * B[j, 0]
    for i in range(1, n):
        s += A[a, i] * B[j, i]
    return s
