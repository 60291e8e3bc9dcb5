"""The γ → 0 limit of L_full with γ learned: every basic feasible support decided in ball arithmetic
(docs/landscape.md, docs/theory.md "Limit minima sit at basic feasible solutions").

A basic feasible support A has Φ_A of full column rank and X ∈ range(Φ_A), with no proper subset fitting X. With
|A| = d (Φ_A invertible), W = Φ_A⁻¹X and the limit point is ν_a = ‖w_a‖²/n (the unique minimiser of the γ = 0
energy on the face, n log|Φ_A|² + Σ_a (n log ν_a + ‖w_a‖²/ν_a), strictly convex in log ν). With
K = Φ_A diag(ν_A) Φ_Aᵀ it is a limit local minimum (γ at its floor 0⁺) when

    ∂E/∂γ(0⁺) = n tr K⁻¹ − ‖K⁻¹X‖² > 0   and   n φ_jᵀK⁻¹φ_j − ‖φ_jᵀK⁻¹X‖² > 0 for every j ∉ A,

and not one when either is < 0. With Y = Φ_A⁻¹: K⁻¹ = Yᵀ diag(1/ν) Y, so every quantity is a few d×d products
per support. A support with |A| < d has energy → −∞ as γ → 0 (slope n(d − |A|) in log γ): an optimal support is
then a limit minimum of infinite depth; a non-optimal one is outside what the theory decides (unresolved).
"""
from __future__ import annotations

import time

import numpy as np

from vaetheory.core.subsets import iter_subset_chunks, n_subsets
from vaetheory.landscape.enclose import down, flint_mod
from vaetheory.problems.problem import Problem

METHOD = "limit-bfs-arb"
CHUNK = 4096


def exact_fit_supports(problem: Problem, k_max: int, rtol: float, *, k_min: int = 1) -> list[tuple[int, ...]]:
    """Every *minimal* support T with |T| ≤ k_max, Φ_T of full column rank and relative residual ≤ rtol (batched QR
    per chunk of subsets, no loop over subsets): the basic feasible supports of size < d."""
    Phi, X = np.asarray(problem.Phi), np.asarray(problem.X)
    xn = float(np.linalg.norm(X))
    found: list[tuple[int, ...]] = []
    for k in range(max(k_min, 1), k_max + 1):
        for T in iter_subset_chunks(problem.kappa, k, CHUNK):
            P = Phi[:, T].transpose(1, 0, 2)  # (B, d, k)
            Q, R = np.linalg.qr(P)
            res = np.linalg.norm(X[None] - Q @ (Q.transpose(0, 2, 1) @ X[None]), axis=(1, 2)) / xn
            diagR = np.abs(np.diagonal(R, axis1=1, axis2=2)).min(axis=1)
            ok = (res <= rtol) & (diagR > 1e-10 * np.linalg.norm(P, axis=(1, 2)))
            for t in T[ok].tolist():  # the (few) fitting supports
                if not any(set(s) <= set(t) for s in found):
                    found.append(tuple(t))
    return found


def decide_support(flint, Phi_cols, aX, A: tuple[int, ...], kappa: int, n: int) -> dict:
    """Ball-arithmetic decision for one |A| = d support: status ``limit_min`` | ``not_min`` | ``degenerate`` (a
    zero row of W: the support is not basic with |A| = d) | ``unresolved``; with the enclosures' bounds."""
    arb, arb_mat = flint.arb, flint.arb_mat
    d = len(A)
    P = arb_mat(d, d)
    for a, j in enumerate(A):
        for i in range(d):
            P[i, a] = Phi_cols[j][i]
    try:
        Y = P.inv()
    except ZeroDivisionError:
        return {"status": "unresolved", "why": "Phi_A not provably invertible"}
    W = Y * aX
    nu = []
    for a in range(d):
        s = arb(0)
        for i in range(n):
            s += W[a, i] * W[a, i]
        nu.append(s / n)
    if any(not v > 0 for v in nu):
        zero = any(all(W[a, i] == 0 for i in range(n)) for a in range(d))
        return {"status": "degenerate" if zero else "unresolved",
                "why": "a row of W = Phi_A^-1 X is zero (a smaller support fits)" if zero else
                "a limit nu_a is not provably > 0"}
    DW = arb_mat(d, n)
    for a in range(d):
        inv = 1 / nu[a]
        for i in range(n):
            DW[a, i] = W[a, i] * inv
    KX = Y.transpose() * DW
    tr = arb(0)
    for a in range(d):
        row = arb(0)
        for b in range(d):
            row += Y[a, b] * Y[a, b]
        tr += row / nu[a]
    fit = arb(0)
    for a in range(d):
        for i in range(n):
            fit += KX[a, i] * KX[a, i]
    g_gamma = n * tr - fit
    inactive = [j for j in range(kappa) if j not in A]
    Pin = arb_mat(d, len(inactive))
    for b, j in enumerate(inactive):
        for i in range(d):
            Pin[i, b] = Phi_cols[j][i]
    V = Y * Pin
    VW = V.transpose() * DW
    g_min_lower, undecided, negative = np.inf, [], []
    for b, j in enumerate(inactive):
        quad = arb(0)
        for a in range(d):
            quad += V[a, b] * V[a, b] / nu[a]
        proj = arb(0)
        for i in range(n):
            proj += VW[b, i] * VW[b, i]
        g = n * quad - proj
        g_min_lower = min(g_min_lower, down(g))
        if g < 0:
            negative.append(j)
        elif not g > 0:
            undecided.append(j)
    out = {"nu": [float(v.mid()) for v in nu], "dE_dgamma_lower": down(g_gamma),
           "min_inactive_grad_lower": float(g_min_lower) if inactive else None}
    if g_gamma < 0 or negative:
        return out | {"status": "not_min", "why": "dE/dgamma(0+) < 0" if g_gamma < 0 else
                      f"inactive gradient < 0 at {negative[:3]}"}
    if g_gamma > 0 and not undecided:
        det2, energy = P.det() * P.det(), None
        if det2 > 0:  # the limit energy n log|K| + tr(XᵀK⁻¹X) = n log det(Φ_A)² + n Σ_a log ν_a + n d
            e = n * det2.log() + n * d
            for v in nu:
                e += n * v.log()
            energy = float(e.mid())
        return out | {"status": "limit_min", "energy": energy}
    return out | {"status": "unresolved", "why": "dE/dgamma(0+) or an inactive gradient encloses 0"}


SCREEN_MARGIN = 1e-6  #: a float quantity at most −SCREEN_MARGIN relative to its own terms is the witness tried first


def float_witnesses(Phi: np.ndarray, X: np.ndarray, supports: np.ndarray) -> np.ndarray:
    """For a chunk of |A| = d supports (B, d), batched in float64: the quantity most likely to prove "not a limit
    minimum" — −1 for ∂E/∂γ(0⁺), j for the inactive gradient of column j — or −2 when no quantity is clearly
    negative (the support may be a limit minimum: it gets the full decision). Floats only choose what to prove."""
    n = X.shape[1]
    P = Phi[:, supports].transpose(1, 0, 2)  # (B, d, d)
    with np.errstate(all="ignore"):
        Y = np.linalg.inv(P)
        W = Y @ X[None]
        nu = (W**2).sum(2) / n  # (B, d)
        DW = W / nu[:, :, None]
        tr_terms = ((Y**2).sum(2) / nu).sum(1)
        KX = Y.transpose(0, 2, 1) @ DW
        fit = (KX**2).sum((1, 2))
        g_gamma = (n * tr_terms - fit) / (n * tr_terms + fit)
        V = Y @ Phi[None]  # (B, d, κ)
        quad = ((V**2) / nu[:, :, None]).sum(1)
        proj = ((V.transpose(0, 2, 1) @ DW) ** 2).sum(2)
        g = (n * quad - proj) / (n * quad + proj)
    rows = np.arange(len(supports))[:, None]
    g[rows, supports] = np.inf  # active columns are not inactive gradients
    g[~np.isfinite(g)] = np.inf
    j = np.argmin(g, axis=1)
    best = g[np.arange(len(supports)), j]
    gg = np.where(np.isfinite(g_gamma), g_gamma, np.inf)
    out = np.where(gg <= best, -1, j)
    out[np.minimum(gg, best) > -SCREEN_MARGIN] = -2
    return out


def prove_negative(flint, aPhi_cols, aX, A: tuple[int, ...], n: int, witness: int) -> bool:
    """True when the ball enclosure of the witness quantity (∂E/∂γ(0⁺) for −1, the inactive gradient of column j
    otherwise) at A's limit point is < 0: A is proved not a limit minimum. Matrix-level Arb calls only."""
    arb_mat = flint.arb_mat
    d = len(A)
    try:
        Y = arb_mat([[aPhi_cols[j][i] for j in A] for i in range(d)]).inv()
    except ZeroDivisionError:
        return False
    W = Y * aX
    G = W * W.transpose()
    D = arb_mat(d, d)
    for a in range(d):
        nu = G[a, a] / n
        if not nu > 0:
            return False
        D[a, a] = 1 / nu
    DW = D * W
    if witness == -1:
        KX = Y.transpose() * DW
        g = n * (D * (Y * Y.transpose())).trace() - (KX.transpose() * KX).trace()
    else:
        v = Y * arb_mat([[aPhi_cols[witness][i]] for i in range(d)])
        u = v.transpose() * DW
        g = n * (v.transpose() * D * v)[0, 0] - (u * u.transpose())[0, 0]
    return bool(g < 0)


def enumerate_limit(problem: Problem, *, rtol: float, deadline: float | None = None, progress=None,
                    bits: int = 128) -> dict:
    """Decide every |A| = d support and list the exact-fit supports of size < d. Returns a dict with ``limit_min``
    (list of decided records), ``small`` (basic feasible supports with |A| < d), counts per status, ``unresolved``
    and ``done`` (False when the deadline stopped it)."""
    flint = flint_mod()
    d, kappa, n = problem.d, problem.kappa, problem.n
    t0 = time.perf_counter()
    small = exact_fit_supports(problem, d - 1, rtol)
    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        Phi = np.asarray(problem.Phi, dtype=np.float64)
        X = np.asarray(problem.X, dtype=np.float64)
        Phi_cols = [[flint.arb(float(v)) for v in Phi[:, j]] for j in range(kappa)]
        aX = flint.arb_mat(X.tolist())
        counts: dict[str, int] = {}
        minima, unresolved = [], []
        done_n, total = 0, n_subsets(kappa, d)
        finished = True
        for chunk in iter_subset_chunks(kappa, d, CHUNK):
            if deadline is not None and time.perf_counter() > deadline:
                finished = False
                break
            witnesses = float_witnesses(Phi, X, chunk)
            for A, w in zip(chunk.tolist(), witnesses.tolist()):  # Arb is scalar: one decision per support
                A = tuple(A)
                if any(set(T) <= set(A) for T in small):  # its limit point lives on the smaller exact fit T
                    counts["contains_exact_fit"] = counts.get("contains_exact_fit", 0) + 1
                    continue
                if w != -2 and prove_negative(flint, Phi_cols, aX, A, n, w):  # one proved negative quantity
                    counts["not_min"] = counts.get("not_min", 0) + 1  # settles it; else the full decision
                    continue
                rec = decide_support(flint, Phi_cols, aX, A, kappa, n)
                counts[rec["status"]] = counts.get(rec["status"], 0) + 1
                if rec["status"] == "limit_min":
                    minima.append(rec | {"support": list(A)})
                elif rec["status"] == "unresolved":
                    unresolved.append({"support": list(A), "why": rec["why"]})
            done_n += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        flint.ctx.prec = old
    if not finished:
        unresolved.append({"why": f"time limit reached after {done_n:,} of {total:,} supports",
                           "supports_left": total - done_n})
    return {"minima": minima, "small": small, "counts": counts, "unresolved": unresolved, "supports": done_n,
            "total": total, "seconds": time.perf_counter() - t0}
