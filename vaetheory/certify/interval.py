"""Interval-arithmetic proofs that an end point is a strict local minimum (docs/proofs.md has the theorem).

For a point θ̂ with active set A (free coordinates, and non-negative ones above the certificate's threshold; the
others are held at exactly 0), and γ either fixed, a free coordinate (learned, above its floor) or at its floor:

1. **refine**: a few Newton steps on the restricted gradient g(z) = ∇_z E, z = (θ_A[, γ]), in Arb at
   `precision_bits`, starting from the float64 point (the float point is only accurate to ~1e-16 and the Hessian
   entries at small γ are differences of large terms, so a box around the float point itself is too wide);
2. **box**: B = z* ± ρ|z*| with a tiny relative radius ρ (1e-24 at 256 bits, then 1e-34 at 384 bits: `LADDER`);
3. **Krawczyk**: with C ≈ J(z*)⁻¹ and J(B) an enclosure of the restricted Hessian over B,
   K(B) = z* − C g(z*) + (I − C J(B))(B − z*); K(B) ⊂ int B proves that B holds exactly one stationary point of
   the restricted problem;
4. **positive definite**: a Cholesky factorisation in ball arithmetic of J(B) − sI succeeds (every symmetric matrix
   in J(B) is then ≻ sI) for s = half the midpoint's smallest eigenvalue estimate (else s = 0);
5. **strict complementarity**: every inactive gradient (and ∂E/∂γ at the floor) has a positive lower bound over B;
6. **agreement**: the variant's interval hook agrees with autograd at the reported point (it is the energy that
   was searched), and the reported float64 point lies within `AGREE_RTOL` (relative, per coordinate; inactive
   coordinates relative to their block's scale) of the box centre: ``point_offset`` records that distance.
All six → ``proved``: B contains exactly one point z* with g(z*) = 0, it is a strict local minimum of the energy
on {θ_nonneg ≥ 0 (, γ ≥ floor)} with the reported active set, and it lies within ``point_offset`` + ρ of the
reported point. `reprove` re-checks a stored record (replay): same box, same tests, and the reported point no
farther from the centre than recorded. Enclosures come from the variant's optional ``interval_derivatives`` hook (the
protocol docstring); a variant without it gets ``not_applicable``.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Sequence

import numpy as np

from vaetheory.certify.proof import Proof, not_applicable
from vaetheory.search.multistart import ACTIVE_RTOL, active_mask, block_scales
from vaetheory.search.objective import Objective

METHOD = "krawczyk-arb"
DEFAULT_BITS = 256
#: (precision bits, relative box radius) tried in turn; the second rescues ill-conditioned points
LADDER: tuple[tuple[int, float], ...] = ((256, 1e-24), (384, 1e-34))
AGREE_RTOL = 1e-4  #: the reported point must lie within this relative distance of the proved box centre
RHO_MAX = 1e-4  #: largest box radius a stored record may claim
NEWTON_STEPS = 12
HOOK_RTOL = 1e-6  #: hook vs autograd agreement at the reported point (relative to the gradient/Hessian scale)
GAMMA_FLOOR_RTOL = 1e-9  #: γ within this relative distance of the floor is "at the floor" (as certify.numeric)


def _defining_class(obj, name: str):
    return next((c for c in type(obj).__mro__ if name in vars(c)), None)


def interval_hook(variant):
    """The variant's optional ``interval_derivatives`` method, unless ``energy`` is overridden in a subclass below the
    class that defines the hook (then the hook belongs to another energy)."""
    hook = getattr(variant, "interval_derivatives", None)
    if hook is None:
        return None
    h_cls, e_cls = _defining_class(variant, "interval_derivatives"), _defining_class(variant, "energy")
    if h_cls is None or e_cls is None:
        return hook
    return hook if issubclass(h_cls, e_cls) else None


@contextmanager
def _precision(bits: int):
    import flint

    old = flint.ctx.prec
    flint.ctx.prec = int(bits)
    try:
        yield flint
    finally:
        flint.ctx.prec = old


class _Problem:
    """The restricted problem at one point: which coordinates move, how the hook is called."""

    def __init__(self, flint, hook, objective: Objective, active: Sequence[int], gamma: float, role: str,
                 floor: float = 0.0):
        self.flint = flint
        self.floor = float(floor)
        self.hook = hook
        self.P = objective.size
        self.active = [int(j) for j in active]
        self.role = role
        self.gamma = gamma
        self.Phi = flint.arb_mat(np.asarray(objective.problem.Phi, dtype=np.float64).tolist())
        self.X = flint.arb_mat(np.asarray(objective.problem.X, dtype=np.float64).tolist())
        nonneg = objective.layout.nonneg
        act = np.zeros(self.P, dtype=bool)
        act[self.active] = True
        self.inactive = [int(j) for j in np.flatnonzero(~act & nonneg)]
        self.nonneg_z = [bool(nonneg[j]) for j in self.active] + ([True] if role == "free" else [])

    @property
    def size(self) -> int:
        return len(self.active) + (1 if self.role == "free" else 0)

    def evaluate(self, z):
        """(restricted gradient, restricted Hessian, inactive gradients) enclosed over the balls z."""
        arb = self.flint.arb
        theta = [arb(0)] * self.P
        for a, j in enumerate(self.active):
            theta[j] = z[a]
        gamma = z[-1] if self.role == "free" else arb(self.gamma)
        with_gamma = self.role != "fixed"
        g, H = self.hook(theta, self.Phi, self.X, gamma, self.active, with_gamma)
        m = len(self.active)
        g_r = [g[j] for j in self.active]
        g_in = [g[j] for j in self.inactive]
        if self.role == "free":
            g_r.append(g[self.P])
        elif self.role == "floor":
            g_in.append(g[self.P])
            Hm = self.flint.arb_mat(m, m)
            for a in range(m):
                for b in range(m):
                    Hm[a, b] = H[a, b]
            H = Hm
        return g_r, H, g_in


def mid_matrix(flint, H):
    """The ball matrix of the midpoints of H (exact balls of radius 0)."""
    n = H.nrows()
    M = flint.arb_mat(n, n)
    for i in range(n):
        for j in range(n):
            M[i, j] = flint.arb(H[i, j].mid())
    return M


def ball_cholesky_ok(flint, H, shift) -> bool:
    """True when the ball Cholesky of H − shift·I has certainly positive pivots (so every symmetric matrix with
    entries in the balls of H's lower triangle is ≻ shift·I)."""
    n = H.nrows()
    L = [[None] * n for _ in range(n)]
    for j in range(n):
        s = H[j, j] - shift
        for k in range(j):
            s -= L[j][k] * L[j][k]
        if not s > 0:
            return False
        L[j][j] = s.sqrt()
        for i in range(j + 1, n):
            t = H[i, j]
            for k in range(j):
                t -= L[i][k] * L[j][k]
            L[i][j] = t / L[j][j]
    return True


def _float(x) -> float:
    return float(x.mid())


def _refine(rp: _Problem, z0: list[float], bits: int, first=None):
    """Newton steps in Arb from the float point; returns exact (zero-radius) balls, or a reason string on failure.
    `first`: the evaluation at z0 when the caller already has it. Newton converges quadratically here, so a step
    of relative size s leaves an error of about s²: refinement stops after a step below 2^-(bits/2 - 20) (the
    Krawczyk test then decides whether the centre is good enough; the next rung of LADDER has more bits). Returns
    (z, the evaluation at z or None): after a step below that size the point before the step is returned, with the
    evaluation already made there (the step is ~1e-33 relative, far inside a box of 1e-24), so the box test does
    not evaluate the centre again."""
    flint = rp.flint
    arb = flint.arb
    z = [arb(v) for v in z0]
    tol = 2.0 ** (-(bits // 2 - 20))
    for k in range(NEWTON_STEPS):
        ev = first if (k == 0 and first is not None) else rp.evaluate(z)
        g, H, _ = ev
        rhs = flint.arb_mat([[flint.arb(x.mid())] for x in g])
        try:
            delta = mid_matrix(flint, H).solve(rhs)
        except (ZeroDivisionError, ValueError):
            return "the restricted Hessian at the refined point is singular to working precision", None
        step = 0.0
        new = []
        for a in range(len(z)):
            d = delta[a, 0].mid()
            zi = arb((z[a] - d).mid())
            if rp.nonneg_z[a] and not zi > 0:
                return "Newton refinement left the face (an active coordinate became ≤ 0)", None
            step = max(step, abs(_float(d)) / max(abs(_float(zi)), 1e-300))
            new.append(zi)
        if step < tol:
            return z, ev
        z = new
    return z, None  # the Krawczyk test decides whether the refined point is good enough


def _radii(rp: _Problem, z, rho: float, scales: list[float]):
    arb = rp.flint.arb
    out = []
    for a, zi in enumerate(z):
        base = abs(_float(zi)) if rp.nonneg_z[a] else scales[a]
        out.append(arb(rho) * arb(base))
    return out


def _prove_box(rp: _Problem, z, rho: float, scales: list[float], at_centre=None) -> dict:
    """Krawczyk + positive definiteness + inactive gradients on B = z ± ρ·scale (`at_centre`: rp.evaluate(z) when
    the caller has it). Returns a dict of evidence with ``failed`` (None when everything holds)."""
    flint = rp.flint
    arb = flint.arb
    r = _radii(rp, z, rho, scales)
    box = [zi + arb(0, ri.upper()) for zi, ri in zip(z, r)]
    out = {"failed": None, "min_eig_lower": None, "min_inactive_grad_lower": None}
    for a, b in enumerate(box):
        if rp.nonneg_z[a] and not b > 0:
            out["failed"] = "the box reaches a coordinate's bound (an active value ≤ 0)"
            return out
    if rp.role == "free" and not box[-1] > arb(rp.floor):
        out["failed"] = "the box reaches the gamma floor"
        return out
    try:
        g_c, H_c, _ = at_centre if at_centre is not None else rp.evaluate(z)
        _, J, g_in = rp.evaluate(box)
    except (ZeroDivisionError, ValueError) as exc:
        out["failed"] = f"ball evaluation failed ({type(exc).__name__}: Σ not provably invertible on the box)"
        return out
    n = len(z)
    try:
        C = mid_matrix(flint, mid_matrix(flint, H_c).inv())
    except (ZeroDivisionError, ValueError):
        out["failed"] = "the midpoint Hessian is not invertible"
        return out
    CJ = C * J
    gvec = flint.arb_mat([[x] for x in g_c])
    Cg = C * gvec
    ok = True
    worst = 0.0
    for i in range(n):
        k = -Cg[i, 0]
        for j in range(n):
            e = (arb(1) if i == j else arb(0)) - CJ[i, j]
            k += e * arb(0, r[j].upper())
        ratio = float(k.abs_upper()) / max(float(r[i].lower()), 1e-300)
        worst = max(worst, ratio)
        if not k.abs_upper() < r[i].lower():
            ok = False
    out["krawczyk_ratio"] = worst
    if not ok:
        out["failed"] = f"Krawczyk test failed: K(B) is not inside B (worst |K−z|/r = {worst:.3g})"
        return out
    try:
        lam = float(np.linalg.eigvalsh(np.array([[_float(J[i, j]) for j in range(n)] for i in range(n)]))[0])
    except np.linalg.LinAlgError:
        lam = 0.0
    shifts = [lam / 2, 0.0] if lam > 0 else [0.0]
    for s in shifts:
        if ball_cholesky_ok(flint, J, arb(s)):
            out["min_eig_lower"] = s
            break
    else:
        out["failed"] = "the restricted Hessian is not proved positive definite on the box"
        return out
    if g_in:
        lows = [float(x.lower()) for x in g_in]
        out["min_inactive_grad_lower"] = min(lows)
        if not all(x > 0 for x in g_in):
            out["failed"] = "an inactive gradient is not proved > 0 on the box"
            return out
    else:
        out["min_inactive_grad_lower"] = math.inf
    return out


def _hook_agrees(rp: _Problem, objective: Objective, theta: np.ndarray, gamma: float, at_point) -> str | None:
    """None when the hook's gradient and restricted Hessian at the reported point (inactive coordinates set to 0),
    `at_point` = rp.evaluate there, agree with autograd on the variant's energy; else a reason."""
    th = theta.copy()
    th[rp.inactive] = 0.0
    E, g, gg = objective.reference_value_and_grad(th, gamma)
    mask = np.zeros((1, objective.size), dtype=bool)
    mask[0, rp.active] = True
    H, order, valid = objective.active_hessian(th[None], np.array([gamma]), mask)
    idx = order[0][valid[0]]
    Ht = H[0][np.ix_(valid[0], valid[0])]
    g_r, Hi, g_in = at_point
    hook_full = np.zeros(objective.size)
    hook_full[rp.active] = [_float(x) for x in g_r[:len(rp.active)]]
    hook_full[rp.inactive] = [_float(x) for x in g_in[:len(rp.inactive)]]
    # Scale-free, per coordinate, as the numeric certificate measures stationarity: |Δg_i| b_i against
    # HOOK_RTOL max(|E|, 1, |g_i| b_i). The last term matters for inactive coordinates: at γ = 1e-6 their gradients
    # reach 1e7 |E|, and two correct evaluations agree there only to ~1e-12 of the gradient itself, which is far
    # above 1e-6 |E|. Active gradients are ≈ 0 at a stationary point, so there the test stays absolute in |E|.
    b = block_scales(objective, th[None])[0]
    S = max(abs(E), 1.0)
    if (np.abs(hook_full - g) * b > HOOK_RTOL * np.maximum(S, np.abs(g) * b)).any():
        return "the variant's interval hook disagrees with autograd on the gradient of its energy"
    if rp.role != "fixed":
        hg = _float(g_r[-1]) if rp.role == "free" else _float(g_in[-1])
        if abs(hg - gg) * gamma > HOOK_RTOL * max(S, abs(gg) * gamma):
            return "the variant's interval hook disagrees with autograd on the gamma derivative of its energy"
    pos = {j: a for a, j in enumerate(rp.active)}
    Hh = np.array([[_float(Hi[pos[i], pos[j]]) for j in idx] for i in idx])
    if np.abs(Hh - Ht).max() > HOOK_RTOL * max(float(np.abs(Ht).max()), 1e-300):
        return "the variant's interval hook disagrees with the Hessian of its energy"
    return None


def _floor(variant, learn_gamma: bool, floor: float | None) -> float:
    return 0.0 if not learn_gamma else float(variant.gamma.floor if floor is None else floor)


def _gamma_role(variant, gamma: float, learn_gamma: bool, floor: float | None) -> str:
    if not learn_gamma:
        return "fixed"
    fl = variant.gamma.floor if floor is None else floor
    return "floor" if gamma <= fl * (1 + GAMMA_FLOOR_RTOL) else "free"


def _scales_for(objective: Objective, theta: np.ndarray, active: Sequence[int], role: str, gamma: float):
    b = block_scales(objective, theta[None])[0]
    return [float(b[j]) for j in active] + ([gamma] if role == "free" else [])


def _digits(bits: int) -> int:
    return int(math.ceil(bits * math.log10(2))) + 3


def prove_point(objective: Objective, theta: np.ndarray, gamma: float, *, learn_gamma: bool = False,
                gamma_floor: float | None = None, active_rtol: float = ACTIVE_RTOL, bits: int | None = None,
                rho: float | None = None, agree_rtol: float = AGREE_RTOL) -> Proof:
    """Try to prove that a strict local minimum of the variant's energy on the constrained set lies in a tiny box
    whose centre is within `agree_rtol` (relative, per coordinate) of the float64 point `theta` (P,) at noise
    `gamma`, with the point's active set. Tries `LADDER` (precision, box radius) pairs in turn unless `bits`/`rho`
    are given."""
    t0 = time.perf_counter()
    variant = objective.variant
    hook = interval_hook(variant)
    if hook is None:
        return not_applicable(METHOD, f"variant {variant.name!r} offers no interval_derivatives hook")
    theta = np.asarray(theta, dtype=np.float64)
    role = _gamma_role(variant, float(gamma), learn_gamma, gamma_floor)
    active = [int(j) for j in np.flatnonzero(active_mask(objective, theta[None], active_rtol)[0])]
    if not active:
        return Proof("not_proved", METHOD, "no active coordinate", gamma_role=role)
    fl = _floor(variant, learn_gamma, gamma_floor)
    if role == "floor" and float(gamma) < fl * (1 - GAMMA_FLOOR_RTOL):
        return Proof("not_proved", METHOD, f"gamma {float(gamma):.3g} is below the floor {fl:g}: not a feasible point",
                     gamma_role=role)
    ladder = [(bits or b, rho or r) for b, r in LADDER] if bits is None or rho is None else [(bits, rho)]
    out = None
    for b, r in ladder:
        out = _prove_at(objective, hook, theta, float(gamma), active, role, b, r, agree_rtol, t0,
                        _floor(variant, learn_gamma, gamma_floor))
        if out.proved or out.extra.get("final"):
            break
    out.extra.pop("final", None)
    return out


def _prove_at(objective, hook, theta, gamma, active, role, bits, rho, agree_rtol, t0, floor) -> Proof:
    with _precision(bits) as flint:
        rp = _Problem(flint, hook, objective, active, gamma, role, floor)
        base = dict(precision_bits=bits, active=tuple(active), gamma_role=role)
        z0 = [float(theta[j]) for j in active] + ([gamma] if role == "free" else [])
        at_point = None
        try:
            at_point = rp.evaluate([rp.flint.arb(v) for v in z0])
            bad_hook = _hook_agrees(rp, objective, theta, gamma, at_point)
        except (ZeroDivisionError, ValueError) as exc:
            bad_hook = f"the interval hook failed at the reported point ({type(exc).__name__})"
        if bad_hook:
            return Proof("not_proved", METHOD, bad_hook, seconds=time.perf_counter() - t0, extra={"final": True},
                         **base)
        try:
            z, at_centre = _refine(rp, z0, bits, first=at_point)
        except (ZeroDivisionError, ValueError) as exc:
            z, at_centre = f"Newton refinement failed ({type(exc).__name__})", None
        if isinstance(z, str):
            return Proof("not_proved", METHOD, z, seconds=time.perf_counter() - t0, **base)
        scales = _scales_for(objective, theta, active, role, gamma)
        offset = _offset(rp, z, theta, gamma, scales, objective)
        center = tuple(x.mid().str(_digits(bits), radius=False) for x in z)
        base.update(center=center, point_offset=offset, box_radius=rho)
        try:
            ev = _prove_box(rp, z, rho, scales, at_centre)
        except (ZeroDivisionError, ValueError) as exc:
            ev = {"failed": f"ball evaluation failed ({type(exc).__name__})", "min_eig_lower": None,
                  "min_inactive_grad_lower": None}
    base.update(min_eig_lower=ev["min_eig_lower"], min_inactive_grad_lower=ev["min_inactive_grad_lower"])
    extra = {"krawczyk_ratio": ev.get("krawczyk_ratio")}
    if ev["failed"] is None and offset > agree_rtol:
        ev["failed"] = (f"a strict local minimum is proved {offset:.2g} (relative) from the reported point, farther "
                        f"than the agreement tolerance {agree_rtol:g}: the reported point is not that minimum")
        extra["final"] = True
    status = "proved" if ev["failed"] is None else "not_proved"
    reason = ev["failed"] or (f"the box holds exactly one stationary point of the restricted problem, the restricted "
                              f"Hessian is positive definite and every inactive gradient positive on it: a strict "
                              f"local minimum, within {offset:.2g} (relative) of the reported point")
    return Proof(status, METHOD, reason, seconds=time.perf_counter() - t0, extra=extra, **base)


def _offset(rp: _Problem, z, theta: np.ndarray, gamma: float, scales, objective: Objective) -> float:
    """Largest relative distance of the reported point from the (exact) box centre z, per coordinate scale: active
    non-negative coordinates relative to their own value, free ones and inactive ones to their block's scale."""
    arb = rp.flint.arb
    vals = [float(theta[j]) for j in rp.active] + ([gamma] if rp.role == "free" else [])
    worst = 0.0
    for a, (zi, v) in enumerate(zip(z, vals)):
        base = abs(_float(zi)) if rp.nonneg_z[a] else scales[a]
        worst = max(worst, float((arb(v) - zi).abs_upper()) / max(base, 1e-300))
    if rp.inactive:
        b = block_scales(objective, theta[None])[0]
        worst = max(worst, float(np.max(np.abs(theta[rp.inactive]) / b[rp.inactive])))
    return worst


def reprove(objective: Objective, theta: np.ndarray, gamma: float, stored: Proof, *, learn_gamma: bool = False,
            gamma_floor: float | None = None, active_rtol: float = ACTIVE_RTOL) -> Proof:
    """Re-check a stored proof from its record alone: rebuild the stored box (centre, relative radius, active set,
    γ role), run the Krawczyk, positive-definiteness and inactive-gradient tests on it again, and check that the
    reported point `theta` lies in that box. A moved point, an edited centre or radius, or another active set
    gives ``not_proved``: the reported point must lie no farther from the stored centre than the stored
    ``point_offset`` (+ the box radius)."""
    t0 = time.perf_counter()
    variant = objective.variant
    hook = interval_hook(variant)
    if hook is None:
        return not_applicable(METHOD, f"variant {variant.name!r} offers no interval_derivatives hook")
    if stored.status != "proved" or stored.center is None or stored.box_radius is None:
        return Proof("not_proved", METHOD, "the stored record holds no proved box to re-check")
    theta = np.asarray(theta, dtype=np.float64)
    role = _gamma_role(variant, float(gamma), learn_gamma, gamma_floor)
    active = [int(j) for j in np.flatnonzero(active_mask(objective, theta[None], active_rtol)[0])]
    bits = int(stored.precision_bits or DEFAULT_BITS)
    base = dict(precision_bits=bits, active=tuple(active), gamma_role=role, center=stored.center,
                box_radius=stored.box_radius)
    if tuple(active) != tuple(stored.active or ()) or role != stored.gamma_role:
        return Proof("not_proved", METHOD, "the reported point's active set or gamma role differs from the stored "
                     "proof's", **base)
    rho = float(stored.box_radius)
    if not (0 < rho <= RHO_MAX):
        return Proof("not_proved", METHOD, f"stored box radius {rho!r} out of range", **base)
    with _precision(bits) as flint:
        rp = _Problem(flint, hook, objective, active, float(gamma), role, _floor(variant, learn_gamma, gamma_floor))
        if len(stored.center) != rp.size:
            return Proof("not_proved", METHOD, "the stored box centre has the wrong number of coordinates", **base)
        try:
            z = [flint.arb(flint.arb(c).mid()) for c in stored.center]
        except (ValueError, TypeError):
            return Proof("not_proved", METHOD, "the stored box centre is not readable", **base)
        scales = _scales_for(objective, theta, active, role, float(gamma))
        offset = _offset(rp, z, theta, float(gamma), scales, objective)
        try:
            ev = _prove_box(rp, z, rho, scales)
        except (ZeroDivisionError, ValueError) as exc:
            ev = {"failed": f"ball evaluation failed ({type(exc).__name__})", "min_eig_lower": None,
                  "min_inactive_grad_lower": None}
    allowed = min(float(stored.point_offset or 0.0) * (1 + 1e-9) + rho, AGREE_RTOL)
    if ev["failed"] is None and offset > allowed:
        ev["failed"] = (f"the reported point lies {offset:.3g} (relative) from the stored box centre, but the proof "
                        f"records {stored.point_offset!r}: the point was moved off the proved minimum")
    base.update(point_offset=offset, min_eig_lower=ev["min_eig_lower"],
                min_inactive_grad_lower=ev["min_inactive_grad_lower"])
    status = "proved" if ev["failed"] is None else "not_proved"
    return Proof(status, METHOD, ev["failed"] or "stored box re-proved; the reported point lies in it",
                 seconds=time.perf_counter() - t0, **base)


def prove_points(objective: Objective, theta: np.ndarray, gamma: np.ndarray, *, select: np.ndarray | None = None,
                 learn_gamma: bool = False, gamma_floor: float | np.ndarray | None = None,
                 active_rtol: float = ACTIVE_RTOL,
                 bits: int | None = None) -> list[Proof | None]:
    """`prove_point` for each row of `theta` (R, P) where `select` (R,) is True (None elsewhere).

    Restarts often end at the same minimum. A point whose active set and γ role match an already proved box (and,
    unless γ is a coordinate, whose γ is the same) and which lies within `AGREE_RTOL` of that box's centre gets that
    box's proof with its own ``point_offset`` (`reuse_proof`): the box's theorem does not depend on which end point
    led to it, and replay re-checks every record on its own. Otherwise one Arb computation per point (ball
    arithmetic does not batch; a proof costs milliseconds at d ≤ 20). `gamma_floor` may be one floor per point (points
followed below the search floor are certified against their own floor)."""
    theta = np.asarray(theta, dtype=np.float64)
    gamma = np.broadcast_to(np.asarray(gamma, dtype=np.float64), (len(theta),))
    sel = np.ones(len(theta), dtype=bool) if select is None else np.asarray(select, dtype=bool)
    masks = active_mask(objective, theta, active_rtol)
    floors = None if gamma_floor is None else np.broadcast_to(np.asarray(gamma_floor, dtype=np.float64),
                                                              (len(theta),))
    boxes: dict[tuple, list[Proof]] = {}
    out: list[Proof | None] = []
    for i in range(len(theta)):
        if not sel[i]:
            out.append(None)
            continue
        fl = None if floors is None else float(floors[i])
        role = _gamma_role(objective.variant, float(gamma[i]), learn_gamma, fl)
        key = (tuple(int(j) for j in np.flatnonzero(masks[i])), role, None if role == "free" else float(gamma[i]), fl)
        pr = None
        for box in boxes.get(key, ()):
            pr = reuse_proof(objective, box, theta[i], float(gamma[i]), learn_gamma=learn_gamma,
                             gamma_floor=fl)
            if pr is not None:
                break
        if pr is None:
            pr = prove_point(objective, theta[i], float(gamma[i]), learn_gamma=learn_gamma, gamma_floor=fl,
                             active_rtol=active_rtol, bits=bits)
            if pr.proved:
                boxes.setdefault(key, []).append(pr)
        out.append(pr)
    return out


def reuse_proof(objective: Objective, proved: Proof, theta: np.ndarray, gamma: float, *, learn_gamma: bool = False,
                gamma_floor: float | None = None) -> Proof | None:
    """`proved`'s box for another point `theta` with the same active set and γ role: a copy of the record with this
    point's own ``point_offset``, or None when the point lies farther than `AGREE_RTOL` from the box centre (it may
    be another minimum with the same support). Only the distance is computed; the box was proved once."""
    t0 = time.perf_counter()
    variant = objective.variant
    hook = interval_hook(variant)
    bits = int(proved.precision_bits or DEFAULT_BITS)
    with _precision(bits) as flint:
        rp = _Problem(flint, hook, objective, proved.active, float(gamma), str(proved.gamma_role),
                      _floor(variant, learn_gamma, gamma_floor))
        z = [flint.arb(flint.arb(c).mid()) for c in proved.center]
        scales = _scales_for(objective, np.asarray(theta, dtype=np.float64), proved.active, rp.role, float(gamma))
        offset = _offset(rp, z, np.asarray(theta, dtype=np.float64), float(gamma), scales, objective)
    if not offset <= AGREE_RTOL:
        return None
    reason = (f"the box holds exactly one stationary point of the restricted problem, the restricted Hessian is "
              f"positive definite and every inactive gradient positive on it: a strict local minimum, within "
              f"{offset:.2g} (relative) of the reported point (box proved once for every end point that reached it)")
    return replace(proved, point_offset=offset, reason=reason, seconds=time.perf_counter() - t0,
                   extra=proved.extra | {"shared_box": True})
