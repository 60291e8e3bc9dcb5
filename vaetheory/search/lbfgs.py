"""Batched projected L-BFGS: one independent bound-constrained minimisation per row, all rows advanced together.

scipy's L-BFGS-B minimises one function; the search used to hand it the sum of every restart's energy, so all
restarts shared one line search and one stopping rule, and L-BFGS-B's bookkeeping (2.2–3.3 ms per call at 52,480
variables, `python bench/speed.py --only lbfgs`; linear in their number in a scratch measurement: 0.27 ms at 6,560)
was paid for every restart until the slowest finished. Here
each row has its own curvature pairs, its own step length and its own convergence test; the work per iteration is a
few batched matrix products over the rows still running, and a row that has converged costs nothing further.

The method is the projected quasi-Newton iteration of Bertsekas (1982) with an L-BFGS metric (as in Kim, Sra &
Dhillon 2010): a coordinate at its lower bound whose gradient pushes it outward is held; on the others the step is
−H g with H the two-loop L-BFGS inverse Hessian (memory `memory`); the trial point is projected on the bounds and
accepted by an Armijo test on the projected step (with a strict decrease), the step length otherwise shrunk to the
minimiser of the quadratic through f(0), its slope and f(α), kept within [0.1α, 0.5α].
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ARMIJO = 1e-4
MAX_BACKTRACKS = 30
EPS_ACTIVE_MAX = 1e-3
CURVATURE_RTOL = 1e-10  # a pair (s, y) is kept only when sᵀy > CURVATURE_RTOL · ‖s‖ ‖y‖


@dataclass(frozen=True)
class BatchedLbfgsResult:
    """End of a `batched_lbfgs` run: x (R, P), energies f (R,), gradients g (R, P), iterations per row nit (R,) and
    converged (R,) (projected gradient ≤ pgtol, or no decrease along the steepest descent direction)."""

    x: np.ndarray
    f: np.ndarray
    g: np.ndarray
    nit: np.ndarray
    converged: np.ndarray


def batched_lbfgs(fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], x0: np.ndarray,
                  lower: np.ndarray, *, max_iter: int, pgtol: float, memory: int = 10) -> BatchedLbfgsResult:
    """Minimise every row of x0 (R, P) independently, subject to x ≥ lower (P,) (−inf: no bound).

    fun(rows, x) -> (f (r,), g (r, P)): the energies and gradients of the rows `rows` (indices into x0) at x (r, P).
    A value of +inf (or a non-finite gradient) rejects a trial point. Each row stops after `max_iter` iterations,
    when its projected gradient max |P(x − g) − x| is ≤ `pgtol`, or when no step length gives a decrease along
    steepest descent (after one along the L-BFGS direction failed, the memory is dropped and that is tried)."""
    x = np.array(x0, dtype=np.float64)
    R, P = x.shape
    bounded = np.isfinite(lower)[None, :]
    lo = np.where(np.isfinite(lower), lower, 0.0)[None, :]
    f, g = fun(np.arange(R), x)
    f, g = np.array(f, dtype=np.float64), np.array(g, dtype=np.float64)
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(g))):
        raise FloatingPointError("batched_lbfgs: non-finite energy or gradient at a starting point")
    S = np.zeros((R, memory, P))
    Y = np.zeros((R, memory, P))
    rho = np.zeros((R, memory))
    stored = np.zeros(R, dtype=int)  # pairs held per row (the newest at slot (stored − 1) % memory)
    nit = np.zeros(R, dtype=int)
    converged = np.zeros(R, dtype=bool)
    running = np.ones(R, dtype=bool)
    for _ in range(max_iter):
        rows = np.flatnonzero(running)
        if not len(rows):
            break
        xr, gr = x[rows], g[rows]
        proj = np.where(bounded, np.maximum(xr - gr, lo), xr - gr) - xr
        small = np.abs(proj).max(1) <= pgtol
        converged[rows[small]] = True
        running[rows[small]] = False
        rows, xr, gr = rows[~small], xr[~small], gr[~small]
        if not len(rows):
            break
        # Bertsekas' ε-active set: a coordinate within ε of its bound whose gradient pushes outward is held, with
        # ε the row's projected-gradient size (capped): without the margin, coordinates a hair above the bound take
        # steps the projection cuts short, and the iteration crawls toward the face instead of landing on it
        eps = np.minimum(np.abs(proj[~small]).max(1), EPS_ACTIVE_MAX)[:, None]
        held = bounded & (xr <= lo + eps) & (gr > 0)
        d = -_two_loop(np.where(held, 0.0, gr), S[rows], Y[rows], rho[rows], stored[rows], memory)
        onto = lo - xr  # held coordinates move onto their bound (a first-order decrease: their gradient pushes out)
        d = np.where(held, onto, d)
        slope = np.einsum("rp,rp->r", gr, d)
        bad = ~(slope < 0) | ~np.all(np.isfinite(d), axis=1)  # not a descent direction: steepest descent, fresh memory
        if bad.any():
            d[bad] = np.where(held[bad], onto[bad], -gr[bad])
            stored[rows[bad]] = 0
        first = stored[rows] == 0
        # the first step (or one after a reset) has no curvature scale: at most a unit move of the largest coordinate
        alpha = np.where(first, np.minimum(1.0, 1.0 / np.maximum(np.abs(d).max(1), 1e-300)), 1.0)
        pending = np.ones(len(rows), dtype=bool)
        x_new, f_new, g_new = xr.copy(), f[rows].copy(), gr.copy()
        for _ in range(MAX_BACKTRACKS):
            p = np.flatnonzero(pending)
            if not len(p):
                break
            trial = xr[p] + alpha[p, None] * d[p]
            trial = np.where(bounded, np.maximum(trial, lo), trial)
            ft, gt = fun(rows[p], trial)
            ft = np.where(np.all(np.isfinite(gt), axis=1), ft, np.inf)
            # Armijo on the projected step, and a strict decrease: at the rounding floor f + c·slope rounds to f, and
            # accepting ft == f would let a converged row step in place forever
            f0 = f[rows[p]]
            ok = np.isfinite(ft) & (ft < f0) & (ft <= f0 + ARMIJO * np.einsum("rp,rp->r", gr[p], trial - xr[p]))
            acc = p[ok]
            x_new[acc], f_new[acc], g_new[acc] = trial[ok], ft[ok], gt[ok]
            pending[acc] = False
            # backtrack by the minimiser of the quadratic through f(0), its slope and f(α), kept in [0.1α, 0.5α]
            # (ae-log's first stage on the cli problem, scratch runs: 9.3 trial rounds per iteration by halving, 4.5 so)
            no = p[~ok]
            a, ft_no = alpha[no], ft[~ok]
            sl = slope[no]
            curv = ft_no - f[rows[no]] - sl * a
            a_new = np.where(np.isfinite(curv) & (curv > 0), -sl * a * a / (2 * np.where(curv > 0, curv, 1.0)),
                             0.1 * a)
            alpha[no] = np.clip(a_new, 0.1 * a, 0.5 * a)
        # No decrease at any step length: along the L-BFGS direction, try steepest descent next (fresh memory); along
        # steepest descent, the row is as stationary as this method can tell.
        stuck = pending & ~first
        final = pending & first
        converged[rows[final]] = True
        running[rows[final]] = False
        stored[rows[stuck]] = 0
        moved = ~pending
        r_m = rows[moved]
        s = x_new[moved] - xr[moved]
        y = g_new[moved] - gr[moved]
        sy = np.einsum("rp,rp->r", s, y)
        keep = sy > CURVATURE_RTOL * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1)
        slot = stored[r_m] % memory
        k_rows, k_slot = r_m[keep], slot[keep]
        S[k_rows, k_slot], Y[k_rows, k_slot], rho[k_rows, k_slot] = s[keep], y[keep], 1.0 / sy[keep]
        stored[k_rows] += 1
        x[r_m], f[r_m], g[r_m] = x_new[moved], f_new[moved], g_new[moved]
        nit[r_m] += 1
    return BatchedLbfgsResult(x, f, g, nit, converged)


def _two_loop(q: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray, stored: np.ndarray,
              memory: int) -> np.ndarray:
    """H q per row by the L-BFGS two-loop recursion over each row's stored pairs (newest first), H₀ = sᵀy / yᵀy of
    the newest pair (identity for rows with none). Loops over the memory slots, never over rows."""
    r = len(q)
    q = q.copy()
    count = np.minimum(stored, memory)
    alphas = np.zeros((r, memory))
    order = [(stored - 1 - i) % memory for i in range(memory)]  # slot of the i-th newest pair per row
    ar = np.arange(r)
    for i in range(memory):
        use = count > i
        sl = order[i]
        a = np.where(use, rho[ar, sl] * np.einsum("rp,rp->r", S[ar, sl], q), 0.0)
        alphas[:, i] = a
        q -= a[:, None] * Y[ar, sl]
    newest = order[0]
    yy = np.einsum("rp,rp->r", Y[ar, newest], Y[ar, newest])
    h0 = np.where(count > 0, 1.0 / np.maximum(rho[ar, newest] * yy, 1e-300), 1.0)
    q *= h0[:, None]
    for i in range(memory - 1, -1, -1):
        use = count > i
        sl = order[i]
        b = np.where(use, rho[ar, sl] * np.einsum("rp,rp->r", Y[ar, sl], q), 0.0)
        q += (alphas[:, i] - b)[:, None] * S[ar, sl]
    return q
