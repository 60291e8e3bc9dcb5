"""Verdicts for certified points (docs/theory.md §5, docs/oracles.md): optimal | bad_local_min | undecided_min |
saddle | not_converged.

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

from dataclasses import asdict, dataclass

import numpy as np

from vaetheory.certify.limit import LimitCheck, confirm_limit
from vaetheory.certify.numeric import Certificate, certify
from vaetheory.oracle.answer import OracleAnswer
from vaetheory.oracle.exhaustive import OracleResult
from vaetheory.variants.builtin import least_squares_on_supports

VERDICTS: tuple[str, ...] = ("optimal", "bad_local_min", "undecided_min", "saddle", "not_converged")


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
    in γ) → not_converged; stationary but failing the inactive-gradient or Hessian test → saddle. Certified minima:
    see the module docstring (a certain k* gives optimal/bad_local_min; an uncertain one can give undecided_min)."""
    out = []
    for i in range(len(masks)):  # assembling labels for R points; all numerics above are batched
        fits = residuals[i] <= oracle.rtol
        support = np.flatnonzero(masks[i])
        if not cert.stationary[i]:
            out.append("not_converged")
        elif not (cert.inactive_ok[i] and cert.second_order[i]):
            out.append("saddle")
        elif oracle.k_star_certain:
            out.append("optimal" if fits and oracle.is_optimal(support) else "bad_local_min")
        else:
            out.append("bad_local_min" if not fits or len(support) > oracle.k else "undecided_min")
    return out


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
    reasons of a batch of end points; `limit_check` holds the γ → 0 evidence of the floor points (`limit_index`
    their rows), or None."""

    certificate: Certificate
    masks: np.ndarray
    residuals: np.ndarray
    verdicts: list[str]
    limit: np.ndarray | None = None
    reasons: list[str | None] | None = None
    limit_check: LimitCheck | None = None
    limit_index: np.ndarray | None = None
    oracle_method: str | None = None
    k_star_certain: bool | None = None


def judge_points(objective, theta: np.ndarray, gamma: np.ndarray, oracle: OracleAnswer | OracleResult, *,
                 gamma_floor: float | None = None, **tolerances) -> Judgement:
    """The verdict step for end points (used by `run_check` and by report replay): certify at γ (with the γ floor
    when γ was learned), read each latent support at the certificate's threshold, refit, classify; with γ learned,
    confirm the certified floor points as γ → 0 limits (`confirm_limit`) and demote unconfirmed ones to
    not_converged with the failed condition as reason."""
    cert = certify(objective, theta, gamma, gamma_floor=gamma_floor, **tolerances)
    masks = latent_supports(objective.latent_scales(theta), cert.active_rtol)
    residuals = refit_residuals(objective.problem.Phi, objective.problem.X, masks)
    verdicts = classify(cert, masks, residuals, oracle)
    reasons = failure_reasons(cert)
    limit = np.zeros(len(verdicts), dtype=bool)
    check, idx = None, None
    if gamma_floor is not None:
        idx = np.flatnonzero(cert.at_floor & cert.certified)
        if len(idx):
            check = confirm_limit(objective, np.asarray(theta)[idx], gamma_floor, **tolerances)
            for j, i in enumerate(idx):
                if check.confirmed[j]:
                    limit[i] = True
                else:
                    verdicts[i], reasons[i] = "not_converged", check.reasons[j]
    method = oracle.method
    if isinstance(oracle, OracleResult) and method in ("rank-aware", "enumeration"):
        method = "enumerate"  # a bare exhaustive OracleResult names its search, not the oracle method
    return Judgement(cert, masks, residuals, verdicts, limit, reasons, check, idx, method, oracle.k_star_certain)


def _opt(a, i) -> float | None:
    return None if a is None else float(a[i])


def point_verdicts(judged: Judgement, gamma: np.ndarray, start_kinds, own_residuals: np.ndarray
                   ) -> list[PointVerdict]:
    """The `PointVerdict` of every judged point (γ, start kind and the residual of the variant's representation
    supplied by the caller)."""
    cert, out = judged.certificate, []
    slopes = {}
    if judged.limit_check is not None:
        slopes = {int(i): float(judged.limit_check.slope[j]) for j, i in enumerate(judged.limit_index)}
    for i, v in enumerate(judged.verdicts):  # one record per point
        out.append(PointVerdict(
            v, [int(j) for j in np.flatnonzero(judged.masks[i])], float(cert.energy[i]), float(judged.residuals[i]),
            float(own_residuals[i]), float(cert.kkt[i]), float(cert.kkt_active[i]), float(cert.kkt_inactive[i]),
            float(cert.min_inactive_grad[i]), float(cert.min_hessian_eig[i]), float(cert.min_hessian_eig_rel[i]),
            float(gamma[i]), str(start_kinds[i]), bool(judged.limit[i]) if judged.limit is not None else False,
            None if cert.at_floor is None else bool(cert.at_floor[i]), _opt(cert.kkt_gamma, i),
            _opt(cert.grad_gamma, i), slopes.get(i), None if judged.reasons is None else judged.reasons[i],
            oracle_method=judged.oracle_method, k_star_certain=judged.k_star_certain))
    return out
