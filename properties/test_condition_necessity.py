"""Condition necessity (docs/theory.md §4): search for vae-full counterexamples with one of C1's conditions broken —
n < r, correlated Gaussian rows, a coherent Φ, r at the uniqueness bound. Whatever is found is a finding: bad minima
are captured as replayable reports and every example adds a line to FINDINGS.md; nothing is assumed about them.
(On "coherent" every C1 condition can still hold, so there a bad minimum refutes C1 and fails the test.)"""
from __future__ import annotations

import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from _support import assert_replays, capture, examples, finding, run
from vaetheory.verdict.check import analyse_problem
from vaetheory.problems.strategies import BROKEN_CONDITIONS, broken_problems
from vaetheory.variants import get_variant

VAE_FULL = get_variant("vae-full")


@pytest.mark.parametrize("condition", BROKEN_CONDITIONS)
@settings(max_examples=examples(0.7))
@given(data=st.data())
def test_vae_full_with_a_broken_condition(condition, data):
    problem = data.draw(broken_problems(condition), label="problem")
    analysis = analyse_problem(problem)
    result = run(problem, VAE_FULL, analysis, adversarial_fraction=0.5)
    bad = result.summary["bad_local_min"]
    target(float(bad), label=f"vae-full bad minima ({condition})")
    paths = capture(result)
    assert_replays(paths)
    finding(f"C1 without {condition}: vae-full on {problem.describe()} (k*={analysis.oracle.k}, "
            f"c1 conditions {analysis.conditions.c1_conditions}): {result.summary}; claim {result.claim_status}"
            + (f"; reports {[p.json.name for p in paths]}" if paths else ""))
    assert result.claim_status != "refuted", f"C1 refuted on {problem.describe()}: {[str(p.json) for p in paths]}"
