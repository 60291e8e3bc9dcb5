"""Fixed-γ interval branch and bound over every face of ν ≥ 0 (docs/landscape.md).

For each face F (the columns with ν_j > 0) the driver

1. proves an outer box holding every KKT point of the face (`face_bounds`; needs Φ_F of full column rank);
2. splits it (log scale; the lowest piece of each coordinate touches 0), discarding boxes by the per-coordinate
   sign test (`enclose.sign_test`) and, for L_full, contracting ν_j to the only range where ∂E/∂ν_j can vanish;
3. on small surviving boxes, polishes a float Newton root of the face gradient and runs Krawczyk on a box around
   it a little wider than the search box (so the neighbours of a root fall inside it: no cluster effect); a proved
   box holds exactly one stationary point of the face, classified by `enclose.classify_root_box`;
4. whatever cannot be decided (time or box budget, a face without outer bound, a box too thin to split) is listed
   as unresolved with the reason.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from vaetheory.certify.interval import mid_matrix
from vaetheory.landscape import enclose
from vaetheory.landscape.enclose import FaceData

THIN = 1e-12  #: a box whose every side is below THIN × its upper end (or a [0, h] side with h below THIN × the
#: face's bound) is too thin to split further: unresolved
NEWTON_WIDTH = 0.5  #: relative width below which a surviving box gets a Newton polish and a Krawczyk test
ROOT_INFLATE = 3.0  #: Krawczyk box around a Newton root: this many search-box widths on each side


@dataclass
class FaceRoot:
    face: tuple[int, ...]
    kind: str  # min | saddle | not_kkt | degenerate
    nu: np.ndarray  # (κ,) float point (Newton root)
    lo: np.ndarray  # proved box (face coordinates; 0 elsewhere)
    hi: np.ndarray
    info: dict = field(default_factory=dict)


@dataclass
class FaceOutcome:
    face: tuple[int, ...]
    boxes: int = 0
    roots: list[FaceRoot] = field(default_factory=list)
    unresolved: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    discards: dict = field(default_factory=dict)


class BasicSolutions:
    """Row norms of every basic solution of [Φ, I] Y = X, enclosed in Arb (computed once per run).

    Ben-Tal & Teboulle (1990; Dikin 1967): for A of full row rank and any positive diagonal W, the weighted
    least-squares solution W Aᵀ(A W Aᵀ)⁻¹ b is a convex combination of the basic solutions A_B⁻¹b (B a set of d
    independent columns). With A = [Φ_F, I] and W = diag(ν_F, γ·1), that solution is the posterior mean
    U* = Γ Φᵀ Σ⁻¹ X (both variants, docs/theory.md §2), so ‖μ_j‖ ≤ max over bases B ∋ j of B ⊆ F ∪ I of
    ‖(A_B⁻¹X)_j‖: a bound on every face, whatever its rank."""

    def __init__(self, fd: FaceData):
        from vaetheory.core.subsets import iter_subset_chunks

        flint = fd.flint
        d, kappa = fd.d, fd.kappa
        cols = [[fd.aPhi[i, j] for i in range(d)] for j in range(kappa)]
        cols += [[flint.arb(1 if i == e else 0) for i in range(d)] for e in range(d)]
        self.bases: list[tuple[frozenset, dict]] = []
        self.failed = False
        for chunk in iter_subset_chunks(kappa + d, d):
            for B in chunk.tolist():  # Arb is scalar: one d×d solve per basis, C(κ+d, d) in all
                A = flint.arb_mat(d, d)
                for a, k in enumerate(B):
                    for i in range(d):
                        A[i, a] = cols[k][i]
                try:
                    Y = A.solve(fd.aX)
                except ZeroDivisionError:
                    det = A.det()
                    if det == 0:  # exactly singular: weight 0 in the convex combination
                        continue
                    self.failed = True  # not provably singular nor invertible: no sound bound
                    continue
                rows = {}
                for a, k in enumerate(B):
                    if k < kappa:
                        r = flint.arb(0)
                        for i in range(fd.n):
                            r += Y[a, i] * Y[a, i]
                        rows[k] = enclose.up(r)
                self.bases.append((frozenset(k for k in B if k < kappa), rows))

    def mu_bounds(self, face) -> dict[int, float]:
        """max over bases B ⊆ face ∪ I containing j of ‖(A_B⁻¹X)_j‖², per j in the face."""
        fs = frozenset(face)
        out = {j: 0.0 for j in face}
        for cols, rows in self.bases:
            if cols <= fs:
                for j, v in rows.items():
                    out[j] = max(out[j], v)
        return out


def face_bounds(fd: FaceData, face: tuple[int, ...], basic: BasicSolutions | None = None) -> np.ndarray | str:
    """Upper bounds U_j (κ,), 0 off the face, with every KKT point of the face in ∏ [0, U_j]; or a reason string.
    The smaller of two proved bounds per coordinate:

    (a) full column rank faces. With δ_j = dist(φ_j, span Φ_{F∖j})² = 1 / [(Φ_FᵀΦ_F)⁻¹]_jj > 0: s_j ≥ δ_j/γ and
    q_j ≤ s_j ‖X‖²/γ (Cauchy–Schwarz in A_j⁻¹, A_j ⪰ γI), so at a zero of ∂E/∂ν_j
    L_full: ν_j ≤ q_j/(n s_j²) ≤ ‖X‖²/(n δ_j);
    L_diag: n c_j ν_j² s_j ≤ (‖X‖²/γ)(γ + ν_j c_j), whence ν_j ≤ [‖X‖²c_j + √(‖X‖⁴c_j² + 4nc_jδ_j‖X‖²γ)]/(2nc_jδ_j).

    (b) every face, from M_j ≥ ‖μ_j‖² (`BasicSolutions`) and μ_j = ν_j φ_jᵀΣ⁻¹X. L_diag: stationarity is
    n c_j ν_j² = ‖μ_j‖²(γ + ν_j c_j), so ν_j ≤ M_j/n + √(M_jγ/(n c_j)). L_full: stationarity is
    n ν_j² s_j/(1 + ν_j s_j) = ‖μ_j‖²; either ν_j s_j ≥ 1 and ν_j ≤ 2M_j/n, or ν_j² s_j < 2M_j/n with
    s_j ≥ c_j²/(γc_j + Σ_{k∈F∖j} ν_k (φ_kᵀφ_j)²) (Cauchy–Schwarz); at the largest coordinate V this gives
    V² < a_j + b_j V (a_j = 2M_jγ/(n c_j), b_j = 2M_jβ_j/(n c_j²), β_j = Σ_k (φ_kᵀφ_j)²), so every ν_k ≤
    max_j max(2M_j/n, (b_j + √(b_j² + 4a_j))/2).
    """
    flint = fd.flint
    U = np.full(fd.kappa, np.inf)
    U[[j for j in range(fd.kappa) if j not in face]] = 0.0
    if not face:
        return U
    P = flint.arb_mat(fd.d, len(face))
    for a, j in enumerate(face):
        for i in range(fd.d):
            P[i, a] = fd.aPhi[i, j]
    X2 = flint.arb(0)
    for row in fd.aX.tolist():
        for v in row:
            X2 += v * v
    try:
        Ginv = (P.transpose() * P).inv() if len(face) <= fd.d else None
    except ZeroDivisionError:
        Ginv = None
    if Ginv is not None:
        for a, j in enumerate(face):
            if not Ginv[a, a] > 0:
                continue
            delta = 1 / Ginv[a, a]
            if fd.covariance == "full":
                u = X2 / (fd.an * delta)
            else:
                c = fd.c[j]
                u = (X2 * c + (X2 * X2 * c * c + 4 * fd.an * c * delta * X2 * fd.agamma).sqrt()) / (2 * fd.an * c * delta)
            U[j] = min(U[j], enclose.up(u))
    if basic is not None and not basic.failed:
        M = {j: flint.arb(v) for j, v in basic.mu_bounds(face).items()}
        if fd.covariance == "diag":
            for j in face:
                U[j] = min(U[j], enclose.up(M[j] / fd.an + (M[j] * fd.agamma / (fd.an * fd.c[j])).sqrt()))
        else:
            V = 0.0
            G = fd.aPhi.transpose() * fd.aPhi
            for j in face:
                beta = flint.arb(0)
                for k in face:
                    if k != j:
                        beta += G[j, k] * G[j, k]
                a_j = 2 * M[j] * fd.agamma / (fd.an * fd.c[j])
                b_j = 2 * M[j] * beta / (fd.an * fd.c[j] * fd.c[j])
                cand = (b_j + (b_j * b_j + 4 * a_j).sqrt()) / 2
                V = max(V, enclose.up(2 * M[j] / fd.an), enclose.up(cand))
            for j in face:
                U[j] = min(U[j], V)
    if not np.all(np.isfinite(U[list(face)])):
        return "no proved outer bound on this face's KKT points (dependent columns and no basic-solution bound)"
    return U


def no_stationary_full(fd: FaceData, face: tuple[int, ...]) -> bool:
    """L_full only: True when the face provably holds no stationary point at all. E depends on ν only through
    C = Φ_F diag(ν_F) Φ_Fᵀ, and ∂E/∂ν_j = φ_jᵀ G φ_j with G = nΣ⁻¹ − Σ⁻¹XXᵀΣ⁻¹ (symmetric). When the matrices
    φ_jφ_jᵀ, j ∈ F, span the symmetric d×d matrices (so |F| ≥ d(d+1)/2), stationarity on the face forces G = 0,
    i.e. γI + C = XXᵀ/n; that is impossible (C ⪰ 0) when some v has vᵀ(XXᵀ/n − γI)v < 0, e.g. when rank X < d."""
    if fd.covariance != "full":
        return False
    d = fd.d
    pairs = [(a, b) for a in range(d) for b in range(a, d)]
    if len(face) < len(pairs):
        return False
    R = _rank_one_rows(fd, face)
    if not (R.transpose() * R).det() > 0:
        return False
    flint = fd.flint
    w, V = np.linalg.eigh(fd.X @ fd.X.T / fd.n)
    v = flint.arb_mat([[float(x)] for x in V[:, 0]])
    q = (v.transpose() * fd.aX)
    val = flint.arb(0)
    for i in range(fd.n):
        val += q[0, i] * q[0, i]
    val = val / fd.an - fd.agamma * (v.transpose() * v)[0, 0]
    return bool(val < 0)


class LowRankData:
    """S = XXᵀ split as S₁ + S₂ with S₁ = Σ_k x_k x_kᵀ of rank ρ (x_k = √λ_k v_k from a float eigendecomposition,
    so S₁ is exactly positive semidefinite of rank ≤ ρ) and ε ≥ ‖S₂‖_F enclosed in Arb. ρ counts the eigenvalues of
    S above RANK_RTOL × the largest: the float data of a rank-ρ X (X = ΦZ with r ≥ ρ active rows) carry rounding
    in the other directions, which ε absorbs. Used by `no_local_min_by_rank` (computed once per run)."""

    RANK_RTOL = 1e-10

    def __init__(self, fd: FaceData):
        flint = fd.flint
        S = fd.X @ fd.X.T
        w, V = np.linalg.eigh(S)
        keep = w > self.RANK_RTOL * max(float(w[-1]), 0.0)
        self.rho = int(keep.sum())
        xs = V[:, keep] * np.sqrt(w[keep])
        aS = fd.aX * fd.aX.transpose()
        aS1 = flint.arb_mat(xs.tolist()) * flint.arb_mat(xs.T.tolist()) if self.rho else flint.arb_mat(fd.d, fd.d)
        R = aS - aS1
        e2 = flint.arb(0)
        for row in R.tolist():
            for v in row:
                e2 += v * v
        self.eps = enclose.up(enclose.upper_nonneg(e2).sqrt())


def no_local_min_by_rank(fd: FaceData, face: tuple[int, ...], lr: LowRankData) -> str | None:
    """Second-order exclusion of a whole face (docs/landscape.md, "Faces beyond the data's rank"): ``"none"`` when
    no point in the relative interior of `face` is a local minimum, ``"no_strict"`` (L_full, the φ_jφ_jᵀ of the
    face not proved independent) when none is a strict one, None when the test does not apply.

    At a stationary point of the face let M = Σ⁻¹, ψ_j = M^½φ_j, and for δ ∈ R^F let D = Σ_j δ_j φ_jφ_jᵀ and
    P = M^½DM^½ = Σ_j δ_j ψ_jψ_jᵀ. Along ν + tδ the second derivative is
    L_full: 2 tr(P T P) − n tr(P²);  L_diag: 2 tr(P T P) − n Σ_j δ_j² a_j², a_j = c_j/(γ + ν_jc_j),
    with T = M^½SM^½. Write S = S₁ + S₂ (`LowRankData`), t_k = M^½x_k. The map δ ↦ (Pt_1, …, Pt_ρ) lands in a space
    of dimension dρ − ρ(ρ−1)/2 (t_iᵀPt_k = t_kᵀPt_i), so when |F| exceeds it some δ ≠ 0 has Pt_k = 0 for every k,
    i.e. tr(P T₁ P) = 0, and tr(P T₂ P) ≤ (ε/γ) tr(P²) (‖M‖ ≤ 1/γ). Then
    L_full: d²E ≤ (2ε/γ − n) tr(P²) < 0 when ε < nγ/2, unless P = 0, i.e. D = 0: then E is constant along δ
    (not strict), which the φ_jφ_jᵀ being linearly independent rules out;
    L_diag: ‖ψ_j‖² = φ_jᵀMφ_j ≤ min(c_j/γ, 1/ν_j) ≤ 2a_j, so tr(P²) ≤ (Σ_j 2|δ_j|a_j)² ≤ 4|F| Σ_j δ_j²a_j² and
    d²E ≤ (8|F|ε/γ − n) Σ_j δ_j²a_j² < 0 when ε < nγ/(8|F|).
    A local minimum with support exactly F is a local minimum on the face's relative interior, where every δ is
    feasible both ways, so it needs d²E ≥ 0 along every δ (and a strict one no direction of constancy)."""
    m, d, rho = len(face), fd.d, lr.rho
    if m <= d * rho - rho * (rho - 1) // 2:
        return None
    n, g = fd.n, fd.gamma
    if fd.covariance == "diag":
        return "none" if lr.eps < n * g / (8 * m) * (1 - 1e-9) else None
    if not lr.eps < n * g / 2 * (1 - 1e-9):
        return None
    return "none" if rank_ones_independent(fd, face) else "no_strict"


def rank_ones_independent(fd: FaceData, face: tuple[int, ...]) -> bool:
    """True when the matrices φ_jφ_jᵀ, j ∈ face, are provably linearly independent (Gram determinant > 0 in Arb)."""
    if len(face) > fd.d * (fd.d + 1) // 2:
        return False
    R = _rank_one_rows(fd, face)
    return bool((R * R.transpose()).det() > 0)


def _rank_one_rows(fd: FaceData, face: tuple[int, ...]):
    """The |F| × d(d+1)/2 Arb matrix whose row j holds the upper triangle of φ_jφ_jᵀ (its rank is that of the
    matrices φ_jφ_jᵀ, j ∈ F)."""
    d = fd.d
    pairs = [(a, b) for a in range(d) for b in range(a, d)]
    R = fd.flint.arb_mat(len(face), len(pairs))
    for r, j in enumerate(face):
        for c, (a, b) in enumerate(pairs):
            R[r, c] = fd.aPhi[a, j] * fd.aPhi[b, j]
    return R


NEWTON_LEAVE = 3.0  #: a Newton iterate more than this far (in log(τ + ν)) outside the box it started from, after
#: NEWTON_PATIENCE steps, is abandoned: a root found there would not be tried for this box anyway (`_slack`)
NEWTON_PATIENCE = 4


def face_newton(fd: FaceData, face: tuple[int, ...], nu0: np.ndarray, steps: int = 40,
                box: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray | None:
    """Float64 Newton on the face gradient in log ν (so ν stays > 0); the root, or None without convergence (or,
    given the `box` it started in, when the iterate wanders far from it)."""
    F = list(face)
    if box is not None:
        tau_F = fd.tau[F]
        far_lo = np.log(box[0][F] + tau_F) - NEWTON_LEAVE
        far_hi = np.log(box[1][F] + tau_F) + NEWTON_LEAVE
    Phi, X, g0, n = fd.Phi, fd.X, fd.gamma, fd.n
    PF = Phi[:, F]
    c = (PF**2).sum(0)
    u = np.log(np.maximum(nu0[F], 1e-300))
    last = np.inf
    for _ in range(steps):
        v = np.exp(u)
        S = np.linalg.inv(g0 * np.eye(fd.d) + (PF * v) @ PF.T)
        K = PF.T @ S @ PF
        B = PF.T @ S @ X
        M = B @ B.T
        if fd.covariance == "full":
            g = n * np.diag(K) - np.diag(M)
            H = 2 * K * M - n * K * K
        else:
            t = g0 + v * c
            g = n * c / t - np.diag(M)
            H = 2 * K * M - np.diag(n * c * c / t**2)
        gu = v * g
        Hu = v[:, None] * H * v[None, :] + np.diag(gu)
        try:
            step = np.linalg.solve(Hu, gu)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(step)):
            return None
        step = np.clip(step, -2.0, 2.0)
        u = u - step
        last = float(np.max(np.abs(step)))
        if box is not None and _ > NEWTON_PATIENCE:
            w = np.log(np.exp(u) + tau_F)
            if np.any(w < far_lo) or np.any(w > far_hi):
                return None
        if last < 1e-13:
            break
    if not last < 1e-8:  # at small γ float noise keeps the last steps near 1e-12: Krawczyk decides whether the
        return None  # point is good enough, so a nearly converged iterate is returned
    out = np.zeros(fd.kappa)
    out[F] = np.exp(u)
    return out


def _split(lo, hi, face, U, tau):
    """Two halves along the widest coordinate in the shifted log scale u_j = log(τ_j + ν_j), τ_j = SHIFT·γ/c_j
    (`FaceData.tau`, SHIFT in `enclose`).
    ν_j enters the gradient only through ν_j s_j and ν_j c_j/γ (s_j ≤ c_j/γ), so a range of ν_j far below γ/c_j is
    one cell whatever its ratio hi/lo: splitting it in plain log scale would grind through decades that change no
    test's answer. Above γ/c_j the cut is geometric, as in plain log scale."""
    best, key = None, -1.0
    for j in face:
        if hi[j] <= lo[j] * (1 + THIN) or (lo[j] == 0 and hi[j] <= THIN * U[j]):
            continue
        k = math.log((hi[j] + tau[j]) / (lo[j] + tau[j]))
        if k > key:
            best, key = j, k
    if best is None:
        return None
    j = best
    t = tau[j]
    if hi[j] + t > 4 * (lo[j] + t):
        cut = math.sqrt((lo[j] + t) * (hi[j] + t)) - t
    else:
        cut = 0.5 * (lo[j] + hi[j])
    if not lo[j] < cut < hi[j]:
        cut = 0.5 * (lo[j] + hi[j])
    a_hi, b_lo = hi.copy(), lo.copy()
    a_hi[j] = cut
    b_lo[j] = cut
    return (lo, a_hi), (b_lo, hi)


CONTRACT_ROUNDS = 8  #: sign test + contraction repeated while a coordinate still shrinks by CONTRACT_GAIN
CONTRACT_GAIN = 0.1


def _narrow(fd: FaceData, face, lo, hi):
    """The sign test, then (L_full) contraction of each ν_j to where ∂E/∂ν_j can vanish, repeated while it
    narrows the box (constraint propagation). Returns (lo, hi, None) or (.., .., the discarding test's name)."""
    for _ in range(CONTRACT_ROUNDS):
        st = enclose.sign_test(fd, face, lo, hi)
        if st.discard:
            return lo, hi, st.why.split(":")[0].split()[0]
        if not st.contract:
            return lo, hi, None
        nlo, nhi = lo.copy(), hi.copy()
        for j, (a, b) in st.contract.items():
            nlo[j], nhi[j] = max(lo[j], a), min(hi[j], b)
        if any(nlo[j] > nhi[j] for j in face):
            return lo, hi, "contract"
        gain = max(1 - (nhi[j] - nlo[j]) / (hi[j] - lo[j]) for j in face if hi[j] > lo[j]) if any(
            hi[j] > lo[j] for j in face) else 0.0
        lo, hi = nlo, nhi
        if gain < CONTRACT_GAIN:
            break
    return lo, hi, None


def _inside(lo, hi, root: FaceRoot, face) -> bool:
    return all(root.lo[j] <= lo[j] and hi[j] <= root.hi[j] for j in face)


def _rel_width(lo, hi, face, tau) -> float:
    """Widest side relative to its shifted upper end (ν_j + τ_j, see `_split`)."""
    return max((hi[j] - lo[j]) / (hi[j] + tau[j]) for j in face)


def _slack(lo, hi, j, z) -> float:
    """How far outside a search box a Newton root may lie and still be tried (its root box then covers the search
    box): two box widths, or 1e-8 relative (a contracted box can be a few ulps wide while the float root carries
    the gradient's cancellation error)."""
    return max(2 * (hi[j] - lo[j]), 1e-8 * abs(z[j]))


def _arb_polish(hook, fd: FaceData, face, z: np.ndarray, steps: int = 3) -> np.ndarray:
    """A few Newton steps on the face gradient at the working precision (point balls), rounded back to float64:
    at small γ the float Newton root carries the gradient's cancellation error (~1e-10 relative), far wider than
    the root boxes Krawczyk can prove there."""
    flint = fd.flint
    F = list(face)
    z = z.copy()
    for _ in range(steps):
        try:
            g, H = enclose.evaluate(hook, fd, F, z, z)
            delta = mid_matrix(flint, H).solve(flint.arb_mat([[flint.arb(g[j].mid())] for j in F]))
        except (ZeroDivisionError, ValueError):
            return z
        new = z.copy()
        for a, j in enumerate(F):
            new[j] = float((flint.arb(float(z[j])) - delta[a, 0]).mid())
        if any(new[j] <= 0 for j in F):
            return z
        if np.array_equal(new, z):
            break
        z = new
    return z


ROOT_RELATIVE = (1e-9, 1e-12, 4e-15)  #: relative half-widths of the root boxes tried (at least ROOT_INFLATE search
#: box widths)


def _root_box(nu, lo, hi, face, rel: float = 1e-9):
    rlo, rhi = np.zeros_like(nu), np.zeros_like(nu)
    for j in face:
        w = max(ROOT_INFLATE * (hi[j] - lo[j]), rel * nu[j])
        rlo[j] = max(nu[j] - w, 0.5 * nu[j])
        rhi[j] = nu[j] + w
    return rlo, rhi


def _classify_tighter(hook, fd: FaceData, face, z, rlo, rhi, kind, info):
    """A root box wide enough to swallow its neighbours (no cluster effect) can be too wide to classify: an
    inactive gradient of relative size 1e-2 at the root still has an enclosure holding 0 over it. The box holds
    exactly one stationary point of the face, so if a narrower box inside it also holds one (Krawczyk), that is
    the same point: classify it there. The wide box stays the root's box (it is what drops search boxes)."""
    for rel in ROOT_RELATIVE:
        tlo, thi = np.zeros_like(z), np.zeros_like(z)
        for j in face:
            tlo[j], thi[j] = max(z[j] * (1 - rel), rlo[j]), min(z[j] * (1 + rel), rhi[j])
        if enclose.krawczyk(hook, fd, face, tlo, thi, z).status != "unique":
            continue
        k2, i2 = enclose.classify_root_box(hook, fd, face, tlo, thi)
        if k2 != "degenerate":
            return k2, i2 | {"classified_on": {"lo": tlo[list(face)].tolist(), "hi": thi[list(face)].tolist()}}
    return kind, info


def search_face(fd: FaceData, hook, face: tuple[int, ...], *, deadline: float | None = None,
                max_boxes: int | None = None, basic: BasicSolutions | None = None,
                lowrank: LowRankData | None = None) -> FaceOutcome:
    """Every KKT point of `face`, each isolated in a proved Krawczyk box and classified (or the face's unresolved
    remainder, with why)."""
    t0 = time.perf_counter()
    out = FaceOutcome(face)
    if not face:  # the single point ν = 0
        z = np.zeros(fd.kappa)
        kind, info = enclose.classify_root_box(hook, fd, face, z, z)
        out.roots.append(FaceRoot(face, kind, z, z, z, info))
        out.boxes = 1
        out.seconds = time.perf_counter() - t0
        return out
    if no_stationary_full(fd, face):
        out.discards["no_stationary_point"] = 1
        out.seconds = time.perf_counter() - t0
        return out
    rank_rule = no_local_min_by_rank(fd, face, lowrank) if lowrank is not None else None
    if rank_rule is not None:
        out.discards["second_order_rank"] = 1
        if rank_rule == "no_strict":
            out.unresolved.append({"face": list(face), "why": "no strict local minimum here (second-order rule), "
                                   "but the face's φ_jφ_jᵀ are not proved independent: non-strict minima on "
                                   "segments of constant energy are not excluded"})
        out.seconds = time.perf_counter() - t0
        return out
    U = face_bounds(fd, face, basic)
    if isinstance(U, str):
        out.unresolved.append({"face": list(face), "why": U})
        out.seconds = time.perf_counter() - t0
        return out
    lo0 = np.zeros(fd.kappa)
    tau = fd.tau
    stack = [(lo0, U.copy())]
    while stack:
        if (deadline is not None and time.perf_counter() > deadline) or (max_boxes is not None
                                                                         and out.boxes >= max_boxes):
            why = "time limit" if deadline is not None and time.perf_counter() > deadline else "box budget"
            out.unresolved.append({"face": list(face), "why": f"{why} reached with {len(stack)} boxes left",
                                   "boxes_left": len(stack)})
            break
        lo, hi = stack.pop()
        if any(_inside(lo, hi, r, face) for r in out.roots):
            continue
        out.boxes += 1
        lo, hi, why = _narrow(fd, face, lo, hi)
        if why is not None:
            out.discards[why] = out.discards.get(why, 0) + 1
            continue
        if _rel_width(lo, hi, face, tau) <= NEWTON_WIDTH:
            centre = np.zeros(fd.kappa)
            centre[list(face)] = 0.5 * (lo[list(face)] + hi[list(face)])
            z = face_newton(fd, face, centre, box=(lo, hi))
            near = z is not None and all(lo[j] - _slack(lo, hi, j, z) <= z[j] <= hi[j] + _slack(lo, hi, j, z)
                                         for j in face)
            known = near and any(all(r.lo[j] <= z[j] <= r.hi[j] for j in face) for r in out.roots)
            if near and not known:
                z = _arb_polish(hook, fd, face, z)
                for rel in ROOT_RELATIVE:  # the widest box first; small γ needs tighter ones
                    rlo, rhi = _root_box(z, lo, hi, face, rel)
                    k = enclose.krawczyk(hook, fd, face, rlo, rhi, z)
                    if k.status == "unique":
                        break
                if k.status == "unique":
                    kind, info = enclose.classify_root_box(hook, fd, face, rlo, rhi)
                    if kind == "degenerate":
                        kind, info = _classify_tighter(hook, fd, face, z, rlo, rhi, kind, info)
                    out.roots.append(FaceRoot(face, kind, z, rlo, rhi, info | {"krawczyk_ratio": k.ratio}))
                    if _inside(lo, hi, out.roots[-1], face):
                        continue
            k = enclose.krawczyk(hook, fd, face, lo, hi, centre)
            if k.status == "none":
                out.discards["krawczyk"] = out.discards.get("krawczyk", 0) + 1
                continue
        halves = _split(lo, hi, face, U, tau)
        if halves is None:
            out.unresolved.append({"face": list(face), "why": "a surviving box is too thin to split (a degenerate "
                                   "or non-isolated stationary point, or one at the face's boundary)",
                                   "lo": lo[list(face)].tolist(), "hi": hi[list(face)].tolist()})
            continue
        stack.extend(halves[::-1])
    out.seconds = time.perf_counter() - t0
    return out


def all_faces(kappa: int):
    """Every face, smallest first."""
    for m in range(kappa + 1):
        yield from combinations(range(kappa), m)
