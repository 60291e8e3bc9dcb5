"""The γ → 0 limit certificate for points that end at the artificial γ floor (docs/learned-gamma.md).

With γ learned, the energies of docs/theory.md §2 are unbounded below as γ → 0, so the search bounds γ by a floor. A
point at the floor that passes the box-constrained certificate (`certify(..., gamma_floor=...)`: ν certified at that
γ and ∂E/∂γ ≥ 0, so the energy does not decrease as γ grows) is a KKT point of the box-constrained problem. The
floor is artificial, so such a point is confirmed as a statement about the γ → 0 *limit* only when, at each of two
smaller floors (floor × LIMIT_FACTORS):

1. θ, re-polished at that fixed γ by the projected Newton phase (continued one decade of γ at a time from the
   previous point), passes the same
   box-constrained certificate at the smaller floor;
2. its latent support is unchanged;

and 3. the energy slope in log γ between the two smaller floors equals n(d − |A|) (docs/theory.md C5) within
SLOPE_TOL × n: the point fits the data exactly with |A| active columns and follows the γ → 0 asymptote.

`confirm_limit` returns, per point, whether the limit is confirmed and otherwise which condition failed by how much.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetheory.certify.numeric import certify
from vaetheory.search.multistart import ACTIVE_RTOL, projected_newton
from vaetheory.search.objective import Objective

#: The smaller floors, as multiples of the search floor.
LIMIT_FACTORS: tuple[float, ...] = (1e-2, 1e-4)
#: Allowed |slope − n(d − |A|)| as a multiple of n (slopes come in whole multiples of n).
SLOPE_TOL = 0.05
#: Newton iterations for the re-polish at each smaller floor.
LIMIT_NEWTON_STEPS = 60


@dataclass(frozen=True)
class LimitCheck:
    """Per point (arrays over the checked points): confirmed, the measured slope of E in log γ between the two
    smaller floors, the expected slope n(d − |A|), the energies at the smaller floors (R, len(factors)), the
    polished end points at the smallest floor, and a reason (None when confirmed)."""

    confirmed: np.ndarray
    slope: np.ndarray
    expected_slope: np.ndarray
    energies: np.ndarray
    floors: tuple[float, ...]
    reasons: list[str | None]


def _support(objective: Objective, theta: np.ndarray, rtol: float) -> np.ndarray:
    scales = objective.latent_scales(theta)
    return scales > rtol * np.maximum(scales.max(axis=1, keepdims=True), 1e-300)


def confirm_limit(objective: Objective, theta: np.ndarray, gamma_floor: float, *,
                  factors: tuple[float, ...] = LIMIT_FACTORS, **tolerances) -> LimitCheck:
    """Confirm each row of `theta` (points at the floor, certified there) as a γ → 0 limit point (module docstring).
    `tolerances` are the certificate's (kkt_tol, hessian_tol, active_rtol)."""
    theta = np.asarray(theta, dtype=np.float64)
    R = len(theta)
    problem = objective.problem
    rtol = tolerances.get("active_rtol", ACTIVE_RTOL)
    masks0 = _support(objective, theta, rtol)
    size = masks0.sum(1)
    expected = problem.n * (problem.d - size).astype(float)
    floors = tuple(gamma_floor * f for f in factors)
    ok = np.ones(R, dtype=bool)
    reasons: list[str | None] = [None] * R
    energies = np.full((R, len(floors)), np.nan)
    th = theta.copy()
    previous = gamma_floor
    for k, fl in enumerate(floors):
        g = np.full(R, fl)
        try:
            # continuation one decade at a time down to this floor (ν moves by O(γ) per decade)
            for step in np.geomspace(previous, fl, max(int(round(np.log10(previous / fl))), 1) + 1)[1:]:
                th, _ = projected_newton(objective, th, np.full(R, step), max_iter=LIMIT_NEWTON_STEPS)
            previous = fl
            cert = certify(objective, th, g, gamma_floor=fl, **tolerances)
        except FloatingPointError as exc:
            for i in range(R):
                if ok[i]:
                    reasons[i] = f"limit: evaluation failed at gamma floor {fl:.3g} ({exc})"
            ok[:] = False
            break
        energies[:, k] = cert.energy
        masks = _support(objective, th, rtol)
        for i in np.flatnonzero(ok):  # labels for the few floor points; the numerics above are batched
            if not (masks[i] == masks0[i]).all():
                reasons[i] = (f"limit: support changed at gamma floor {fl:.3g} (|A| {int(size[i])} -> "
                              f"{int(masks[i].sum())})")
            elif not cert.certified[i]:
                what = ("gamma box KKT" if cert.kkt_gamma[i] > cert.kkt_tol else
                        "active stationarity" if cert.kkt_active[i] > cert.kkt_tol else
                        "inactive gradient" if not cert.inactive_ok[i] else "hessian")
                reasons[i] = (f"limit: not certified at gamma floor {fl:.3g} ({what}; kkt {cert.kkt[i]:.3g}, "
                              f"min rel. Hessian eig {cert.min_hessian_eig_rel[i]:.3g})")
            else:
                continue
            ok[i] = False
    slope = np.full(R, np.nan)
    if len(floors) >= 2:
        slope = (energies[:, -1] - energies[:, -2]) / (np.log(floors[-1]) - np.log(floors[-2]))
        for i in np.flatnonzero(ok):
            if not abs(slope[i] - expected[i]) <= SLOPE_TOL * problem.n:
                reasons[i] = (f"limit: energy slope in log gamma {slope[i]:.4g} != n(d - |A|) = "
                              f"{expected[i]:.4g}")
                ok[i] = False
    return LimitCheck(ok, slope, expected, energies, floors, reasons)
