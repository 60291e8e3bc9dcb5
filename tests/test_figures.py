"""Report figures, checked without a browser: through the report's JSON and Markdown and the figure's own text and
artists (`ReportFigure.texts`, its axes).

- a convex variant's report (ae-l21) never compares its point with itself: the reference is the sparsest
  solution's fit, and the report says there is no barrier;
- a difference at rounding level is never a barrier;
- the figure carries the problem's size and seed, k*, the proof status, and no API names; both points are on the
  line panel.
"""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.problems.generate import make_problem
from vaetheory.report.counterexample import (
    barrier_on_segment, load_report, render_png, rounding_level, write_check_reports)
from vaetheory.variants import get_variant
from vaetheory.verdict.check import run_check

ORIGIN = {"name": "gauss-d8-k16", "rows": "gaussian", "seed": 1}


@pytest.fixture(scope="module")
def l21_report(tmp_path_factory):
    """ae-l21 on the main job's gauss-d8-k16 problem: its (unique, convex) minimum is not the sparsest (measured:
    every restart ends there, a `bad_local_min` against k* = 3)."""
    problem = make_problem(8, 16, 3, 6, "gaussian", 1)
    result = run_check(problem, get_variant("ae-l21"), restarts=2, seed=0, prove=False)
    assert result.bad_points, result.summary
    out = tmp_path_factory.mktemp("l21")
    paths = write_check_reports(result, out, limit=1, origin=ORIGIN)[0]
    return result, paths, load_report(paths.json)


@pytest.fixture(scope="module")
def diag_report(tmp_path_factory):
    """vae-diag from non-optimal BFS starts (tests/test_report.py): a bad minimum behind a real barrier."""
    problem = make_problem(6, 10, 2, 4, "orthogonal", seed=1)
    result = run_check(problem, get_variant("vae-diag"), restarts=4, seed=0, adversarial_fraction=1.0)
    assert result.bad_points, result.summary
    out = tmp_path_factory.mktemp("diag")
    paths = write_check_reports(result, out, limit=1, origin={"name": "tiny", "rows": "orthogonal", "seed": 1})[0]
    return result, paths, load_report(paths.json)


def _figure(result, data):
    """Draw the report's figure and return the `ReportFigure` it was drawn on."""
    cache: dict = {}
    png = render_png(data, result.problem, result.variant, cache)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return next(v for k, v in cache.items() if isinstance(k, tuple) and k[0] == "figure")


def test_a_convex_variant_is_compared_with_the_sparsest_solution_not_itself(l21_report):
    _, paths, data = l21_report
    prof = data["profile"]
    energy = data["verdict"]["energy"]
    # the segment joins two different points: its ends differ by far more than rounding
    assert abs(prof["variant_energy"][-1] - prof["variant_energy"][0]) > 1e6 * rounding_level(energy)
    assert prof["reference"]["kind"] == "sparsest_fit"
    assert prof["reference"]["support"] == data["oracle"]["supports"][0] != data["verdict"]["support"]
    assert prof["reference"]["energy"] > energy  # the fit is higher: the point is the variant's only minimum
    assert prof["barrier"]["status"] == "no_crossing" and prof["barrier"]["height"] is None
    assert prof["optimal_energy"] is None  # no optimal minimum exists to name
    md = paths.markdown.read_text()
    assert "at an optimal minimum" not in md and "no barrier" in md and "sparsest solution" in md


def test_a_nonconvex_bad_minimum_is_compared_with_an_optimal_minimum_behind_a_barrier(diag_report):
    result, paths, data = diag_report
    prof = data["profile"]
    assert prof["reference"]["kind"] == "optimal_minimum"
    assert prof["optimal_energy"] < data["verdict"]["energy"]
    b = prof["barrier"]
    assert b["status"] == "barrier" and b["height"] > 1e3 * b["rounding"] and b["t_cross"] is not None
    assert f"height {b['height']:.3g}" in paths.markdown.read_text()
    fig = _figure(result, data)
    assert any(t.startswith(f"barrier {b['height']:.3g}") for t in fig.texts())


class _Flat:
    """An objective stand-in whose energy is constant up to rounding noise along any segment (ae-l21's segment
    to itself drew 1.78e-15 as a 'barrier'), optionally with a real bump of height `bump` near t = 0.05."""

    def __init__(self, a, b, bump=0.0):
        self.a, self.b, self.bump = a, b, bump

    def value_and_grad(self, points, gammas):
        t = (points - self.a) @ (self.b - self.a) / ((self.b - self.a) @ (self.b - self.a))
        noise = np.random.default_rng(0).standard_normal(len(points)) * 2e-15
        E = 8.385 + noise + self.bump * np.exp(-((t - 0.05) / 0.01) ** 2) - self.bump * 5 * np.maximum(t - 0.1, 0)
        return E, None, None


@pytest.mark.parametrize("bump", [0.0, 1e-3])
def test_no_barrier_below_rounding_level(bump):
    a, b = np.zeros(3), np.ones(3)
    out = barrier_on_segment(_Flat(a, b, bump), a, b, 1e-2)
    assert out["rounding"] == pytest.approx(1e-12 * 8.385)
    if bump:  # a real barrier is still found and measured
        assert out["status"] == "barrier" and out["height"] == pytest.approx(bump, rel=0.05)
    else:
        assert out["status"] != "barrier" and out["height"] is None
        assert np.all(np.abs(out["rel"][np.isfinite(out["rel"])]) == 0)  # rounding noise is drawn as zero


def test_the_figure_says_what_it_shows(l21_report):
    result, _, data = l21_report
    fig = _figure(result, data)
    text = "\n".join(fig.texts())
    k = data["oracle"]["k_star"] if "k_star" in data["oracle"] else data["oracle"]["k"]
    for needed in (f"k* = {k}", "problem seed 1", "gauss-d8-k16", "d = 8", "κ = 16", "proof:",
                   "no barrier", "sparsest solution"):
        assert needed in text, needed
    assert "variant." not in text and "latent_scales" not in text  # no API names in labels
    lo, hi = fig.line.get_xlim()
    assert lo <= 0.0 and hi >= 1.0  # both points on the line panel, never cut
    marked = [line.get_xdata()[0] for line in fig.line.get_lines() if len(line.get_xdata()) == 1]
    assert 0.0 in marked and 1.0 in marked
    assert min(t.get_fontsize() for t in fig.line.get_xticklabels() + fig.bars.get_yticklabels()) >= 9
