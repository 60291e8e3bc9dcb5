"""The independent brute-force referee of complete landscapes (bench/landscape_bruteforce.py): its closed forms
against finite differences, its minima on a complete landscape's list, and a dropped minimum reported missing."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.landscape_bruteforce import Energy, brute_force, compare  # noqa: E402
from vaetheory.landscape import run_landscape  # noqa: E402
from vaetheory.problems.generate import make_problem  # noqa: E402
from vaetheory.variants import get_variant  # noqa: E402

GAMMA = 1e-2


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_gradient_and_hessian_match_finite_differences(cov):
    p = make_problem(3, 5, 2, 2, "orthogonal", 0)
    e = Energy(cov, p.Phi, p.X, GAMMA)
    nu = np.random.default_rng(1).exponential(size=(2, 5))
    nu[0, 2] = 0.0
    _, g, H, _ = e.derivatives(nu)
    h = 1e-6
    I = np.eye(5)
    gn = np.stack([(e.value(nu + h * I[j]) - e.value(nu - h * I[j])) / (2 * h) for j in range(5)], 1)
    Hn = np.stack([(e.derivatives(nu + h * I[j])[1] - e.derivatives(nu - h * I[j])[1]) / (2 * h) for j in range(5)],
                  2)
    assert np.abs(gn - g).max() <= 1e-6 * np.abs(g).max()
    assert np.abs(Hn - H).max() <= 1e-5 * np.abs(H).max()


@pytest.fixture(scope="module")
def diag_case():
    """vae-diag at d = 2, κ = 4, n = 1 (orthogonal rows): the complete list has the optimum and bad minima."""
    problem = make_problem(2, 4, 1, 1, "orthogonal", 0)
    landscape = run_landscape(problem, get_variant("vae-diag"), gamma=GAMMA, time_limit=60)
    bf = brute_force("diag", problem.Phi, problem.X, GAMMA, random_starts=100, face_starts=2)
    return landscape, bf


def test_bruteforce_minima_are_on_the_complete_list(diag_case):
    landscape, bf = diag_case
    assert landscape.complete, landscape.unresolved
    assert len(bf.minima) >= 2 and bf.n_basic == 6
    out = compare(bf, landscape)
    assert out["missing"] == [] and out["missing_in_unresolved"] == []
    assert out["listed_not_float_min"] == []  # and, in floats, every listed minimum is a strict minimum


def test_a_dropped_minimum_is_reported_missing(diag_case):
    landscape, bf = diag_case
    for drop in range(len(landscape.minima)):
        broken = copy.copy(landscape)
        broken.minima = [m for i, m in enumerate(landscape.minima) if i != drop]
        out = compare(bf, broken)
        found = [m["support"] for m in out["missing"]]
        assert found == [landscape.minima[drop].support], (drop, found)


def test_a_listed_non_kkt_point_is_not_a_float_minimum(diag_case):
    """ν = 0 put on the list of minima (some gradient there is negative): the float certificate must reject it."""
    landscape, bf = diag_case
    broken = copy.copy(landscape)
    fake = copy.deepcopy(landscape.minima[0])
    fake.support, fake.nu, fake.proof = [], [0.0] * len(fake.nu), {"status": "proved", "extra": {}}
    broken.minima = landscape.minima + [fake]
    bad = compare(bf, broken)["listed_not_float_min"]
    assert [(b["support"], b["float_kind"]) for b in bad] == [([], "not_kkt")]


def test_a_moved_minimum_is_reported_missing(diag_case):
    """Same support, ν displaced by 10 %: not the brute force's minimum, so it must not count as listed."""
    landscape, bf = diag_case
    broken = copy.copy(landscape)
    moved = copy.deepcopy(landscape.minima[0])
    moved.nu = [1.1 * v for v in moved.nu]
    extra = dict(moved.proof["extra"])
    extra["box_lo"] = [1.1 * v for v in extra["box_lo"]]
    extra["box_hi"] = [1.1 * v for v in extra["box_hi"]]
    moved.proof = dict(moved.proof, extra=extra)
    broken.minima = [moved] + landscape.minima[1:]
    out = compare(bf, broken)
    assert [m["support"] for m in out["missing"]] == [moved.support]
    assert len(out["extra"]) == 1
    assert [b["support"] for b in out["listed_not_float_min"]] == [moved.support]  # polish leaves the listed ν
