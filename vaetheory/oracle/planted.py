"""The ``none`` oracle method (docs/oracles.md): no certificate at all; the planted support (or a given candidate)
is taken as the best known exact fit, so k* ≤ its size and nothing more is claimed."""
from __future__ import annotations

import time

from vaetheory.oracle.answer import OracleAnswer, OracleNotApplicable, exact_rtol, planted_witness
from vaetheory.oracle.exhaustive import fit_residual
from vaetheory.problems.problem import Problem


def oracle_none(problem: Problem, *, candidate=None) -> OracleAnswer:
    """The planted support (or `candidate`) as an uncertified witness: k_star is its size, an upper bound on k*
    (``k_star_certain`` is False). OracleNotApplicable when there is none or it does not fit X."""
    t0 = time.perf_counter()
    S, origin = planted_witness(problem, candidate)
    rtol = exact_rtol(problem)
    res = fit_residual(problem.Phi, problem.X, S)
    if res > rtol:
        raise OracleNotApplicable(f"none: {origin} {list(S)} does not fit X (relative residual {res:.3g} > {rtol:g})")
    basis = f"{origin} ({len(S)} rows, residual {res:.2g}), not certified: k* ≤ {len(S)}, not certain"
    return OracleAnswer("none", len(S), False, S, res, basis, (S,), False, rtol, time.perf_counter() - t0, None,
                        {"search": "planted" if candidate is None else "candidate"})
