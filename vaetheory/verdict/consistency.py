"""Every run checks its oracle against what the run itself found (docs/oracles.md, "Consistency").

An oracle's k* may rest on an assumption (genericity of Φ), and even a certain answer is a computation that can be
wrong. The run holds independent evidence: every end point whose support fits X exactly, and the ℓ2,1 solution's
support. When one of them fits X with fewer rows than the oracle's k*, the oracle's answer is contradicted. It is
then *demoted*: k* becomes an upper bound (k_star_certain False) with the sparser fit as its witness — or, when an
enumeration up to that size is affordable, replaced by that enumeration's certain answer — and every point is judged
again against it. The run says so in its output and JSON (``oracle_consistency``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vaetheory.core.subsets import DEFAULT_BUDGET
from vaetheory.oracle.answer import OracleAnswer, canonical
from vaetheory.oracle.auto import enumeration_affordable
from vaetheory.oracle.exhaustive import fit_residual, oracle_enumerate


@dataclass(frozen=True)
class Consistency:
    """What the consistency check found: the sparsest exact fit the run holds (support, where it came from, its
    residual), whether it contradicts the oracle (`contradicted`), and the answer the verdicts were (re)judged
    against (`oracle`, the original one when nothing contradicted it)."""

    contradicted: bool
    oracle: OracleAnswer
    support: tuple[int, ...] | None = None
    source: str | None = None
    residual: float | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return {"contradicted": self.contradicted, "sparser_fit": None if self.support is None else list(self.support),
                "source": self.source, "residual": self.residual, "note": self.note}


def sparsest_run_fit(problem, masks: np.ndarray, residuals: np.ndarray, rtol: float, l21_support=None
                     ) -> tuple[tuple[int, ...], str, float] | None:
    """The smallest non-empty exact fit among the end points' supports (refit residual ≤ `rtol`) and the ℓ2,1
    support: (support, source, residual), or None."""
    best = None
    sizes = masks.sum(axis=1)
    fits = np.flatnonzero((residuals <= rtol) & (sizes > 0))
    if len(fits):
        i = int(fits[np.argmin(sizes[fits])])
        best = (canonical(np.flatnonzero(masks[i])), f"end point {i}", float(residuals[i]))
    if l21_support is not None and len(l21_support) and (best is None or len(l21_support) < len(best[0])):
        res = fit_residual(problem.Phi, problem.X, list(l21_support))
        if res <= rtol:
            best = (canonical(l21_support), "the l21 relaxation", float(res))
    return best


def check_oracle(problem, oracle: OracleAnswer, masks: np.ndarray, residuals: np.ndarray, *, l21_support=None,
                 budget: int = DEFAULT_BUDGET) -> Consistency:
    """Compare the oracle's k* with the sparsest exact fit the run found (module docstring)."""
    best = sparsest_run_fit(problem, masks, residuals, oracle.rtol, l21_support)
    if best is None or len(best[0]) >= oracle.k_star:
        return Consistency(False, oracle)
    support, source, res = best
    was = "certain" if oracle.k_star_certain else "an upper bound"
    note = (f"{source} fits X exactly with {len(support)} rows {list(support)} (residual {res:.2g}), fewer than the "
            f"oracle's k* = {oracle.k_star} ({oracle.method}, {was}"
            + (f"; assumption: {oracle.assumption}" if oracle.assumption else "") + ")")
    ok, why = enumeration_affordable(problem, len(support), budget)
    if ok:
        answer = oracle_enumerate(problem, budget=budget)
        answer = replace(answer, basis=f"re-decided after a contradiction ({note}): {answer.basis}",
                         details=answer.details | {"demoted_from": oracle.record()})
        return Consistency(True, answer, support, source, res, note + f"; enumerated instead ({why})")
    demoted = replace(
        oracle, k_star=len(support), k_star_certain=False, witness=support, witness_residual=res,
        optimal_supports=(support,), supports_complete=False,
        basis=f"demoted: {note}; k* ≤ {len(support)} (the sparser fit), not certain",
        details=oracle.details | {"demoted_from": oracle.record()})
    return Consistency(True, demoted, support, source, res, note + "; k* is now an upper bound")
