"""Points the block-scaled Newton phase leaves short of stationarity get a second phase at their own scales
(`vaetheory.search.multistart._unstick`): at d = 100, κ = 200, r = 60 (n = 1, γ = 1e-6) the first phase stops where a
coordinate at ~1e-6 of its block's scale has a scaled gradient of up to 1e2, and those end points were reported
not_converged; after the second phase the unchanged certificate certifies them, at energies no higher."""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.certify.numeric import certify
from vaetheory.problems.generate import make_problem
from vaetheory.search.multistart import _unstick, make_starts, minimise, unfinished
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant


@pytest.fixture(scope="module")
def stuck():
    problem = make_problem(100, 200, 60, 1, "gaussian", seed=1436949773436817660)  # bench/product_path.py's r = 60
    obj = Objective(get_variant("vae-full"), problem)
    starts = make_starts(obj, 8, np.random.default_rng(1436949773436817660), 1e-6, continuation=True)
    search = minimise(obj, starts, 1e-6, unstick=False)  # the first phase alone (the mutation)
    return obj, search


def test_the_block_scaled_phase_leaves_points_uncertified(stuck):
    obj, search = stuck
    cert = certify(obj, search.theta, search.gamma)
    left = unfinished(obj, search.theta, search.gamma)
    assert left.any() and not cert.certified[left].any()
    assert (left == ~cert.stationary).all()  # the same test as the certificate's active stationarity


def test_the_own_scale_phase_makes_them_certified_minima(stuck):
    obj, search = stuck
    theta, gamma = _unstick(obj, search.theta, search.gamma, 100, 1e-12, None)
    cert = certify(obj, theta, gamma)
    assert cert.certified.all(), cert.kkt
    E0, _, _ = obj.value_and_grad(search.theta, search.gamma, with_gamma=False)
    assert (cert.energy <= E0 + 1e-9 * np.abs(E0)).all()
    done = ~unfinished(obj, search.theta, search.gamma)
    assert (theta[done] == search.theta[done]).all()  # points already stationary are not touched
