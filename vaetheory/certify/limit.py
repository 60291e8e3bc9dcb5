"""The γ → 0 limit certificate for points that end at the artificial γ floor (docs/learned-gamma.md).

With γ learned, the energies of docs/theory.md §2 are unbounded below as γ → 0, so the search bounds γ by a floor. A
point at the floor that passes the box-constrained certificate (`certify(..., gamma_floor=...)`: ν certified at that
γ and ∂E/∂γ ≥ 0, so the energy does not decrease as γ grows) is a KKT point of the box-constrained problem. The
floor is artificial, so such a point is confirmed as a statement about the γ → 0 *limit* only when, at each of two
smaller floors (floor × LIMIT_FACTORS):

1. θ, re-polished at that fixed γ by the projected Newton phase, passes the same box-constrained certificate at the
   smaller floor. The polish starts from the first-order prediction θ(γ) ≈ θ + (γ − floor)·dθ/dγ, with dθ/dγ from
   the implicit-function theorem on the free coordinates (`gamma_tangent`); where that does not end certified with
   the same support, it is redone by continuation one decade of γ at a time from the search's point;
2. its latent support (scales above ACTIVE_RTOL × the largest) is unchanged;

and 3. the energy slope in log γ between the two smaller floors equals n(d − |A|) (docs/theory.md C5) within
SLOPE_TOL × n: the point fits the data exactly with |A| active columns and follows the γ → 0 asymptote.

A is the support *of the limit*: the dimensions whose scale at the smallest floor is positive and at least
LIMIT_STAY of its scale at the floor before (γ 100× larger), after the polished points' coordinates with a clearly
positive gradient (scaled above the certificate's KKT tolerance) at ≤ ACTIVE_RTOL of their block's scale are set to 0
(`drop_held`: remnants the polish holds but, having taken no step, did not zero). A dimension whose scale tends to
a positive value keeps ratio ~1 however small it is — a planted coefficient of 7e-4 × the largest has ν at 5e-7 ×
the largest ν, below ACTIVE_RTOL, and at the search floor γ = 1e-6 it is even 0, reviving below it (d = 100,
κ = 200, r = 20, 1 problem in 8) — while one that vanishes with γ (ν ∝ γ: ratio 1e-2) is not in A. The slope test
checks the count; `LimitCheck.support` is the support the verdict of a confirmed limit uses.

`confirm_limit` returns, per point, whether the limit is confirmed and otherwise which condition failed by how much.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetheory.certify.numeric import KKT_TOL, certify
from vaetheory.search.multistart import ACTIVE_RTOL, GAMMA_AT_FLOOR_RTOL, block_scales, projected_newton
from vaetheory.search.objective import Objective

#: The smaller floors, as multiples of the search floor.
LIMIT_FACTORS: tuple[float, ...] = (1e-2, 1e-4)
#: Allowed |slope − n(d − |A|)| as a multiple of n (slopes come in whole multiples of n).
SLOPE_TOL = 0.05
#: Newton iterations for the re-polish at each smaller floor.
LIMIT_NEWTON_STEPS = 60
#: The re-polish stops at this scaled gradient (the certificate asks for KKT_TOL = 1e-6; the search's 1e-12 sits at
#: the rounding floor, where Newton steps only shuffle rounding errors: at d = 100, κ = 200, r = 20, γ learned, up to
#: 5 more iterations per floor, each with up to 16 damping trials, for no change the certificate can see).
LIMIT_NEWTON_TOL = 1e-10
#: A latent dimension is in the limit's support when its scale at the smallest floor is at least this fraction of
#: its scale at the floor before (module docstring).
LIMIT_STAY = 0.5


def gamma_tangent(objective: Objective, theta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """(R, P) dθ/dγ along the branch of fixed-γ minima through each point: −H⁻¹ ∂²E/∂θ∂γ on the point's free
    coordinates (those not held at 0 by a positive gradient, as in `projected_newton`), 0 on the others; 0 for a
    point whose free Hessian is not positive definite (no branch to follow: the caller's Newton phase starts from
    the point itself).

    Near an exact fit with |A| < d active columns the minimiser is analytic in γ, θ(γ) = θ₀ + γθ₁ + O(γ²), so from a
    point at γ = 1e-6 the prediction at 1e-8 is off by O(γ²) and one Newton step (or none) finishes it, where a
    start at the point itself costs up to five steps per decade (d = 100, κ = 200, r = 20, γ learned)."""
    import torch

    theta = np.asarray(theta, dtype=np.float64)
    _, g, _, h_tg, _ = objective.gamma_curvature(theta, gamma)
    b = block_scales(objective, theta)
    free = ~(objective.layout.nonneg[None, :] & (theta <= ACTIVE_RTOL * b) & (g > 0))
    H, order, valid = objective.active_hessian(theta, gamma, free)
    rhs = np.take_along_axis(h_tg, order, axis=1) * valid
    pad = np.eye(H.shape[1])[None] * (~valid)[:, None, :]  # unit diagonal on padding slots
    L, info = torch.linalg.cholesky_ex(torch.from_numpy(H + pad))
    step = -torch.cholesky_solve(torch.from_numpy(rhs)[..., None], L)[..., 0].numpy() * valid
    step[info.numpy() != 0] = 0.0
    step[~np.isfinite(step).all(1)] = 0.0
    out = np.zeros_like(theta)
    np.put_along_axis(out, order, step, axis=1)
    return out


@dataclass(frozen=True)
class LimitCheck:
    """Per point (arrays over the checked points): confirmed, the measured slope of E in log γ between the two
    smaller floors, the expected slope n(d − |A|), the energies at the smaller floors (R, len(factors)), the
    support A of the limit (R, κ; all False where the check stopped before the smallest floor), and a reason (None
    when confirmed)."""

    confirmed: np.ndarray
    slope: np.ndarray
    expected_slope: np.ndarray
    energies: np.ndarray
    floors: tuple[float, ...]
    reasons: list[str | None]
    support: np.ndarray


def drop_held(objective: Objective, theta: np.ndarray, gamma: np.ndarray, rtol: float, kkt_tol: float
              ) -> np.ndarray:
    """θ with the nonneg coordinates at most `rtol` × their block's scale whose gradient is clearly positive (scaled
    as in the certificate, above `kkt_tol`) set to 0, as a step of `projected_newton` would: a polish that took no
    step leaves such remnants. A tiny coordinate whose gradient is 0 within that tolerance (a small coefficient at
    its stationary value, whose gradient's sign is rounding) is kept."""
    b = block_scales(objective, theta)
    small = objective.layout.nonneg[None, :] & (theta <= rtol * b) & (theta > 0)
    if not small.any():  # the usual case after a Newton step: no gradient needed
        return theta
    E, g, _ = objective.value_and_grad(theta, gamma, with_gamma=False)
    held = small & (g * b > kkt_tol * np.maximum(np.abs(E), 1.0)[:, None])
    return np.where(held, 0.0, theta)


def limit_support(before: np.ndarray | None, last: np.ndarray) -> np.ndarray:
    """(R, κ) the support of the γ → 0 limit from the latent scales at the last two floors (`before` at the larger
    γ): the dimensions that stay, positive and at least LIMIT_STAY of their scale before (module docstring); with
    one floor only, the positive ones."""
    return (last > 0) & (True if before is None else last >= LIMIT_STAY * before)


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
    kkt_tol = tolerances.get("kkt_tol", KKT_TOL)
    masks0 = _support(objective, theta, rtol)
    size = masks0.sum(1)
    floors = tuple(gamma_floor * f for f in factors)
    F = len(floors)
    ok = np.ones(R, dtype=bool)
    reasons: list[str | None] = [None] * R
    energies = np.full((R, F), np.nan)
    scales: list[np.ndarray] = []  # latent scales at each smaller floor
    nonneg = objective.layout.nonneg[None, :]
    try:
        tangent = gamma_tangent(objective, theta, np.full(R, gamma_floor))
    except FloatingPointError:
        tangent = np.zeros_like(theta)
    G = np.repeat(np.asarray(floors, dtype=np.float64), R)  # every smaller floor at once: row k·R + i
    try:
        # each floor polished from the first-order prediction at it (module docstring)
        th = np.tile(theta, (F, 1)) + (G - gamma_floor)[:, None] * np.tile(tangent, (F, 1))
        th = np.where(nonneg, np.maximum(th, 0.0), th)
        th, _ = projected_newton(objective, th, G, max_iter=LIMIT_NEWTON_STEPS, tol=LIMIT_NEWTON_TOL)
        th = drop_held(objective, th, G, rtol, kkt_tol)
        cert = certify(objective, th, G, gamma_floor=G, **tolerances)
        moved = (_support(objective, th, rtol) != np.tile(masks0, (F, 1))).any(1)
        redo = np.flatnonzero((~cert.certified | moved).reshape(F, R).any(0))
        if len(redo):  # the prediction led elsewhere: continuation one decade at a time (ν moves by O(γ))
            th_r, previous, parts = theta[redo], gamma_floor, []
            for fl in floors:
                for step in np.geomspace(previous, fl, max(int(round(np.log10(previous / fl))), 1) + 1)[1:]:
                    th_r, _ = projected_newton(objective, th_r, np.full(len(th_r), step),
                                               max_iter=LIMIT_NEWTON_STEPS, tol=LIMIT_NEWTON_TOL)
                parts.append(drop_held(objective, th_r, np.full(len(th_r), fl), rtol, kkt_tol))
                previous = fl
            th = th.copy()
            th[(np.arange(F)[:, None] * R + redo[None, :]).ravel()] = np.concatenate(parts)
            cert = certify(objective, th, G, gamma_floor=G, **tolerances)
    except FloatingPointError as exc:
        reasons = [f"limit: evaluation failed below gamma floor {gamma_floor:.3g} ({exc})"] * R
        ok[:] = False
        F = 0
    for k in range(F):
        fl, sl = floors[k], slice(k * R, (k + 1) * R)
        energies[:, k] = cert.energy[sl]
        scales.append(objective.latent_scales(th[sl]))
        masks = _support(objective, th[sl], rtol)
        for i in np.flatnonzero(ok):  # labels for the few floor points; the numerics above are batched
            j = k * R + i
            if not (masks[i] == masks0[i]).all():
                reasons[i] = (f"limit: support changed at gamma floor {fl:.3g} (|A| {int(size[i])} -> "
                              f"{int(masks[i].sum())})")
            elif not cert.certified[j]:
                what = ("gamma box KKT" if cert.kkt_gamma[j] > cert.kkt_tol else
                        "active stationarity" if cert.kkt_active[j] > cert.kkt_tol else
                        "inactive gradient" if not cert.inactive_ok[j] else "hessian")
                reasons[i] = (f"limit: not certified at gamma floor {fl:.3g} ({what}; kkt {cert.kkt[j]:.3g}, "
                              f"min rel. Hessian eig {cert.min_hessian_eig_rel[j]:.3g})")
            else:
                continue
            ok[i] = False
    slope = np.full(R, np.nan)
    support = np.zeros_like(masks0)
    if len(scales) == len(floors):
        support = limit_support(scales[-2] if len(scales) >= 2 else None, scales[-1])
    expected = problem.n * (problem.d - support.sum(1)).astype(float)
    if len(floors) >= 2:
        slope = (energies[:, -1] - energies[:, -2]) / (np.log(floors[-1]) - np.log(floors[-2]))
        for i in np.flatnonzero(ok):
            if not abs(slope[i] - expected[i]) <= SLOPE_TOL * problem.n:
                reasons[i] = (f"limit: energy slope in log gamma {slope[i]:.4g} != n(d - |A|) = "
                              f"{expected[i]:.4g} (|A| = {int(support[i].sum())} latent dimensions stay as gamma "
                              "falls)")
                ok[i] = False
    return LimitCheck(ok, slope, expected, energies, floors, reasons, support)


#: How far below the search floor a floor point whose limit check failed is followed (multiples of the search
#: floor, one after another): a floor is a numerical device, and interior minima exist below it (docs/theory.md
#: §7: strict interior minima of vae-diag at γ = 2e-8 … 8e-7 under a floor of 1e-6). 1e-6 × 1e-6 = 1e-12.
FOLLOW_FACTORS: tuple[float, ...] = (1e-2, 1e-4, 1e-6)
#: Joint (θ, γ) Newton iterations at each lower floor.
FOLLOW_NEWTON_STEPS = 200


@dataclass(frozen=True)
class FloorFollow:
    """Per followed point (arrays over them): the point where the following stopped (theta, gamma), the floor it is
    certified against there, its outcome — ``"interior"`` (a certified point with γ strictly above that floor: an
    interior minimum with γ free), ``"limit"`` (certified at that floor and confirmed as a γ → 0 limit by
    `confirm_limit`, whose slope is kept), ``"uncertified_interior"`` (γ above the lowest floor, but the float
    certificate fails there) or ``"unresolved"`` — and a reason for the last two saying what failed at the lowest
    floor tried; support: the limit's support (`LimitCheck.support`) where the outcome is ``"limit"``."""

    theta: np.ndarray
    gamma: np.ndarray
    floor: np.ndarray
    outcome: list[str]
    slope: np.ndarray
    reasons: list[str | None]
    support: np.ndarray


def follow_below_floor(objective: Objective, theta: np.ndarray, gamma: np.ndarray, gamma_floor: float, *,
                       factors: tuple[float, ...] = FOLLOW_FACTORS, **tolerances) -> FloorFollow:
    """Follow floor points whose γ → 0 limit check failed (their support or energy moved at a smaller floor) down
    through lower floors (`gamma_floor` × `factors`, in order): at each, the joint (θ, γ) projected Newton phase with
    that floor as the box, then the box-constrained certificate. A point certified with γ above the floor is an
    interior minimum (done); one certified at the floor is a limit candidate, done when `confirm_limit` confirms it
    there; anything else goes one floor lower. Batched over the points still being followed."""
    theta = np.array(theta, dtype=np.float64)
    gamma = np.array(gamma, dtype=np.float64)
    R = len(theta)
    floor = np.full(R, float(gamma_floor))
    outcome = ["unresolved"] * R
    reasons: list[str | None] = ["not followed"] * R
    slope = np.full(R, np.nan)
    support = np.zeros(objective.latent_scales(theta[:1]).shape[1:], dtype=bool)[None].repeat(R, axis=0)
    live = np.arange(R)
    for f in (gamma_floor * k for k in factors):
        if not len(live):
            break
        try:
            th, ga, _ = projected_newton(objective, theta[live], np.maximum(gamma[live], f),
                                         max_iter=FOLLOW_NEWTON_STEPS, gamma_floor=f)
            cert = certify(objective, th, ga, gamma_floor=f, **tolerances)
        except FloatingPointError as exc:
            for i in live:
                reasons[i] = f"followed below the floor: evaluation failed at gamma floor {f:.3g} ({exc})"
            break
        theta[live], gamma[live], floor[live] = th, ga, f
        interior = cert.certified & ~cert.at_floor
        for j in np.flatnonzero(interior):
            outcome[live[j]], reasons[live[j]] = "interior", None
        at = np.flatnonzero(cert.certified & cert.at_floor)
        if len(at):
            check = confirm_limit(objective, th[at], f, **tolerances)
            for k, j in enumerate(at):
                if check.confirmed[k]:
                    outcome[live[j]], reasons[live[j]], slope[live[j]] = "limit", None, check.slope[k]
                    support[live[j]] = check.support[k]
                else:
                    reasons[live[j]] = f"followed to gamma floor {f:.3g}: {check.reasons[k]}"
        for j in np.flatnonzero(~cert.certified):
            reasons[live[j]] = f"followed to gamma floor {f:.3g}: not certified there (kkt {cert.kkt[j]:.3g})"
        live = np.array([i for i in live if outcome[i] == "unresolved"], dtype=int)
    for i in live:  # still not certified at the lowest floor, but with γ above it: an interior point that the float
        # certificate cannot settle (e.g. an inexact fit whose γ sits just above 1e-8, where the joint Hessian's
        # relative eigenvalues are ~1e-15); the interval proof may (`vaetheory.verdict.proofs.settle`)
        if gamma[i] > floor[i] * (1 + GAMMA_AT_FLOOR_RTOL):
            outcome[i] = "uncertified_interior"
    return FloorFollow(theta, gamma, floor, outcome, slope, reasons, support)
