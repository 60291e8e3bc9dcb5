"""P3 (claim C4): problems on which the ℓ2,1 relaxation is not the sparsest solution exist (searched with
hypothesis.target on the support gap); on every one found inside C1's conditions, P1 still holds for vae-full."""
from __future__ import annotations

from hypothesis import assume, example, given, settings, target
from hypothesis import strategies as st

from _support import assert_all_minima_optimal, examples, finding, run
from vaetheory.verdict.check import analyse_problem
from vaetheory.problems.generate import make_problem
from vaetheory.problems.strategies import broken_problems, c1_problems
from vaetheory.variants import get_variant

VAE_FULL = get_variant("vae-full")
#: Measured: the ℓ2,1 support has 3 rows more than k* = 3 here (seed 30), inside C1's conditions.
KNOWN_GAP = make_problem(5, 10, 3, 3, "orthogonal", seed=30)


@settings(max_examples=examples(2.0))
@given(problem=st.one_of(c1_problems(), broken_problems("coherent")))
@example(problem=KNOWN_GAP)
def test_p3_l21_failures_exist_and_vae_full_still_recovers(problem):
    analysis = analyse_problem(problem)
    rel = analysis.relaxation
    target(float(rel.gap), label="l21 support gap")
    assume(not rel.optimal and analysis.conditions.c1_conditions is True)
    result = run(problem, VAE_FULL, analysis, adversarial_fraction=0.5)
    assert_all_minima_optimal(result)
    finding(f"C4: l21 not sparsest on {problem.describe()} (gap {rel.gap}, k*={analysis.oracle.k}); "
            f"vae-full there: {result.summary}")


def test_p3_known_l21_failure_is_a_failure():
    """The explicit example really is a counterexample to the relaxation (so P3 is never vacuous)."""
    analysis = analyse_problem(KNOWN_GAP)
    assert analysis.relaxation.optimal is False and analysis.relaxation.gap > 0
    assert analysis.conditions.c1_conditions is True
