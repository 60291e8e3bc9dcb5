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


def _sweep_rows():
    """Per-cell rows as `vaetheory.sweep.report.summarise` gives them: vae-diag has fewer bad end points with γ
    learned, vae-full none."""
    from vaetheory.sweep.report import wilson_interval

    rows = []
    for r, (fixed, learned) in zip((3, 5, 7), ((13, 10), (21, 13), (22, 14))):
        for variant, mode, bad in (("vae-diag", "fixed", fixed), ("vae-diag", "learned", learned),
                                   ("vae-full", "fixed", 0), ("vae-full", "learned", 0)):
            lo, hi = wilson_interval(bad, 24)
            rlo, rhi = wilson_interval(3, 3)
            rows.append({"variant": variant, "gamma_mode": mode, "r": r, "n": 20, "bad": bad, "points": 24,
                         "bad_point_lo": lo, "bad_point_hi": hi, "problems_recovered": 3, "problems": 3,
                         "recovery_lo": rlo, "recovery_hi": rhi})
    return rows


def test_the_sweep_line_plot_draws_the_share_of_bad_end_points_with_its_intervals():
    """One varying axis: a line per γ mode in each variant's panel, the share of bad end points (not 'any bad end
    point', which was solid red for vae-diag) with its Wilson interval as error bars."""
    from vaetheory.sweep.report import line_figure, png

    rows = _sweep_rows()
    fig = line_figure(rows, "r", [3, 5, 7], ["vae-full", "vae-diag"], ["fixed", "learned"], "t")
    assert png(fig)[:4] == b"\x89PNG"
    diag = next(ax for ax in fig.axes if ax.get_title() == "vae-diag: share of bad end points")
    assert [t.get_text() for t in diag.get_legend().get_texts()] == ["γ fixed", "γ learned"]
    fixed = diag.containers[0]  # ErrorbarContainer: (line, caps, bar LineCollection)
    _, _, (bars,) = fixed.lines
    spans = [v for seg in bars.get_segments() for v in (seg[0][1], seg[1][1])]
    want = [v for r in rows if r["variant"] == "vae-diag" and r["gamma_mode"] == "fixed"
            for v in (r["bad_point_lo"], r["bad_point_hi"])]
    assert spans == pytest.approx(want)
    line, _, _ = fixed.lines
    assert list(line.get_ydata()) == pytest.approx([13 / 24, 21 / 24, 22 / 24])


def test_the_sweep_heat_map_labels_each_cell_with_its_interval():
    from vaetheory.sweep.report import heatmap_figure

    rows = _sweep_rows()
    fig = heatmap_figure(rows, "r", "n", [3, 5, 7], [20], [("vae-diag", "learned")], "t")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    r = next(x for x in rows if x["variant"] == "vae-diag" and x["gamma_mode"] == "learned" and x["r"] == 5)
    assert f"13/24\n[{r['bad_point_lo']:.2f}, {r['bad_point_hi']:.2f}]" in texts
    assert "share of bad end points" in ax.get_title()
