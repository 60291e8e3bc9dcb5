"""Verdicts for certified points (docs/theory.md §5, docs/oracles.md): optimal | bad_local_min | undecided_min |
degenerate_min | saddle | not_converged.

A *minimum* verdict (``optimal``, ``bad_local_min``, ``undecided_min``) needs evidence that can carry it: a
non-empty latent support, every first-order test passed (absolutely where a block has no scale: `certify`), and an
active Hessian that is positive definite beyond the tolerance (`Certificate.strict`). A point that passes the
first-order tests and is positive *semi*definite only, or whose support is empty, is ``degenerate_min``: it may lie
on a flat valley (e.g. twin columns of Φ sharing one weight, where the energy is constant along ν_a + ν_b), and is
never counted as a strict minimum, good or bad; its reason says why and names parallel active columns and the
optimal support a valley connects to when there is one. The float test cannot tell a flat valley from a strict
minimum whose Hessian is merely ill-conditioned (relative eigenvalues of 1e-11 occur at interior minima with γ
learned far below 1e-6); an interval proof can: a ``degenerate_min`` with a non-empty support that is *proved* a
strict minimum (`vaetheory.verdict.proofs.settle`) gets its strict verdict (`strict_verdict`).

A certified minimum is judged against the oracle's answer. With a certain k*: ``optimal`` when its support is a
known optimal support (or, when the oracle lists only a witness, has size k*) and fits X; else ``bad_local_min``.
With an uncertain k* (oracle method ``none``, or a MIP not proven optimal) the oracle still holds a witness support
that fits X, so k* ≤ |witness|: a minimum whose support is larger than the witness, or does not fit X, is still a
proven ``bad_local_min`` (a sparser exact fit exists); one that fits with at most |witness| rows is
``undecided_min`` — it may be optimal or not, and nothing is claimed either way.

With γ learned, a point certified at the γ floor (box-constrained KKT) gets its verdict only as a γ → 0 limit
(`vaetheory.certify.limit`): confirmed → optimal/bad_local_min with ``limit = True``; not confirmed → not_converged
with the failed condition as ``reason``. Every uncertified point carries a reason (which test failed, by how much).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from vaetheory.certify.limit import confirm_limit, follow_below_floor
from vaetheory.certify.numeric import Certificate, certify
from vaetheory.oracle.answer import OracleAnswer
from vaetheory.oracle.exhaustive import OracleResult, fit_residual
from vaetheory.variants.builtin import least_squares_on_supports

VERDICTS: tuple[str, ...] = ("optimal", "bad_local_min", "undecided_min", "degenerate_min", "saddle",
                             "not_converged")
#: The verdicts of strict local minima: what a claim counts, and what the interval proofs try to prove.
MINIMA: tuple[str, ...] = ("optimal", "bad_local_min", "undecided_min")
#: Two unit columns count as parallel (a flat valley between them) when |cos| ≥ 1 − this.
PARALLEL_TOL = 1e-10


@dataclass(frozen=True)
class PointVerdict:
    """One end point: its verdict, latent support (the active set A), refit residual on that support, the residual
    of the variant's own representation, energy and certificate evidence.

    gamma: the point's γ; start_kind: the kind of start it came from; limit: True when the verdict is a γ → 0 limit
    verdict (the point sat at the γ floor and `confirm_limit` confirmed it); at_floor: γ at the floor (None at fixed
    γ); kkt_gamma / grad_gamma: γ's certificate measure and raw ∂E/∂γ (None at fixed γ); limit_slope: measured energy
    slope in log γ of a floor point (None otherwise); reason: which condition failed and by how much (None for a
    certified point)."""

    verdict: str
    support: list[int]
    energy: float
    residual: float
    fit_residual: float
    kkt: float
    kkt_active: float
    kkt_inactive: float
    min_inactive_grad: float
    min_hessian_eig: float
    min_hessian_eig_rel: float
    gamma: float
    start_kind: str
    limit: bool = False
    at_floor: bool | None = None
    kkt_gamma: float | None = None
    grad_gamma: float | None = None
    limit_slope: float | None = None
    reason: str | None = None
    proof: dict | None = None  # the interval proof record (certify.proof.Proof.to_dict), when proofs were run
    oracle_method: str | None = None  # the oracle method the verdict was judged against (docs/oracles.md)
    k_star_certain: bool | None = None  # whether that oracle's k* is certain
    gamma_floor: float | None = None  # the γ floor the point was certified against (None at fixed γ)
    followed: bool = False  # the point was followed below the search floor (`certify.limit.follow_below_floor`)
    min_hessian_eig_own: float | None = None  # strictness measure: each coordinate at its own scale (`certify`)

    def to_dict(self) -> dict:
        out = asdict(self)
        for k, v in out.items():  # JSON has no infinity: an absent inactive set is reported as null
            if isinstance(v, float) and not np.isfinite(v):
                out[k] = None
        return out


def latent_supports(scales: np.ndarray, rtol: float) -> np.ndarray:
    """(R, κ) masks: latent dimension j is active when its scale exceeds `rtol` × the point's largest scale."""
    return scales > rtol * np.maximum(scales.max(axis=1, keepdims=True), 1e-300)


def refit_residuals(Phi: np.ndarray, X: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Relative residual of the exact least-squares refit on each support (batched)."""
    U = least_squares_on_supports(Phi, X, masks)
    return np.linalg.norm(X[None] - Phi[None] @ U, axis=(1, 2)) / np.linalg.norm(X)


def classify(cert: Certificate, masks: np.ndarray, residuals: np.ndarray,
             oracle: OracleAnswer | OracleResult) -> list[str]:
    """Verdict per point. Uncertified points never count as minima: not stationary on the active coordinates (or
    in γ) → not_converged; stationary but failing the inactive-gradient or Hessian test → saddle; passing both with
    a singular (semidefinite only) active Hessian or an empty support → degenerate_min. Strict minima: see the module
    docstring (a certain k* gives optimal/bad_local_min; an uncertain one can give undecided_min)."""
    out = []
    for i in range(len(masks)):  # assembling labels for R points; all numerics above are batched
        fits = residuals[i] <= oracle.rtol
        support = np.flatnonzero(masks[i])
        if not cert.stationary[i]:
            out.append("not_converged")
        elif not (cert.inactive_ok[i] and cert.second_order[i]):
            out.append("saddle")
        elif not (cert.strict[i] and support.size):
            out.append("degenerate_min")
        else:
            out.append(strict_verdict(support, fits, oracle))
    return out


def strict_verdict(support, fits: bool, oracle: OracleAnswer | OracleResult) -> str:
    """The verdict of a strict local minimum with this support (`fits`: its refit residual is within the oracle's
    rtol): against a certain k*, optimal or bad_local_min; against an uncertain one, bad_local_min only when a
    sparser exact fit is known (or it does not fit), else undecided_min."""
    if oracle.k_star_certain:
        return "optimal" if fits and oracle.is_optimal(support) else "bad_local_min"
    return "bad_local_min" if not fits or len(support) > oracle.k else "undecided_min"


def parallel_pairs(Phi: np.ndarray, support) -> list[tuple[int, int]]:
    """Pairs of columns of Φ in `support` that are parallel (|cos| ≥ 1 − PARALLEL_TOL): along such a pair the
    energy of the VAE variants depends on the weights only through a sum, so a minimum there is a flat valley."""
    S = np.asarray(list(support), dtype=int)
    if S.size < 2:
        return []
    U = Phi[:, S] / np.linalg.norm(Phi[:, S], axis=0)
    C = np.abs(U.T @ U)
    a, b = np.nonzero(np.triu(C >= 1 - PARALLEL_TOL, k=1))
    return [(int(S[i]), int(S[j])) for i, j in zip(a, b)]


def degenerate_reason(cert: Certificate, i: int, support, Phi: np.ndarray, X: np.ndarray,
                      oracle: OracleAnswer | OracleResult) -> str:
    """Why point `i` is ``degenerate_min``: an empty support, or a singular active Hessian — with the parallel
    active columns that explain it and, when dropping one of each pair leaves an optimal support, that support."""
    if not len(support):
        return "empty support: every latent dimension is off (no active column), so the point is not judged"
    own = cert.min_hessian_eig_rel if cert.min_hessian_eig_own is None else cert.min_hessian_eig_own
    text = (f"flat: smallest relative eigenvalue of the active Hessian (each coordinate at its own scale) "
            f"{own[i]:.3g} is within {cert.hessian_tol:g} of 0 (semidefinite, not a strict minimum)")
    pairs = parallel_pairs(Phi, support)
    if pairs:
        text += "; parallel active columns " + ", ".join(f"{a}~{b}" for a, b in pairs)
        reduced = sorted(set(int(j) for j in support) - {b for _, b in pairs})
        if oracle.k_star_certain and oracle.is_optimal(reduced) and fit_residual(Phi, X, reduced) <= oracle.rtol:
            text += f": a valley connected to the optimal support {reduced}"
    return text


def failure_reasons(cert: Certificate) -> list[str | None]:
    """Per point: None when certified, else the first failed condition with its measure and tolerance."""
    out: list[str | None] = []
    tol, htol = cert.kkt_tol, cert.hessian_tol
    for i in range(len(cert.energy)):  # strings for R points
        if cert.kkt_active[i] > tol:
            out.append(f"active stationarity: max |dE/dtheta_i| b_i/max(|E|,1) = {cert.kkt_active[i]:.3g} > {tol:g}")
        elif cert.kkt_gamma is not None and cert.kkt_gamma[i] > tol:
            if cert.at_floor[i]:
                out.append(f"gamma at floor: dE/dgamma b_gamma/max(|E|,1) = {-cert.kkt_gamma[i]:.3g} < -{tol:g} "
                           f"(the energy decreases as gamma grows: not a box KKT point)")
            else:
                out.append(f"gamma stationarity: |dE/dgamma| b_gamma/max(|E|,1) = {cert.kkt_gamma[i]:.3g} > {tol:g}")
        elif not cert.inactive_ok[i]:
            out.append(f"inactive gradient: min dE/dtheta_j b_j/max(|E|,1) = {cert.kkt_inactive[i]:.3g} < -{tol:g}")
        elif not cert.second_order[i]:
            out.append(f"hessian: smallest relative eigenvalue {cert.min_hessian_eig_rel[i]:.3g} < -{htol:g}")
        else:
            out.append(None)
    return out


def summarise(verdicts: list[str]) -> dict[str, int]:
    return {v: sum(1 for x in verdicts if x == v) for v in VERDICTS}


@dataclass(frozen=True)
class Judgement:
    """Certificate, latent supports (R, κ), refit residuals (R,), verdicts, per-point limit flags and failure
    reasons of a batch of end points.

    theta (R, P), gamma (R,) and floor (R,) are the points judged and the γ floor each was certified against (None
    at fixed γ): a learned-γ point whose limit check failed and that was followed below the search floor
    (`follow_below_floor`) is judged where the following ended, against the lower floor, with `followed` True.
    slope: the measured energy slope in log γ of the confirmed limits (NaN elsewhere). limit_reasons: why a
    certified floor point is not a confirmed limit (its verdict is then not_converged), kept so that the verdicts can
    be given again against another oracle answer (`rejudge`)."""

    certificate: Certificate
    masks: np.ndarray
    residuals: np.ndarray
    verdicts: list[str]
    limit: np.ndarray | None = None
    reasons: list[str | None] | None = None
    oracle_method: str | None = None
    k_star_certain: bool | None = None
    theta: np.ndarray | None = None
    gamma: np.ndarray | None = None
    floor: np.ndarray | None = None
    followed: np.ndarray | None = None
    slope: np.ndarray | None = None
    limit_reasons: list[str | None] | None = None


def _oracle_method(oracle: OracleAnswer | OracleResult) -> str:
    method = oracle.method
    if isinstance(oracle, OracleResult) and method in ("rank-aware", "enumeration"):
        method = "enumerate"  # a bare exhaustive OracleResult names its search, not the oracle method
    return method


def _verdicts(cert: Certificate, masks: np.ndarray, residuals: np.ndarray, oracle, limit_reasons, Phi, X
              ) -> tuple[list[str], list[str | None]]:
    """Verdicts and reasons: `classify`, the failed limit checks as not_converged, the degenerate points' reasons."""
    verdicts = classify(cert, masks, residuals, oracle)
    reasons = failure_reasons(cert)
    for i, v in enumerate(verdicts):  # labels for R points
        if limit_reasons[i] is not None and v != "not_converged" and v != "saddle":
            verdicts[i], reasons[i] = "not_converged", limit_reasons[i]
        elif v == "degenerate_min":
            reasons[i] = degenerate_reason(cert, i, np.flatnonzero(masks[i]), Phi, X, oracle)
    return verdicts, reasons


def identical_rows(theta: np.ndarray, gamma: np.ndarray, floors: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(first, back): the indices of the first occurrence of every distinct end point, in order of appearance, and
    for each point the position of its representative in `first`. Two points are the same only when θ, γ and (with
    γ learned) the γ floor are equal bit for bit: every test of the verdict step is then computed from the same
    numbers. (The Newton polish hands one polished point to every restart that reached it,
    `search.multistart._same_points`, so restarts at one minimum end bit-identical: all 8 at d = 100, κ = 200,
    r = 20.)"""
    cols = [np.asarray(theta, dtype=np.float64), np.asarray(gamma, dtype=np.float64)[:, None]]
    if floors is not None:
        cols.append(np.asarray(floors, dtype=np.float64)[:, None])
    key = np.ascontiguousarray(np.concatenate(cols, axis=1))
    rows = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1])))[:, 0]
    _, first, back = np.unique(rows, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # representatives in order of appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[np.ravel(back)]


def _take(judged: Judgement, back: np.ndarray) -> Judgement:
    """`judged` (of the distinct points) expanded to every point: point i gets row back[i] of every per-point
    field (arrays, lists, and the certificate's arrays)."""
    def take(x):
        if isinstance(x, np.ndarray):
            return x[back]
        if isinstance(x, list):
            return [x[i] for i in back]
        return x

    cert = judged.certificate
    cert = replace(cert, **{f.name: take(getattr(cert, f.name)) for f in fields(cert)})
    return replace(judged, **{f.name: take(getattr(judged, f.name)) for f in fields(judged) if f.name != "certificate"},
                   certificate=cert)


#: Judge bit-identical end points once (`identical_rows`); False restores judging every row (tests compare both).
SHARE_IDENTICAL = True


def judge_points(objective, theta: np.ndarray, gamma: np.ndarray, oracle: OracleAnswer | OracleResult, *,
                 gamma_floor: float | np.ndarray | None = None, follow: bool = True, **tolerances) -> Judgement:
    """The verdict step for end points (used by `run_check` and by report replay): certify at γ (with the γ floor
    when γ was learned), read each latent support at the certificate's threshold, refit, classify.

    With γ learned, the certified floor points are confirmed as γ → 0 limits (`confirm_limit`). A floor point whose
    limit check fails (its support or energy moves at a smaller floor) is followed below the floor when `follow`
    (`follow_below_floor`, down to 1e-6 × the floor): it is judged as an interior minimum, or as a limit at the lower
    floor, where the following ends; only a point that resolves at no floor is not_converged, with what failed.
    `gamma_floor` may be one floor per point (a report replays a followed point against its own floor).

    Points that are the same point bit for bit (θ, γ and floor: `identical_rows`) are judged once and the judgement
    is copied to each of them (every point keeps its own row in the result); points that differ in any bit are
    judged separately, however close."""
    theta = np.array(theta, dtype=np.float64)
    R = len(theta)
    gamma = np.array(np.broadcast_to(np.asarray(gamma, dtype=np.float64), (R,)))
    floors = None if gamma_floor is None else np.array(np.broadcast_to(
        np.asarray(gamma_floor, dtype=np.float64), (R,)))
    if SHARE_IDENTICAL and R > 1:
        first, back = identical_rows(theta, gamma, floors)
        if len(first) < R:
            judged = _judge(objective, theta[first], gamma[first], oracle,
                            None if floors is None else floors[first], follow, tolerances)
            return _take(judged, back)
    return _judge(objective, theta, gamma, oracle, floors, follow, tolerances)


def _judge(objective, theta: np.ndarray, gamma: np.ndarray, oracle, floors: np.ndarray | None, follow: bool,
           tolerances: dict) -> Judgement:
    """`judge_points` on every row of theta (R, P), gamma (R,), floors (R,) or None (copies, modified here)."""
    theta, gamma = theta.copy(), gamma.copy()
    floors = None if floors is None else floors.copy()
    R = len(theta)
    limit = np.zeros(R, dtype=bool)
    followed = np.zeros(R, dtype=bool)
    slope = np.full(R, np.nan)
    limit_reasons: list[str | None] = [None] * R
    limit_support: np.ndarray | None = None  # (R, κ) the support of each confirmed limit (`LimitCheck.support`)
    cert = certify(objective, theta, gamma, gamma_floor=floors, **tolerances)
    if floors is not None:
        at = cert.at_floor & cert.certified
        for fl in np.unique(floors[at]):  # one floor per batch (a report replays one point: one floor)
            idx = np.flatnonzero(at & (floors == fl))
            check = confirm_limit(objective, theta[idx], float(fl), **tolerances)
            limit[idx], slope[idx] = check.confirmed, np.where(check.confirmed, check.slope, np.nan)
            if limit_support is None:
                limit_support = np.zeros((R, check.support.shape[1]), dtype=bool)
            limit_support[idx] = check.support
            failed = idx[~check.confirmed]
            for j, i in enumerate(idx):
                limit_reasons[i] = check.reasons[j]
            if not (follow and len(failed)):
                continue
            ff = follow_below_floor(objective, theta[failed], gamma[failed], float(fl), **tolerances)
            for k, i in enumerate(failed):
                if ff.outcome[k] == "unresolved":  # judged where the search ended, with both reasons
                    limit_reasons[i] = f"{limit_reasons[i]}; {ff.reasons[k]}"
                    continue
                first = limit_reasons[i]
                theta[i], gamma[i], floors[i] = ff.theta[k], ff.gamma[k], ff.floor[k]
                followed[i], limit_reasons[i] = True, None
                limit[i], slope[i] = ff.outcome[k] == "limit", ff.slope[k]
                limit_support[i] = ff.support[k]
                if ff.outcome[k] == "uncertified_interior":  # not_converged, unless a proof settles it
                    limit_reasons[i] = (f"{first}; {ff.reasons[k]} (gamma {ff.gamma[k]:.3g} is above that floor: "
                                        "an interior point)")
        if followed.any():
            cert = certify(objective, theta, gamma, gamma_floor=floors, **tolerances)
    masks = latent_supports(objective.latent_scales(theta), cert.active_rtol)
    if limit_support is not None:
        # a confirmed limit's support is the one its slope test counted: the dimensions that stay as γ → 0, however
        # small (`vaetheory.certify.limit`); equal to the thresholded one unless a coefficient sits below ACTIVE_RTOL
        masks[limit] = limit_support[limit]
    Phi, X = objective.problem.Phi, objective.problem.X
    residuals = refit_residuals(Phi, X, masks)
    verdicts, reasons = _verdicts(cert, masks, residuals, oracle, limit_reasons, Phi, X)
    return Judgement(cert, masks, residuals, verdicts, limit, reasons, _oracle_method(oracle),
                     oracle.k_star_certain, theta, gamma, floors, followed, slope, limit_reasons)


def rejudge(judged: Judgement, oracle: OracleAnswer | OracleResult, Phi: np.ndarray, X: np.ndarray) -> Judgement:
    """The same points judged against another oracle answer (e.g. one demoted by a sparser exact fit: no
    re-certification, only the verdicts change)."""
    limit_reasons = judged.limit_reasons or [None] * len(judged.verdicts)
    verdicts, reasons = _verdicts(judged.certificate, judged.masks, judged.residuals, oracle, limit_reasons, Phi, X)
    return replace(judged, verdicts=verdicts, reasons=reasons, oracle_method=_oracle_method(oracle),
                   k_star_certain=oracle.k_star_certain)


def _opt(a, i) -> float | None:
    return None if a is None else float(a[i])


def point_verdicts(judged: Judgement, gamma: np.ndarray, start_kinds, own_residuals: np.ndarray
                   ) -> list[PointVerdict]:
    """The `PointVerdict` of every judged point (γ, start kind and the residual of the variant's representation
    supplied by the caller)."""
    cert, out = judged.certificate, []
    slope = judged.slope if judged.slope is not None else np.full(len(judged.verdicts), np.nan)
    for i, v in enumerate(judged.verdicts):  # one record per point
        out.append(PointVerdict(
            v, [int(j) for j in np.flatnonzero(judged.masks[i])], float(cert.energy[i]), float(judged.residuals[i]),
            float(own_residuals[i]), float(cert.kkt[i]), float(cert.kkt_active[i]), float(cert.kkt_inactive[i]),
            float(cert.min_inactive_grad[i]), float(cert.min_hessian_eig[i]), float(cert.min_hessian_eig_rel[i]),
            float(gamma[i]), str(start_kinds[i]), bool(judged.limit[i]) if judged.limit is not None else False,
            None if cert.at_floor is None else bool(cert.at_floor[i]), _opt(cert.kkt_gamma, i),
            _opt(cert.grad_gamma, i), None if np.isnan(slope[i]) else float(slope[i]),
            None if judged.reasons is None else judged.reasons[i],
            oracle_method=judged.oracle_method, k_star_certain=judged.k_star_certain,
            gamma_floor=None if judged.floor is None else float(judged.floor[i]),
            followed=bool(judged.followed[i]) if judged.followed is not None else False,
            min_hessian_eig_own=_opt(cert.min_hessian_eig_own, i)))
    return out
