"""P2 (claim C3): the deterministic AEs ae-log and ae-l1 have bad local minima at non-optimal basic feasible
solutions; started there, a certified bad local minimum is found and captured as a replayable report."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings

from _support import assert_replays, capture, examples, run
from vaetheory.verdict.check import analyse_problem
from vaetheory.problems.strategies import bfs_problems
from vaetheory.variants import get_variant


@pytest.mark.parametrize("name", ["ae-log", "ae-l1"])
@settings(max_examples=examples(0.5))
@given(problem=bfs_problems())
def test_p2_ae_bad_local_minimum_is_found_and_captured(name, problem):
    analysis = analyse_problem(problem, relax=False)
    assume(analysis.oracle.k < problem.d < problem.kappa)  # non-optimal BFS exist
    result = run(problem, get_variant(name), analysis, adversarial_fraction=1.0)
    paths = capture(result, limit=1)
    assert result.claim_status == "confirmed", f"{name} on {problem.describe()}: {result.summary}"
    assert paths and all(p.json.is_file() and p.markdown.is_file() for p in paths)
    assert_replays(paths)
