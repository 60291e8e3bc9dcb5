"""The main job and the `check` command: tables, summaries, reports, errors of one variant, exit codes."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from vaetheory.cli import cli
from vaetheory.cli import commands  # noqa: F401  (registers the subcommands)
from vaetheory.problems.generate import make_problem
from vaetheory.report.mainjob import run_main_job
from vaetheory.problems.profiles import ProblemSpec
from vaetheory.variants import get_variant
from vaetheory.variants.builtin import VAE_FULL

TINY = [ProblemSpec("tiny", 6, 10, 2, 4, "orthogonal", 1)]


@dataclass(frozen=True)
class Exploding:
    """vae-full whose energy raises: the main job must record it as an error and go on."""

    name: str = "exploding"
    description: str = "raises in energy()"
    claim = VAE_FULL.claim
    gamma = VAE_FULL.gamma

    def __getattr__(self, attr):
        return getattr(VAE_FULL, attr)

    def energy(self, params, Phi, X, gamma):
        raise RuntimeError("boom")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    variants = [get_variant("vae-diag"), Exploding(), VAE_FULL]
    return run_main_job("ci", out, 0, variants, progress=False, problems=TINY)


def test_failing_variant_is_recorded_and_the_run_goes_on(job):
    by_name = {r.variant: r for r in job.records}
    assert by_name["exploding"].error and "boom" in by_name["exploding"].error
    assert by_name["vae-full"].error is None and sum(by_name["vae-full"].summary.values()) > 0
    assert "ERROR" in job.table() and "exploding" in job.table()


def test_summaries_and_reports_are_written(job):
    data = json.loads(job.summary_json.read_text())
    assert [(r["variant"], r["gamma_mode"]) for r in data["runs"]] == [
        (name, mode) for name in ("vae-diag", "exploding", "vae-full") for mode in ("fixed", "learned")]
    assert data["exit_code"] == job.exit_code == 0  # nothing refuted: vae-diag only claims bad minima exist
    diag = next(r for r in job.records if r.variant == "vae-diag" and r.gamma_mode == "fixed")
    assert diag.summary["bad_local_min"] > 0 and diag.reports  # measured on this problem
    for name in diag.reports:
        assert (job.out_dir / name).is_file()
    md = job.summary_md.read_text()
    assert "| vae-diag | fixed | 1e-04 | tiny |" in md and "| vae-diag | learned |" in md
    assert "- `tiny`: d = 6, κ = 10, r = 2 nonzero rows, n = 4 samples" in md  # cell names explained
    for name in diag.reports:  # the summary links the readable reports, not their JSON
        md_name = name.replace(".json", ".md")
        assert f"]({md_name})" in md and (job.out_dir / md_name).is_file() and f"]({name})" not in md
    learned = next(r for r in job.records if r.variant == "vae-diag" and r.gamma_mode == "learned")
    lo, hi = learned.gamma_range  # the learned γ is reported, not the starting γ
    assert lo <= hi and f"{lo:.1e}" in md and f"{lo:.1e}" in job.table()
    assert "ERROR: " in md and "boom" in md


def test_main_job_covers_learned_gamma_beside_fixed_gamma(job):
    """The paper's setting (γ learned) is part of the main job for every variant whose γ is learnable."""
    runs = {(r.variant, r.gamma_mode): r for r in job.records}
    for name in ("vae-diag", "vae-full"):
        fixed, learned = runs[(name, "fixed")], runs[(name, "learned")]
        assert fixed.error is None and learned.error is None
        assert learned.gamma_mode == "learned" and sum(learned.summary.values()) > 0
        assert learned.claim_status is not None
    assert job.table().count("learned") >= 2


def test_ae_variants_run_at_fixed_gamma_only():
    from vaetheory.report.mainjob import gamma_modes

    assert gamma_modes(get_variant("ae-l1")) == (False,)
    assert gamma_modes(get_variant("vae-full")) == (False, True)


def test_check_command_single_problem_writes_reports(tmp_path):
    problem = make_problem(6, 10, 2, 4, "orthogonal", seed=1)
    path = problem.save(tmp_path / "p.npz")
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["check", "--variant", "vae-diag", "--problem", str(path), "--restarts", "4",
                                   "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["summary"]["bad_local_min"] == len(data["reports"]) > 0
    assert all((out / p.split("/")[-1]).is_file() for p in data["reports"])


def test_check_command_rejects_problem_without_variant(tmp_path):
    problem = make_problem(6, 10, 2, 4, "orthogonal", seed=1).save(tmp_path / "p.npz")
    res = CliRunner().invoke(cli, ["check", "--problem", str(problem)])
    assert res.exit_code == 2 and "--problem needs --variant" in res.output


def test_check_command_rejects_unknown_profile():
    res = CliRunner().invoke(cli, ["check", "--profile", "nope"])
    assert res.exit_code == 2 and "unknown profile" in res.output


def test_isolated_variant_runs_in_both_gamma_modes(tmp_path):
    """A variant run in a child process (here a built-in by name, under an explicit time limit) announces its γ
    modes, so both runs come back, in order."""
    job = run_main_job("ci", tmp_path, 0, ["vae-full"], progress=False, problems=TINY, timeout=600)
    assert [(r.variant, r.gamma_mode, r.error) for r in job.records] == [
        ("vae-full", "fixed", None), ("vae-full", "learned", None)]


def test_proof_counts_say_n_a_without_an_interval_hook_and_learned_gamma_is_reported():
    """ae-l1/ae-log have no interval proofs: their minima read "n/a", never "0/N" (which reads as failed proofs);
    a learned-γ run shows the γ range it ended in, not the starting γ."""
    from vaetheory.report.mainjob import format_table, gamma_text, proofs_text

    none = {v: {"proved": 0, "not_proved": 0, "not_applicable": c} for v, c in (("optimal", 4), ("bad_local_min", 0))}
    assert proofs_text(none, {"optimal": 4, "bad_local_min": 0}) == "n/a"
    some = {"optimal": {"proved": 5, "not_proved": 1, "not_applicable": 0},
            "bad_local_min": {"proved": 2, "not_proved": 0, "not_applicable": 0}}
    assert proofs_text(some, {"optimal": 6, "bad_local_min": 2}) == "7/8"
    assert proofs_text(None, {"optimal": 6}) == "off"
    assert gamma_text(1e-4, "learned", [2e-6, 6.3e-3]) == "2.0e-06..6.3e-03"
    run = {"variant": "ae-l1", "gamma_mode": "fixed", "gamma": 1e-2, "problem": "p", "summary": {"optimal": 4},
           "k_star": 3, "k_star_certain": True, "proofs": none, "claim_status": "not_confirmed"}
    row = format_table([run]).splitlines()[2]
    assert " n/a " in row and "0/4" not in row and row.endswith("not_confirmed")


def test_check_text_says_proofs_n_a_and_prints_the_learned_gamma(tmp_path):
    """`check --problem` text: a variant without interval proofs reads "proofs n/a" (it read "proved: optimal
    0/N"); with --learn-gamma the line gives the γ range the run ended in and the starting γ as such."""
    path = make_problem(6, 10, 2, 4, "orthogonal", seed=1).save(tmp_path / "p.npz")
    res = CliRunner().invoke(cli, ["check", "--variant", "ae-l1", "--problem", str(path), "--restarts", "2",
                                   "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "proofs n/a" in res.output and "proved:" not in res.output
    res = CliRunner().invoke(cli, ["check", "--variant", "vae-diag", "--problem", str(path), "--restarts", "2",
                                   "--learn-gamma", "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert "gamma learned: " in res.output and "at the minima, started at 0.0001" in res.output
    assert "proved: optimal" in res.output
