"""P7 (claim C1, proved per instance): the complete fixed-γ landscape of vae-full (docs/landscape.md).

On tiny random problems inside C1's conditions (URP Φ, r < d, orthogonal rows) where the branch and bound closes
(d = 2 today: docs/landscape.md says where it stops closing):

* the landscape is complete and has no bad local minimum: a proof of C1 for that instance, not a failed search;
* every minimum `check`'s multistart certifies is on the landscape's list (two independent methods agree).

Mutation tests (tests/test_landscape.py and below): a broken energy never gets a complete landscape, and a dropped
box makes the cross-check fail.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from _support import examples
from vaetheory.landscape import missing_minima, run_landscape
from vaetheory.problems.problem import Problem
from vaetheory.problems.strategies import dictionaries, row_sparse_codes, sizes
from vaetheory.variants import get_variant
from vaetheory.verdict.check import run_check

VAE_FULL = get_variant("vae-full")
GAMMA = 1e-2


@st.composite
def tiny_c1_problems(draw):
    """C1 problems with d = 2 (so r = 1) and κ ≤ 5: sizes the fixed-γ branch and bound completes in seconds."""
    d, kappa, r, n = draw(sizes(min_d=2, max_d=2, max_kappa=5, max_n=3))
    Phi = draw(dictionaries(d, kappa))
    Z = draw(row_sparse_codes(kappa, r, n, "orthogonal"))
    return Problem(Phi=Phi, X=Phi @ Z, Z=Z, noise=0.0)


def assert_complete_without_bad_minima(problem, variant=VAE_FULL):
    result = run_landscape(problem, variant, gamma=GAMMA)
    assert result.complete, f"{variant.name} landscape incomplete on {problem.describe()}: {result.unresolved[:2]}"
    assert not result.bad_minima, (f"{variant.name}: proved bad local minima at "
                                   f"{[m.support for m in result.bad_minima]} on {problem.describe()}")
    assert result.minima and all(m.proof["status"] == "proved" for m in result.minima)
    return result


def assert_check_minima_listed(problem, result, variant=VAE_FULL, restarts=32):
    check = run_check(problem, variant, restarts=restarts, gamma=GAMMA, prove=False, adversarial_fraction=0.5)
    missing = missing_minima(result, check)
    assert not missing, f"check found minima the complete landscape lacks on {problem.describe()}: {missing}"


@settings(max_examples=examples(1.0))
@given(problem=tiny_c1_problems())
def test_p7_vae_full_complete_landscape_has_no_bad_minimum(problem):
    result = assert_complete_without_bad_minima(problem)
    assert_check_minima_listed(problem, result)


def test_p7_vae_full_fixed_instance():
    """One fixed instance, so the property runs on a known problem whatever Hypothesis draws."""
    from vaetheory.problems.generate import make_problem

    problem = make_problem(2, 5, 1, 2, "orthogonal", 1)
    result = assert_complete_without_bad_minima(problem)
    assert_check_minima_listed(problem, result)
    assert np.isfinite(result.minima[0].energy)
