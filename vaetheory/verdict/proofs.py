"""Interval proofs attached to verdicts (docs/proofs.md).

A reported minimum (``optimal``, ``bad_local_min`` or ``undecided_min``) gets a `Proof` from
`vaetheory.certify.interval`; other verdicts get ``not_applicable``. A ``bad_local_min`` keeps ``proved`` only when
its support is larger than the oracle's k* (so non-optimality follows from the support size alone, not from a
floating-point residual; with an uncertain k* the oracle's k_star is the size of an exact-fit witness, an upper bound
on k*, so the rule still proves non-optimality); the oracle's own evidence — k*, whether it is certain, a witness
support, that witness's least-squares residual, the oracle's method and basis — is put beside it, since the proof
takes k* from the oracle.
"""
from __future__ import annotations

import numpy as np

from vaetheory.certify.interval import METHOD, prove_points
from vaetheory.certify.proof import Proof, not_applicable
from vaetheory.oracle.answer import OracleAnswer
from vaetheory.oracle.exhaustive import OracleResult, fit_residual
from vaetheory.verdict.judge import MINIMA, VERDICTS, strict_verdict

#: Proofs run by default when d is at most this (measured: bench/proof_cost.py).
PROVE_MAX_D = 20


def oracle_evidence(oracle: OracleAnswer | OracleResult, Phi: np.ndarray, X: np.ndarray) -> dict:
    """k*, whether it is certain, one witness support, its exact least-squares relative residual, and how the
    oracle decided (method and basis)."""
    witness = list(oracle.supports[0]) if oracle.supports else None
    out = {"k_star": oracle.k, "k_star_certain": oracle.k_star_certain, "witness_support": witness,
           "witness_residual": None if witness is None else fit_residual(Phi, X, witness),
           "oracle_method": oracle.method}
    if isinstance(oracle, OracleAnswer):
        out["oracle_basis"] = oracle.basis
    return out


def attach_proofs(objective, theta: np.ndarray, gamma: np.ndarray, verdicts: list[str], masks: np.ndarray,
                  oracle: OracleAnswer | OracleResult, *, learn_gamma: bool = False,
                  gamma_floor: float | np.ndarray | None = None,
                  active_rtol: float | None = None) -> list[Proof]:
    """One `Proof` per point: interval proofs for the reported minima, with the k* rule for ``bad_local_min``."""
    select = np.array([v in MINIMA for v in verdicts], dtype=bool)
    kw = {} if active_rtol is None else {"active_rtol": active_rtol}
    proofs = prove_points(objective, theta, gamma, select=select, learn_gamma=learn_gamma, gamma_floor=gamma_floor,
                          **kw)
    evidence = oracle_evidence(oracle, objective.problem.Phi, objective.problem.X)
    out = []
    for i, (v, pr) in enumerate(zip(verdicts, proofs)):
        if pr is None:
            out.append(not_applicable(METHOD, f"verdict {v}: not a reported minimum"))
            continue
        size = int(masks[i].sum())
        if v == "bad_local_min":
            pr = k_star_rule(pr.with_status(pr.status, pr.reason, support_size=size, **evidence), v, size, oracle.k)
        out.append(pr)
    return out


def k_star_rule(proof: Proof, verdict: str, support_size: int, k_star: int) -> Proof:
    """A proved ``bad_local_min`` stays proved only when its support is larger than k*: the interval proof shows a
    strict local minimum, the size comparison shows that it is not optimally sparse."""
    if proof.proved and verdict == "bad_local_min" and not support_size > k_star:
        return proof.with_status("not_proved", f"strict local minimum proved, but its support size {support_size} "
                                 f"does not exceed k* = {k_star}: non-optimality is not proved")
    return proof


def proof_summary(verdicts: list[str], proofs: list[dict | None]) -> dict[str, dict[str, int]]:
    """Counts of proof statuses per verdict, e.g. {"bad_local_min": {"proved": 12, "not_proved": 0, ...}, ...}."""
    out = {v: {"proved": 0, "not_proved": 0, "not_applicable": 0} for v in VERDICTS}
    for v, p in zip(verdicts, proofs):
        if p is not None:
            out[v][p["status"]] += 1
    return out


def unproved_minima(points) -> list[int]:
    """Indices of reported minima whose proof is missing or not ``proved`` (what ``--require-proof`` fails on)."""
    return [i for i, p in enumerate(points)
            if p.verdict in MINIMA and (p.proof is None or p.proof.get("status") != "proved")]


def settle(objective, theta: np.ndarray, gamma: np.ndarray, verdicts: list[str], reasons: list[str | None],
           masks: np.ndarray, residuals: np.ndarray, oracle: OracleAnswer | OracleResult, *,
           learn_gamma: bool = False, gamma_floor: float | np.ndarray | None = None,
           active_rtol: float | None = None, followed: np.ndarray | None = None
           ) -> tuple[list[str], list[str | None], list[Proof]]:
    """`attach_proofs` for the reported minima *and* the ``degenerate_min`` points with a support: a degenerate point
    proved a strict local minimum (the float screen could not tell it from a flat valley; the interval proof can)
    gets its strict verdict (`strict_verdict`), with the k* rule applied as for any ``bad_local_min``. So does a
    point `followed` below the γ floor to an interior point that the float certificate could not settle
    (``not_converged``; `vaetheory.certify.limit.follow_below_floor`) and that the interval proof shows to be a
    strict local minimum. Returns the verdicts, reasons and proofs."""
    verdicts, reasons = list(verdicts), list(reasons)
    # also asked: followed interior points the float certificate could not settle (`follow_below_floor`)
    interior = np.zeros(len(verdicts), dtype=bool) if followed is None else (
        np.asarray(followed, dtype=bool) & np.array([v == "not_converged" for v in verdicts], dtype=bool))
    trial = [v if not ((v == "degenerate_min" or interior[i]) and masks[i].any()) else "undecided_min"
             for i, v in enumerate(verdicts)]
    proofs = attach_proofs(objective, theta, gamma, trial, masks, oracle, learn_gamma=learn_gamma,
                           gamma_floor=gamma_floor, active_rtol=active_rtol)
    for i, v in enumerate(verdicts):
        if interior[i]:
            if not (masks[i].any() and proofs[i].proved):
                proofs[i] = not_applicable(METHOD, f"verdict {v}: not a reported minimum")
                continue
            note = (f"the float certificate is inconclusive here ({reasons[i]}); a strict local minimum proved in "
                    "interval arithmetic")
        elif v != "degenerate_min":
            continue
        if not masks[i].any() or not proofs[i].proved:  # the flat/empty reading stands
            proofs[i] = not_applicable(METHOD, f"verdict degenerate_min: {reasons[i]}") if not masks[i].any() \
                else proofs[i].with_status("not_proved", f"degenerate_min: {proofs[i].reason or reasons[i]}")
            continue
        support = np.flatnonzero(masks[i])
        strict = strict_verdict(support, bool(residuals[i] <= oracle.rtol), oracle)
        verdicts[i] = strict
        reasons[i] = note if interior[i] else None
        if strict == "bad_local_min":
            size = int(masks[i].sum())
            proofs[i] = k_star_rule(proofs[i].with_status(proofs[i].status, proofs[i].reason, support_size=size,
                                                          **oracle_evidence(oracle, objective.problem.Phi,
                                                                            objective.problem.X)),
                                    strict, size, oracle.k)
    return verdicts, reasons, proofs
