"""Multi-start search for local minima at fixed γ or with γ learned down to a floor, vectorised across restarts.

All restarts are minimised together: their energies are summed (the sum is separable, so its minimisers are the
tuples of each restart's minimisers) and one L-BFGS-B run over the stacked vector handles the bounds ν ≥ 0 — an
active-set method that can re-activate a coordinate sitting at 0 when its gradient turns negative (the pitfall of
docs/theory.md §5 that multiplicative updates fall into). A batched, saddle-free projected Newton phase then finishes the
job on the active coordinates (when there are at most NEWTON_MAX_ACTIVE of them), so the certificate sees points
stationary to near machine precision; L-BFGS-B alone stalls on the ill-conditioned small-γ landscapes.

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
from scipy.optimize import minimize

from vaetheory.search.objective import Objective
from collections.abc import Sequence

#: Coordinates of a nonneg block below this fraction of the block's largest value count as inactive.
ACTIVE_RTOL = 1e-6
#: Active-coordinate count up to which the Newton phase runs (its cost grows as m³ per point and iteration).
NEWTON_MAX_ACTIVE = 600
#: L-BFGS-B iterations between checks whether the Newton phase can take over.
LBFGS_STAGE = 250
#: A point whose γ is at most floor × (1 + GAMMA_AT_FLOOR_RTOL) sits at the floor (the box constraint is active).
GAMMA_AT_FLOOR_RTOL = 1e-9
#: γ schedule of the continuation starts: from ANNEAL_HIGH × the data scale down by ANNEAL_FACTOR per stage.
ANNEAL_HIGH = 1e-1
ANNEAL_FACTOR = 1e-1


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
    the joint run; message its stop reason; gamma_mode "fixed" or "learned".
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
                gamma_floor: float | None = None, anneal_fraction: float = 0.25) -> Starts:
    """`restarts` starting points: a share of adversarial ones (non-optimal BFS, the ℓ2,1 support) when the optimal
    supports are given (the oracle's answer), the rest random. With `learn_gamma`, the BFS starts begin at the small
    γ = 10 × floor and a share `anneal_fraction` of the random starts become γ-continuation starts ("anneal")."""
    variant, problem, layout = objective.variant, objective.problem, objective.layout
    floor = variant.gamma.floor if gamma_floor is None else gamma_floor
    masks, kinds = [], []
    if optimal_supports is not None and restarts > 1:
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
    """Energy (B,), ∂E/∂θ (B, P), ∂E/∂γ (B,), the mixed second derivatives ∂²E/∂θ∂γ (B, P) and ∂²E/∂γ² (B,), by
    one forward-mode derivative in γ of the reverse-mode gradient (batched with vmap; checked against plain
    autograd and finite differences in tests/test_learned_gamma.py)."""
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


def free_counts(objective: Objective, theta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """(R,) number of coordinates the Newton phase would move (all but nonneg ones at ~0 with positive gradient)."""
    _, g, _ = objective.value_and_grad(theta, gamma, with_gamma=False)
    held = objective.layout.nonneg[None] & (theta <= ACTIVE_RTOL * block_scales(objective, theta)) & (g > 0)
    return (~held).sum(1)


def projected_newton(objective: Objective, theta: np.ndarray, gamma: np.ndarray, *, max_iter: int = 50,
                     tol: float = 1e-12, gamma_floor: float | None = None
                     ) -> tuple[np.ndarray, int] | tuple[np.ndarray, np.ndarray, int]:
    """Batched projected Newton (Bertsekas 1982) on the bound-constrained problem, saddle-free variant.

    Each iteration: a nonneg coordinate is *held* at 0 when it is ~0 and its gradient is positive; on the other
    (free) coordinates the step is −V|Λ|⁻¹Vᵀg from the eigendecomposition of the free Hessian (|Λ| clamped away
    from 0), which descends out of saddles instead of converging to them; coordinates at 0 with negative gradient
    are free, so they revive. A projected backtracking line search accepts decreases (and, where the decrease is
    below the rounding of E — relative 1e-12 plus 1e3·eps·‖X‖²/γ, the data term's error at small γ — steps that keep
    E within rounding and halve the scaled gradient). Points whose scaled
    free gradient is below `tol` stop moving. Returns the points and the iterations used.

    With `gamma_floor`, γ (R,) is one more coordinate, in linear γ with the box constraint γ ≥ floor: held at the
    floor while ∂E/∂γ > 0 there, free otherwise; the Hessian is taken jointly over (θ_free, γ) (γ row and column
    from `gamma_derivatives`), the step is computed in coordinates scaled by the block scales and by γ, and γ moves
    by at most a factor 10 per step. Returns (θ, γ, iterations) in that case.
    """
    learn = gamma_floor is not None
    nonneg = objective.layout.nonneg[None, :]
    gamma = np.array(np.broadcast_to(np.asarray(gamma, dtype=np.float64), (len(theta),)))
    done = np.zeros(len(theta), dtype=bool)
    x_sq = float(np.sum(objective.problem.X**2))
    it = 0
    for it in range(1, max_iter + 1):
        if learn:
            E, g, gg, h_tg, h_gg = gamma_derivatives(objective, theta, gamma)
        else:
            E, g, _ = objective.value_and_grad(theta, gamma)
        if not (np.all(np.isfinite(E)) and np.all(np.isfinite(g))):
            raise FloatingPointError(f"variant {objective.variant.name!r}: non-finite energy or gradient in the search")
        b = block_scales(objective, theta)
        held = nonneg & (theta <= ACTIVE_RTOL * b) & (g > 0)  # same rule as free_counts
        free = ~held
        scaled = np.where(free, np.abs(g) * b, 0.0).max(1) / np.maximum(np.abs(E), 1.0)
        if learn:
            g_free = ~((gamma <= gamma_floor * (1 + GAMMA_AT_FLOOR_RTOL)) & (gg > 0))
            scaled = np.maximum(scaled, np.where(g_free, np.abs(gg) * gamma_scale(objective, gamma), 0.0)
                                / np.maximum(np.abs(E), 1.0))
        done |= scaled <= tol
        if done.all():
            break
        H, order, valid = objective.active_hessian(theta, gamma, free & ~done[:, None])
        s = np.take_along_axis(b, order, axis=1)  # per-coordinate scales for the step
        gF = np.take_along_axis(g, order, axis=1) * valid * ~done[:, None]
        if learn:  # append the γ row and column
            gv = g_free & ~done
            cross = np.take_along_axis(h_tg, order, axis=1) * valid * gv[:, None]
            m = H.shape[1]
            Ha = np.zeros((len(H), m + 1, m + 1))
            Ha[:, :m, :m] = H
            Ha[:, :m, m] = Ha[:, m, :m] = cross
            Ha[:, m, m] = np.where(gv, h_gg, 0.0)
            H, valid = Ha, np.concatenate([valid, gv[:, None]], axis=1)
            s = np.concatenate([s, gamma[:, None]], axis=1)
            gF = np.concatenate([gF, np.where(gv, gg, 0.0)[:, None]], axis=1)
        Hs = s[:, :, None] * H * s[:, None, :]
        lam, V = np.linalg.eigh(Hs + np.eye(H.shape[1])[None] * (~valid)[:, None, :])  # unit padding
        floor = 1e-10 * np.maximum(np.abs(lam).max(1, keepdims=True), 1e-300)
        inv = 1 / np.maximum(np.abs(lam), floor)
        gs = gF * s
        dF = -(V @ (inv * (np.swapaxes(V, 1, 2) @ gs[..., None])[..., 0])[..., None])[..., 0] * valid * s
        step = np.zeros_like(theta)
        np.put_along_axis(step, order, dF[:, :order.shape[1]], axis=1)
        d_gamma = dF[:, -1] if learn else None
        base = np.where(held, 0.0, theta)
        # rounding level of E: relative 1e-12, and the data term tr(XᵀΣ_x⁻¹X) carries errors ~ eps‖X‖²/γ at small γ
        slack = 1e-12 * np.maximum(np.abs(E), 1.0) + 1e3 * np.finfo(float).eps * x_sq / gamma
        t = np.ones(len(theta))
        accepted = done.copy()
        new, new_gamma = theta.copy(), gamma.copy()
        for _ in range(40):  # backtracking halvings, vectorised over points
            trial = base + t[:, None] * step
            trial = np.where(nonneg, np.maximum(trial, 0.0), trial)
            trial = np.where(np.isfinite(trial), trial, theta)
            trial_gamma = gamma
            if learn:
                trial_gamma = np.clip(gamma + t * d_gamma, np.maximum(gamma_floor, gamma / 10), 10 * gamma)
                trial_gamma = np.where(np.isfinite(trial_gamma), trial_gamma, gamma)
            Et, gt, ggt = objective.value_and_grad(trial, trial_gamma)
            # Near a minimum the energy decrease of a Newton step falls below the rounding of E (|E| ~ 1e3 at small
            # γ): there a step is also accepted when E stays within rounding and the scaled gradient halves.
            meas = np.where(free, np.abs(gt) * b, 0.0).max(1)
            if learn:
                meas = np.maximum(meas, np.where(g_free, np.abs(ggt) * gamma_scale(objective, trial_gamma), 0.0))
            meas = meas / np.maximum(np.abs(Et), 1.0)
            flat = (Et <= E + slack) & (meas < 0.5 * scaled)
            take = ((Et < E) | flat) & ~accepted
            new[take] = trial[take]
            if learn:
                new_gamma[take] = trial_gamma[take]
            accepted |= take
            if accepted.all():
                break
            t = np.where(accepted, t, t / 2)
        done |= ~accepted  # no decrease along the Newton arc: as stationary as this method can make it
        theta, gamma = new, new_gamma
    return (theta, gamma, it) if learn else (theta, it)


def _anneal(objective: Objective, theta: np.ndarray, gamma_end: np.ndarray, *, pgtol: float,
            newton_steps: int) -> np.ndarray:
    """γ-continuation: minimise θ at fixed γ along a decreasing schedule, from ANNEAL_HIGH × the data scale down
    to `gamma_end` (per row), each stage started where the previous one ended."""
    high = ANNEAL_HIGH * gamma_scale(objective, np.zeros(len(theta)))
    n_stages = int(np.ceil(np.log(max(float((high / gamma_end).max()), 1.0)) / -np.log(ANNEAL_FACTOR)))
    for k in range(n_stages + 1):
        g_k = np.maximum(high * ANNEAL_FACTOR**k, gamma_end)
        res = minimise(objective, Starts(theta, ("anneal",) * len(theta), (None,) * len(theta)), g_k,
                       maxiter=LBFGS_STAGE, pgtol=pgtol, newton_steps=newton_steps)
        theta = res.theta
    return theta


def minimise(objective: Objective, starts: Starts, gamma: float | np.ndarray, *, learn_gamma: bool = False,
             gamma_floor: float | None = None, maxiter: int = 20000, pgtol: float = 1e-10,
             newton_steps: int = 100) -> SearchResult:
    """Minimise from every start at once.

    gamma: fixed γ, scalar or per start (R,); with `learn_gamma`, the starting γ (overridden per row by
    `starts.gamma`), and γ is learned down to the floor: one L-BFGS-B stage in log γ, then the joint projected
    Newton phase in (θ, γ) with the floor as a box constraint (`projected_newton`). "anneal" starts are first
    minimised along a decreasing fixed-γ schedule (`_anneal`)."""
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
            theta0[anneal] = _anneal(objective, theta0[anneal], gamma0[anneal], pgtol=pgtol,
                                     newton_steps=newton_steps)
    bounds_theta = [(0.0, None) if f else (None, None) for f in nonneg] * R
    if learn_gamma:
        x0 = np.concatenate([theta0.ravel(), np.log(gamma0)])
        bounds = bounds_theta + [(np.log(floor), None)] * R
    else:
        x0, bounds = theta0.ravel().copy(), bounds_theta

    def split(x):
        th = x[:R * P].reshape(R, P)
        ga = np.exp(x[R * P:]) if learn_gamma else gamma0
        return th, ga

    def fun(x):
        th, ga = split(x)
        E, g, gg = objective.value_and_grad(th, ga, with_gamma=learn_gamma)
        if not np.all(np.isfinite(E)):
            return np.inf, np.zeros_like(x)
        grad = g.ravel() if not learn_gamma else np.concatenate([g.ravel(), gg * ga])
        return float(E.sum()), grad

    # L-BFGS-B in stages; as soon as every point has few enough free coordinates, Newton takes over.
    x, nit, message = x0, 0, ""
    while nit < maxiter:
        res = minimize(fun, x, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": min(LBFGS_STAGE, maxiter - nit), "maxfun": 2 * LBFGS_STAGE,
                                "ftol": 0.0, "gtol": pgtol, "maxcor": 10})
        x, nit, message = res.x, nit + max(int(res.nit), 1), str(res.message)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError("the search produced non-finite parameters")
        theta, gam = split(x)
        if learn_gamma:
            gam = np.maximum(gam, floor)  # exp(log floor) may round below the floor
        if res.success or free_counts(objective, theta, gam).max() <= NEWTON_MAX_ACTIVE:
            break
    newton_iters = 0
    if newton_steps and free_counts(objective, theta, gam).max() <= NEWTON_MAX_ACTIVE:
        if learn_gamma:  # joint (θ, γ) in linear γ, floor as a box constraint
            theta, gam, newton_iters = projected_newton(objective, theta, gam, max_iter=2 * newton_steps,
                                                        gamma_floor=floor)
        else:
            theta, newton_iters = projected_newton(objective, theta, gam, max_iter=newton_steps)
    E, _, _ = objective.value_and_grad(theta, gam, with_gamma=False)
    return SearchResult(theta, gam, E, starts, nit, newton_iters, message,
                        "learned" if learn_gamma else "fixed", time.perf_counter() - t0)
