"""The one result type every P0 oracle method returns (docs/oracles.md), and what the methods share.

Light on purpose (numpy only): the CLI reads `ORACLE_METHODS` for ``--help`` without importing torch or cvxpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vaetheory.core.errors import VaetheoryError

#: Oracle methods, as ``--oracle`` / ``--method`` / a sweep spec's ``oracle`` key name them.
ORACLE_METHODS: tuple[str, ...] = ("auto", "enumerate", "uniqueness", "mip", "none")
#: Default wall-clock limit of the MIP oracle, in seconds.
DEFAULT_MIP_TIME_LIMIT = 60.0


class OracleNotApplicable(VaetheoryError):
    """The requested oracle method cannot decide this problem (e.g. the uniqueness bound fails, the problem is
    noisy, there is no candidate support). ``auto`` catches it and tries the next method; an explicit request
    reports it (CLI exit 2)."""


def canonical(support) -> tuple[int, ...]:
    return tuple(sorted(int(j) for j in support))


@dataclass(frozen=True)
class OracleAnswer:
    """What an oracle method knows about P0 (docs/theory.md §1) for one problem.

    method: the method that answered (enumerate | uniqueness | mip | none; ``auto`` names the one it chose and says
        so in `basis`).
    k_star: the sparsest row-support size when `k_star_certain`; otherwise the size of the sparsest exact fit the
        method knows (an upper bound on k*: the witness fits X, so k* ≤ k_star).
    k_star_certain: True when k* is established (by enumeration, by the MMV uniqueness bound, or by a MIP proven
        optimal). A certainty that rests on an assumption (spark = d + 1 by genericity, a valid big-M) says which in
        `assumption`.
    witness: one support of size k_star that fits X; witness_residual: its least-squares relative residual
        ‖X − Φ_T Φ_T⁺ X‖/‖X‖ (≤ rtol).
    basis: one line saying how k* was established (or why it was not), e.g. "exhaustive enumeration of 66 subsets".
    optimal_supports: optimal supports known; `supports_complete` says whether that is every one (enumeration: all;
        uniqueness: the unique one, so complete; mip: the witness only, the list may be incomplete; none: the planted
        support, not certified).
    rtol: relative residual below which a fit counts as exact. seconds: wall time.
    details: method-specific evidence (subset counts, the spark bound, big-M and the MIP status, ...), JSON-ready.
    """

    method: str
    k_star: int
    k_star_certain: bool
    witness: tuple[int, ...]
    witness_residual: float
    basis: str
    optimal_supports: tuple[tuple[int, ...], ...]
    supports_complete: bool
    rtol: float
    seconds: float = 0.0
    assumption: str | None = None
    details: dict = field(default_factory=dict)

    # The names the verdict stage has always used --------------------------------------------------------------
    @property
    def k(self) -> int:
        return self.k_star

    @property
    def supports(self) -> tuple[tuple[int, ...], ...]:
        return self.optimal_supports

    @property
    def unique(self) -> bool | None:
        """True/False when every optimal support is known, else None."""
        return len(self.optimal_supports) == 1 if self.supports_complete and self.k_star_certain else None

    @property
    def search(self) -> str:
        """The finer method name kept in ``CheckResult.to_dict()["optimal"]["method"]`` (e.g. "rank-aware")."""
        return str(self.details.get("search", self.method))

    def is_optimal(self, support) -> bool:
        """True only when `support` is *known* optimal: listed, or (with a certain k* and an incomplete list) of
        size k*. The caller checks that it fits X."""
        s = canonical(support)
        if s in set(self.optimal_supports):
            return self.k_star_certain
        return self.k_star_certain and not self.supports_complete and len(s) == self.k_star

    def to_dict(self) -> dict:
        """JSON-ready record, one key per quantity (what ``vaetheory oracle --json`` prints)."""
        return {"method": self.method, "k_star": self.k_star, "k_star_certain": self.k_star_certain,
                "basis": self.basis, "assumption": self.assumption, "witness": list(self.witness),
                "witness_residual": self.witness_residual,
                "optimal_supports": [list(s) for s in self.optimal_supports],
                "supports_complete": self.supports_complete, "rtol": self.rtol, "seconds": self.seconds,
                "details": self.details}


    def record(self) -> dict:
        """`to_dict` without wall-clock times (the answer's and each MIP attempt's): what JSON results and reports
        store, so that the same inputs give the same bytes (the time goes to ``timings["oracle"]``); with the names
        ``k``/``supports`` that report schema v1 requires beside ``k_star``/``optimal_supports``."""
        out = {k: v for k, v in self.to_dict().items() if k != "seconds"}
        # report schema v1 (vaetheory/report/schema) requires the names reports have always carried, k and supports
        out |= {"k": self.k_star, "supports": [list(s) for s in self.optimal_supports]}
        details = dict(out.get("details") or {})
        if "attempts" in details:
            details["attempts"] = [{k: v for k, v in a.items() if k != "seconds"} for a in details["attempts"]]
        out["details"] = details
        return out


def exact_rtol(problem) -> float:
    """Relative residual counted as an exact fit: RANGE_RTOL for noiseless problems, else the noise level
    ``3 σ √(dn) / ‖X‖`` capped at 0.5 (the same rule as the exhaustive oracle)."""
    from vaetheory.problems.problem import RANGE_RTOL

    if problem.noise == 0:
        return RANGE_RTOL
    return min(0.5, 3 * problem.noise * np.sqrt(problem.X.size) / float(np.linalg.norm(problem.X)))


def planted_witness(problem, candidate=None) -> tuple[tuple[int, ...], str]:
    """(candidate support, where it came from): `candidate` when given, else the planted support; OracleNotApplicable
    when there is neither."""
    if candidate is not None:
        return canonical(candidate), "the given candidate support"
    if problem.Z is not None:
        return canonical(problem.support), "the planted support"
    raise OracleNotApplicable("the problem has no planted support Z and no candidate support was given")
