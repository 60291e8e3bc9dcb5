"""Named conditions a claim can be declared under, and how a run's verdicts bear on a claim.

Each condition maps a `ClaimContext` to True (met), False (not met) or None (undecided, e.g. an exact spark over
budget). A claim applies when all its conditions are met; it is *refuted* only by a certified counterexample.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vaetheory.problems.conditions import ConditionReport
from vaetheory.oracle.answer import OracleAnswer
from vaetheory.oracle.exhaustive import OracleResult
from vaetheory.core.protocol import CONDITION_DESCRIPTIONS, Claim

#: γ at or below this counts as "small" for the fixed-γ claims of docs/theory.md §4.
SMALL_GAMMA = 1e-3


@dataclass(frozen=True)
class ClaimContext:
    conditions: ConditionReport
    oracle: OracleAnswer | OracleResult
    gamma: float
    gamma_mode: str


_EVALUATORS: dict[str, Callable[[ClaimContext], bool | None]] = {
    "urp": lambda c: c.conditions.urp,
    "r_less_than_d": lambda c: c.conditions.r_less_than_d,
    "orthogonal_rows": lambda c: c.conditions.orthogonal_rows,
    "within_uniqueness_bound": lambda c: c.conditions.within_uniqueness_bound,
    "fixed_gamma": lambda c: c.gamma_mode == "fixed",
    "small_gamma": lambda c: c.gamma <= SMALL_GAMMA,
    "learned_gamma": lambda c: c.gamma_mode == "learned",
    "nonoptimal_bfs_exists": lambda c: _nonoptimal_bfs(c),
}


def _nonoptimal_bfs(c: ClaimContext) -> bool | None:
    """κ > d and k* < d. With an uncertain k* (an upper bound) only ``k_star < d`` decides it (True); else None."""
    if not c.conditions.kappa > c.conditions.d:
        return False
    if c.oracle.k < c.conditions.d:
        return True
    return False if c.oracle.k_star_certain else None
#: name -> (description, evaluator); the names are the protocol's (`CONDITION_DESCRIPTIONS`).
CONDITIONS: dict[str, tuple[str, Callable[[ClaimContext], bool | None]]] = {
    name: (CONDITION_DESCRIPTIONS[name], _EVALUATORS[name]) for name in CONDITION_DESCRIPTIONS}

#: Claim statuses: what the run says about a declared claim. For a variant whose minima can be proved (an interval
#: hook), a status counts proved verdicts only; ``held_unproved``, ``refuted_unproved`` and ``confirmed_unproved``
#: say that the float certificates point that way but no proved point carries it (docs/proofs.md).
STATUSES = ("held", "refuted", "confirmed", "not_confirmed", "not_applicable", "undecided", "no_claim",
            "held_unproved", "refuted_unproved", "confirmed_unproved")


def claim_evidence(variant) -> str:
    """What a claim's status counts for this variant: ``"proved"`` verdicts when its minima can be proved in
    interval arithmetic (it has the `interval_derivatives` hook), else ``"float"`` certificates."""
    from vaetheory.certify.interval import interval_hook

    return "float" if interval_hook(variant) is None else "proved"


def claim_for(variant, gamma_mode: str) -> Claim:
    """The claim a variant makes in a γ mode: its optional ``learned_gamma_claim`` when γ is learned (if it has
    one), else its ``claim``."""
    if gamma_mode == "learned":
        learned = getattr(variant, "learned_gamma_claim", None)
        if learned is not None:
            return learned
    return variant.claim


def conditions_met(claim: Claim, ctx: ClaimContext) -> tuple[bool | None, dict[str, bool | None]]:
    """(all met?, per-condition values). Unknown condition names raise KeyError (the import checker reports them)."""
    values = {name: CONDITIONS[name][1](ctx) for name in claim.conditions}
    if any(v is False for v in values.values()):
        return False, values
    if any(v is None for v in values.values()):
        return None, values
    return True, values


def claim_status(claim: Claim, ctx: ClaimContext, summary: dict[str, int],
                 proved: dict[str, int] | None = None) -> str:
    """held/refuted for ``optimal_minima`` (undecided when no point was certified a minimum, or when a certified
    minimum is ``undecided_min`` — its optimality rests on a k* the oracle could not certify); confirmed/not_confirmed
    for ``bad_minima_exist`` (a finite search cannot refute existence); not_applicable or undecided when the
    conditions are not (known to be) met.

    A refutation (and a confirmation) needs a ``bad_local_min``: a certified minimum shown non-optimal — against a
    certain k*, or against an exact-fit witness smaller than its support (docs/oracles.md), never against an
    uncertified guess of k*. `proved`: per verdict, how many points are *proved* (pass it for a variant whose minima
    can be proved; `claim_evidence`): then ``refuted``/``confirmed``/``held`` need proved points, and a status that
    rests on unproved ones gets the suffix ``_unproved``. ``degenerate_min`` points (flat, or an empty support) are
    never counted either way."""
    if claim.kind == "none":
        return "no_claim"
    met, _ = conditions_met(claim, ctx)
    if met is False:
        return "not_applicable"
    if met is None:
        return "undecided"
    count = summary.get
    has = (lambda v: count(v, 0) > 0) if proved is None else (lambda v: proved.get(v, 0) > 0)
    if claim.kind == "optimal_minima":
        if has("bad_local_min"):
            return "refuted"
        if count("bad_local_min", 0) > 0:
            return "refuted_unproved"
        # "held" needs at least one certified minimum: a run that certified nothing tested nothing.
        if count("undecided_min", 0) > 0:
            return "undecided"
        if has("optimal"):
            return "held"
        return "held_unproved" if count("optimal", 0) > 0 else "undecided"
    if has("bad_local_min"):
        return "confirmed"
    return "confirmed_unproved" if count("bad_local_min", 0) > 0 else "not_confirmed"
