"""Hostile plug-ins and interrupted or concurrent runs (issue 13).

* a plug-in whose import never returns is stopped by the per-variant time limit, and the main job keeps every other
  variant's results and names the one that timed out;
* Ctrl-C during a check leaves only complete reports (no temporaries, no report without its Markdown and PNG);
* two checks writing to the same --out at once lose nothing: each writes its own summary, every report either run
  lists exists;
* the same seed gives byte-identical JSON (timings aside) with 1 and 2 torch threads and across processes.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import vaetheory.cli.commands  # noqa: F401  (registers the subcommands)
from vaetheory.cli import EXIT_OK, EXIT_USAGE, cli
from vaetheory.problems.generate import make_problem
from vaetheory.problems.profiles import ProblemSpec
from vaetheory.report.mainjob import run_main_job
from vaetheory.variants.builtin import VAE_FULL

ROOT = Path(__file__).resolve().parents[1]
HANGING = "tests/data/hanging_variant.py:VARIANT"
BROKEN = "tests/data/broken_variant.py:VARIANT"
TINY = [ProblemSpec("tiny", 6, 10, 2, 4, "orthogonal", 1)]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(scope="module")
def problem_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "p.npz"
    make_problem(6, 10, 2, 4, "orthogonal", seed=1).save(path)
    return path


def test_a_plugin_whose_import_never_returns_times_out(problem_file, tmp_path, monkeypatch):
    """Before: `vaetheory check` hung forever in the plug-in's import."""
    monkeypatch.chdir(ROOT)
    t0 = time.monotonic()
    res = CliRunner().invoke(cli, ["check", "--variant", HANGING, "--problem", str(problem_file), "--timeout", "2",
                                   "--out", str(tmp_path / "out")])
    assert time.monotonic() - t0 < 30
    assert res.exit_code == EXIT_USAGE and res.stdout == "", res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "timed out after 2 s" in lines[0] and HANGING in lines[0], res.stderr


def test_timeout_applies_to_builtins_when_given(problem_file, tmp_path):
    res = CliRunner().invoke(cli, ["check", "--variant", "vae-full", "--problem", str(problem_file), "--timeout",
                                   "0.2", "--out", str(tmp_path / "out")])
    assert res.exit_code == EXIT_USAGE and res.stdout == ""
    assert res.stderr.splitlines() == ["vaetheory: error: variant 'vae-full': timed out after 0.2 s (time limit for "
                                       "importing and running the variant)"]
    assert not list((tmp_path / "out").glob(".*.tmp")) if (tmp_path / "out").exists() else True


def test_main_job_keeps_the_other_variants_and_names_the_failed_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    # the built-in runs in this process (no timeout: a 10 s limit on it failed under a loaded machine); plug-ins
    # run in their child under plugin_timeout
    job = run_main_job("ci", tmp_path, 0, [VAE_FULL, HANGING, BROKEN], progress=False, problems=TINY,
                       plugin_timeout=10)
    by_name = {r.variant: r for r in job.records}
    assert by_name["vae-full"].error is None and sum(by_name["vae-full"].summary.values()) > 0
    assert "timed out after 10 s" in by_name[HANGING].error
    assert "is not usable" in by_name[BROKEN].error  # the import checker ran on the plug-in, in its child
    data = json.loads(job.summary_json.read_text())
    assert set(data["failed_variants"]) == {HANGING, BROKEN}
    md = job.summary_md.read_text()
    assert f"`{HANGING}`: timed out" in md and re.search(r"\| vae-full \| fixed \|[^\n]*\| tiny \|", md)
    assert not list(tmp_path.glob(".*.tmp"))


def _complete(out: Path) -> list[str]:
    """Problems with the reports in `out`: temporaries left, or a report missing one of its files."""
    bad = [p.name for p in out.glob(".*.tmp")]
    for js in out.glob("*.json"):
        if js.name.startswith("summary-"):
            continue
        json.loads(js.read_text())  # complete JSON
        bad += [f"{js.stem}{ext} missing" for ext in (".md", ".png") if not js.with_suffix(ext).exists()]
    for other in list(out.glob("*.md")) + list(out.glob("*.png")):
        if not other.name.startswith("summary-") and not other.with_suffix(".json").exists():
            bad.append(f"{other.name} without its JSON")
    return bad


def test_ctrl_c_leaves_only_complete_reports(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vaetheory", "check", "--variant", "vae-diag", "--out", str(out)],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # interrupt while reports are being written
        if out.is_dir() and any(out.glob("*.json")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr.splitlines()[-1] == "vaetheory: interrupted" and "Traceback" not in stderr
    assert _complete(out) == []
    assert not list(out.glob("summary-*"))  # the interrupted run wrote no summary claiming to be whole


_JOB = """
import json, sys
from vaetheory.problems.profiles import ProblemSpec
from vaetheory.report.mainjob import run_main_job
job = run_main_job("ci", sys.argv[1], int(sys.argv[2]), ["vae-diag"], progress=False,
                   problems=[ProblemSpec("tiny", 6, 10, 2, 4, "orthogonal", 1)])
print(job.summary_json.read_text())
"""


def test_two_checks_sharing_an_out_folder_lose_nothing(tmp_path):
    """Before: both runs wrote summary.md/summary.json, the later one replacing the other's."""
    out = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, "-c", _JOB, str(out), str(seed)], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for seed in (0, 1)]
    summaries = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert {s["seed"] for s in summaries} == {0, 1}
    assert len(list(out.glob("summary-*.json"))) == 2 and len(list(out.glob("summary-*.md"))) == 2
    listed = [name for s in summaries for run in s["runs"] for name in run["reports"]]
    assert listed and all((out / name).is_file() for name in listed)
    assert _complete(out) == []


def _normalised(text: str) -> dict:
    data = json.loads(text)
    data.pop("timings", None)
    return data


def test_same_seed_same_bytes_with_1_and_2_threads_and_across_processes(problem_file, tmp_path):
    args = ["check", "--variant", "vae-diag", "--problem", str(problem_file), "--restarts", "4", "--seed", "3",
            "--json", "--out"]
    old = torch.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            res = CliRunner().invoke(cli, args + [str(tmp_path / f"t{threads}")])
            assert res.exit_code == EXIT_OK, res.output
            runs.append(res.stdout)
    finally:
        torch.set_num_threads(old)
    other = subprocess.run([sys.executable, "-m", "vaetheory", *args, str(tmp_path / "proc")], env=_env()
                           | {"OMP_NUM_THREADS": "2"}, capture_output=True, text=True, timeout=300)
    assert other.returncode == EXIT_OK, other.stderr
    runs.append(other.stdout)
    first = _normalised(runs[0])
    first.pop("reports")
    assert first["summary"].get("bad_local_min", 0) > 0  # there are reports to compare
    for text in runs[1:]:
        data = _normalised(text)
        data.pop("reports")
        assert data == first
    files = [{p.name: p.read_bytes() for p in (tmp_path / d).iterdir() if p.suffix in (".json", ".md")}
             for d in ("t1", "t2", "proc")]
    assert files[0] and files[0] == files[1] == files[2]
    assert np.all([json.loads(b)["reached_by"]["count"] >= 1 for n, b in files[0].items() if n.endswith(".json")])
