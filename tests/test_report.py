"""Counterexample reports: contents, atomic no-overwrite naming, and replay (library and CLI exit codes)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from vaetheory.verdict.check import run_check
from vaetheory.cli import cli
from vaetheory.cli import commands, replay_cmd  # noqa: F401  (imported for their side effect: registering subcommands)
from vaetheory.core.errors import InputError
from vaetheory.problems.generate import make_problem
from vaetheory.report.counterexample import append_finding, load_report, replay_report, write_check_reports
from vaetheory.variants import get_variant


@pytest.fixture(scope="module")
def diag_result():
    """vae-diag at its default small γ from non-optimal BFS starts: measured to give certified bad minima."""
    problem = make_problem(6, 10, 2, 4, "orthogonal", seed=1)
    result = run_check(problem, get_variant("vae-diag"), restarts=4, seed=0, adversarial_fraction=1.0)
    assert result.bad_points, result.summary
    return result


@pytest.fixture(scope="module")
def written(diag_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return out, write_check_reports(diag_result, out, limit=1)[0]


def test_report_holds_everything_needed_to_replay(written, diag_result):
    _, paths = written
    data = load_report(paths.json)
    i = diag_result.bad_points[0]
    assert data["kind"] == "bad_local_min" and data["variant"]["name"] == "vae-diag"
    assert data["variant"]["spec"] is None  # a built-in
    assert np.allclose(data["problem"]["Phi"], diag_result.problem.Phi)
    assert np.allclose(data["problem"]["X"], diag_result.problem.X)
    assert np.allclose(data["end"]["theta"], diag_result.search.theta[i])
    assert np.allclose(data["end"]["params"]["nu"], diag_result.search.theta[i])
    assert data["gamma_mode"] == "fixed" and data["point_gamma"] == pytest.approx(diag_result.gamma)
    assert set(data["versions"]) == {"vaetheory", "torch", "numpy", "scipy", "python"}
    assert data["oracle"]["supports"] == [list(s) for s in diag_result.analysis.oracle.supports]
    o = data["oracle"]  # the oracle evidence (docs/oracles.md), no wall-clock time
    assert o["method"] == "enumerate" and o["k_star_certain"] is True and "seconds" not in o
    assert o["witness"] in o["supports"] and o["witness_residual"] <= o["rtol"] and "auto → enumerate" in o["basis"]
    assert f"- oracle: enumerate — {o['basis']}" in paths.markdown.read_text()
    prof = data["profile"]
    assert len(prof["t"]) == len(prof["variant_energy"]) == len(prof["vae_full_energy"])
    # the optimal end point is far lower than the bad one: the segment really joins a bad and an optimal point
    assert prof["variant_energy"][-1] < prof["variant_energy"][0]
    assert paths.markdown.read_text().startswith("# bad_local_min")
    assert paths.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_writing_again_never_overwrites(written, diag_result):
    out, paths = written
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    again = write_check_reports(diag_result, out, limit=1)[0]
    assert again.json == paths.json
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_replay_reproduces(written):
    _, paths = written
    result = replay_report(paths.json)
    assert result.reproduced, result.mismatches
    assert result.verdict == "bad_local_min"


def test_replay_detects_a_tampered_point(written, tmp_path):
    _, paths = written
    data = json.loads(paths.json.read_text())
    theta = np.asarray(data["end"]["theta"])
    theta[np.argmax(theta)] *= 1.5  # no longer stationary
    data["end"]["theta"] = theta.tolist()
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(data))
    result = replay_report(bad)
    assert not result.reproduced and result.verdict != "bad_local_min"


def test_replay_cli_exit_codes(written, tmp_path):
    _, paths = written
    runner = CliRunner()
    assert runner.invoke(cli, ["replay", str(paths.json)]).exit_code == 0
    data = json.loads(paths.json.read_text())
    data["verdict"]["support"] = [0]
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    assert runner.invoke(cli, ["replay", str(changed)]).exit_code == 1
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    res = runner.invoke(cli, ["replay", str(garbage)])
    assert res.exit_code == 2 and "not a readable JSON report" in res.output
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"variant": {"name": "vae-diag"}}))
    assert runner.invoke(cli, ["replay", str(partial)]).exit_code == 2


def test_load_report_rejects_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such report"):
        load_report(tmp_path / "nope.json")


def test_findings_lines_are_appended_once(tmp_path):
    append_finding("first", tmp_path)
    append_finding("second", tmp_path)
    path = append_finding("first", tmp_path)
    assert path.read_text().count("- first") == 1 and "- second" in path.read_text()


def _figure_inputs(result, count):
    from vaetheory.report.counterexample import distinct_bad_points, energy_profiles, point_report

    datas = []
    for members in distinct_bad_points(result)[:count]:
        d = point_report(result, members[0])
        datas.append(d | {"profile": energy_profiles(d, result.problem, result.variant, {})})
    return datas


@pytest.mark.parametrize("broken", [False, True])
def test_a_figure_reused_across_reports_draws_each_as_a_fresh_one(diag_result, monkeypatch, broken):
    """write_check_reports builds the figure once and swaps each report's data in: every PNG is byte-identical to
    the one a fresh figure draws. The mutation (broken: the previous report's artists are left in place) shows the
    comparison can fail."""
    from vaetheory.report import figure
    from vaetheory.report.counterexample import render_png

    datas = _figure_inputs(diag_result, 2)
    if len(datas) < 2:  # two bad supports: a second, different report on the same problem
        datas.append(datas[0] | {"verdict": datas[0]["verdict"] | {"support": datas[0]["verdict"]["support"][:1]}})
    if broken:
        monkeypatch.setattr(figure.ReportFigure, "_keep", lambda self, *artists: None)
    shared = {}
    seq = [render_png(d, diag_result.problem, diag_result.variant, shared) for d in datas]
    fresh = [render_png(d, diag_result.problem, diag_result.variant, {}) for d in datas]
    assert seq[0] == fresh[0] and seq[0] != seq[1]
    assert (seq[1] == fresh[1]) is not broken
