"""P5 (C5): the collapsed energies equal twice the negative ELBO at the optimal encoder, and at an exact fit with
|A| active columns the energy falls like n(d − |A|) log γ as γ → 0."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _support import examples
from vaetheory.variants.energies import collapsed_energy, elbo_energy, optimal_covariance, optimal_means
from vaetheory.problems.strategies import c1_problems, dictionaries, sizes
from vaetheory.variants import get_variant


@st.composite
def elbo_cases(draw):
    d, kappa, _, n = draw(sizes())
    Phi = draw(dictionaries(d, kappa, urp=False))
    X = draw(hnp.arrays(np.float64, (d, n), elements=st.floats(-2, 2, allow_nan=False, allow_infinity=False)))
    w = draw(hnp.arrays(np.float64, (kappa,), elements=st.floats(0.0, 2.0, allow_nan=False, allow_infinity=False)))
    gamma = draw(st.floats(1e-3, 1.0))
    return Phi, X, w, gamma


@settings(max_examples=examples(10.0))
@given(case=elbo_cases(), covariance=st.sampled_from(["full", "diag"]))
def test_p5_collapsed_energy_equals_elbo_at_optimal_encoder(case, covariance):
    Phi, X, w, gamma = case
    M = optimal_means(Phi, X, w, gamma)
    S = optimal_covariance(Phi, w, gamma, covariance)
    elbo = float(elbo_energy(Phi, X, w, M, S, gamma, diagonal=covariance == "diag"))
    collapsed = float(collapsed_energy(Phi, X, w**2, gamma, covariance))
    assert np.isclose(elbo, collapsed, rtol=1e-8, atol=1e-8 * (1 + abs(collapsed)))


@settings(max_examples=examples(5.0))
@given(problem=c1_problems(), covariance=st.sampled_from(["full", "diag"]), superset=st.booleans())
def test_p5_gamma_to_zero_slope_is_n_times_d_minus_active(problem, covariance, superset):
    """Slope of L in log γ between γ = 1e-9 and 1e-11 at an exact fit: ν from the planted rows (|A| = r), or that ν
    plus ν_j = 1 on other columns up to a size-d support (still an exact fit since it contains the planted one;
    |A| = d, slope 0). Only the support matters for the slope, not the values of ν on it."""
    mask = np.zeros(problem.kappa, dtype=bool)
    mask[list(problem.support)] = True
    nu = get_variant("vae-full").init_from_support(problem, mask[None], 1e-9)["nu"][0] * mask
    if superset:
        extra = np.flatnonzero(~mask)[: problem.d - mask.sum()]
        mask[extra] = True
        nu[extra] = 1.0
    active = int(mask.sum())
    g1, g2 = 1e-9, 1e-11
    L1, L2 = (float(collapsed_energy(problem.Phi, problem.X, nu, g, covariance)) for g in (g1, g2))
    slope = (L2 - L1) / (np.log(g2) - np.log(g1))
    expected = problem.n * (problem.d - active)
    assert abs(slope - expected) <= 1e-3 * max(1.0, expected), (slope, expected, active)
