"""Multi-start search for local minima at fixed γ or with γ learned down to a floor, vectorised across restarts.

When the variant has a ``fixed_point_batch`` hook (the collapsed VAEs: M-SBL's update for vae-full), its fixed-point
stage (`vaetheory.search.fixed_point`, docs/search.md §0) runs first on every start and replaces the L-BFGS phase
below; the Newton phase and the certificate follow either way.

The L-BFGS phase runs in stages of LBFGS_STAGE iterations. Small points (fewer than BATCHED_LBFGS_MIN_COORDS
coordinates: the VAEs, γ learned) are minimised together: their energies are summed (the sum is separable, so its
minimisers are the tuples of each restart's minimisers) and one L-BFGS-B run over the stacked vector handles the
bounds ν ≥ 0 — an active-set method that can re-activate a coordinate sitting at 0 when its gradient turns negative
(the pitfall of docs/theory.md §5 that multiplicative updates fall into). Large points at fixed γ (the split-sign
AEs, P = κ(1 + 2n)) are minimised row by row with `batched_lbfgs` (vaetheory.search.lbfgs): the same projected
quasi-Newton idea, but each restart with its own memory, step length and stopping test, so restarts no longer share
one line search and the cost per iteration is not L-BFGS-B's bookkeeping over every restart's coordinates. Between
stages a row leaves for the Newton phase once it has at most LBFGS_LEAVE free coordinates or its free count stopped
falling; the phase ends when every row left has at most NEWTON_MAX_ACTIVE free coordinates.

A batched projected Newton phase then finishes the job on the active coordinates, so the certificate sees points
stationary to near machine precision; L-BFGS alone stalls on the ill-conditioned small-γ landscapes. Each point
stops as soon as it is stationary; steps are damped (Levenberg–Marquardt: a Cholesky step, a saddle-free eigen step
where the free Hessian is indefinite), taken in groups of points with similar free counts (a dense step costs
O(m³) in the group's largest count m) or, for points with more free coordinates than the dense limit, truncated-Newton
trust-region CG steps on Hessian-vector products.

Starts (`make_starts`): random points from the variant, and adversarial ones: least-squares fits on non-optimal
basic feasible supports (size-d supports that contain no optimal support) and on the ℓ2,1 relaxation's support.

With γ learned (docs/learned-gamma.md), γ is one more coordinate, bounded below by the floor. L-BFGS-B runs one
stage in log γ (robust far from a minimum), then the projected Newton phase refines (θ, γ) jointly in *linear* γ,
treating the floor as a box constraint: γ is held at the floor only while ∂E/∂γ > 0 there. The learned-γ starts add
non-optimal BFS fits at a small γ (10 × floor: where docs/theory.md C6(a) says the energy still decreases into γ > 0)
and a γ-continuation ("anneal": a random start minimised at fixed γ from large to small, then freed).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, OptimizeResult, minimize

from vaetheory.core.threads import blas_single_threaded, torch_threads
from vaetheory.search.fixed_point import fixed_point_stage
from vaetheory.search.lbfgs import batched_lbfgs
from vaetheory.search.objective import Objective
from collections.abc import Sequence

#: Coordinates of a nonneg block below this fraction of the block's largest value count as inactive.
ACTIVE_RTOL = 1e-6
#: Active-coordinate count up to which the Newton phase runs (its cost grows as m³ per point and iteration).
NEWTON_MAX_ACTIVE = 600
#: Levenberg–Marquardt damping of the Newton phase, relative to the largest entry of a point's scaled Hessian:
#: its start, floor and ceiling (above the ceiling a point that found no decrease stops), and the damping increases
#: tried per iteration.
NEWTON_MU_INIT = 1e-8
NEWTON_MU_MIN = 1e-15
NEWTON_MU_MAX = 1e6
NEWTON_TRIES = 16
#: Points with more free coordinates than this take truncated-Newton steps (trust-region CG on Hessian-vector
#: products) instead of factorising the dense free Hessian; at most NEWTON_CG_MAX CG iterations per step, trust
#: radius (in block-scaled coordinates) starting at NEWTON_RADIUS0, at most NEWTON_RADIUS_MAX, and a point whose
#: radius falls below NEWTON_RADIUS_MIN without a decrease stops.
NEWTON_DENSE_MAX = 150
#: The same limit for variants with a closed-form ``hessian`` hook: the dense Hessian then costs about one gradient
#: evaluation per point, and its m³/3 Cholesky (m = 400: 21 MFLOP) beats a few hundred Hessian-vector products.
NEWTON_DENSE_MAX_CLOSED = 400
NEWTON_CG_MAX = 250
# dense Newton steps are batched over points whose free counts are within this factor (`projected_newton`)
NEWTON_GROUP_RATIO = 1.5
NEWTON_RADIUS0 = 1.0
NEWTON_RADIUS_MAX = 1e3
NEWTON_RADIUS_MIN = 1e-14
#: Own-scale iterations of `_unstick` for a point it would step by truncated Newton (fixed γ, more free coordinates
#: than the dense limit); the other points keep the full budget. Where the phase helps, it is a local repair that
#: takes few steps: at d = 100, κ = 200, r = 60 (vae-full, γ fixed, 89-96 free, dense) 5-23 iterations, 0.03-0.2 s a
#: call. On ae-l1 at d = 20 (the CLI problem, 429-587 free of 1640) it ran 100 truncated-Newton iterations of up to
#: NEWTON_CG_MAX Hessian-vector products on 4 points, 43 of the search's 44 s (5.6 s without the phase): the one
#: point it finishes needed 1 iteration (own-scaled gradient 3e-4 -> 5e-6; the block-scaled phase then ends it
#: stationary), while the other three, far from stationarity (relative scaled gradients 0.26, 0.08, 0.013), got lower
#: energies (102.8 -> 69.5 on one) but stayed unfinished after all 100.
UNSTICK_CG_STEPS = 3
#: Largest ε of the ε-active set of the truncated-Newton steps (relative to the block scale).
NEWTON_EPS_ACTIVE = 1e-2
#: A point whose scaled gradient is below NEWTON_STALL_TOL and has not halved in NEWTON_STALL_ITERS iterations stops:
#: it sits at the rounding floor of its gradient (about 1e-10 at γ = 1e-6, d = 100), where `tol` (1e-12) is out of
#: reach and further steps only shuffle rounding errors. The numeric certificate asks for 1e-6.
NEWTON_STALL_TOL = 1e-8
NEWTON_STALL_ITERS = 3
#: The joint (θ, γ) Newton phase stops at this scaled gradient (at least): its rounding floor lies between 1e-12 and
#: 1e-10 (d = 100, κ = 200, r = 20, γ at the floor 1e-6: 8e-12 after two steps, then four more steps of rounding
#: noise before the stall rule stopped it, 45 of a task's 230 ms). The certificate asks for 1e-6, and a proof
#: polishes the point in Arb first (`vaetheory.certify.interval`).
LEARNED_NEWTON_TOL = 1e-10
#: L-BFGS-B iterations between checks whether the Newton phase can take over.
LBFGS_STAGE = 250
# after each L-BFGS stage a row leaves for the Newton phase once it has at most LBFGS_LEAVE free coordinates, or
# when its free count fell by less than a factor LBFGS_STALL over the stage (`minimise`)
LBFGS_LEAVE = 200
LBFGS_STALL = 0.9
# at fixed γ, points with at least this many coordinates are minimised row by row (`batched_lbfgs`): measured on
# the AEs' 1640 coordinates (d = 20, κ = 40, n = 20), the joint L-BFGS-B run left a median 1341 coordinates free
# after 250 iterations, independent rows 140 (`python bench/speed.py --only lbfgs`). Below it
# the joint run is cheaper: the batched iteration has a fixed numpy overhead that small points do not repay (vae-full
# and vae-diag at d = 20, κ = 40, 32 restarts: searches of 0.6-0.8 s joint against 1.2-1.5 s batched, scratch runs)
BATCHED_LBFGS_MIN_COORDS = 1000
#: A point whose γ is at most floor × (1 + GAMMA_AT_FLOOR_RTOL) sits at the floor (the box constraint is active).
GAMMA_AT_FLOOR_RTOL = 1e-9
#: With γ learned, γ ≤ this × max(‖X‖²_F / n, floor) in the L-BFGS-B stage (a larger starting γ is lowered to it).
GAMMA_CAP_FACTOR = 1e6
#: γ schedule of the continuation starts: from ANNEAL_HIGH × the data scale down by ANNEAL_FACTOR per stage.
ANNEAL_HIGH = 1e-1
ANNEAL_FACTOR = 1e-1
#: L-BFGS-B iterations per continuation stage before the Newton phase finishes it (at d = 100, κ = 200, r = 30–60,
#: one restart, 10 problems per r: 10 and 30 recovered the same supports, 250 took 3× longer; the resulting times
#: are bench/goldfish.py's).
ANNEAL_LBFGS = 10
#: Newton stops a continuation stage at this scaled gradient: the next stage moves the point anyway.
ANNEAL_NEWTON_TOL = 1e-7
#: After the fixed-point stage, rows equal to within this (relative to their block scales, and γ relative) share one
#: Newton polish (`_same_points`).
SAME_POINT_RTOL = 1e-6
#: With a variant's fixed-point hook a continuation stage is at most ANNEAL_FP_ITER fixed-point iterations, stopped
#: early at relative change ANNEAL_FP_XTOL (no Newton phase: the next stage moves the point anyway).
ANNEAL_FP_ITER = 30
ANNEAL_FP_XTOL = 1e-6


@dataclass(frozen=True)
class Starts:
    """Starting points: theta (R, P), a kind per row ("random", "bfs", "l21", "anneal", …), the support it was built
    from (None for random starts) and optionally a starting γ per row (R,) (None: the caller's γ for every row).
    An "anneal" row is minimised along a decreasing γ schedule before γ is freed (learned γ only)."""

    theta: np.ndarray
    kinds: tuple[str, ...]
    supports: tuple[tuple[int, ...] | None, ...]
    gamma: np.ndarray | None = None


@dataclass(frozen=True)
class SearchResult:
    """End points of a multi-start search (like scipy's OptimizeResult, batched).

    theta (R, P) and gamma (R,) are the end points; energy (R,) their energies; nit the L-BFGS-B iterations of
    the staged runs (summed over stages; rows leave the joint run between stages); message the last stage's stop
    reason; gamma_mode "fixed" or "learned".
    """

    theta: np.ndarray
    gamma: np.ndarray
    energy: np.ndarray
    starts: Starts
    nit: int
    newton_iters: int
    message: str
    gamma_mode: str
    seconds: float


def nonoptimal_bfs_masks(problem, optimal_supports: Sequence[Sequence[int]], count: int, rng: np.random.Generator,
                         size: int | None = None) -> np.ndarray:
    """(≤count, κ) masks of random size-`size` (default d) supports with Φ_T of full column rank that contain none
    of `optimal_supports` (the oracle's answer, passed as plain index lists so the search stage does not depend on
    the oracle stage): non-optimal basic feasible solutions. Candidates are drawn and tested in one batch."""
    d, kappa = problem.d, problem.kappa
    m = min(d if size is None else size, kappa)
    k = min((len(s) for s in optimal_supports), default=0)
    if count <= 0 or m <= k:
        return np.zeros((0, kappa), dtype=bool)
    draws = 4 * count + 8
    idx = np.argsort(rng.random((draws, kappa)), axis=1)[:, :m]
    masks = np.zeros((draws, kappa), dtype=bool)
    np.put_along_axis(masks, idx, True, axis=1)
    opt = np.zeros((len(optimal_supports), kappa), dtype=bool)
    for i, s in enumerate(optimal_supports):  # a handful of optimal supports at most
        opt[i, list(s)] = True
    contains_opt = ((masks[:, None, :] & opt[None]) == opt[None]).all(-1).any(-1)
    sub = problem.Phi[None, :, :] * masks[:, None, :]
    full_rank = np.linalg.matrix_rank(np.take_along_axis(sub, np.sort(idx, 1)[:, None, :], axis=2)) == m
    masks = masks[~contains_opt & full_rank]
    return np.unique(masks, axis=0)[:count] if len(masks) else masks


def make_starts(objective: Objective, restarts: int, rng: np.random.Generator, gamma: float, *,
                optimal_supports: Sequence[Sequence[int]] | None = None, l21_support=None,
                adversarial_fraction: float = 0.25, learn_gamma: bool = False,
                gamma_floor: float | None = None, anneal_fraction: float = 0.25, continuation: bool = False
                ) -> Starts:
    """`restarts` starting points: a share of adversarial ones (non-optimal BFS, the ℓ2,1 support) when the optimal
    supports are given (the oracle's answer), the rest random. With `learn_gamma`, the BFS starts begin at the small
    γ = 10 × floor and a share `anneal_fraction` of the random starts become γ-continuation starts ("anneal").
    With `continuation` (either γ mode) every random start is a γ-continuation start: minimised along a decreasing
    γ schedule down to the run's γ first (what makes one start converge to the planted support at d = 100,
    κ = 200, r = 40; bench/speed.py)."""
    variant, problem, layout = objective.variant, objective.problem, objective.layout
    floor = variant.gamma.floor if gamma_floor is None else gamma_floor
    masks, kinds = [], []
    if optimal_supports is not None and restarts > 1 and adversarial_fraction > 0:
        n_adv = max(1, int(round(adversarial_fraction * restarts)))
        if l21_support is not None and len(l21_support) > 0 and n_adv:
            m = np.zeros((1, problem.kappa), dtype=bool)
            m[0, list(l21_support)] = True
            masks.append(m)
            kinds.append("l21")
            n_adv -= 1
        bfs = nonoptimal_bfs_masks(problem, optimal_supports, n_adv, rng)
        masks.append(bfs)
        kinds += ["bfs"] * len(bfs)
    masks = np.concatenate(masks) if masks else np.zeros((0, problem.kappa), dtype=bool)
    n_rand = max(restarts - len(masks), 0)
    n_anneal = min(n_rand, int(round(anneal_fraction * restarts))) if learn_gamma and restarts > 1 else 0
    if continuation:
        n_anneal = n_rand
    parts = []
    if len(masks):
        parts.append(layout.pack(variant.init_from_support(problem, masks, gamma), len(masks)))
    if n_rand > 0:
        parts.append(layout.pack(variant.init_random(problem, rng, n_rand), n_rand))
    theta = np.concatenate(parts)[:restarts]
    supports = tuple(tuple(int(j) for j in np.flatnonzero(m)) for m in masks) + (None,) * n_rand
    kinds = tuple(kinds + ["anneal"] * n_anneal + ["random"] * (n_rand - n_anneal))[:restarts]
    g0 = None
    if learn_gamma:
        g0 = np.array([10 * floor if k == "bfs" else max(gamma, floor) for k in kinds])
    return Starts(theta, kinds, supports[:restarts], g0)


def gamma_scale(objective: Objective, gamma: np.ndarray) -> np.ndarray:
    """(B,) scale b_γ in which the γ coordinate is measured by the certificate and the stopping rule: the larger of
    γ and the data variance per entry ‖X‖²_F/(d n). It does not shrink with γ (so γ·∂E/∂γ, which vanishes as γ → 0,
    is never what is tested) and scales like γ when X is rescaled (so the measure is scale-free)."""
    X = objective.problem.X
    return np.maximum(np.asarray(gamma, dtype=np.float64), float(np.sum(X**2) / X.size))


def gamma_derivatives(objective: Objective, theta: np.ndarray, gamma: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Energy (B,), ∂E/∂θ (B, P), ∂E/∂γ (B,), the mixed second derivatives ∂²E/∂θ∂γ (B, P) and ∂²E/∂γ² (B,): in
    closed form when the variant has the ``gamma_curvature_batch`` hook, by reverse mode through the closed-form
    gradient hook when it has that (`Objective.gamma_curvature`), else by one
    forward-mode derivative in γ of the reverse-mode gradient (batched with vmap); both checked against plain
    autograd and finite differences in tests/test_learned_gamma.py."""
    if objective.has_closed_form_gamma_curvature or objective.has_closed_form_gradient:
        return objective.gamma_curvature(theta, gamma)
    import torch
    from torch.func import grad_and_value, jvp, vmap

    from vaetheory.core.threads import single_threaded

    fn = getattr(objective, "_vaetheory_gamma_jvp", None)
    if fn is None:
        gv = grad_and_value(objective._energy, argnums=(0, 1))

        def one(th, ga):
            (primal, tangent) = jvp(lambda g: gv(th, g), (ga,), (torch.ones_like(ga),))
            (g_th, g_ga), val = primal
            (h_thga, h_gaga), _ = tangent
            return val, g_th, g_ga, h_thga, h_gaga

        fn = vmap(one)
        objective._vaetheory_gamma_jvp = fn

    @single_threaded
    def run():
        t = objective._t
        try:
            return [a.numpy() for a in fn(t(theta), t(gamma))]
        except torch.linalg.LinAlgError as exc:
            raise FloatingPointError(f"energy evaluation failed: {exc}") from None

    return tuple(run())


def active_mask(objective: Objective, theta: np.ndarray, rtol: float = ACTIVE_RTOL) -> np.ndarray:
    """(R, P) coordinates that are active: free coordinates always; nonneg ones above `rtol` × their block's max."""
    nonneg = objective.layout.nonneg
    return ~nonneg[None, :] | (theta > rtol * block_scales(objective, theta))


def block_scales(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """(R, P): for each coordinate, the largest |value| in its parameter block (floored at 1e-300)."""
    blocks = objective.layout.block_ids
    out = np.empty_like(theta)
    for b in range(len(objective.layout.names)):  # one iteration per named parameter, not per point
        sel = blocks == b
        out[:, sel] = np.abs(theta[:, sel]).max(axis=1, keepdims=True)
    return np.maximum(out, 1e-300)


def own_scales(objective: Objective, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(R, P): a nonneg coordinate's own |value| (at least ACTIVE_RTOL × its block scale `b`), a free one's `b`."""
    return np.where(objective.layout.nonneg[None, :], np.maximum(np.abs(theta), ACTIVE_RTOL * b), b)


def unfinished(objective: Objective, theta: np.ndarray, gamma: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """(R,) points whose largest block-scaled gradient over the coordinates the Newton phase moves exceeds `tol`
    relative to max(|E|, 1): the certificate's active stationarity test (`certify.numeric`, KKT_TOL = 1e-6) would
    fail there."""
    E, g, _ = objective.value_and_grad(theta, gamma, with_gamma=False)
    b = block_scales(objective, theta)
    held = objective.layout.nonneg[None] & (theta <= ACTIVE_RTOL * b) & (g > 0)
    return np.where(held, 0.0, np.abs(g) * b).max(1) / np.maximum(np.abs(E), 1.0) > tol


def free_counts(objective: Objective, theta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """(R,) number of coordinates the Newton phase would move (all but nonneg ones at ~0 with positive gradient)."""
    _, g, _ = objective.value_and_grad(theta, gamma, with_gamma=False)
    held = objective.layout.nonneg[None] & (theta <= ACTIVE_RTOL * block_scales(objective, theta)) & (g > 0)
    return (~held).sum(1)


def _trust_region_cg_step(objective: Objective, th: np.ndarray, ga: np.ndarray, E: np.ndarray, g: np.ndarray,
                          b: np.ndarray, held: np.ndarray, free: np.ndarray, scaled: np.ndarray, slack: np.ndarray,
                          radius: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One truncated-Newton step per point (Steihaug–Toint conjugate gradients in a trust region), in coordinates
    scaled by the block scales, on the free coordinates; Hessian-vector products only (`Objective.hvp`), batched over
    the points, each point leaving CG on its own (residual below η‖g‖ with η = min(0.5, √(‖g‖/|E|)), negative
    curvature, or the trust-region boundary). Returns (new points, whether each step was taken, new radii)."""
    nonneg = objective.layout.nonneg[None, :]
    # Bertsekas' ε-active set: a coordinate within ε of its bound, with a positive gradient, is held too, where ε
    # (relative to the block scale) shrinks with the point's scaled projected-gradient step, so that coordinates
    # on their way to 0 stop spoiling the Newton model while the active set is still being identified.
    xs = th / b
    gsc = g * b / np.maximum(np.abs(E), 1.0)[:, None]
    proj = np.where(nonneg, np.abs(xs - np.maximum(xs - gsc, 0.0)), np.abs(gsc)).max(1)
    eps = np.minimum(NEWTON_EPS_ACTIVE, proj)[:, None]
    held = held | (nonneg & (xs <= eps) & (g > 0))
    free = ~held
    F = free.astype(np.float64)
    bF = b * F
    gs = g * bF
    gnorm = np.linalg.norm(gs, axis=1)
    tol = np.minimum(0.5, np.sqrt(gnorm / np.maximum(np.abs(E), 1.0))) * gnorm
    z = np.zeros_like(gs)
    r = gs.copy()
    d = -r
    rr = (r * r).sum(1)
    q = np.zeros(len(th))
    going = np.ones(len(th), dtype=bool)
    for _ in range(min(NEWTON_CG_MAX, int(free.sum(1).max()) + 1)):
        rows = np.flatnonzero(going)
        if not len(rows):
            break
        Hd = objective.hvp(th[rows], ga[rows], d[rows] * bF[rows]) * bF[rows]
        dr, dd = d[rows], (d[rows] * d[rows]).sum(1)
        dHd = (dr * Hd).sum(1)
        alpha = rr[rows] / np.where(dHd > 0, dHd, 1.0)
        z_new = z[rows] + alpha[:, None] * dr
        out = (dHd <= 0) | (np.linalg.norm(z_new, axis=1) >= radius[rows])
        # to the boundary: the positive root τ of ‖z + τ d‖ = Δ
        zd, zz = (z[rows] * dr).sum(1), (z[rows] * z[rows]).sum(1)
        tau = (-zd + np.sqrt(np.maximum(zd**2 + dd * (radius[rows] ** 2 - zz), 0.0))) / np.maximum(dd, 1e-300)
        t = np.where(out, tau, alpha)
        rd = (r[rows] * dr).sum(1)
        q[rows] += t * rd + 0.5 * t**2 * dHd
        z[rows] += t[:, None] * dr
        r_new = r[rows] + t[:, None] * Hd
        rr_new = (r_new * r_new).sum(1)
        stop = out | (np.sqrt(rr_new) <= tol[rows])
        beta = rr_new / np.maximum(rr[rows], 1e-300)
        d[rows] = -r_new + beta[:, None] * dr
        r[rows], rr[rows] = r_new, rr_new
        going[rows[stop]] = False
    pred = -q
    base = np.where(held, 0.0, th)
    trial = base + z * bF
    trial = np.where(nonneg, np.maximum(trial, 0.0), trial)
    trial = np.where(np.isfinite(trial), trial, th)
    try:
        Et, gt, _ = objective.value_and_grad(trial, ga, with_gamma=False)
    except FloatingPointError:
        Et, gt = np.full(len(th), np.inf), np.zeros_like(trial)
    meas = np.where(free, np.abs(gt) * b, 0.0).max(1) / np.maximum(np.abs(Et), 1.0)
    finite = np.isfinite(Et)
    flat = finite & (Et <= E + slack) & (meas < 0.5 * scaled)
    take = finite & ((Et < E) | flat)
    ratio = np.where(finite, (E - Et) / np.maximum(pred, 1e-300), -np.inf)
    znorm = np.linalg.norm(z, axis=1)
    new_radius = np.where(~take | (ratio < 0.25), 0.25 * np.minimum(znorm, radius),
                          np.where((ratio > 0.75) & (znorm >= 0.99 * radius), 2 * radius, radius))
    return np.where(take[:, None], trial, th), take, np.minimum(new_radius, NEWTON_RADIUS_MAX)


@blas_single_threaded
def projected_newton(objective: Objective, theta: np.ndarray, gamma: np.ndarray, *, max_iter: int = 50,
                     tol: float = 1e-12, gamma_floor: float | None = None, own_scale: bool = False
                     ) -> tuple[np.ndarray, int] | tuple[np.ndarray, np.ndarray, int]:
    """Batched projected Newton (Bertsekas 1982) on the bound-constrained problem, globalised by Levenberg–Marquardt
    damping (a trust region in the scaled coordinates), with per-point convergence.

    Each iteration, for the points not yet finished only: a nonneg coordinate is *held* at 0 when it is ~0 and its
    gradient is positive; on the other (free) coordinates, in coordinates scaled by the block scales, the step is
    −(H + μI)⁻¹g from one Cholesky factor of the damped free Hessian (closed form when the variant has a ``hessian``
    hook, else autograd Hessian-vector products). The damping μ is per point, relative to the Hessian's largest
    entry: raised ×10 when the factorisation fails (H + μI indefinite: the step then descends along negative
    curvature instead of converging to a saddle) or the projected step does not decrease E, lowered ×10 after an
    accepted step whose decrease matches the quadratic model, so near a nondegenerate minimum the step is Newton's and
    converges quadratically. Coordinates at 0 with negative gradient are free, so they revive. A step is accepted
    when E decreases (or, where the decrease is below the rounding of E — relative 1e-12 plus 1e3·eps·‖X‖²/γ, the
    data term's error at small γ — when E stays within rounding and the scaled gradient halves). Points whose scaled
    free gradient is below `tol`, or for which no damping up to NEWTON_MU_MAX gives a decrease (as stationary as
    this method can make them), stop and cost nothing further. Returns the points and the iterations used.

    With `gamma_floor`, γ (R,) is one more coordinate, in linear γ with the box constraint γ ≥ floor: held at the
    floor while ∂E/∂γ > 0 there, free otherwise; the Hessian is taken jointly over (θ_free, γ) (γ row and column
    from `gamma_derivatives`), scaled by γ, and γ moves by at most a factor 10 per step. Returns (θ, γ, iterations)
    in that case.

    own_scale: scale each nonneg coordinate by its own value (`own_scales`) instead of its block's largest, for
    the points the block-scaled phase leaves stuck (`minimise`).
    """
    learn = gamma_floor is not None
    nonneg_all = objective.layout.nonneg[None, :]
    theta = np.array(theta, dtype=np.float64)
    gamma = np.array(np.broadcast_to(np.asarray(gamma, dtype=np.float64), (len(theta),)))
    done = np.zeros(len(theta), dtype=bool)
    mu = np.full(len(theta), NEWTON_MU_INIT)
    radius = np.full(len(theta), NEWTON_RADIUS0)
    x_sq = float(np.sum(objective.problem.X**2))
    best = np.full(len(theta), np.inf)  # smallest scaled gradient seen per point, and iterations since it halved
    stalled = np.zeros(len(theta), dtype=int)
    # at fixed γ, the energy and gradient of an accepted dense step's trial point are kept for the next iteration
    # (it starts there), so a point costs two evaluations per iteration, not three
    cache = None if learn else (np.zeros(len(theta)), np.zeros_like(theta), np.zeros(len(theta), dtype=bool))
    it = 0
    for it in range(1, max_iter + 1):
        idx = np.flatnonzero(~done)
        if not len(idx):
            break
        th, ga = theta[idx], gamma[idx]
        if learn:
            E, g, gg, h_tg, h_gg = gamma_derivatives(objective, th, ga)
        else:
            known = cache[2][idx]
            E, g = cache[0][idx], cache[1][idx]
            if not known.all():
                E[~known], g[~known], _ = objective.value_and_grad(th[~known], ga[~known], with_gamma=False)
            cache[2][:] = False
        if not (np.all(np.isfinite(E)) and np.all(np.isfinite(g))):
            raise FloatingPointError(f"variant {objective.variant.name!r}: non-finite energy or gradient in the search")
        b = block_scales(objective, th)
        if own_scale:
            b = own_scales(objective, th, b)
        held = nonneg_all & (th <= ACTIVE_RTOL * b) & (g > 0)  # same rule as free_counts
        free = ~held
        scaled = np.where(free, np.abs(g) * b, 0.0).max(1) / np.maximum(np.abs(E), 1.0)
        g_free = None
        if learn:
            g_free = ~((ga <= gamma_floor * (1 + GAMMA_AT_FLOOR_RTOL)) & (gg > 0))
            scaled = np.maximum(scaled, np.where(g_free, np.abs(gg) * gamma_scale(objective, ga), 0.0)
                                / np.maximum(np.abs(E), 1.0))
        improved = scaled < 0.5 * best[idx]
        stalled[idx] = np.where(improved, 0, stalled[idx] + 1)
        best[idx] = np.minimum(best[idx], scaled)
        conv = (scaled <= tol) | ((best[idx] <= NEWTON_STALL_TOL) & (stalled[idx] >= NEWTON_STALL_ITERS))
        done[idx[conv]] = True
        if conv.all():
            break
        keep = ~conv
        idx, th, ga, E, g, b, held, free, scaled = (a[keep] for a in (idx, th, ga, E, g, b, held, free, scaled))
        extra = (gg[keep], h_tg[keep], h_gg[keep], g_free[keep]) if learn else None
        # rounding level of E: relative 1e-12, and the data term tr(XᵀΣ_x⁻¹X) carries errors ~ eps‖X‖²/γ at small γ
        slack = 1e-12 * np.maximum(np.abs(E), 1.0) + 1e3 * np.finfo(float).eps * x_sq / ga
        dense_max = NEWTON_DENSE_MAX_CLOSED if objective.has_closed_form_hessian else NEWTON_DENSE_MAX
        counts = free.sum(1)
        big = (counts > dense_max) & (not learn)
        if big.any():  # truncated Newton for the points with many free coordinates
            new, taken, radius[idx[big]] = _trust_region_cg_step(
                objective, th[big], ga[big], E[big], g[big], b[big], held[big], free[big], scaled[big], slack[big],
                radius[idx[big]])
            theta[idx[big]] = new
            done[idx[big][~taken & (radius[idx[big]] < NEWTON_RADIUS_MIN)]] = True
        # The dense step pads every point's Hessian to the batch's largest free count m and costs O(m³) per point:
        # points are taken in groups of similar m (free counts within a factor NEWTON_GROUP_RATIO), so a point with
        # 150 free coordinates does not pay for one with 450.
        group = np.floor(np.log(np.maximum(counts, 1)) / np.log(NEWTON_GROUP_RATIO)).astype(int)
        for key in np.unique(group[~big]):  # a handful of groups, not one iteration per point
            sel = np.flatnonzero(~big & (group == key))
            _damped_newton_step(objective, theta, gamma, mu, done, idx[sel], th[sel], ga[sel], E[sel], g[sel],
                                b[sel], held[sel], free[sel], scaled[sel], slack[sel],
                                None if extra is None else tuple(x[sel] for x in extra), gamma_floor, cache)
    return (theta, gamma, it) if learn else (theta, it)


def _damped_newton_step(objective: Objective, theta: np.ndarray, gamma: np.ndarray, mu: np.ndarray, done: np.ndarray,
                        idx: np.ndarray, th: np.ndarray, ga: np.ndarray, E: np.ndarray, g: np.ndarray, b: np.ndarray,
                        held: np.ndarray, free: np.ndarray, scaled: np.ndarray, slack: np.ndarray,
                        extra: tuple[np.ndarray, ...] | None, gamma_floor: float | None,
                        cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
    """One damped Newton iteration of `projected_newton` for the points `idx` (their current values th, ga, E, g,
    block scales b, held/free masks, scaled gradients and rounding slacks): a dense factorisation of the damped
    free Hessian per point, the damping raised until E decreases. Updates theta, gamma, mu and done in place.
    extra: with γ learned, (∂E/∂γ, ∂²E/∂θ∂γ, ∂²E/∂γ², γ free) for these points."""
    import torch

    learn = extra is not None
    nonneg_all = objective.layout.nonneg[None, :]
    H, order, valid = objective.active_hessian(th, ga, free)
    s = np.take_along_axis(b, order, axis=1)  # per-coordinate scales for the step
    gF = np.take_along_axis(g, order, axis=1) * valid
    if learn:  # append the γ row and column
        gg, h_tg, h_gg, g_free = extra
        cross = np.take_along_axis(h_tg, order, axis=1) * valid * g_free[:, None]
        m = H.shape[1]
        Ha = np.zeros((len(H), m + 1, m + 1))
        Ha[:, :m, :m] = H
        Ha[:, :m, m] = Ha[:, m, :m] = cross
        Ha[:, m, m] = np.where(g_free, h_gg, 0.0)
        H, valid = Ha, np.concatenate([valid, g_free[:, None]], axis=1)
        s = np.concatenate([s, ga[:, None]], axis=1)
        gF = np.concatenate([gF, np.where(g_free, gg, 0.0)[:, None]], axis=1)
    Hs = s[:, :, None] * H * s[:, None, :]
    gs = gF * s
    h_scale = np.maximum(np.abs(Hs).max(axis=(1, 2)), 1e-300)
    eye = np.eye(H.shape[1])[None]
    pad = eye * (~valid)[:, None, :]  # unit diagonal on padding slots
    base = np.where(held, 0.0, th)
    pending = np.ones(len(idx), dtype=bool)
    use_eig = np.zeros(len(idx), dtype=bool)  # H + μI indefinite at the point's damping: saddle-free step
    lam_all = V_all = None
    for _ in range(NEWTON_TRIES):  # damping increases, vectorised over the pending points
        rows = np.flatnonzero(pending & (mu[idx] <= NEWTON_MU_MAX))
        if not len(rows):
            break
        damp = mu[idx[rows]] * h_scale[rows]
        p = np.zeros((len(rows), gs.shape[1]))
        chol = rows[~use_eig[rows]]
        if len(chol):
            A = Hs[chol] + (mu[idx[chol]] * h_scale[chol])[:, None, None] * eye * valid[chol][:, None, :] + pad[chol]
            with torch_threads(1):
                Lc, info = torch.linalg.cholesky_ex(torch.from_numpy(A))
                pc = torch.cholesky_solve(-torch.from_numpy(gs[chol])[..., None], Lc)[..., 0].numpy()
            ok = info.numpy() == 0
            use_eig[chol[~ok]] = True
            p[~use_eig[rows]] = pc[ok]
        eig = np.flatnonzero(use_eig[rows])
        if len(eig):
            if lam_all is None:
                lam_all, V_all = np.zeros(gs.shape), np.zeros(Hs.shape)
                lam_all[:] = np.nan
            need = rows[eig][np.isnan(lam_all[rows[eig], 0])]
            if len(need):
                lam_all[need], V_all[need] = np.linalg.eigh(Hs[need] + pad[need])
            r_e = rows[eig]
            coef = (np.swapaxes(V_all[r_e], 1, 2) @ gs[r_e][..., None])[..., 0]
            p[eig] = -(V_all[r_e] @ (coef / (np.abs(lam_all[r_e]) + damp[eig][:, None]))[..., None])[..., 0]
        H_model = np.where(use_eig[rows][:, None, None], 0.0, Hs[rows])  # saddle-free steps: linear model
        dF = p * valid[rows] * s[rows]
        pred = -(np.einsum("bi,bi->b", gs[rows], p) + 0.5 * np.einsum("bi,bij,bj->b", p, H_model, p))
        step = np.zeros((len(rows), th.shape[1]))
        np.put_along_axis(step, order[rows], dF[:, :order.shape[1]], axis=1)
        trial = base[rows] + step
        trial = np.where(nonneg_all, np.maximum(trial, 0.0), trial)
        trial = np.where(np.isfinite(trial), trial, th[rows])
        trial_gamma = ga[rows]
        if learn:
            trial_gamma = np.clip(ga[rows] + dF[:, -1], np.maximum(gamma_floor, ga[rows] / 10), 10 * ga[rows])
            trial_gamma = np.where(np.isfinite(trial_gamma), trial_gamma, ga[rows])
        try:
            Et, gt, ggt = objective.value_and_grad(trial, trial_gamma, with_gamma=learn)
        except FloatingPointError:  # e.g. Σ_x not positive definite at a trial point: treat as no decrease
            Et, gt, ggt = np.full(len(rows), np.inf), np.zeros_like(trial), np.zeros(len(rows))
        # Near a minimum the energy decrease of a Newton step falls below the rounding of E (|E| ~ 1e3 at small
        # γ): there a step is also accepted when E stays within rounding and the scaled gradient halves.
        meas = np.where(free[rows], np.abs(gt) * b[rows], 0.0).max(1)
        if learn:
            meas = np.maximum(meas, np.where(g_free[rows], np.abs(ggt) * gamma_scale(objective, trial_gamma),
                                             0.0))
        meas = meas / np.maximum(np.abs(Et), 1.0)
        finite = np.isfinite(Et)
        flat = finite & (Et <= E[rows] + slack[rows]) & (meas < 0.5 * scaled[rows])
        take = finite & ((Et < E[rows]) | flat)
        good_model = take & ((E[rows] - Et) >= 0.25 * pred)
        theta[idx[rows[take]]] = trial[take]
        if cache is not None:  # (E, ∇E) at the accepted points: where the next iteration starts
            cache[0][idx[rows[take]]], cache[1][idx[rows[take]]] = Et[take], gt[take]
            cache[2][idx[rows[take]]] = True
        if learn:
            gamma[idx[rows[take]]] = trial_gamma[take]
        mu[idx[rows]] = np.where(take, np.where(good_model, np.maximum(mu[idx[rows]] / 10, NEWTON_MU_MIN),
                                                mu[idx[rows]]), mu[idx[rows]] * 10)
        pending[rows[take]] = False
        if not pending.any():
            break
    # no decrease for any damping tried: as stationary as this method can make it
    done[idx[pending]] = True


def _same_points(objective: Objective, theta: np.ndarray, gamma: np.ndarray, rtol: float = SAME_POINT_RTOL
                 ) -> np.ndarray:
    """(R,) for each row the first row that is the same point as it: every coordinate within `rtol` of its block's
    largest value (so the same active set, up to coordinates below rtol) and γ within `rtol` relative. Such rows,
    which the fixed-point stage leaves beside one minimum (all 8 random starts at d = 100, κ = 200, r = 20), then share
    one Newton polish instead of repeating it. R² comparisons, vectorised (R is the restart count)."""
    b = block_scales(objective, theta)
    close = (np.abs(theta[:, None, :] - theta[None, :, :]) <= rtol * np.maximum(b[:, None, :], b[None, :, :])).all(-1)
    close &= np.abs(gamma[:, None] - gamma[None, :]) <= rtol * np.maximum(gamma[:, None], gamma[None, :])
    return np.argmax(close, axis=1)  # the first close row (a row is close to itself); never chained


def _unstick(objective: Objective, theta: np.ndarray, gamma: np.ndarray, steps: int, tol: float,
             gamma_floor: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Points the Newton phase left short of stationarity (`unfinished`) get a second Newton phase with each
    coordinate at its own scale (`own_scales`), then the usual one; kept where the energy did not increase. At
    d = 100, κ = 200, r = 60 the block-scaled phase stops at points (about 90 active columns) where a coordinate at
    1e-6 of its block's scale has a scaled gradient of up to 1e2 and no damping gives a decrease, while a step of
    that coordinate alone lowers E by 1e-2; at its own scale the step is taken. A point the phase would step by
    truncated Newton (more free coordinates than the dense limit, fixed γ) gets only UNSTICK_CG_STEPS of them."""
    stuck = np.flatnonzero(unfinished(objective, theta, gamma))
    if not len(stuck):
        return theta, gamma
    th, ga = theta[stuck], gamma[stuck]
    try:
        if gamma_floor is None:
            # points beyond the dense limit get UNSTICK_CG_STEPS own-scale iterations, the others `steps` (why: there)
            dense_max = NEWTON_DENSE_MAX_CLOSED if objective.has_closed_form_hessian else NEWTON_DENSE_MAX
            big = free_counts(objective, th, ga) > dense_max
            for sel, budget in ((~big, steps), (big, min(steps, UNSTICK_CG_STEPS))):
                if sel.any():
                    th[sel], _ = projected_newton(objective, th[sel], ga[sel], max_iter=budget, tol=tol,
                                                  own_scale=True)
            th, _ = projected_newton(objective, th, ga, max_iter=steps, tol=tol)
        else:
            th, ga, _ = projected_newton(objective, th, ga, max_iter=2 * steps, gamma_floor=gamma_floor,
                                         own_scale=True)
            th, ga, _ = projected_newton(objective, th, ga, max_iter=2 * steps, gamma_floor=gamma_floor)
        E0, _, _ = objective.value_and_grad(theta[stuck], gamma[stuck], with_gamma=False)
        E1, _, _ = objective.value_and_grad(th, ga, with_gamma=False)
    except FloatingPointError:  # the second phase left the domain: keep the first phase's points
        return theta, gamma
    keep = np.isfinite(E1) & (E1 <= E0)
    theta, gamma = theta.copy(), gamma.copy()
    theta[stuck[keep]], gamma[stuck[keep]] = th[keep], ga[keep]
    return theta, gamma


def _anneal(objective: Objective, theta: np.ndarray, gamma_end: np.ndarray, *, pgtol: float,
            newton_steps: int) -> np.ndarray:
    """γ-continuation: minimise θ at fixed γ along a decreasing schedule, from ANNEAL_HIGH × the data scale down
    to `gamma_end` (per row), each stage started where the previous one ended."""
    high = ANNEAL_HIGH * gamma_scale(objective, np.zeros(len(theta)))
    # γ_k = γ_end / ANNEAL_FACTOR^k for k = n_stages … 1 (the first at most `high`); the caller's own run at γ_end is
    # the last stage. Anchored at γ_end so that the last two stages are a full factor apart.
    n_stages = int(np.floor(np.log(max(float((high / gamma_end).max()), 1.0)) / -np.log(ANNEAL_FACTOR) + 1e-9))
    for k in range(n_stages, 0, -1):
        g_k = np.minimum(gamma_end / ANNEAL_FACTOR**k, np.maximum(high, gamma_end))
        if objective.has_fixed_point:  # a few fixed-point iterations per stage: the next stage moves the point anyway
            fp = fixed_point_stage(objective, theta, g_k, max_iter=ANNEAL_FP_ITER, xtol=ANNEAL_FP_XTOL)
            if fp.used:
                theta = fp.theta
                continue
        res = minimise(objective, Starts(theta, ("continued",) * len(theta), (None,) * len(theta)), g_k,
                       maxiter=ANNEAL_LBFGS, pgtol=pgtol, newton_steps=newton_steps, newton_tol=ANNEAL_NEWTON_TOL,
                       unstick=False)
        theta = res.theta
    return theta


@blas_single_threaded
def minimise(objective: Objective, starts: Starts, gamma: float | np.ndarray, *, learn_gamma: bool = False,
             gamma_floor: float | None = None, maxiter: int = 20000, pgtol: float = 1e-10,
             newton_steps: int = 100, newton_tol: float = 1e-12, fixed_point: bool | None = None,
             unstick: bool = True) -> SearchResult:
    """Minimise from every start at once.

    gamma: fixed γ, scalar or per start (R,); with `learn_gamma`, the starting γ (overridden per row by
    `starts.gamma`), and γ is learned down to the floor: one L-BFGS-B stage in log γ, then the joint projected
    Newton phase in (θ, γ) with the floor as a box constraint (`projected_newton`). "anneal" starts are first
    minimised along a decreasing fixed-γ schedule (`_anneal`), in either γ mode.

    fixed_point: run the variant's ``fixed_point_batch`` hook (`vaetheory.search.fixed_point`) on every start in
    place of the L-BFGS stages (which then run only if more coordinates stay free than the Newton phase takes);
    default: whenever the variant has the hook.

    unstick: points the Newton phase leaves short of stationarity get a second one at their own scales
    (`_unstick`; off for the intermediate stages of a continuation)."""
    t0 = time.perf_counter()
    theta0 = starts.theta
    R, P = theta0.shape
    nonneg = objective.layout.nonneg
    floor = objective.variant.gamma.floor if gamma_floor is None else gamma_floor
    gamma0 = np.array(np.broadcast_to(np.asarray(gamma, dtype=np.float64), (R,)))
    if learn_gamma:
        if starts.gamma is not None:
            gamma0 = np.asarray(starts.gamma, dtype=np.float64).copy()
        gamma0 = np.maximum(gamma0, floor)
    anneal = np.array([k == "anneal" for k in starts.kinds], dtype=bool)
    if anneal.any():
        theta0 = theta0.copy()
        theta0[anneal] = _anneal(objective, theta0[anneal], gamma0[anneal], pgtol=pgtol, newton_steps=newton_steps)
    lower = np.where(nonneg, 0.0, -np.inf)
    gamma_cap = np.inf
    if learn_gamma:
        # An upper bound keeps L-BFGS-B's trial steps in log γ finite (exp overflowed to γ = inf on one problem).
        # It never binds at a minimum of the collapsed energies: for γ > ‖X‖²_F / n, ∂E/∂γ ≥ λ_max(Σ⁻¹)(n − ‖X‖²/γ) > 0.
        gamma_cap = GAMMA_CAP_FACTOR * max(float(np.sum(objective.problem.X ** 2)) / objective.problem.n, floor)
        gamma0 = np.minimum(gamma0, gamma_cap)
    theta, gam = theta0.copy(), gamma0.copy()
    batched = not learn_gamma and P >= BATCHED_LBFGS_MIN_COORDS
    fp_done = False
    if fixed_point is None or fixed_point:
        fp = fixed_point_stage(objective, theta, gam, gamma_floor=floor if learn_gamma else None)
        if fp.used:
            theta, gam = fp.theta, fp.gamma
            fp_done = P <= NEWTON_MAX_ACTIVE or free_counts(objective, theta, gam).max() <= NEWTON_MAX_ACTIVE

    def stage_run(live: np.ndarray, iters: int, maxfun: int):
        """One L-BFGS run over the rows `live`: `batched_lbfgs` (each row on its own) when `batched`, else one
        L-BFGS-B run on the sum of their energies."""
        r = len(live)
        if batched:  # independent rows (vaetheory.search.lbfgs)
            def rows_fun(rows, th):
                try:
                    E, g, _ = objective.value_and_grad(th, gam[live[rows]], with_gamma=False)
                except FloatingPointError:  # a trial step left the domain: reject it
                    return np.full(len(rows), np.inf), np.zeros_like(th)
                return E, g

            out = batched_lbfgs(rows_fun, theta[live], lower, max_iter=iters, pgtol=pgtol)
            done = int(out.converged.sum())
            return out.x, gam[live], OptimizeResult(
                nit=int(out.nit.max(initial=0)), success=done == r,
                message=f"batched L-BFGS: {done} of {r} rows converged, the others stopped after {iters} iterations")

        def split(x):
            th = x[:r * P].reshape(r, P)
            return th, (np.exp(x[r * P:]) if learn_gamma else gam[live])

        def fun(x):
            th, ga = split(x)
            try:
                E, g, gg = objective.value_and_grad(th, ga, with_gamma=learn_gamma)
            except FloatingPointError:  # a trial step left the domain (Σ not positive definite): reject it
                return np.inf, np.zeros_like(x)
            if not np.all(np.isfinite(E)):
                return np.inf, np.zeros_like(x)
            grad = g.ravel() if not learn_gamma else np.concatenate([g.ravel(), gg * ga])
            return float(E.sum()), grad

        lb, ub = np.tile(lower, r), np.full(r * P, np.inf)
        x0 = theta[live].ravel()
        if learn_gamma:
            x0 = np.concatenate([x0, np.log(gam[live])])
            lb = np.concatenate([lb, np.full(r, np.log(floor))])
            ub = np.concatenate([ub, np.full(r, np.log(gamma_cap))])
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=Bounds(lb, ub),
                       options={"maxiter": iters, "maxfun": maxfun, "ftol": 0.0, "gtol": pgtol, "maxcor": 10})
        if not np.all(np.isfinite(res.x)):
            raise FloatingPointError("the search produced non-finite parameters")
        th, ga = split(res.x)
        return th, ga, res

    # L-BFGS in stages. After each stage a row whose free coordinates are few enough for the Newton phase leaves
    # the run, so rows that are nearly done stop paying for the slow ones (each stage's run is over the rows still
    # in it: L-BFGS-B's cost per iteration grows with the number of variables). Points that come out of a
    # continuation sit next to a minimum at this γ already: a short first stage does for them.
    stage = ANNEAL_LBFGS if anneal.all() else LBFGS_STAGE
    live = np.arange(R)
    nit, message = 0, ""
    last_free = np.full(R, P + 1)
    if fp_done:  # the fixed-point stage left every row to the Newton phase
        live, message = live[:0], f"fixed-point stage: {fp.message}"
    while nit < maxiter and len(live):
        th, ga, res = stage_run(live, min(stage, maxiter - nit), 2 * stage)
        nit, message = nit + max(int(res.nit), 1), str(res.message)
        stage = LBFGS_STAGE
        theta[live] = th
        if learn_gamma:
            gam[live] = np.maximum(ga, floor)  # exp(log floor) may round below the floor
        free = free_counts(objective, theta[live], gam[live])
        if res.success or free.max() <= NEWTON_MAX_ACTIVE:
            break
        # a row leaves when Newton can take it, or when its free count stopped falling (by LBFGS_STALL per stage)
        stay = (free > LBFGS_LEAVE) & (free < LBFGS_STALL * last_free[live])
        last_free[live] = free
        live = live[stay]
    newton_iters = 0
    theta = objective.canonical(theta, gam)
    # (a point with at most NEWTON_MAX_ACTIVE coordinates cannot have more free: no evaluation needed)
    if newton_steps and (P <= NEWTON_MAX_ACTIVE or free_counts(objective, theta, gam).max() <= NEWTON_MAX_ACTIVE):
        # after the fixed-point stage, rows that reached the same point share one Newton polish (`_same_points`)
        rep = _same_points(objective, theta, gam) if fp_done else np.arange(R)
        uniq, back = np.unique(rep, return_inverse=True)
        th_u, ga_u = theta[uniq], gam[uniq]
        if learn_gamma:  # joint (θ, γ) in linear γ, floor as a box constraint
            th_u, ga_u, newton_iters = projected_newton(objective, th_u, ga_u, max_iter=2 * newton_steps,
                                                        gamma_floor=floor, tol=max(newton_tol, LEARNED_NEWTON_TOL))
        else:
            th_u, newton_iters = projected_newton(objective, th_u, ga_u, max_iter=newton_steps, tol=newton_tol)
        if unstick:  # on the distinct points only (rows sharing a polish are the same point bit for bit)
            th_u, ga_u = _unstick(objective, th_u, ga_u, newton_steps, newton_tol, floor if learn_gamma else None)
        E_u, _, _ = objective.value_and_grad(th_u, ga_u, with_gamma=False)
        theta, gam, E = th_u[back], ga_u[back], E_u[back]
    else:
        E, _, _ = objective.value_and_grad(theta, gam, with_gamma=False)
    return SearchResult(theta, gam, E, starts, nit, newton_iters, message,
                        "learned" if learn_gamma else "fixed", time.perf_counter() - t0)
