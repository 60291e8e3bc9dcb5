"""The pipeline end to end for one problem and one variant: problem → variant → search → certify → oracle → verdict.

`analyse_problem` computes what depends on the problem only (oracle, ℓ2,1 relaxation, conditions) so several
variants can share it; `run_check` does the rest and returns a `CheckResult`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from vaetheory.certify.numeric import Certificate
from vaetheory.verdict.claims import ClaimContext, claim_evidence, claim_for, claim_status, conditions_met
from vaetheory.verdict.consistency import Consistency, check_oracle
from vaetheory.problems.conditions import ConditionReport, check_conditions
from vaetheory.core.errors import InputError
from vaetheory.search.objective import Objective
from vaetheory.oracle.answer import DEFAULT_MIP_TIME_LIMIT, OracleAnswer
from vaetheory.oracle.auto import check_method, run_oracle
from vaetheory.oracle.exhaustive import DEFAULT_BUDGET, OracleResult
from vaetheory.problems.problem import Problem
from vaetheory.oracle.relax import RelaxationResult, judge_relaxation, l21_relaxation
from vaetheory.search.multistart import SearchResult, make_starts, minimise
from vaetheory.core.validation import check_int, check_positive
from vaetheory.core.protocol import Variant
from vaetheory.verdict.judge import (VERDICTS, PointVerdict, identical_rows, judge_points, point_verdicts, rejudge,
                                     summarise)
from vaetheory.verdict.proofs import PROVE_MAX_D, proof_summary, settle


#: The ℓ2,1 relaxation (a second-order cone program) is skipped when U has more entries (κ·n) than this: measured
#: 0.2 s at κ = 200, n = 1 but 15 s at κ = 200, n = 20 (load 7; notes/issue-11-oracle.md), more than the rest of the
#: analysis. The JSON then says so (``relaxation_note``).
RELAX_MAX_ENTRIES = 2_000


@dataclass(frozen=True)
class ProblemAnalysis:
    """Variant-independent facts about a problem: the oracle's answer (`OracleAnswer`: k*, whether it is certain,
    how it was established), the ℓ2,1 relaxation, theorem conditions."""

    oracle: OracleAnswer
    relaxation: RelaxationResult | None
    conditions: ConditionReport
    relaxation_note: str | None = None  # why the relaxation is missing, when it was skipped


def analyse_problem(problem: Problem, *, budget: int = DEFAULT_BUDGET, relax: bool = True, oracle: str = "auto",
                    mip_time_limit: float = DEFAULT_MIP_TIME_LIMIT) -> ProblemAnalysis:
    """Oracle (`vaetheory.oracle.run_oracle` with method `oracle`: auto | enumerate | uniqueness | mip | none;
    `budget` caps enumeration, `mip_time_limit` the MIP), ℓ2,1 relaxation (when `relax`; its support is also offered
    to the oracle as a known exact fit) and the theorem's conditions."""
    check_method(oracle)
    relaxation = note = None
    if relax and problem.kappa * problem.n <= RELAX_MAX_ENTRIES:
        relaxation = l21_relaxation(problem)
    elif relax:
        note = (f"l21 relaxation skipped: kappa*n = {problem.kappa * problem.n:,} > {RELAX_MAX_ENTRIES:,} "
                "(its cone program would dominate the analysis time)")
    answer = run_oracle(problem, oracle, budget=budget, mip_time_limit=mip_time_limit,
                        l21_support=None if relaxation is None else relaxation.support)
    if relaxation is not None:
        relaxation = judge_relaxation(relaxation, answer)
    return ProblemAnalysis(answer, relaxation, check_conditions(problem), note)


@dataclass
class CheckResult:
    """Everything one check produced. `to_dict` gives the JSON of ``vaetheory check --json``."""

    variant: Variant
    problem: Problem
    analysis: ProblemAnalysis
    search: SearchResult
    certificate: Certificate
    points: list[PointVerdict]
    summary: dict[str, int]
    claim_status: str
    claim_conditions: dict[str, bool | None]
    gamma: float
    gamma_mode: str
    seed: int
    timings: dict[str, float] = field(default_factory=dict)
    proofs: dict[str, dict[str, int]] | None = None  # proof statuses per verdict (None: proofs not run)
    consistency: Consistency | None = None  # the oracle checked against the run's own exact fits
    claim_evidence: str = "float"  # what the claim's status counts: "proved" verdicts, or "float" certificates

    @property
    def claim(self):
        """The claim judged: the variant's claim for this run's γ mode."""
        return claim_for(self.variant, self.gamma_mode)

    @property
    def bad_points(self) -> list[int]:
        return [i for i, p in enumerate(self.points) if p.verdict == "bad_local_min"]

    def to_dict(self) -> dict:
        o = self.analysis.oracle
        rel = self.analysis.relaxation
        return {
            "variant": self.variant.name,
            "problem": {"d": self.problem.d, "kappa": self.problem.kappa, "n": self.problem.n,
                        "r": None if self.problem.Z is None else len(self.problem.support),
                        "planted_support": None if self.problem.Z is None else list(self.problem.support),
                        "noise": self.problem.noise},
            "gamma": self.gamma,
            "gamma_mode": self.gamma_mode,
            "seed": self.seed,
            "restarts": len(self.points),
            "optimal": {"k": o.k, "supports": [list(s) for s in o.supports], "method": o.search},
            "oracle": {k: v for k, v in o.record().items() if k not in ("k", "supports")},
            "relaxation": None if rel is None else rel.to_dict() | {"row_norms": None},
            "relaxation_note": self.analysis.relaxation_note,
            "conditions": self.analysis.conditions.to_dict(),
            "claim": {"kind": self.claim.kind, "statement": self.claim.statement,
                      "conditions": self.claim_conditions, "status": self.claim_status,
                      "evidence": self.claim_evidence},
            "oracle_consistency": None if self.consistency is None else self.consistency.to_dict(),
            "points": [p.to_dict() for p in self.points],
            "summary": self.summary,
            "proofs": self.proofs,
            "certificate_tolerances": {"kkt_tol": self.certificate.kkt_tol,
                                       "hessian_tol": self.certificate.hessian_tol,
                                       "active_rtol": self.certificate.active_rtol},
            "search": {"nit": self.search.nit, "message": self.search.message},
            "timings": self.timings | {"oracle": self.analysis.oracle.seconds},
        }


def run_check(problem: Problem, variant: Variant, *, restarts: int = 32, seed: int = 0, gamma: float | None = None,
              learn_gamma: bool = False, analysis: ProblemAnalysis | None = None, budget: int = DEFAULT_BUDGET,
              adversarial_fraction: float = 0.25, maxiter: int | None = None, prove: bool | None = None,
              oracle: str = "auto", mip_time_limit: float = DEFAULT_MIP_TIME_LIMIT, continuation: bool = False,
              anneal_fraction: float = 0.25) -> CheckResult:
    """Search `variant` on `problem` from `restarts` starts, certify every end point and give verdicts.

    gamma: the fixed γ (default: the variant's), or the starting γ when `learn_gamma` (then γ is learned down to the
    variant's floor and each point is certified at its final γ). seed: seeds every random choice of the run.
    maxiter: L-BFGS-B iteration cap (default 20000 at fixed γ; 3000 with γ learned, where the joint run converges
    slowly on some landscapes; the joint Newton phase in (θ, γ) finishes the job, docs/learned-gamma.md).
    The claim judged is the variant's claim for the γ mode (`claim_for`).
    prove: attach an interval proof (docs/proofs.md) to every reported minimum; default: on when d ≤ PROVE_MAX_D.
    oracle, mip_time_limit, budget: how k* is found when `analysis` is not given (`analyse_problem`,
    docs/oracles.md); the result's JSON names the oracle method and whether k* is certain.
    continuation: every random start is a γ-continuation start (minimised along a decreasing γ schedule down to
    the run's γ first; start kind "anneal"): what makes single starts converge with large active sets (d = 100,
    κ = 200, r = 40; bench/speed.py). Off by default: plain random starts explore more of the landscape.
    anneal_fraction: with γ learned and without `continuation`, the share of the restarts that are γ-continuation
    starts (the rest of the random starts stay plain).
    """
    if maxiter is None:
        maxiter = 3000 if learn_gamma else 20000
    check_int(restarts, "restarts", low=1)
    gamma = check_positive(variant.gamma.default if gamma is None else gamma, "gamma")
    if learn_gamma and not variant.gamma.learnable:
        raise InputError(f"variant {variant.name!r} does not support a learned gamma")
    timings = {}
    t = time.perf_counter()
    check_method(oracle)
    if analysis is None:
        analysis = analyse_problem(problem, budget=budget, oracle=oracle, mip_time_limit=mip_time_limit)
        timings["analysis"] = time.perf_counter() - t
    if isinstance(analysis.oracle, OracleResult):  # a hand-built analysis holding a bare enumeration result
        analysis = replace(analysis, oracle=analysis.oracle.answer(problem.Phi, problem.X))
    rng = np.random.default_rng(seed)
    objective = Objective(variant, problem)
    t = time.perf_counter()
    l21 = analysis.relaxation.support if analysis.relaxation is not None else None
    starts = make_starts(objective, restarts, rng, gamma, optimal_supports=analysis.oracle.supports, l21_support=l21,
                         adversarial_fraction=adversarial_fraction, learn_gamma=learn_gamma,
                         continuation=continuation, anneal_fraction=anneal_fraction)
    search = minimise(objective, starts, gamma, learn_gamma=learn_gamma, maxiter=maxiter)
    timings["search"] = time.perf_counter() - t
    t = time.perf_counter()
    floor = variant.gamma.floor if learn_gamma else None
    judged = judge_points(objective, search.theta, search.gamma, analysis.oracle, gamma_floor=floor)
    # points followed below the γ floor are judged (and reported, and proved) where the following ended
    search = replace(search, theta=judged.theta, gamma=judged.gamma)
    consistency = check_oracle(problem, analysis.oracle, judged.masks, judged.residuals, l21_support=l21,
                               budget=budget)
    if consistency.contradicted:  # a sparser exact fit than a "certain" k*: judge every point again
        analysis = replace(analysis, oracle=consistency.oracle)
        judged = rejudge(judged, consistency.oracle, problem.Phi, problem.X)
    cert, masks = judged.certificate, judged.masks
    first, back = identical_rows(search.theta, search.gamma)  # the same point bit for bit: one evaluation
    U = objective.representation(search.theta[first], search.gamma[first])[back]
    own = np.linalg.norm(problem.X[None] - problem.Phi[None] @ U, axis=(1, 2)) / np.linalg.norm(problem.X)
    timings["certify"] = time.perf_counter() - t
    proofs = proved = None
    if prove if prove is not None else problem.d <= PROVE_MAX_D:
        t = time.perf_counter()
        verdicts, reasons, proofs = settle(objective, search.theta, search.gamma, judged.verdicts, judged.reasons,
                                           masks, judged.residuals, analysis.oracle, learn_gamma=learn_gamma,
                                           gamma_floor=judged.floor, active_rtol=cert.active_rtol,
                                           followed=judged.followed)
        judged = replace(judged, verdicts=verdicts, reasons=reasons)
        proofs = [p.to_dict() for p in proofs]
        timings["prove"] = time.perf_counter() - t
        proved = proof_summary(judged.verdicts, proofs)
    verdicts = judged.verdicts
    points = point_verdicts(judged, search.gamma, starts.kinds, own)
    if proofs is not None:
        points = [replace(p, proof=proofs[i]) for i, p in enumerate(points)]
    summary = summarise(verdicts)
    ctx = ClaimContext(analysis.conditions, analysis.oracle, float(np.max(search.gamma)), search.gamma_mode)
    claim = claim_for(variant, search.gamma_mode)
    _, values = conditions_met(claim, ctx)
    evidence = claim_evidence(variant)
    status = claim_status(claim, ctx, summary, None if evidence == "float" else _proved_counts(proved))
    return CheckResult(variant, problem, analysis, search, cert, points, summary, status, values, gamma,
                       search.gamma_mode, seed, timings, proved, consistency, evidence)


def _proved_counts(proofs: dict[str, dict[str, int]] | None) -> dict[str, int]:
    """Per verdict, how many points are proved (all zero when proofs were not run)."""
    return {v: 0 if proofs is None else proofs[v]["proved"] for v in VERDICTS}
