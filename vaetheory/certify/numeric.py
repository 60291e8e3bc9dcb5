"""Certificates of local minimality at fixed γ (docs/theory.md §5), batched over points.

For a point θ with energy E, gradient g and Hessian H, and for each coordinate i the scale b_i = the largest |θ|
in its parameter block (so the measures below are invariant to rescaling a block):

* active coordinates (free ones, and nonneg ones above ACTIVE_RTOL · b_i):
  ``kkt_active = max_i |g_i| b_i / max(|E|, 1)`` — stationarity, must be ≤ kkt_tol;
* inactive coordinates (nonneg ones at ~0): ``kkt_inactive = min_i g_i b_i / max(|E|, 1)`` — must be ≥ −kkt_tol,
  otherwise growing that coordinate lowers the energy: a saddle, never a minimum;
* second order: the smallest eigenvalue of the scaled active Hessian ``B H_AA B`` (B = diag(b_A)), relative to its
  largest |eigenvalue| (``min_hessian_eig_rel``), must be ≥ −hessian_tol.
* with γ learned (``gamma_floor`` given): a point whose γ is above the floor must also be stationary in log γ,
  ``kkt_gamma = |γ ∂E/∂γ| / max(|E|, 1) ≤ kkt_tol``; at the floor the point is certified at fixed γ (docs/theory.md §2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetheory.search.objective import Objective
from vaetheory.search.multistart import ACTIVE_RTOL, active_mask, block_scales

KKT_TOL = 1e-6
HESSIAN_TOL = 1e-8


@dataclass(frozen=True)
class Certificate:
    """Per-point evidence, arrays over the R points.

    energy, kkt_active, kkt_inactive (+inf when no coordinate is inactive), max_abs_active_grad and
    min_inactive_grad (raw gradients), min_hessian_eig (raw, unscaled active block) and min_hessian_eig_rel
    (scaled, relative); stationary / first_order / second_order booleans and the tolerances used.
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
    def certified(self) -> np.ndarray:
        return self.stationary & self.inactive_ok & self.second_order

    @property
    def kkt(self) -> np.ndarray:
        """Combined first-order violation max(kkt_active, −kkt_inactive, kkt_gamma, 0)."""
        out = np.maximum(np.maximum(self.kkt_active, -self.kkt_inactive), 0.0)
        return out if self.kkt_gamma is None else np.maximum(out, self.kkt_gamma)


def certify(objective: Objective, theta: np.ndarray, gamma: np.ndarray, *, kkt_tol: float = KKT_TOL,
            hessian_tol: float = HESSIAN_TOL, active_rtol: float = ACTIVE_RTOL,
            gamma_floor: float | None = None) -> Certificate:
    """Certificate for each row of `theta` (R, P) at its noise level `gamma` (R,); pass `gamma_floor` when γ was
    learned, so that points above the floor are also checked for stationarity in γ."""
    theta = np.asarray(theta, dtype=np.float64)
    gamma = np.broadcast_to(np.asarray(gamma, dtype=np.float64), (len(theta),))
    E, g, g_gamma = objective.value_and_grad(theta, gamma)
    kkt_gamma = None
    if gamma_floor is not None:
        above = gamma > gamma_floor * (1 + 1e-9)
        kkt_gamma = np.where(above, np.abs(gamma * g_gamma) / np.maximum(np.abs(E), 1.0), 0.0)
    A = active_mask(objective, theta, active_rtol)
    b = block_scales(objective, theta)
    S = np.maximum(np.abs(E), 1.0)[:, None]
    rel = g * b / S
    kkt_active = np.where(A, np.abs(rel), 0.0).max(axis=1)
    kkt_inactive = np.where(A, np.inf, rel).min(axis=1)
    max_abs_active = np.where(A, np.abs(g), 0.0).max(axis=1)
    min_inactive = np.where(A, np.inf, g).min(axis=1)
    H, order, valid = objective.active_hessian(theta, gamma, A)
    bA = np.take_along_axis(b, order, axis=1) * valid
    eye = np.eye(H.shape[1])[None]
    # Padding slots get a large positive diagonal so they never set the smallest eigenvalue.
    big = np.abs(H).max(axis=(1, 2)) + 1.0
    eig_raw = np.linalg.eigvalsh(H + eye * ((~valid) * big[:, None])[:, None, :])[:, 0]
    Hs = bA[:, :, None] * H * bA[:, None, :]
    big_s = np.abs(Hs).max(axis=(1, 2)) + 1e-300
    eig_s = np.linalg.eigvalsh(Hs + eye * ((~valid) * big_s[:, None])[:, None, :])
    eig_rel = eig_s[:, 0] / np.maximum(np.abs(eig_s).max(axis=1), 1e-300)
    return Certificate(E, A, kkt_active, kkt_inactive, max_abs_active, min_inactive, eig_raw, eig_rel,
                       kkt_tol, hessian_tol, active_rtol, kkt_gamma)
