"""The verdict step judges bit-identical end points once (`vaetheory.verdict.judge.identical_rows`): restarts that
end at the same point share its certificate and γ → 0 limit check, each keeps its own verdict record, and points
that differ in any bit are judged separately."""
from __future__ import annotations

import numpy as np
import pytest

import vaetheory.verdict.judge as judge
from vaetheory.problems.generate import make_problem
from vaetheory.search.multistart import make_starts, minimise
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant
from vaetheory.verdict.check import analyse_problem
from vaetheory.verdict.judge import identical_rows, judge_points, point_verdicts


@pytest.fixture(scope="module")
def floor_point():
    """An optimal γ → 0 limit point of vae-full (γ learned, at the floor) and the zero point (a saddle)."""
    problem = make_problem(5, 9, 2, 4, "orthogonal", 0)
    analysis = analyse_problem(problem, relax=False)
    variant = get_variant("vae-full")
    obj = Objective(variant, problem)
    starts = make_starts(obj, 1, np.random.default_rng(0), variant.gamma.default, learn_gamma=True)
    search = minimise(obj, starts, variant.gamma.default, learn_gamma=True)
    assert search.gamma[0] == variant.gamma.floor
    return obj, analysis.oracle, search.theta[0], float(search.gamma[0])


def _count_limit_rows(monkeypatch):
    rows = []
    real = judge.confirm_limit

    def counting(objective, theta, *args, **kwargs):
        rows.append(len(theta))
        return real(objective, theta, *args, **kwargs)

    monkeypatch.setattr(judge, "confirm_limit", counting)
    return rows


def test_identical_rows_merges_only_bit_identical_points():
    a = np.array([1.0, 2.0, 3.0])
    nudged = a.copy()
    nudged[1] = np.nextafter(a[1], np.inf)  # one ulp away: another point
    theta = np.stack([a, a, nudged, a])
    first, back = identical_rows(theta, np.full(4, 1e-6))
    assert first.tolist() == [0, 2] and back.tolist() == [0, 0, 1, 0]
    first, back = identical_rows(theta, np.array([1e-6, 2e-6, 1e-6, 1e-6]))  # γ differs: not the same point
    assert first.tolist() == [0, 1, 2] and back.tolist() == [0, 1, 2, 0]
    first, _ = identical_rows(theta[[0, 1]], np.full(2, 1e-6), np.array([1e-6, 1e-8]))  # nor a different floor
    assert first.tolist() == [0, 1]


def test_restarts_at_one_point_share_one_limit_check(floor_point, monkeypatch):
    obj, oracle, p, g = floor_point
    nudged = p.copy()
    j = int(np.argmax(p))
    nudged[j] = np.nextafter(p[j], np.inf)
    zero = np.zeros_like(p)
    theta = np.stack([p, p, nudged, zero, p])
    X = obj.problem.X
    gamma = np.array([g, g, g, float(np.sum(X ** 2)) / X.size, g])  # ν = 0 is stationary in γ there
    floor = obj.variant.gamma.floor
    rows = _count_limit_rows(monkeypatch)
    shared = judge_points(obj, theta, gamma, oracle, gamma_floor=floor)
    # the limit check ran once for the three restarts at p, once for the point one ulp away, never for the saddle
    assert rows == [2]
    assert shared.verdicts[:3] == ["optimal"] * 3 and shared.verdicts[4] == "optimal"
    assert shared.verdicts[3] == "saddle"
    assert shared.limit.tolist() == [True, True, True, False, True]
    # every point keeps its own record; those at p are equal in every field
    records = [r.to_dict() for r in point_verdicts(shared, gamma, ["random"] * 5, np.zeros(5))]
    assert len(records) == 5 and records[0] == records[1] == records[4]
    # the same verdicts, reasons and certificate as judging every row on its own (the sharing switched off)
    monkeypatch.setattr(judge, "SHARE_IDENTICAL", False)
    rows.clear()
    each = judge_points(obj, theta, gamma, oracle, gamma_floor=floor)
    assert rows == [4]  # the mutation: every restart at p pays for its own limit check
    assert each.verdicts == shared.verdicts and each.reasons == shared.reasons
    assert (each.masks == shared.masks).all() and (each.limit == shared.limit).all()
    for name in ("energy", "kkt_active", "kkt_inactive", "min_hessian_eig_rel"):
        # (a batch of 5 and one of 1 round differently: gradients near 0 agree to ~1e-17 absolute, not relative)
        np.testing.assert_allclose(getattr(each.certificate, name), getattr(shared.certificate, name), rtol=1e-9,
                                   atol=1e-14)
    # the slope divides energies at γ = 1e-8 and 1e-10, whose rounding is ~eps‖X‖²/γ: batches agree to ~1e-8
    np.testing.assert_allclose(each.slope, shared.slope, rtol=1e-6)


def test_run_check_judges_identical_end_points_once(monkeypatch):
    """vae-full with γ learned: all restarts of a small problem reach one limit point, and the check's limit check
    runs on the distinct points only."""
    from vaetheory.verdict.check import run_check

    problem = make_problem(5, 9, 2, 4, "orthogonal", 0)
    rows = _count_limit_rows(monkeypatch)
    res = run_check(problem, get_variant("vae-full"), restarts=6, seed=0, learn_gamma=True, adversarial_fraction=0)
    distinct = len(identical_rows(res.search.theta, res.search.gamma)[0])
    assert sum(rows) == distinct < 6
    assert len(res.points) == 6 and all(pt.verdict == "optimal" and pt.limit for pt in res.points)
