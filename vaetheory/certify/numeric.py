"""Certificates of local minimality at fixed γ (docs/theory.md §5), batched over points.

For a point θ with energy E, gradient g and Hessian H, and for each coordinate i the scale b_i = the largest |θ|
in its parameter block (so the measures below are invariant to rescaling a block):

* active coordinates (free ones, and nonneg ones above ACTIVE_RTOL · b_i):
  ``kkt_active = max_i |g_i| b_i / max(|E|, 1)`` — stationarity, must be ≤ kkt_tol;
* inactive coordinates (nonneg ones at ~0): ``kkt_inactive = min_i g_i b_i / max(|E|, 1)`` — must be ≥ −kkt_tol,
  otherwise growing that coordinate lowers the energy: a saddle, never a minimum;
* a block that is entirely zero has no scale of its own (b_i would be 0 and every measure would pass whatever the
  gradient): its coordinates are measured *absolutely*, b_i = 1 (``DEGENERATE_SCALE``). Without this, the point
  ν = 0 passed the inactive test with gradients of −770 (docs/theory.md §5);
* second order: the smallest eigenvalue of the scaled active Hessian ``B H_AA B`` (B = diag(b_A)), relative to its
  largest |eigenvalue| (``min_hessian_eig_rel``), must be ≥ −hessian_tol;
* strictness: the same ratio for the active Hessian with each coordinate at its *own* scale (|θ_i| for a positive
  coordinate, γ for γ; ``min_hessian_eig_own``) must be > +hessian_tol for a *strict* minimum (``strict``). A point
  whose Hessian is singular within the tolerance there lies on a (numerically) flat valley and is given its own
  verdict (``degenerate_min``), never a strict one. The own scale matters: the block scale stretches a coordinate
  100× smaller than its block's largest by 100, so a well-conditioned minimum whose weights span four decades had
  a block-scaled ratio of 1e-9 (d = 100, cond Φ_A = 2.3), while a flat valley between twin columns stays at ~1e-17
  at any scale.
* with γ learned (``gamma_floor`` given), γ is one more coordinate, in *linear* γ, measured at the scale
  b_γ = max(γ, ‖X‖²_F/(dn)) (`search.multistart.gamma_scale`: it does not shrink with γ, unlike the log-γ gradient
  γ ∂E/∂γ, which vanishes as γ → 0 and hides descent). Above the floor γ is active: ``kkt_gamma = |∂E/∂γ| b_γ /
  max(|E|, 1) ≤ kkt_tol`` and the Hessian is taken jointly over (θ_A, γ). At the floor, a box constraint:
  ``kkt_gamma = max(−∂E/∂γ b_γ / max(|E|, 1), 0) ≤ kkt_tol`` (KKT: the energy must not decrease as γ grows), and γ
  joins the Hessian only when its gradient is within the tolerance of 0 (a weakly active bound). Whether a floor
  point says anything about γ → 0 is decided by `vaetheory.certify.limit`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetheory.core.threads import blas_single_threaded
from vaetheory.search.objective import Objective
from vaetheory.search.multistart import (ACTIVE_RTOL, GAMMA_AT_FLOOR_RTOL, active_mask, block_scales,
                                         gamma_derivatives, gamma_scale)

KKT_TOL = 1e-6
HESSIAN_TOL = 1e-8
#: The scale of a coordinate whose whole parameter block is zero: its gradient is then tested absolutely.
DEGENERATE_SCALE = 1.0


@dataclass(frozen=True)
class Certificate:
    """Per-point evidence, arrays over the R points.

    energy, kkt_active, kkt_inactive (+inf when no coordinate is inactive), max_abs_active_grad and
    min_inactive_grad (raw gradients), min_hessian_eig (raw, unscaled active block) and min_hessian_eig_rel
    (scaled, relative); stationary / first_order / second_order booleans and the tolerances used. With γ learned:
    kkt_gamma (the γ violation, ≥ 0), grad_gamma (raw ∂E/∂γ), at_floor (γ at the floor: box constraint active) and
    gamma_in_hessian (γ was a row/column of the Hessian); None at fixed γ.
    """

    energy: np.ndarray
    active: np.ndarray
    kkt_active: np.ndarray
    kkt_inactive: np.ndarray
    max_abs_active_grad: np.ndarray
    min_inactive_grad: np.ndarray
    min_hessian_eig: np.ndarray
    min_hessian_eig_rel: np.ndarray
    kkt_tol: float
    hessian_tol: float
    active_rtol: float
    kkt_gamma: np.ndarray | None = None
    grad_gamma: np.ndarray | None = None
    at_floor: np.ndarray | None = None
    gamma_in_hessian: np.ndarray | None = None
    min_hessian_eig_own: np.ndarray | None = None

    @property
    def stationary(self) -> np.ndarray:
        ok = self.kkt_active <= self.kkt_tol
        return ok if self.kkt_gamma is None else ok & (self.kkt_gamma <= self.kkt_tol)

    @property
    def inactive_ok(self) -> np.ndarray:
        return self.kkt_inactive >= -self.kkt_tol

    @property
    def second_order(self) -> np.ndarray:
        return self.min_hessian_eig_rel >= -self.hessian_tol

    @property
    def strict(self) -> np.ndarray:
        """The active Hessian, each coordinate at its own scale, is positive definite beyond the tolerance (not
        merely semidefinite): `min_hessian_eig_own` > hessian_tol."""
        own = self.min_hessian_eig_rel if self.min_hessian_eig_own is None else self.min_hessian_eig_own
        return (self.min_hessian_eig_rel >= -self.hessian_tol) & (own > self.hessian_tol)

    @property
    def certified(self) -> np.ndarray:
        return self.stationary & self.inactive_ok & self.second_order

    @property
    def kkt(self) -> np.ndarray:
        """Combined first-order violation max(kkt_active, −kkt_inactive, kkt_gamma, 0)."""
        out = np.maximum(np.maximum(self.kkt_active, -self.kkt_inactive), 0.0)
        return out if self.kkt_gamma is None else np.maximum(out, self.kkt_gamma)


@blas_single_threaded
def certify(objective: Objective, theta: np.ndarray, gamma: np.ndarray, *, kkt_tol: float = KKT_TOL,
            hessian_tol: float = HESSIAN_TOL, active_rtol: float = ACTIVE_RTOL,
            gamma_floor: float | None = None) -> Certificate:
    """Certificate for each row of `theta` (R, P) at its noise level `gamma` (R,); pass `gamma_floor` when γ was
    learned, so that γ is certified as a coordinate (stationary above the floor, box-KKT at it; module docstring)."""
    theta = np.asarray(theta, dtype=np.float64)
    gamma = np.array(np.broadcast_to(np.asarray(gamma, dtype=np.float64), (len(theta),)))
    learned = gamma_floor is not None
    if learned:
        E, g, g_gamma, h_tg, h_gg = gamma_derivatives(objective, theta, gamma)
    else:
        E, g, g_gamma = objective.value_and_grad(theta, gamma, with_gamma=False)
    A = active_mask(objective, theta, active_rtol)
    b = block_scales(objective, theta)
    b = np.where(b <= 1e-300, DEGENERATE_SCALE, b)  # an all-zero block: absolute test (module docstring)
    S = np.maximum(np.abs(E), 1.0)[:, None]
    rel = g * b / S
    kkt_active = np.where(A, np.abs(rel), 0.0).max(axis=1)
    kkt_inactive = np.where(A, np.inf, rel).min(axis=1)
    max_abs_active = np.where(A, np.abs(g), 0.0).max(axis=1)
    min_inactive = np.where(A, np.inf, g).min(axis=1)
    H, order, valid = objective.active_hessian(theta, gamma, A)
    bA = np.take_along_axis(b, order, axis=1) * valid
    # each coordinate at its own scale for the strictness measure: |θ_i| for a positive (nonneg) coordinate, the
    # block scale for a free one (module docstring)
    own = np.where(np.take_along_axis(np.broadcast_to(objective.layout.nonneg, theta.shape), order, axis=1),
                   np.abs(np.take_along_axis(theta, order, axis=1)), np.take_along_axis(b, order, axis=1)) * valid
    kkt_gamma = at_floor = in_hessian = None
    if learned:
        b_gamma = gamma_scale(objective, gamma)
        rel_gamma = g_gamma * b_gamma / S[:, 0]
        at_floor = gamma <= gamma_floor * (1 + GAMMA_AT_FLOOR_RTOL)
        kkt_gamma = np.where(at_floor, np.maximum(-rel_gamma, 0.0), np.abs(rel_gamma))
        in_hessian = ~at_floor | (np.abs(rel_gamma) <= kkt_tol)
        m = H.shape[1]
        cross = np.take_along_axis(h_tg, order, axis=1) * valid * in_hessian[:, None]
        Ha = np.zeros((len(H), m + 1, m + 1))
        Ha[:, :m, :m] = H
        Ha[:, :m, m] = Ha[:, m, :m] = cross
        Ha[:, m, m] = np.where(in_hessian, h_gg, 0.0)
        H, valid = Ha, np.concatenate([valid, in_hessian[:, None]], axis=1)
        bA = np.concatenate([bA, (b_gamma * in_hessian)[:, None]], axis=1)
        own = np.concatenate([own, (gamma * in_hessian)[:, None]], axis=1)
    eye = np.eye(H.shape[1])[None]
    # Padding slots get a large positive diagonal so they never set the smallest eigenvalue.
    big = np.abs(H).max(axis=(1, 2)) + 1.0
    eig_raw = np.linalg.eigvalsh(H + eye * ((~valid) * big[:, None])[:, None, :])[:, 0]
    Hs = bA[:, :, None] * H * bA[:, None, :]
    big_s = np.abs(Hs).max(axis=(1, 2)) + 1e-300
    eig_s = np.linalg.eigvalsh(Hs + eye * ((~valid) * big_s[:, None])[:, None, :])
    eig_rel = eig_s[:, 0] / np.maximum(np.abs(eig_s).max(axis=1), 1e-300)
    Ho = own[:, :, None] * H * own[:, None, :]
    big_o = np.abs(Ho).max(axis=(1, 2)) + 1e-300
    eig_o = np.linalg.eigvalsh(Ho + eye * ((~valid) * big_o[:, None])[:, None, :])
    eig_own = eig_o[:, 0] / np.maximum(np.abs(eig_o).max(axis=1), 1e-300)
    return Certificate(E, A, kkt_active, kkt_inactive, max_abs_active, min_inactive, eig_raw, eig_rel,
                       kkt_tol, hessian_tol, active_rtol, kkt_gamma,
                       g_gamma if learned else None, at_floor, in_hessian, eig_own)
