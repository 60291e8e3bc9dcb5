"""Ball-arithmetic tests on one box of one face, for the fixed-γ branch and bound (docs/landscape.md).

A *face* F is a set of latent columns: on it ν_j > 0 for j ∈ F and ν_j = 0 otherwise. A *box* gives each j ∈ F a
range [lo_j, hi_j] (lo_j may be 0: the closure of the face). Everything here is rigorous: python-flint's Arb balls
enclose every exact value, and a test only answers "certainly" or "undecided".

The per-coordinate sign test (Tipping & Faul 2003, written for n columns). For coordinate j let
A_j = γI + Σ_{k ∈ F∖j} ν_k φ_k φ_kᵀ, s_j = φ_jᵀ A_j⁻¹ φ_j and q_j = ‖φ_jᵀ A_j⁻¹ X‖² (neither depends on ν_j). Then

* L_full: ∂E/∂ν_j = [n s_j (1 + ν_j s_j) − q_j] / (1 + ν_j s_j)²,
* L_diag: ∂E/∂ν_j = n c_j / (γ + ν_j c_j) − q_j / (1 + ν_j s_j)².

Enclosing s_j and q_j over the other coordinates' ranges uses that A_j is monotone in the Loewner order: with
A_lo, A_hi its values at the box's low and high corners, A_hi⁻¹ ⪯ A_j⁻¹ ⪯ A_lo⁻¹ on the whole box, so
s_j ∈ [φᵀA_hi⁻¹φ, φᵀA_lo⁻¹φ] and, writing A_j⁻¹ = A_lo⁻¹ − Δ with 0 ⪯ Δ ⪯ D = A_lo⁻¹ − A_hi⁻¹,
|φᵀΔx| ≤ √(φᵀDφ · xᵀDx) (Cauchy–Schwarz in the semi-inner product Δ). Two point inversions per coordinate, no
interval matrix inverse (whose widths blow up): the enclosures stay tight on wide boxes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaetheory.certify.interval import ball_cholesky_ok, mid_matrix


SHIFT = 0.1  #: τ_j = SHIFT·γ/c_j: below this scale ν_j hardly moves the gradient (landscape.fixed._split)
CENTRED_MAX_WIDTH = 1.0  #: the centred form is tried only on boxes whose every side spans less than this in
#: log(τ_j + ν_j): on wider ones its derivative enclosures are too loose to decide (measured: it discarded 3 of
#: 3,500 such boxes on d = 3 faces, against 1,300 of 3,400 narrow ones), and it costs most of a box's time


def flint_mod():
    import flint  # python-flint; imported on use

    return flint


@dataclass
class FaceData:
    """Problem data in Arb for one run (Φ, X, γ, c_j, n) and which energy (``full`` or ``diag``)."""

    covariance: str
    Phi: np.ndarray
    X: np.ndarray
    gamma: float

    def __post_init__(self):
        flint = flint_mod()
        self.flint = flint
        self.d, self.kappa = self.Phi.shape
        self.n = self.X.shape[1]
        self.aPhi = flint.arb_mat(self.Phi.tolist())
        self.aX = flint.arb_mat(self.X.tolist())
        self.agamma = flint.arb(self.gamma)
        self.cols = [flint.arb_mat([[float(v)] for v in self.Phi[:, j]]) for j in range(self.kappa)]
        self.c = [(self.cols[j].transpose() * self.cols[j])[0, 0] for j in range(self.kappa)]
        self.an = flint.arb(self.n)
        self.gamma_eye = flint.arb_mat(self.d, self.d)
        for i in range(self.d):
            self.gamma_eye[i, i] = self.agamma
        self.gamma_inv_eye = flint.arb_mat(self.d, self.d)
        for i in range(self.d):
            self.gamma_inv_eye[i, i] = 1 / self.agamma
        self._columns: dict = {}
        #: τ_j = SHIFT·γ/c_j per column: the scale below which ν_j hardly moves the gradient (fixed._split)
        self.tau = SHIFT * self.gamma / np.sum(self.Phi**2, axis=0)

    def columns(self, idx):
        """(Φ_idx, Φ_idxᵀ) as Arb matrices (exact: float entries), cached per column set."""
        key = tuple(idx)
        if key not in self._columns:
            P = self.flint.arb_mat(self.Phi[:, list(key)].tolist())
            self._columns[key] = (P, P.transpose())
        return self._columns[key]


def _inv_A(fd: FaceData, idx, nu):
    """(γI + Σ_{k ∈ idx} ν_k φ_k φ_kᵀ)⁻¹ in Arb, for exact float values ν (ZeroDivisionError if not invertible)."""
    flint = fd.flint
    if not idx:
        return fd.gamma_inv_eye
    P, Pt = fd.columns(idx)
    m = len(idx)
    D = flint.arb_mat([[float(nu[k]) if a == b else 0.0 for b in range(m)] for a, k in enumerate(idx)])
    return (P * D * Pt + fd.gamma_eye).inv()


def _quad_ranges(fd: FaceData, Mlo, Mhi, js):
    """For each column j in `js`: (s_lo, s_hi, q_lo, q_hi) as balls, from A_lo⁻¹ = Mlo and A_hi⁻¹ = Mhi."""
    flint = fd.flint
    arb = flint.arb
    zero = arb(0)
    cols = flint.arb_mat(fd.d, len(js))
    for a, j in enumerate(js):
        for i in range(fd.d):
            cols[i, a] = fd.aPhi[i, j]
    LoP, HiP = Mlo * cols, Mhi * cols
    sPlo = cols.transpose() * LoP  # only the diagonal is used
    sPhi = cols.transpose() * HiP
    pX = LoP.transpose() * fd.aX  # φ_jᵀ A_lo⁻¹ x_i
    XLo, XHi = fd.aX.transpose() * (Mlo * fd.aX), fd.aX.transpose() * (Mhi * fd.aX)
    dx = [upper_nonneg(XLo[i, i] - XHi[i, i]) for i in range(fd.n)]
    out = []
    for a in range(len(js)):
        s_lo, s_up = sPhi[a, a], sPlo[a, a]
        ds = upper_nonneg(s_up - s_lo)
        q_lo, q_hi = zero, zero
        for i in range(fd.n):
            p = pX[a, i]
            w = (ds * dx[i]).sqrt().upper() if ds * dx[i] > 0 else zero
            lo_abs = p.abs_lower() - w
            hi_abs = p.abs_upper() + w
            if lo_abs > 0:
                q_lo += lo_abs * lo_abs
            q_hi += hi_abs * hi_abs
        out.append((lower_nonneg(s_lo), arb(s_up.upper()), lower_nonneg(q_lo), arb(q_hi.upper())))
    return out


def down(x) -> float:
    """A float ≤ every value in the ball x."""
    return float(np.nextafter(float(x.lower()), -np.inf))


def up(x) -> float:
    """A float ≥ every value in the ball x."""
    return float(np.nextafter(float(x.upper()), np.inf))


def upper_nonneg(x):
    """An exact ball at a rigorous upper bound of x, clipped at 0 (x is ≥ 0 in exact arithmetic)."""
    hi = x.upper()  # an exact ball (radius 0)
    return hi if hi > 0 else flint_mod().arb(0)


def lower_nonneg(x):
    """An exact ball at a rigorous lower bound of x, clipped at 0 (x is ≥ 0 in exact arithmetic)."""
    lo = x.lower()  # an exact ball (radius 0) at a rigorous lower bound
    return lo if lo > 0 else flint_mod().arb(0)


@dataclass
class SignTest:
    """Outcome of the sign test on one box: ``discard`` (no KKT point of the face in it) with the coordinate that
    decided it, or the per-coordinate ranges for the caller (contraction for L_full)."""

    discard: bool
    why: str = ""
    contract: dict | None = None  # j -> (lo, hi) of the only ν_j where ∂E/∂ν_j can vanish (L_full)


def sign_test(fd: FaceData, face: tuple[int, ...], lo: np.ndarray, hi: np.ndarray) -> SignTest:
    """Per-coordinate sign test on the box {ν_j ∈ [lo_j, hi_j], j ∈ face; ν_j = 0 otherwise}.

    Discards when, for some j ∈ face, 0 ∉ ∂E/∂ν_j over the box, or for some j ∉ face, ∂E/∂ν_j < 0 throughout (the
    energy decreases as ν_j leaves 0: no KKT point). For L_full also returns the range where the stationary value
    ν_j* = q_j/(n s_j²) − 1/s_j can lie (the box can be contracted to it)."""
    arb = fd.flint.arb
    n = fd.an
    face = tuple(face)
    out_cols = [j for j in range(fd.kappa) if j not in face]
    narrow = all(math.log((hi[j] + fd.tau[j]) / (lo[j] + fd.tau[j])) < CENTRED_MAX_WIDTH for j in face)
    try:
        Mlo, Mhi = _inv_A(fd, face, lo), _inv_A(fd, face, hi)
        ranges = dict(zip(out_cols, _quad_ranges(fd, Mlo, Mhi, out_cols))) if out_cols else {}
        for j in out_cols:  # ν_j = 0: ∂E/∂ν_j = n s_j − q_j (L_full) or n c_j/γ − q_j (L_diag)
            s_lo, s_hi, q_lo, q_hi = ranges[j]
            g_up = (n * s_hi if fd.covariance == "full" else n * fd.c[j] / fd.agamma) - q_lo
            if g_up < 0:
                return SignTest(True, f"inactive {j}: dE/dnu < 0")
            if narrow and g_up > 0 and not (n * s_lo if fd.covariance == "full" else n * fd.c[j] / fd.agamma) - q_hi > 0:
                c_lo, c_up = centred(fd, face, j, lo, hi, Mlo, Mhi)
                if c_up < 0:
                    return SignTest(True, f"inactive {j}: centred form < 0")
        contract = {}
        for j in face:
            others = tuple(k for k in face if k != j)
            Mlo_j, Mhi_j = _inv_A(fd, others, lo), _inv_A(fd, others, hi)
            s_lo, s_hi, q_lo, q_hi = _quad_ranges(fd, Mlo_j, Mhi_j, [j])[0]
            vlo, vhi = arb(float(lo[j])), arb(float(hi[j]))
            if fd.covariance == "full":
                g_low = n * s_lo * (1 + vlo * s_lo) - q_hi
                g_up = n * s_hi * (1 + vhi * s_hi) - q_lo
            else:
                c = fd.c[j]
                g_low = n * c / (fd.agamma + vhi * c) - q_hi / ((1 + vlo * s_lo) ** 2)
                g_up = n * c / (fd.agamma + vlo * c) - q_lo / ((1 + vhi * s_hi) ** 2)
            if g_low > 0:
                return SignTest(True, f"active {j}: dE/dnu > 0")
            if g_up < 0:
                return SignTest(True, f"active {j}: dE/dnu < 0")
            if narrow:
                c_lo, c_up = centred(fd, face, j, lo, hi, Mlo_j, Mhi_j)
                if c_lo > 0 or c_up < 0:
                    return SignTest(True, f"active {j}: centred form excludes 0")
            if fd.covariance == "full" and s_lo > 0:
                top = q_hi / (n * s_lo * s_lo) - 1 / s_hi
                bot = q_lo / (n * s_hi * s_hi) - 1 / s_lo
                contract[j] = (down(bot), up(top))
            elif fd.covariance == "diag" and s_lo > 0:
                contract[j] = _diag_range(fd, j, s_lo, s_hi, q_lo, q_hi, float(lo[j]), float(hi[j]))
    except ZeroDivisionError:
        return SignTest(False, "a corner matrix was not provably invertible")
    return SignTest(False, contract=contract)


def centred(fd: FaceData, face, j, lo, hi, Mlo, Mhi):
    """Centred (mean-value) enclosure of h_j, a positive multiple of ∂E/∂ν_j (L_full: n s(1 + ν_j s) − q; L_diag:
    ∂E/∂ν_j itself), over the box: h_j(c) + Σ_k ∂h_j/∂ν_k(B)(ν_k − c_k). It keeps the first-order correlation between
    s_j and q_j that the separate enclosures lose (h_j is a small difference of large terms near stationary points).
    The derivatives use ∂s_j/∂ν_k = −(φ_jᵀA⁻¹φ_k)² and ∂q_j/∂ν_k = −2 Σ_i (φ_jᵀA⁻¹x_i)(φ_jᵀA⁻¹φ_k)(φ_kᵀA⁻¹x_i),
    every uᵀA⁻¹v enclosed by the Loewner bound uᵀA_lo⁻¹v ± √(uᵀDu · vᵀDv). Returns (lower, upper) balls."""
    flint = fd.flint
    arb = flint.arb
    n = fd.an
    others = [k for k in face if k != j]
    cols = [j] + others
    m1 = len(cols)
    P = flint.arb_mat(fd.d, m1 + fd.n)
    for a, k in enumerate(cols):
        for i in range(fd.d):
            P[i, a] = fd.aPhi[i, k]
    for b in range(fd.n):
        for i in range(fd.d):
            P[i, m1 + b] = fd.aX[i, b]
    c = np.zeros(fd.kappa)
    c[list(face)] = 0.5 * (np.asarray(lo)[list(face)] + np.asarray(hi)[list(face)])
    Mc = _inv_A(fd, tuple(others), c)
    GL, GH, GC = P.transpose() * Mlo * P, P.transpose() * Mhi * P, P.transpose() * Mc * P
    tot = m1 + fd.n
    Dd = [upper_nonneg(GL[u, u] - GH[u, u]) for u in range(tot)]

    def enc(u, v):
        if u == v:
            return arb(GH[u, u].lower()).union(arb(GL[u, u].upper()))
        w = (Dd[u] * Dd[v]).sqrt().upper() if Dd[u] * Dd[v] > 0 else arb(0)
        return GL[u, v] + arb(0, w)

    X0 = m1
    s_c = GC[0, 0]
    q_c = arb(0)
    for b in range(fd.n):
        q_c += GC[0, X0 + b] * GC[0, X0 + b]
    s_B = enc(0, 0)
    b_B = [enc(0, X0 + b) for b in range(fd.n)]
    q_B = arb(0)
    for v in b_B:
        q_B += v * v
    nu_j_c, nu_j_B = arb(float(c[j])), _ball(fd, lo[j], hi[j])
    full = fd.covariance == "full"
    if full:
        h_c = n * s_c * (1 + nu_j_c * s_c) - q_c
        dh_j = n * s_B * s_B
    else:
        cj = fd.c[j]
        h_c = n * cj / (fd.agamma + nu_j_c * cj) - q_c / ((1 + nu_j_c * s_c) ** 2)
        t = 1 + nu_j_B * s_B
        dh_j = -n * cj * cj / ((fd.agamma + nu_j_B * cj) ** 2) + 2 * q_B * s_B / (t ** 3)
    h = h_c + dh_j * (_ball(fd, lo[j], hi[j]) - nu_j_c) if j in face else h_c
    for a, k in enumerate(others, start=1):
        a_jk = enc(0, a)
        ds = -(a_jk * a_jk)
        dq = arb(0)
        for b in range(fd.n):
            dq += b_B[b] * enc(a, X0 + b)
        dq = -2 * a_jk * dq
        if full:
            dh = n * ds * (1 + 2 * nu_j_B * s_B) - dq
        else:
            t = 1 + nu_j_B * s_B
            dh = -dq / (t * t) + 2 * q_B * nu_j_B * ds / (t ** 3)
        h += dh * (_ball(fd, lo[k], hi[k]) - arb(float(c[k])))
    return h.lower(), h.upper()


def _ball(fd: FaceData, a, b):
    arb = fd.flint.arb
    return arb(float(a)) if a == b else arb(float(a)).union(arb(float(b)))


def _diag_range(fd: FaceData, j, s_lo, s_hi, q_lo, q_hi, a: float, b: float) -> tuple[float, float]:
    """L_diag: where in [a, b] the stationarity n c (1 + νs)² = q(γ + νc) can hold for s ∈ [s_lo, s_hi],
    q ∈ [q_lo, q_hi]. Upper end: n c s_lo² ν² ≤ q_hi(γ + νc). Lower end: n c (1 + ν s_hi)² ≥ q_lo(γ + νc), a quadratic
    ≥ 0 outside its roots (r1, r2); when [a, r] lies inside that gap it is cut. Returns (lo, hi) (lo > hi: none)."""
    arb = fd.flint.arb
    n, c, g = fd.an, fd.c[j], fd.agamma
    A = n * c * s_lo * s_lo
    top = (q_hi * c + (q_hi * q_hi * c * c + 4 * A * q_hi * g).sqrt()) / (2 * A)
    hi_out = min(b, up(top))
    lo_out = a
    A2 = n * c * s_hi * s_hi
    B2 = 2 * n * c * s_hi - q_lo * c
    C2 = n * c - q_lo * g
    disc = B2 * B2 - 4 * A2 * C2
    if disc > 0:
        r1 = (-B2 - disc.sqrt()) / (2 * A2)
        r2 = (-B2 + disc.sqrt()) / (2 * A2)
        if r1 < arb(a) and r2 > arb(a):  # [a, r2) lies in the gap where the quadratic is < 0
            lo_out = max(a, down(r2))
    return lo_out, hi_out


# ---------------------------------------------------------------- Krawczyk on a face box, classification


def _theta(fd: FaceData, face, lo, hi):
    """κ balls: ν_j ∈ [lo_j, hi_j] on the face, exactly 0 elsewhere."""
    arb = fd.flint.arb
    th = [arb(0)] * fd.kappa
    for j in face:
        a, b = float(lo[j]), float(hi[j])
        th[j] = arb(a) if a == b else arb(a).union(arb(b))
    return th


def evaluate(hook, fd: FaceData, face, lo, hi):
    """(gradient over all κ coordinates, Hessian over the face) enclosed over the box, by the variant's
    ``interval_derivatives`` hook (vaetheory.core.protocol)."""
    return hook(_theta(fd, face, lo, hi), fd.aPhi, fd.aX, fd.agamma, list(face), False)


@dataclass
class KrawczykOutcome:
    status: str  # "unique" (exactly one root in the box), "none" (no root), "undecided"
    ratio: float = float("inf")


def krawczyk(hook, fd: FaceData, face, lo, hi, centre) -> KrawczykOutcome:
    """Krawczyk test for the restricted gradient g(ν_F) = ∇_F E on the box [lo, hi] (face coordinates), centred at
    `centre` (a point of the box): K = x̂ − C g(x̂) + (I − C J(B))(B − x̂), C ≈ J(x̂)⁻¹. K ⊂ int B → exactly one
    zero of g in B; K ∩ B = ∅ → none."""
    flint = fd.flint
    arb = flint.arb
    face = list(face)
    m = len(face)
    try:
        gc, Hc = evaluate(hook, fd, face, centre, centre)
        _, J = evaluate(hook, fd, face, lo, hi)
        C = mid_matrix(flint, mid_matrix(flint, Hc).inv())
    except (ZeroDivisionError, ValueError):
        return KrawczykOutcome("undecided")
    gv = flint.arb_mat([[gc[j]] for j in face])
    Cg = C * gv
    CJ = C * J
    dev = [arb(float(lo[j]) - float(centre[j])).union(arb(float(hi[j]) - float(centre[j]))) for j in face]
    inside, disjoint, worst = True, False, 0.0
    for a, j in enumerate(face):
        k = arb(float(centre[j])) - Cg[a, 0]
        for b in range(m):
            e = (arb(1) if a == b else arb(0)) - CJ[a, b]
            k += e * dev[b]
        blo, bhi = arb(float(lo[j])), arb(float(hi[j]))
        if not (k > blo and k < bhi):
            inside = False
        if k < blo or k > bhi:
            disjoint = True
        half = 0.5 * (float(hi[j]) - float(lo[j]))
        if half > 0:
            worst = max(worst, float(k.rad()) / half)
    if disjoint:
        return KrawczykOutcome("none", worst)
    return KrawczykOutcome("unique" if inside else "undecided", worst)


def ball_cholesky_pd(H) -> bool:
    """True when every symmetric matrix in the balls of H is positive definite (ball Cholesky, positive pivots)."""
    import flint

    return ball_cholesky_ok(flint, H, 0)


def negative_direction(flint, H) -> bool:
    """True when some float vector v has vᵀHv < 0 for every matrix in the balls of H (so H is indefinite or
    negative definite throughout): tried along the midpoint's eigenvectors of negative eigenvalue."""
    m = H.nrows()
    Hm = np.array([[float(H[i, j].mid()) for j in range(m)] for i in range(m)])
    w, V = np.linalg.eigh(0.5 * (Hm + Hm.T))
    for e in range(m):
        if w[e] >= 0:
            break
        v = flint.arb_mat([[float(x)] for x in V[:, e]])
        if (v.transpose() * H * v)[0, 0] < 0:
            return True
    return False


def classify_root_box(hook, fd: FaceData, face, lo, hi) -> tuple[str, dict]:
    """Kind of the unique stationary point of the face proved in [lo, hi]:

    ``min`` (every inactive gradient > 0 and the face Hessian positive definite on the box: a strict local
    minimum), ``saddle`` (a KKT point: inactive gradients > 0, but a direction of negative curvature),
    ``not_kkt`` (some inactive gradient < 0 throughout: stationary on the face, not a KKT point),
    ``degenerate`` (an inactive gradient's enclosure holds 0, or the curvature is undecided)."""
    flint = fd.flint
    try:
        g, H = evaluate(hook, fd, face, lo, hi)
    except (ZeroDivisionError, ValueError):
        return "degenerate", {"why": "ball evaluation failed on the root box"}
    inactive = [j for j in range(fd.kappa) if j not in face]
    lows = [g[j] for j in inactive]
    info = {"min_inactive_grad_lower": min((float(x.lower().mid()) for x in lows), default=None)}
    if any(x < 0 for x in lows):
        return "not_kkt", info
    if not all(x > 0 for x in lows):
        return "degenerate", info | {"why": "an inactive gradient's enclosure contains 0 (no strict complementarity)"}
    if not face or ball_cholesky_pd(H):
        return "min", info
    if negative_direction(flint, H):
        return "saddle", info
    return "degenerate", info | {"why": "the face Hessian is neither proved positive definite nor indefinite"}

