"""Replay of a counterexample report: rebuild problem, variant and objective from the JSON and recompute the verdict."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaetheory.core.errors import InputError, VaetheoryError
from vaetheory.core.protocol import Variant
from vaetheory.oracle.auto import run_oracle
from vaetheory.problems.problem import Problem
from vaetheory.report.counterexample import stored_oracle_method
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant
from vaetheory.verdict.judge import judge_points


@dataclass(frozen=True)
class ReplayResult:
    """What a replay recomputed: the verdict and support of the stored end point, its refit residual, the oracle's
    optimal supports, and whether all of that matches the file (`reproduced`), with the mismatches listed."""

    path: Path
    variant: str
    stored_verdict: str
    verdict: str
    support: list[int]
    residual: float
    optimal_supports: list[list[int]]
    energy: float
    reproduced: bool
    mismatches: list[str]
    gamma: float | None = None
    limit: bool = False
    reason: str | None = None
    proof: dict | None = None  # the re-checked stored proof, or a fresh one for a minimum stored without one


def load_report(path: str | os.PathLike) -> dict:
    """Read a report JSON; InputError when it is missing, unreadable or lacks a required field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such report file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a report must be a JSON object")
    missing = [k for k in ("variant", "problem", "end", "point_gamma", "verdict", "certificate", "oracle")
               if k not in data]
    if missing:
        raise InputError(f"{path}: report lacks field(s) {', '.join(missing)}")
    return data


def replay_report(path: str | os.PathLike, *, variant: Variant | None = None) -> ReplayResult:
    """Rebuild problem, variant and objective from the report alone; certify the stored end point at the stored γ;
    recompute its support, refit residual and the oracle; compare with the stored verdict and support.
    The oracle is re-run with the stored method (reports older than the oracle methods: enumeration); a MIP answer
    depends on its time limit, so its supports are compared only when both runs proved optimality.

    variant: use this object instead of resolving the stored name/spec (for variants defined in a test)."""
    data = load_report(path)
    try:
        prob = data["problem"]
        problem = Problem.from_arrays({k: np.asarray(prob[k], dtype=np.float64) for k in ("Phi", "X")}
                                      | ({"Z": np.asarray(prob["Z"], dtype=np.float64)} if prob.get("Z") else {})
                                      | {"noise": np.float64(prob.get("noise", 0.0))})
        if variant is None:
            variant = get_variant(data["variant"].get("spec") or data["variant"]["name"])
        objective = Objective(variant, problem)
        theta = np.asarray(data["end"]["theta"], dtype=np.float64)[None]
        if theta.shape[1] != objective.size:
            raise InputError(f"{path}: end point has {theta.shape[1]} coordinates, variant expects {objective.size}")
        gamma = float(data["point_gamma"])
        tol = data["certificate"]
        tolerances = {k: tol[k] for k in ("kkt_tol", "hessian_tol", "active_rtol")}
        floor = None
        if data.get("gamma_mode") == "learned":
            floor = float(data["gamma_floor"]) if data.get("gamma_floor") is not None else variant.gamma.floor
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, VaetheoryError):
            raise
        raise InputError(f"{path}: malformed report ({type(exc).__name__}: {exc})") from None
    stored_oracle = data["oracle"]
    method = stored_oracle_method(stored_oracle)
    limit = (stored_oracle.get("details") or {}).get("time_limit")
    kw = {} if limit is None else {"mip_time_limit": float(limit)}
    if method != "enumerate" and stored_oracle.get("witness"):
        kw["candidate"] = stored_oracle["witness"]  # e.g. an ℓ2,1 support, when the problem has no planted Z
    oracle = run_oracle(problem, method, **kw)
    judged = judge_points(objective, theta, np.array([gamma]), oracle, gamma_floor=floor, **tolerances)
    cert, masks, verdict = judged.certificate, judged.masks, judged.verdicts[0]
    residual = float(judged.residuals[0])
    support = [int(j) for j in np.flatnonzero(masks[0])]
    stored = data["verdict"]
    mismatches = []
    if verdict != data.get("kind", stored.get("verdict")):
        mismatches.append(f"verdict {verdict} != stored {data.get('kind')}")
    if "limit" in stored and bool(judged.limit[0]) != bool(stored["limit"]):
        mismatches.append(f"limit {bool(judged.limit[0])} != stored {stored['limit']}")
    if support != list(stored.get("support", [])):
        mismatches.append(f"support {support} != stored {stored.get('support')}")
    if method != "mip" or (oracle.k_star_certain and stored_oracle.get("k_star_certain")):
        # a MIP that did not prove optimality may stop at another incumbent: only proven answers are compared
        if [list(s) for s in oracle.supports] != [list(s) for s in stored_oracle["supports"]] and not (
                method == "mip" and oracle.k == stored_oracle.get("k")):
            mismatches.append(f"optimal supports {[list(s) for s in oracle.supports]} != stored "
                              f"{stored_oracle['supports']}")
    if (method != "mip" and "k_star_certain" in stored_oracle
            and oracle.k_star_certain != stored_oracle["k_star_certain"]):
        mismatches.append(f"k* certain {oracle.k_star_certain} != stored {stored_oracle['k_star_certain']} "
                          f"(oracle {method})")
    proof = None
    if stored.get("proof") is not None:
        proof = _replay_proof(objective, theta[0], gamma, stored["proof"], floor, tolerances["active_rtol"],
                              verdict, support, oracle.k, mismatches)
    elif verdict in ("optimal", "bad_local_min", "undecided_min"):
        # a report written without a proof (older, or with --no-prove) is proved from its stored point here: the
        # skeptic gets the same evidence a fresh run would attach; a failure is shown, not a mismatch
        proof = _fresh_proof(objective, theta[0], gamma, floor, tolerances["active_rtol"], verdict, support,
                             oracle.k)
    return ReplayResult(Path(path), variant.name, str(data.get("kind")), verdict, support, residual,
                        [list(s) for s in oracle.supports], float(cert.energy[0]), not mismatches, mismatches, gamma,
                        bool(judged.limit[0]), judged.reasons[0], proof)

def _fresh_proof(objective, theta, gamma, floor, active_rtol, verdict, support, k) -> dict:
    """Prove the stored point from scratch (certify.interval.prove_point); `extra.source` says so."""
    from vaetheory.certify.interval import prove_point
    from vaetheory.verdict.proofs import k_star_rule

    proof = prove_point(objective, theta, gamma, learn_gamma=floor is not None, gamma_floor=floor,
                        active_rtol=active_rtol)
    proof = k_star_rule(proof, verdict, len(support), k)
    out = proof.to_dict()
    out["extra"] = dict(out.get("extra") or {}) | {"source": "proved at replay (the report stores no proof)"}
    return out


def _replay_proof(objective, theta, gamma, stored: dict, floor, active_rtol, verdict, support, k, mismatches
                  ) -> dict:
    """Re-check a stored ``proved`` interval proof on its stored box (certify.interval.reprove); any other stored
    status is kept as it is. Appends to `mismatches` when a stored proof does not hold any more."""
    from vaetheory.certify.interval import reprove
    from vaetheory.verdict.proofs import k_star_rule
    from vaetheory.certify.proof import Proof

    try:
        record = Proof.from_dict(stored)
    except (TypeError, ValueError) as exc:
        raise InputError(f"malformed proof record ({exc})") from None
    if record.status != "proved":
        return record.to_dict()
    again = reprove(objective, theta, gamma, record, learn_gamma=floor is not None, gamma_floor=floor,
                    active_rtol=active_rtol)
    again = k_star_rule(again, verdict, len(support), k)
    if not again.proved:
        mismatches.append(f"stored proof does not hold: {again.reason}")
    return again.to_dict()
