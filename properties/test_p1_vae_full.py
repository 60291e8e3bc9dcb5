"""P1 (claim C1): under URP, r < d and orthogonal nonzero rows, every certified local minimum of vae-full at fixed
small γ — from random and adversarial (non-optimal BFS, ℓ2,1) starts — is optimally sparse."""
from __future__ import annotations

from hypothesis import assume, given, settings

from _support import assert_all_minima_optimal, examples, run
from vaetheory.verdict.check import analyse_problem
from vaetheory.problems.strategies import c1_problems
from vaetheory.variants import get_variant

VAE_FULL = get_variant("vae-full")


@settings(max_examples=examples(1.0))
@given(problem=c1_problems())
def test_p1_every_vae_full_minimum_is_optimally_sparse(problem):
    analysis = analyse_problem(problem)
    assume(analysis.conditions.c1_conditions is True)
    result = run(problem, VAE_FULL, analysis, adversarial_fraction=0.5)
    assert_all_minima_optimal(result)
    assert result.claim_status == "held"
    assert result.summary["optimal"] >= 1, f"no certified minimum at all: {result.summary}"
