"""Verdicts for certified points (THEORY.md §5): optimal | bad_local_min | saddle | not_converged."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vaetheory.certify.numeric import Certificate, certify
from vaetheory.oracle.exhaustive import OracleResult
from vaetheory.variants.builtin import least_squares_on_supports

VERDICTS: tuple[str, ...] = ("optimal", "bad_local_min", "saddle", "not_converged")


@dataclass(frozen=True)
class PointVerdict:
    """One end point: its verdict, latent support, refit residual on that support, the residual of the variant's own
    representation, energy and certificate evidence."""

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
    proof: dict | None = None  # the interval proof record (certify.proof.Proof.to_dict), when proofs were run

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


def classify(cert: Certificate, masks: np.ndarray, residuals: np.ndarray, oracle: OracleResult) -> list[str]:
    """Verdict per point. Uncertified points never count as minima: not stationary on the active coordinates →
    not_converged; stationary but failing the inactive-gradient or Hessian test → saddle."""
    out = []
    for i in range(len(masks)):  # assembling labels for R points; all numerics above are batched
        if not cert.stationary[i]:
            out.append("not_converged")
        elif not (cert.inactive_ok[i] and cert.second_order[i]):
            out.append("saddle")
        elif residuals[i] <= oracle.rtol and oracle.is_optimal(np.flatnonzero(masks[i])):
            out.append("optimal")
        else:
            out.append("bad_local_min")
    return out


def summarise(verdicts: list[str]) -> dict[str, int]:
    return {v: sum(1 for x in verdicts if x == v) for v in VERDICTS}


@dataclass(frozen=True)
class Judgement:
    """Certificate, latent supports (R, κ), refit residuals (R,) and verdicts of a batch of end points."""

    certificate: Certificate
    masks: np.ndarray
    residuals: np.ndarray
    verdicts: list[str]


def judge_points(objective, theta: np.ndarray, gamma: np.ndarray, oracle: OracleResult, *,
                 gamma_floor: float | None = None, **tolerances) -> Judgement:
    """The verdict step for end points (used by `run_check` and by report replay): certify at γ (with the γ floor
    when γ was learned), read each latent support at the certificate's threshold, refit, classify."""
    cert = certify(objective, theta, gamma, gamma_floor=gamma_floor, **tolerances)
    masks = latent_supports(objective.latent_scales(theta), cert.active_rtol)
    residuals = refit_residuals(objective.problem.Phi, objective.problem.X, masks)
    return Judgement(cert, masks, residuals, classify(cert, masks, residuals, oracle))
