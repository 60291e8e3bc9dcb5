"""P4 (claim C2 + an open question): vae-diag, the mean-field VAE.

* Fixed small γ (the variant's default 1e-4 ≤ SMALL_GAMMA): started at non-optimal basic feasible solutions, a
  certified bad local minimum is found and captured (docs/theory.md §4 C2).
* γ learned: see test_p6_learned_gamma.py (C6).
"""
from __future__ import annotations

from hypothesis import assume, given, settings

from _support import assert_replays, capture, examples, run
from vaetheory.verdict.check import analyse_problem
from vaetheory.verdict.claims import SMALL_GAMMA
from vaetheory.problems.strategies import c1_problems
from vaetheory.variants import get_variant

VAE_DIAG = get_variant("vae-diag")


@settings(max_examples=examples(1.0))
@given(problem=c1_problems())
def test_p4_fixed_small_gamma_bad_minimum_at_nonoptimal_bfs(problem):
    analysis = analyse_problem(problem, relax=False)
    assume(analysis.oracle.k < problem.d < problem.kappa)
    assert VAE_DIAG.gamma.default <= SMALL_GAMMA
    result = run(problem, VAE_DIAG, analysis, adversarial_fraction=1.0)
    paths = capture(result, limit=1)
    assert result.claim_status == "confirmed", f"{problem.describe()}: {result.summary}"
    assert_replays(paths)
