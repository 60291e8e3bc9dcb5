"""Independent brute-force referee for complete landscapes (issue 21, first "done when" bullet).

    nice -n 10 python bench/landscape_bruteforce.py            # the default grid: 60 problems, ≈ 4 min (219 s
                                                               # at load 2-4 on 2 cores), into the JSON below
    nice -n 10 python bench/landscape_bruteforce.py --d 3 --kappa 4 6 8 --r 1 2 --n 1 --out /tmp/d3.json
                        # one product grid: flags not given take the first default grid's values (d = 2 ones)
    nice -n 10 python bench/landscape_bruteforce.py --variants vae-full vae-diag --d 2 3 4 --kappa 4 6 8 \\
        --rows orthogonal gaussian --r 1 2 --n 1 2 3 --seeds 0 1 2 --time-limit 300 --out /tmp/bf_full.json
                                                                 # the whole issue-21 grid (hours: ≤ 300 s/landscape)

Cost per problem: the brute force 1-10 s at d ≤ 3, κ ≤ 6 (≈ 1,000-1,300 starts), 5-35 s at d = 3-4, κ = 8
(≈ 3,400 starts); the landscape from 0.01 s (d = 2) to minutes (d ≥ 3, vae-diag) — see each row's seconds.

Default grid (DEFAULT_GRIDS): vae-full and vae-diag on d = 2, κ ∈ {3, 4, 6}, orthogonal and Gaussian rows, r = 1,
n ∈ {1, 2}, seeds 0-1 (48 problems), and d = 3, κ ∈ {4, 6}, r ∈ {1, 2}, n = 1, seed 0 (12 problems).

For every problem of the grid (vae-full / vae-diag, d, κ, r, n, rows, seed; γ = 1e-2; combinations that
`make_problem` refuses, orthogonal rows with n < r, or r ≥ d, are skipped) it runs two methods and compares them:

1. **Brute-force multistart** (this file only; it shares nothing with vaetheory's search, certify or landscape code,
   it reads the closed forms of L_full and L_diag and their gradients in ν from THEORY.md §2 and writes its own
   Hessian). Starts, all evaluated as one numpy float64 batch:
   - every basic-feasible start: each support A of d columns with Φ_A invertible, W = Φ_A⁻¹X, ν_A = ‖w_a‖²/n,
     others 0 (once free, once first minimised on the face A only); and the same with a floor (1e-3 of the mean
     active ν) on every coordinate so the optimizer can move the inactive ones;
   - every smaller support (1 ≤ |A| < d) with its least-squares fit ν_A = ‖w_a‖²/n (free, and face first);
   - around each of these (|A| ≤ d), `--near-basic` points with every ν_a scaled by 10^U(-1, 1), minimised on
     the face A first (on a d = 3, κ = 6 vae-diag problem the minimum on {2, 3, 5} sits a factor 2-3 below the
     basic solution; these starts reach it 40-75 % of the time, uniform face starts 1 %);
   - face starts: for every face F (every nonempty column subset when κ ≤ 9, else |F| ≤ d + 1), `--face-starts`
     log-uniform points on F, first minimised on F with the other coordinates held at 0, then released (this is
     what reaches minima with small basins: a d = 3, κ = 6 vae-diag minimum was hit by 0 of 600 random starts and
     by 4 face starts);
   - `--random-starts` dense random starts (log-uniform ν over [1e-4, 1e2]·s, s = ‖X‖²_F/(nd)) and as many sparse
     ones (a random subset of the columns log-uniform, the others 0).
   Minimisation over ν ≥ 0: batched projected Newton (Bertsekas 1982): coordinates at ≤ ε with a positive gradient
   are bound to 0, the free block takes a Newton step with the Hessian's eigenvalues replaced by their absolute
   values (floored), then a projected Armijo line search over 24 step lengths evaluated at once. A Python loop runs
   over iterations only. Each end point is then Newton-polished on its support (ν_j > 1e-9·max ν) and classified
   by a float KKT certificate: active gradient |g_j| ≤ 1e-8·(|n-term| + |data-term|), every inactive gradient
   > 1e-8 of that scale, and the log-scale active Hessian diag(ν_A) H_AA diag(ν_A) positive definite (smallest
   eigenvalue > 1e-9 of the largest) → strict local minimum. End points are deduplicated (same support, ν within
   1e-6 relative).
2. `run_landscape(problem, get_variant(v), gamma=1e-2, time_limit=--time-limit)` (no box budget).

A brute-force minimum is *on the list* when the landscape lists a minimum with the same support whose proof box
(expanded by 1e-6 relative) holds it, or whose ν is within 1e-6 (relative to its largest entry) of it.
Per problem: `complete`, landscape minima (`landscape_proved`: how many carry a proved landscape proof;
`point_proved`: how many also have a proved standard point proof — `prove_point` does not prove ν = 0, so a
problem whose only minimum is ν = 0, tiny X, shows 0 there),
brute-force minima, `missing` (brute-force minima not on the list: when `complete`, any one is a soundness bug;
when not complete, those whose support is an unresolved face, or with a global unresolved item, are counted as
`missing_in_unresolved` instead), `extra` (listed minima the brute force never reached), seconds of each method and
the 1-minute load average. The other direction, in floats: every listed minimum, Newton-polished on its support,
must pass the same KKT certificate as a strict minimum (`listed_not_float_min` lists those that do not).
`verdict`: `MISSING` (a brute-force minimum off the list, outside anything left unresolved), `LISTED_NOT_MIN`,
else `agree` when the landscape is complete and `incomplete` when it is not (then no verdict on completeness).
Writes bench/landscape_bruteforce.json (command, commit, rows).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GAMMA = 1e-2
GRAD_RTOL = 1e-8      #: active |g_j| ≤ GRAD_RTOL · scale_j (scale_j = the two gradient terms' magnitudes)
INACTIVE_MARGIN = 1e-8  #: every inactive g_j > INACTIVE_MARGIN · scale_j
HESS_RTOL = 1e-9      #: smallest eigenvalue of the log-scale active Hessian > HESS_RTOL · largest
SUPPORT_RTOL = 1e-9   #: support = {j : ν_j > SUPPORT_RTOL · max ν}
DEDUP_RTOL = 1e-6     #: two end points are one when supports agree and ν agree within this (relative to max ν)
MATCH_RTOL = 1e-6     #: a brute-force minimum matches a listed one within this (relative), or inside its box


# ------------------------------------------------------------------------------------------------ closed forms


class Energy:
    """L_full or L_diag (THEORY §2) at fixed γ, batched over rows of ν (B × κ), float64."""

    def __init__(self, cov: str, Phi: np.ndarray, X: np.ndarray, gamma: float):
        if cov not in ("full", "diag"):
            raise ValueError(cov)
        self.cov, self.gamma = cov, float(gamma)
        self.Phi = np.asarray(Phi, dtype=np.float64)
        self.X = np.asarray(X, dtype=np.float64)
        self.d, self.kappa = self.Phi.shape
        self.n = self.X.shape[1]
        self.c = (self.Phi**2).sum(0)

    def _sigma(self, nu):
        return self.gamma * np.eye(self.d) + (self.Phi[None] * nu[:, None, :]) @ self.Phi.T[None]

    def value(self, nu: np.ndarray) -> np.ndarray:
        nu = np.atleast_2d(nu)
        S = self._sigma(nu)
        L = np.linalg.cholesky(S)
        Y = np.linalg.solve(L, np.broadcast_to(self.X, (len(nu),) + self.X.shape))
        quad = (Y**2).sum((1, 2))
        if self.cov == "full":
            logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
            return self.n * logdet + quad
        return quad + self.n * np.log(self.gamma + nu * self.c).sum(1) + self.n * (self.d - self.kappa) * np.log(
            self.gamma)

    def derivatives(self, nu: np.ndarray):
        """(E, g, H, scale): energy, gradient, Hessian in ν, and per coordinate the sum of the two gradient terms'
        magnitudes (what "relatively zero" is measured against)."""
        nu = np.atleast_2d(nu)
        S = np.linalg.inv(self._sigma(nu))
        S = 0.5 * (S + np.swapaxes(S, 1, 2))
        P = self.Phi.T[None] @ S @ self.Phi[None]                   # φ_jᵀ Σ⁻¹ φ_k
        Bm = self.Phi.T[None] @ S @ self.X[None]                    # φ_jᵀ Σ⁻¹ X
        G = Bm @ np.swapaxes(Bm, 1, 2)
        data = np.diagonal(G, axis1=1, axis2=2)
        H = 2 * P * G
        if self.cov == "full":
            first = self.n * np.diagonal(P, axis1=1, axis2=2)
            H = H - self.n * P**2
        else:
            den = self.gamma + nu * self.c
            first = self.n * self.c / den
            H = H - np.einsum("bj,jk->bjk", self.n * self.c**2 / den**2, np.eye(self.kappa))
        return self.value(nu), first - data, H, first + data


# ------------------------------------------------------------------------------------------------ starts


def starts(energy: Energy, random_starts: int, face_starts: int, near_basic: int, rng: np.random.Generator):
    """(start matrix, frozen mask, number of basic-feasible supports). A start's frozen coordinates are held at 0
    in the first (face-restricted) phase and released in the second. See the module docstring for the list."""
    Phi, X, n, d, kappa = energy.Phi, energy.X, energy.n, energy.d, energy.kappa
    rows, frozen, n_basic = [], [], 0
    none = np.zeros(kappa, bool)
    for size in range(1, d + 1):
        for A in itertools.combinations(range(kappa), size):
            PA = Phi[:, A]
            if np.linalg.matrix_rank(PA) < size or np.linalg.cond(PA) > 1e10:
                continue
            W = np.linalg.solve(PA, X) if size == d else np.linalg.lstsq(PA, X, rcond=None)[0]
            nu = np.zeros(kappa)
            nu[list(A)] = (W**2).sum(1) / n
            off = np.ones(kappa, bool)
            off[list(A)] = False
            rows += [nu, nu]
            frozen += [none, off]           # free from the start; first restricted to the face A
            for _ in range(near_basic):     # around it, each coordinate scaled by 10^U(-1, 1), face A first
                rows.append(nu * 10.0 ** rng.uniform(-1, 1, kappa))
                frozen.append(off)
            if size == d:
                n_basic += 1
                floor = 1e-3 * max(nu[list(A)].mean(), 1e-12)
                rows.append(np.maximum(nu, floor))
                frozen.append(none)
    s = float((X**2).sum() / (n * d))
    faces = [F for m in range(1, kappa + 1) for F in itertools.combinations(range(kappa), m)
             if 2**kappa <= 512 or m <= d + 1]
    for F in faces:
        off = np.ones(kappa, bool)
        off[list(F)] = False
        for _ in range(face_starts):
            rows.append(np.where(off, 0.0, s * 10.0 ** rng.uniform(-3, 2, kappa)))
            frozen.append(off)
    dense = s * 10.0 ** rng.uniform(-4, 2, (random_starts, kappa))
    sparse = s * 10.0 ** rng.uniform(-4, 2, (random_starts, kappa))
    for i in range(random_starts):
        sparse[i, rng.permutation(kappa)[: rng.integers(1, kappa)]] = 0.0
    nu0 = np.vstack([np.array(rows).reshape(-1, kappa), dense, sparse])
    fz = np.vstack([np.array(frozen, bool).reshape(-1, kappa), np.zeros((2 * random_starts, kappa), bool)])
    return nu0, fz, n_basic


# ------------------------------------------------------------------------------------------------ minimisation


def _newton_direction(H, g, free):
    """Batched modified Newton direction on the free block (|eigenvalues|, floored); 0 on the rest."""
    B, k = g.shape
    eye = np.eye(k)[None]
    m = free[:, :, None] & free[:, None, :]
    M = np.where(m, H, 0.0)
    # scale the free block to unit diagonal (the coordinates' sizes differ by orders of magnitude)
    dg = np.where(free, np.sqrt(np.maximum(np.abs(np.diagonal(H, axis1=1, axis2=2)), 1e-300)), 1.0)
    Ms = M / dg[:, :, None] / dg[:, None, :]
    Ms = np.where(m, Ms, eye)
    Ms = 0.5 * (Ms + np.swapaxes(Ms, 1, 2))
    lam, V = np.linalg.eigh(Ms)
    lam = np.maximum(np.abs(lam), 1e-8 * np.abs(lam).max(1, keepdims=True) + 1e-300)
    gs = np.where(free, g, 0.0) / dg
    p = V @ (((np.swapaxes(V, 1, 2) @ gs[:, :, None])[..., 0] / lam)[:, :, None])
    return np.where(free, p[..., 0] / dg, 0.0)


def projected_newton(energy: Energy, nu0: np.ndarray, max_iter: int = 400, tol: float = 1e-12,
                     frozen: np.ndarray | None = None):
    """Minimise over ν ≥ 0 from every row of nu0 at once, coordinates marked `frozen` held at 0 (a face-restricted
    minimisation). Returns (ν, iterations used per start)."""
    nu = np.maximum(np.array(nu0, dtype=np.float64), 0.0)
    B, k = nu.shape
    frozen = np.zeros((B, k), bool) if frozen is None else np.asarray(frozen, bool)
    nu[frozen] = 0.0
    live = np.ones(B, bool)
    iters = np.zeros(B, int)
    alphas = 0.5 ** np.arange(24)
    for _ in range(max_iter):
        idx = np.flatnonzero(live)
        if idx.size == 0:
            break
        x = nu[idx]
        E, g, H, scale = energy.derivatives(x)
        fz = frozen[idx]
        pg = np.where(fz, 0.0, np.where(x > 0, g, np.minimum(g, 0.0)))
        conv = (np.abs(pg) <= tol * scale).all(1)
        diagH = np.maximum(np.abs(np.diagonal(H, axis1=1, axis2=2)), 1e-300)
        w = np.linalg.norm(x - np.maximum(x - g / diagH, 0.0), axis=1, keepdims=True)
        eps = np.minimum(1e-8 * x.max(1, keepdims=True) + 1e-300, w)
        binding = ((x <= eps) & (g > 0)) | fz
        x = np.where(binding, 0.0, x)
        free = ~binding
        p = _newton_direction(H, g, free)
        cand = np.maximum(x[:, None, :] - alphas[None, :, None] * p[:, None, :], 0.0)   # (b, a, k)
        Ec = energy.value(cand.reshape(-1, k)).reshape(len(idx), len(alphas))
        Ex = energy.value(x) if binding.any() else E
        decrease = ((cand - x[:, None, :]) * g[:, None, :]).sum(-1)
        ok = np.isfinite(Ec) & (Ec <= Ex[:, None] + 1e-4 * decrease)
        first = np.where(ok.any(1), ok.argmax(1), -1)
        best = np.nanargmin(np.where(np.isfinite(Ec), Ec, np.inf), axis=1)
        pick = np.where(first >= 0, first, best)
        Enew = Ec[np.arange(len(idx)), pick]
        improved = (first >= 0) | (Enew < Ex)
        xnew = np.where(improved[:, None], cand[np.arange(len(idx)), pick], x)
        stalled = ~improved
        nu[idx] = np.where(conv[:, None], nu[idx], xnew)
        iters[idx] += 1
        live[idx[conv | stalled]] = False
    return nu, iters


def polish(energy: Energy, nu: np.ndarray, steps: int = 12) -> np.ndarray:
    """Plain Newton on each point's support (ν_j > SUPPORT_RTOL·max ν, the rest set to 0), keeping ν_A > 0."""
    nu = np.array(nu, dtype=np.float64)
    mx = nu.max(1, keepdims=True)
    supp = nu > SUPPORT_RTOL * mx
    nu = np.where(supp, nu, 0.0)
    for _ in range(steps):
        E, g, H, scale = energy.derivatives(nu)
        m = supp[:, :, None] & supp[:, None, :]
        M = np.where(m, H, np.eye(energy.kappa)[None])
        try:
            step = np.linalg.solve(M, np.where(supp, g, 0.0)[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(Mi, gi, rcond=None)[0] for Mi, gi in zip(M, np.where(supp, g, 0.0))])
        step = np.where(supp, step, 0.0)
        t = np.ones(len(nu))
        # halve the step where it would leave ν_A > 0 (at most 40 halvings)
        for _ in range(40):
            bad = (supp & (nu - t[:, None] * step <= 0)).any(1)
            if not bad.any():
                break
            t = np.where(bad, 0.5 * t, t)
        cand = nu - t[:, None] * step
        _, g2, _, _ = energy.derivatives(cand)
        better = (np.abs(np.where(supp, g2, 0)) / scale).max(1) <= (np.abs(np.where(supp, g, 0)) / scale).max(1)
        better &= np.isfinite(cand).all(1) & ((cand > 0) | ~supp).all(1)
        nu = np.where(better[:, None], cand, nu)
    return nu


def classify(energy: Energy, nu: np.ndarray) -> list[dict]:
    """Float KKT certificate per point: ``min`` (strict local minimum), ``saddle`` (KKT with negative curvature on
    the support), ``not_kkt`` (an inactive gradient < 0), ``degenerate`` (a zero inactive gradient or a singular
    face Hessian), ``not_stationary`` (active gradient not ≈ 0)."""
    E, g, H, scale = energy.derivatives(nu)
    out = []
    for b in range(len(nu)):
        A = np.flatnonzero(nu[b] > 0)
        I = np.flatnonzero(nu[b] <= 0)
        rg = g[b] / scale[b]
        act = float(np.abs(rg[A]).max()) if A.size else 0.0
        ina = float(rg[I].min()) if I.size else np.inf
        if A.size:
            Hs = nu[b, A][:, None] * H[b][np.ix_(A, A)] * nu[b, A][None, :]
            lam = np.linalg.eigvalsh(0.5 * (Hs + Hs.T))
            ratio = float(lam[0] / max(abs(lam[-1]), abs(lam[0]), 1e-300))
        else:
            ratio = 1.0
        if not act <= GRAD_RTOL:
            kind = "not_stationary"
        elif ina < -INACTIVE_MARGIN:
            kind = "not_kkt"
        elif ratio < -HESS_RTOL:
            kind = "saddle"
        elif ina <= INACTIVE_MARGIN or ratio <= HESS_RTOL:
            kind = "degenerate"
        else:
            kind = "min"
        out.append({"kind": kind, "support": A.tolist(), "nu": nu[b].tolist(), "energy": float(E[b]),
                    "active_grad_rel": act, "min_inactive_grad_rel": None if not np.isfinite(ina) else ina,
                    "hessian_ratio": ratio})
    return out


def dedupe(points: list[dict]) -> list[dict]:
    """One representative per (kind, support, ν within DEDUP_RTOL relative), with the count of end points."""
    reps: list[dict] = []
    for p in points:
        nu = np.asarray(p["nu"])
        for r in reps:
            if r["kind"] == p["kind"] and r["support"] == p["support"]:
                ref = np.asarray(r["nu"])
                if np.abs(ref - nu).max() <= DEDUP_RTOL * max(ref.max(), nu.max(), 1e-300):
                    r["hits"] += 1
                    break
        else:
            reps.append(dict(p, hits=1))
    return reps


@dataclass
class BruteForce:
    minima: list[dict]
    kkt_saddles: list[dict]
    counts: dict
    n_starts: int
    n_basic: int
    seconds: float
    others: list[dict] = field(default_factory=list)
    energy: Energy | None = None


def brute_force(cov: str, Phi, X, gamma: float = GAMMA, *, random_starts: int = 300, face_starts: int = 3,
                near_basic: int = 10, seed: int = 0, max_iter: int = 400) -> BruteForce:
    """Every strict local minimum of L_cov on ν ≥ 0 that the multistart reaches (module docstring)."""
    t0 = time.perf_counter()
    energy = Energy(cov, Phi, X, gamma)
    nu0, frozen, n_basic = starts(energy, random_starts, face_starts, near_basic,
                                     np.random.default_rng(seed))
    nu, _ = projected_newton(energy, nu0, max_iter=max_iter, frozen=frozen)   # phase 1: on the start's face
    nu, _ = projected_newton(energy, nu, max_iter=max_iter)                   # phase 2: every coordinate free
    nu = polish(energy, nu)
    pts = classify(energy, nu)
    counts: dict[str, int] = {}
    for p in pts:
        counts[p["kind"]] = counts.get(p["kind"], 0) + 1
    reps = dedupe(pts)
    return BruteForce([p for p in reps if p["kind"] == "min"], [p for p in reps if p["kind"] == "saddle"], counts,
                      len(nu0), n_basic, time.perf_counter() - t0,
                      [p for p in reps if p["kind"] in ("degenerate",)], energy)


# ------------------------------------------------------------------------------------------------ comparison


def on_list(point: dict, minima) -> tuple[bool, str | None, float | None]:
    """(matched, how, relative distance) of a brute-force minimum against listed minima (LandscapePoint-like:
    `support`, `nu`, `proof` with extra.box_lo / box_hi over the support)."""
    nu = np.asarray(point["nu"])
    best = None
    for m in minima:
        if list(m.support) != point["support"]:
            continue
        ref = np.asarray(m.nu, dtype=np.float64)
        dist = float(np.abs(ref - nu).max() / max(ref.max(), 1e-300))
        best = dist if best is None else min(best, dist)
        extra = ((m.proof or {}).get("extra") or {})
        lo, hi = extra.get("box_lo"), extra.get("box_hi")
        if lo is not None and hi is not None:
            v = nu[list(m.support)]
            lo, hi = np.asarray(lo, float), np.asarray(hi, float)
            slack = MATCH_RTOL * np.maximum(np.abs(lo), np.abs(hi))
            if ((v >= lo - slack) & (v <= hi + slack)).all():
                return True, "box", dist
        if dist <= MATCH_RTOL:
            return True, "near", dist
    return False, None, best


def compare(bf: BruteForce, landscape) -> dict:
    """missing: brute-force minima not on the landscape's list (split by whether the landscape left their face —
    or the whole search — unresolved); extra: listed minima no brute-force minimum matched."""
    faces = {tuple(u["face"]) for u in landscape.unresolved if "face" in u}
    open_search = any("face" not in u for u in landscape.unresolved)
    missing, missing_unres, matched_ids = [], [], set()
    for p in bf.minima:
        ok, how, dist = on_list(p, landscape.minima)
        if ok:
            for i, m in enumerate(landscape.minima):
                if list(m.support) == p["support"] and on_list(p, [m])[0]:
                    matched_ids.add(i)
            continue
        rec = {"support": p["support"], "nu": p["nu"], "energy": p["energy"], "hits": p["hits"],
               "nearest_same_support_rel": dist}
        (missing_unres if (tuple(p["support"]) in faces or open_search) else missing).append(rec)
    extra = [{"support": list(m.support), "nu": list(m.nu), "verdict": m.verdict}
             for i, m in enumerate(landscape.minima) if i not in matched_ids]
    return {"missing": missing, "missing_in_unresolved": missing_unres, "extra": extra,
            "listed_not_float_min": listed_check(bf.energy, landscape.minima) if bf.energy is not None else []}


def listed_check(energy: Energy, minima) -> list[dict]:
    """The other direction, in floats: each listed minimum, Newton-polished on its support from its ν, must pass
    this file's KKT certificate as a strict minimum, keep its support and stay where it is listed (inside its proof
    box, or within MATCH_RTOL). Returns those that do not."""
    if not minima:
        return []
    nu = np.zeros((len(minima), energy.kappa))
    for i, m in enumerate(minima):
        nu[i, list(m.support)] = np.asarray(m.nu, float)[list(m.support)]
    pts = classify(energy, polish(energy, nu))
    out = []
    for m, p in zip(minima, pts):
        stays = p["support"] == list(m.support) and on_list(p, [m])[0]
        if p["kind"] != "min" or not stays:
            out.append({"support": list(m.support), "float_kind": p["kind"], "float_support": p["support"],
                        "stays": stays})
    return out


# ------------------------------------------------------------------------------------------------ driver


#: The default grid (no grid flag given): two product grids, d = 2 (where the landscape completes today) and
#: d = 3 with n = 1 (rank X = 1, where the face-exclusion test is meant to close the faces with more than d columns).
DEFAULT_GRIDS = ({"d": [2], "kappa": [3, 4, 6], "rows": ["orthogonal", "gaussian"], "r": [1], "n": [1, 2],
                  "seeds": [0, 1]},
                 {"d": [3], "kappa": [4, 6], "rows": ["orthogonal", "gaussian"], "r": [1, 2], "n": [1],
                  "seeds": [0]})
GRID_KEYS = ("d", "kappa", "rows", "r", "n", "seeds")


def grid(args) -> list[tuple]:
    """Problem specs (variant, d, κ, r, n, rows, seed): the product of the flags given (the default grids' values
    for those not given), or DEFAULT_GRIDS when no grid flag is given. Skipped: κ ≤ d, r ≥ d, orthogonal rows with
    n < r."""
    given = {k: getattr(args, k) for k in GRID_KEYS if getattr(args, k) is not None}
    grids = DEFAULT_GRIDS if not given else ({**DEFAULT_GRIDS[0], **given},)
    out = []
    for g in grids:
        for v, d, kappa, rows, r, n, seed in itertools.product(args.variants, g["d"], g["kappa"], g["rows"], g["r"],
                                                                 g["n"], g["seeds"]):
            if kappa <= d or r >= d or (rows == "orthogonal" and n < r):
                continue
            out.append((v, d, kappa, r, n, rows, seed))
    return out


def row(spec, *, time_limit: float, random_starts: int, face_starts: int = 3, near_basic: int = 10,
        gamma: float = GAMMA) -> dict:
    from vaetheory.landscape import run_landscape
    from vaetheory.problems.generate import make_problem
    from vaetheory.variants import get_variant

    v, d, kappa, r, n, rows, seed = spec
    problem = make_problem(d, kappa, r, n, rows, seed)
    cov = {"vae-full": "full", "vae-diag": "diag"}[v]
    bf = brute_force(cov, problem.Phi, problem.X, gamma, random_starts=random_starts, face_starts=face_starts,
                     near_basic=near_basic, seed=seed)
    t0 = time.perf_counter()
    res = run_landscape(problem, get_variant(v), gamma=gamma, time_limit=time_limit)
    t_land = time.perf_counter() - t0
    cmp = compare(bf, res)
    proved = sum((m.proof or {}).get("status") == "proved" for m in res.minima)
    point_proved = sum((m.point_proof or {}).get("status") == "proved" for m in res.minima)
    verdict = "MISSING" if cmp["missing"] else "LISTED_NOT_MIN" if cmp["listed_not_float_min"] else (
        "agree" if res.complete else "incomplete")
    return {"variant": v, "d": d, "kappa": kappa, "r": r, "n": n, "rows": rows, "seed": seed, "gamma": gamma,
            "complete": res.complete, "landscape_minima": len(res.minima), "landscape_proved": proved,
            "point_proved": point_proved,
            "landscape_minima_list": [[m.support, m.verdict] for m in res.minima],
            "landscape_saddles": len(res.saddles), "unresolved": len(res.unresolved),
            "unresolved_face_sizes": sorted({len(u["face"]) for u in res.unresolved if "face" in u}),
            "other_unresolved": [u["why"] for u in res.unresolved if "face" not in u][:3],
            "bf_minima": len(bf.minima), "bf_minima_list": [[p["support"], p["hits"]] for p in bf.minima],
            "bf_kkt_saddles": len(bf.kkt_saddles), "bf_degenerate": len(bf.others), "bf_end_points": bf.counts,
            "bf_starts": bf.n_starts, "bf_basic_supports": bf.n_basic,
            "missing": len(cmp["missing"]), "missing_in_unresolved": len(cmp["missing_in_unresolved"]),
            "extra": len(cmp["extra"]), "missing_detail": cmp["missing"] + cmp["missing_in_unresolved"],
            "extra_detail": cmp["extra"], "listed_not_float_min": cmp["listed_not_float_min"], "verdict": verdict,
            "seconds_bruteforce": round(bf.seconds, 2), "seconds_landscape": round(t_land, 2),
            "time_limit": time_limit, "load1": round(os.getloadavg()[0], 2)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["vae-full", "vae-diag"], choices=["vae-full", "vae-diag"])
    ap.add_argument("--d", nargs="+", type=int)
    ap.add_argument("--kappa", nargs="+", type=int)
    ap.add_argument("--rows", nargs="+", choices=["orthogonal", "gaussian"])
    ap.add_argument("--r", nargs="+", type=int)
    ap.add_argument("--n", nargs="+", type=int)
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--gamma", type=float, default=GAMMA)
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per landscape (default 300)")
    ap.add_argument("--random-starts", type=int, default=300, help="dense random starts (as many sparse ones)")
    ap.add_argument("--face-starts", type=int, default=3, help="starts per face, first minimised on that face")
    ap.add_argument("--near-basic", type=int, default=10, help="starts around each basic / least-squares start")
    ap.add_argument("--out", default=str(ROOT / "bench" / "landscape_bruteforce.json"))
    args = ap.parse_args(argv)
    from bench.common import commit

    cmd = "python bench/landscape_bruteforce.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                    " " + " ".join(sys.argv[1:] if argv is None else argv))
    out = {"command": cmd, **commit(), "gamma": args.gamma, "rows": []}
    t0 = time.perf_counter()
    for spec in grid(args):
        r = row(spec, time_limit=args.time_limit, random_starts=args.random_starts,
                face_starts=args.face_starts, near_basic=args.near_basic, gamma=args.gamma)
        out["rows"].append(r)
        print(json.dumps({k: r[k] for k in ("variant", "d", "kappa", "r", "n", "rows", "seed", "complete",
                                            "landscape_minima", "landscape_proved", "point_proved", "bf_minima",
                                            "missing",
                                            "missing_in_unresolved", "extra", "verdict", "seconds_bruteforce",
                                            "seconds_landscape")}), flush=True)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["load_end"] = [round(x, 2) for x in os.getloadavg()]
    out["summary"] = {"rows": len(out["rows"]), "complete": sum(r["complete"] for r in out["rows"]),
                      "agree": sum(r["verdict"] == "agree" for r in out["rows"]),
                      "missing_on_complete": sum(r["missing"] for r in out["rows"] if r["complete"])}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}: {out['summary']}", file=sys.stderr)


if __name__ == "__main__":
    main()
