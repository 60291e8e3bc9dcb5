"""Multi-start search for local minima at fixed γ or with γ learned down to a floor, vectorised across restarts.

All restarts are minimised together: their energies are summed (the sum is separable, so its minimisers are the
tuples of each restart's minimisers) and one L-BFGS-B run over the stacked vector handles the bounds ν ≥ 0 — an
active-set method that can re-activate a coordinate sitting at 0 when its gradient turns negative (the pitfall of
docs/theory.md §5 that multiplicative updates fall into). A batched, saddle-free projected Newton phase then finishes the
job on the active coordinates (when there are at most NEWTON_MAX_ACTIVE of them), so the certificate sees points
stationary to near machine precision; L-BFGS-B alone stalls on the ill-conditioned small-γ landscapes.

Starts (`make_starts`): random points from the variant, and adversarial ones: least-squares fits on non-optimal
basic feasible supports (size-d supports that contain no optimal support) and on the ℓ2,1 relaxation's support.
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


@dataclass(frozen=True)
class Starts:
    """Starting points: theta (R, P), a kind per row ("random", "bfs", "l21", …) and the support it was built
    from (None for random starts)."""

    theta: np.ndarray
    kinds: tuple[str, ...]
    supports: tuple[tuple[int, ...] | None, ...]


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
                adversarial_fraction: float = 0.25) -> Starts:
    """`restarts` starting points: a share of adversarial ones (non-optimal BFS, the ℓ2,1 support) when the optimal
    supports are given (the oracle's answer), the rest random."""
    variant, problem, layout = objective.variant, objective.problem, objective.layout
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
    n_rand = restarts - len(masks)
    parts = []
    if len(masks):
        parts.append(layout.pack(variant.init_from_support(problem, masks, gamma), len(masks)))
    if n_rand > 0:
        parts.append(layout.pack(variant.init_random(problem, rng, n_rand), n_rand))
    theta = np.concatenate(parts)[:restarts]
    supports = tuple(tuple(int(j) for j in np.flatnonzero(m)) for m in masks) + (None,) * n_rand
    return Starts(theta, tuple(kinds + ["random"] * n_rand)[:restarts], supports[:restarts])


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
    _, g, _ = objective.value_and_grad(theta, gamma)
    held = objective.layout.nonneg[None] & (theta <= ACTIVE_RTOL * block_scales(objective, theta)) & (g > 0)
    return (~held).sum(1)


def projected_newton(objective: Objective, theta: np.ndarray, gamma: np.ndarray, *, max_iter: int = 50,
                     tol: float = 1e-12) -> tuple[np.ndarray, int]:
    """Batched projected Newton (Bertsekas 1982) on the bound-constrained problem, saddle-free variant.

    Each iteration: a nonneg coordinate is *held* at 0 when it is ~0 and its gradient is positive; on the other
    (free) coordinates the step is −V|Λ|⁻¹Vᵀg from the eigendecomposition of the free Hessian (|Λ| clamped away
    from 0), which descends out of saddles instead of converging to them; coordinates at 0 with negative gradient
    are free, so they revive. A projected backtracking line search accepts only decreases. Points whose scaled
    free gradient is below `tol` stop moving. Returns the points and the iterations used.
    """
    nonneg = objective.layout.nonneg[None, :]
    done = np.zeros(len(theta), dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):
        E, g, _ = objective.value_and_grad(theta, gamma)
        if not (np.all(np.isfinite(E)) and np.all(np.isfinite(g))):
            raise FloatingPointError(f"variant {objective.variant.name!r}: non-finite energy or gradient in the search")
        b = block_scales(objective, theta)
        held = nonneg & (theta <= ACTIVE_RTOL * b) & (g > 0)  # same rule as free_counts
        free = ~held
        scaled = np.where(free, np.abs(g) * b, 0.0).max(1) / np.maximum(np.abs(E), 1.0)
        done |= scaled <= tol
        if done.all():
            break
        H, order, valid = objective.active_hessian(theta, gamma, free & ~done[:, None])
        lam, V = np.linalg.eigh(H + np.eye(H.shape[1])[None] * (~valid)[:, None, :])  # unit padding
        floor = 1e-10 * np.maximum(np.abs(lam).max(1, keepdims=True), 1e-300)
        inv = 1 / np.maximum(np.abs(lam), floor)
        gF = np.take_along_axis(g, order, axis=1) * valid * ~done[:, None]
        dF = -(V @ (inv * (np.swapaxes(V, 1, 2) @ gF[..., None])[..., 0])[..., None])[..., 0] * valid
        step = np.zeros_like(theta)
        np.put_along_axis(step, order, dF, axis=1)
        base = np.where(held, 0.0, theta)
        t = np.ones(len(theta))
        accepted = done.copy()
        new = theta.copy()
        for _ in range(40):  # backtracking halvings, vectorised over points
            trial = base + t[:, None] * step
            trial = np.where(nonneg, np.maximum(trial, 0.0), trial)
            trial = np.where(np.isfinite(trial), trial, theta)
            Et, _, _ = objective.value_and_grad(trial, gamma)
            take = (Et < E) & ~accepted
            new[take] = trial[take]
            accepted |= take
            if accepted.all():
                break
            t = np.where(accepted, t, t / 2)
        done |= ~accepted  # no decrease along the Newton arc: as stationary as this method can make it
        theta = new
    return theta, it


def minimise(objective: Objective, starts: Starts, gamma: float, *, learn_gamma: bool = False,
             gamma_floor: float | None = None, maxiter: int = 20000, pgtol: float = 1e-10,
             newton_steps: int = 100) -> SearchResult:
    """Minimise from every start at once; with `learn_gamma`, log γ is a parameter bounded below by log(floor)."""
    t0 = time.perf_counter()
    theta0 = starts.theta
    R, P = theta0.shape
    nonneg = objective.layout.nonneg
    floor = objective.variant.gamma.floor if gamma_floor is None else gamma_floor
    bounds_theta = [(0.0, None) if f else (None, None) for f in nonneg] * R
    if learn_gamma:
        x0 = np.concatenate([theta0.ravel(), np.full(R, np.log(max(gamma, floor)))])
        bounds = bounds_theta + [(np.log(floor), None)] * R
    else:
        x0, bounds = theta0.ravel().copy(), bounds_theta

    def split(x):
        th = x[:R * P].reshape(R, P)
        ga = np.exp(x[R * P:]) if learn_gamma else np.full(R, gamma)
        return th, ga

    def fun(x):
        th, ga = split(x)
        E, g, gg = objective.value_and_grad(th, ga)
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
        # With γ learned, L-BFGS-B runs to its own convergence: the Newton phase moves θ at fixed γ only.
        if res.success or (not learn_gamma and free_counts(objective, theta, gam).max() <= NEWTON_MAX_ACTIVE):
            break
    newton_iters = 0
    if newton_steps and free_counts(objective, theta, gam).max() <= NEWTON_MAX_ACTIVE:
        theta, newton_iters = projected_newton(objective, theta, gam, max_iter=newton_steps)
    E, _, _ = objective.value_and_grad(theta, gam)
    return SearchResult(theta, gam, E, starts, nit, newton_iters, message,
                        "learned" if learn_gamma else "fixed", time.perf_counter() - t0)
