"""`vaetheory sweep`: spec validation (exact messages), a tiny sweep on an in-process Dask cluster (row schema,
resumability, a simulated kill), `sweep report` (DuckDB summary, Wilson intervals, heat maps), and the same sweep on
a scheduler and two workers started from the command line."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaetheory.core.errors import InputError
from vaetheory.sweep.report import wilson_interval, write_summary
from vaetheory.sweep.spec import spec_from_text
from vaetheory.sweep.store import SweepDir
from vaetheory.sweep.tasks import ROW_FIELDS

ROOT = Path(__file__).resolve().parents[1]

# Seconds on an idle core: 2 cells x 1 problem, one variant at fixed γ, 2 restarts, no relaxation.
SPEC = """
[sweep]
name = "unit"
problems = 1
restarts = 2
variants = ["vae-diag"]
gamma = ["fixed:1e-4"]
oracle = "enumerate"
relax = false
reports = 1
[grid]
d = [5]
kappa = [8]
r = [2, 3]
n = [3]
"""

VALID = """
[sweep]
name = "t"
problems = 1
restarts = 2
variants = ["vae-full"]
gamma = ["fixed"]
[grid]
d = [5]
kappa = [8]
r = [2]
n = [3]
"""


def _spec_with(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize("text, message", [
    (_spec_with('name = "t"', 'name = "t"\nrestart = 3'),
     "spec: unknown key(s) in [sweep]: 'restart' (known: adversarial, budget, continuation, gamma, maxiter, "
     "mip_time_limit, name, oracle, problems, prove, relax, report_plots, reports, restarts, seed, skip_infeasible, timeout, variants)"),
    (_spec_with("n = [3]", "n = [3]\nsigma = [1]"),
     "spec: unknown key(s) in [grid]: 'sigma' (known: d, kappa, r, n, rows, noise)"),
    (VALID + "[extra]\n", "spec: unknown table(s) 'extra' (expected [sweep] and [grid])"),
    (_spec_with("restarts = 2", "restarts = 0"), "spec: [sweep] restarts must be an integer >= 1, got 0"),
    (_spec_with("restarts = 2", 'restarts = "8"'), "spec: [sweep] restarts must be an integer >= 1, got '8'"),
    (_spec_with("problems = 1", "problems = true"), "spec: [sweep] problems must be an integer >= 1, got True"),
    (_spec_with("d = [5]", "d = []"), "spec: [grid] d must not be empty"),
    (_spec_with("d = [5]", "d = 5"), "spec: [grid] d must be a list, got 5"),
    (_spec_with("d = [5]", "d = [5, 5]"), "spec: [grid] d has repeated entries: [5, 5]"),
    (_spec_with("d = [5]", "d = [5.5]"), "spec: [grid] d entries must be an integer >= 1, got 5.5"),
    (_spec_with('variants = ["vae-full"]', "variants = []"), "spec: [sweep] variants must not be empty"),
    (_spec_with('gamma = ["fixed"]', 'gamma = ["fixed:abc"]'),
     "spec: [sweep] gamma entry 'fixed:abc': 'abc' is not a number"),
    (_spec_with('gamma = ["fixed"]', 'gamma = ["fixed:-1e-6"]'),
     "spec: [sweep] gamma entry 'fixed:-1e-6': gamma must be finite and > 0"),
    (_spec_with('gamma = ["fixed"]', 'gamma = ["learn"]'),
     "spec: [sweep] gamma entry 'learn' is not 'fixed', 'fixed:G', 'learned' or 'learned:G'"),
    (_spec_with('gamma = ["fixed"]', 'gamma = ["fixed:"]'),
     "spec: [sweep] gamma entry 'fixed:' is not 'fixed', 'fixed:G', 'learned' or 'learned:G'"),
    (_spec_with('gamma = ["fixed"]', "gamma = [1e-6]"),
     "spec: [sweep] gamma entries must be strings like 'fixed', 'fixed:1e-6', 'learned' or 'learned:1e-2'; "
     "got 1e-06"),
    (_spec_with('gamma = ["fixed"]', 'gamma = ["fixed:1e-4", "fixed:0.0001"]'),
     "spec: [sweep] gamma has repeated modes: ['fixed:1e-4', 'fixed:0.0001']"),
    (_spec_with('name = "t"', 'name = "t"\noracle = "exhaustive"'),
     "spec: [sweep] oracle must be one of auto, enumerate, uniqueness, mip, none; got 'exhaustive'"),
    (_spec_with('name = "t"', 'name = "a b"'),
     "spec: [sweep] name must be a non-empty string of letters, digits, '-', '_' or '.', got 'a b'"),
    (_spec_with("r = [2]", "r = [9]"), "spec: [grid] r = 9 exceeds kappa = 8 (every r must be <= every kappa)"),
    (_spec_with("n = [3]", 'n = [3]\nrows = ["sparse"]'),
     "spec: [grid] rows entries must be one of orthogonal, gaussian, rank_deficient; got 'sparse'"),
    (_spec_with("n = [3]", "n = [1]"),
     'spec: [grid] rows = "orthogonal" needs n >= r (orthogonal nonzero rows of Z*); r = 2 > n = 1 '
     '(or set skip_infeasible = true to skip such cells)'),
    (_spec_with("n = [3]", "n = [3]\nnoise = [-1.0]"), "spec: [grid] noise entries must be numbers >= 0, got -1.0"),
    (_spec_with("restarts = 2\n", ""), "spec: [sweep] restarts is required"),
    (_spec_with("kappa = [8]\n", ""), "spec: [grid] kappa is required"),
    (_spec_with('name = "t"', 'name = "t"\nprove = "yes"'),
     "spec: [sweep] prove must be true, false or \"auto\", got 'yes'"),
    (_spec_with('variants = ["vae-full"]', 'variants = ["ae-l1"]\ngamma = ["learned"]').replace('gamma = ["fixed"]\n', ""),
     "spec: [sweep] variants: variant 'ae-l1' does not support a learned gamma (drop it or the 'learned' gamma mode)"),
    ("[sweep\n", None),
])
def test_spec_errors_are_exact(text, message):
    with pytest.raises(InputError) as info:
        spec_from_text(text)
    if message is None:  # TOML syntax: tomllib's own message, prefixed
        assert str(info.value).startswith("spec: not valid TOML: ")
    else:
        assert str(info.value) == message


def test_unknown_variant_is_named():
    with pytest.raises(InputError, match=r"^spec: \[sweep\] variants: .*no-such-vae"):
        spec_from_text(_spec_with('variants = ["vae-full"]', 'variants = ["no-such-vae"]'))


def test_skip_infeasible_keeps_one_spec_for_n_below_and_above_r():
    """Orthogonal rows need n >= r: without the key such a grid is an error; with it those cells are skipped, and a
    built-in that cannot learn γ runs its fixed modes only."""
    from vaetheory.sweep.tasks import skipped_learned

    text = """[sweep]
name = "mixed"
problems = 1
restarts = 2
variants = ["vae-full", "ae-l1"]
gamma = ["fixed", "learned"]
{extra}
[grid]
d = [4]
kappa = [8]
r = [1, 3]
n = [2]
rows = ["orthogonal", "gaussian"]
"""
    with pytest.raises(InputError, match="skip_infeasible"):
        spec_from_text(text.format(extra="").replace('"vae-full", "ae-l1"', '"vae-full"'))
    with pytest.raises(InputError, match="does not support a learned gamma"):
        spec_from_text(text.format(extra="").replace('rows = ["orthogonal", "gaussian"]', 'rows = ["gaussian"]'))
    spec = spec_from_text(text.format(extra="skip_infeasible = true"))
    cells = {(c.rows, c.r) for c in spec.cells()}
    assert cells == {("orthogonal", 1), ("gaussian", 1), ("gaussian", 3)}
    assert skipped_learned(spec, "ae-l1") and not skipped_learned(spec, "vae-full")
    with pytest.raises(InputError, match="no cell can be drawn"):
        spec_from_text(text.format(extra="skip_infeasible = true").replace('rows = ["orthogonal", "gaussian"]',
                                                                           'rows = ["orthogonal"]')
                       .replace("r = [1, 3]", "r = [3]"))


def test_shipped_specs_are_valid():
    names = sorted(p.name for p in (ROOT / "specs").glob("*.toml"))
    assert {"tiny.toml", "learned-gamma.toml", "goldfish.toml"} <= set(names)
    for name in names:
        spec = spec_from_text((ROOT / "specs" / name).read_text(), name)
        assert spec.tasks()
    gold = spec_from_text((ROOT / "specs" / "goldfish.toml").read_text())
    assert gold.grid["d"] == (100,) and gold.grid["kappa"] == (200,) and gold.grid["n"] == (1,)
    assert gold.grid["r"] == (2, 10, 20, 30, 40, 50, 60) and gold.problems == 10


def test_task_seeds_and_ids_are_deterministic_and_local():
    a = spec_from_text(SPEC)
    b = spec_from_text(SPEC.replace("d = [5]", "d = [5, 6]"))
    ka, kb = a.tasks(), b.tasks()
    assert [k.task_id for k in ka] == [k.task_id for k in spec_from_text(SPEC).tasks()]
    seeds_b = {(k.cell, k.index): k.problem_seed for k in kb}
    assert all(seeds_b[(k.cell, k.index)] == k.problem_seed for k in ka)  # adding a cell changes no problem
    assert len({k.problem_seed for k in ka}) == len(ka)


def test_a_failing_run_becomes_error_rows_and_the_task_goes_on(monkeypatch):
    """A run that raises gives one `error` row for that variant × γ mode; a failing oracle, one per run."""
    import vaetheory.verdict.check as check
    from vaetheory.sweep.tasks import run_task

    spec = spec_from_text(SPEC.replace('gamma = ["fixed:1e-4"]', 'gamma = ["fixed:1e-4", "fixed:1e-3"]'))

    def boom(*args, **kwargs):
        raise FloatingPointError("energy evaluation failed\nsecond line")

    monkeypatch.setattr(check, "run_check", boom)
    out = run_task(spec, spec.tasks()[0])
    assert [(r["verdict"], r["gamma_mode"], r["error"]) for r in out["rows"]] == [
        ("error", g, "FloatingPointError: energy evaluation failed") for g in ("fixed:1e-4", "fixed:1e-3")]
    assert out["rows"][0]["task_id"] == spec.tasks()[0].task_id and out["reports"] == {}
    monkeypatch.setattr(check, "analyse_problem", lambda *a, **k: 1 / 0)
    out = run_task(spec, spec.tasks()[0])
    assert {r["error"] for r in out["rows"]} == {"ZeroDivisionError: division by zero"} and len(out["rows"]) == 2


def test_wilson_interval_known_values():
    """Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score, no continuity correction)."""
    for (k, n), (lo, hi) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                             (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        got = wilson_interval(k, n)
        assert got == pytest.approx((lo, hi), abs=6e-5), (k, n, got)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def _rows(folder: Path):
    import pyarrow.dataset as ds

    return ds.dataset(str(folder / "results"), format="parquet").to_table()


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                      silence_logs=40) as lc, Client(lc) as client:
        yield client


@pytest.fixture(scope="module")
def swept(cluster, tmp_path_factory):
    from vaetheory.sweep.run import run_sweep

    out = tmp_path_factory.mktemp("sweep") / "unit"
    spec = spec_from_text(SPEC)
    run = run_sweep(spec, SPEC, out, client=cluster, progress=False)
    return spec, out, run


def test_a_tiny_sweep_writes_one_file_per_task_with_the_schema(swept):
    spec, out, run = swept
    assert run.total == run.ran == 2 and run.skipped == run.lost == 0
    table = _rows(out)
    assert tuple(table.schema.names) == ROW_FIELDS
    assert table.num_rows == run.rows == 2 * spec.restarts
    rows = table.to_pylist()
    assert {r["verdict"] for r in rows} <= {"optimal", "bad_local_min", "saddle", "not_converged"}
    assert {(r["d"], r["kappa"], r["n"], r["rows"], r["spec"]) for r in rows} == {(5, 8, 3, "orthogonal", "unit")}
    assert {r["r"] for r in rows} == {2, 3} and {r["oracle_method"] for r in rows} == {"enumerate"}
    assert all(r["k_star"] == r["r"] and r["support_size"] == len(r["support"]) for r in rows)
    assert all(r["gamma_mode"] == "fixed:1e-4" and r["gamma"] == 1e-4 for r in rows)
    per_run = Counter((r["task_id"], r["variant"]) for r in rows if r["lowest"])
    assert all(v == 1 for v in per_run.values())  # at most one lowest certified minimum per run
    assert sorted(p.stem for p in (out / "results").glob("*.parquet")) == sorted(k.task_id for k in spec.tasks())
    assert (out / "spec.toml").read_text() == SPEC
    if any(r["verdict"] == "bad_local_min" for r in rows):
        assert list((out / "reports").glob("vae-diag-*.json"))


def test_a_second_run_adds_no_rows(swept, cluster):
    from vaetheory.sweep.run import run_sweep

    spec, out, _ = swept
    before = {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.parquet")}
    run = run_sweep(spec, SPEC, out, client=cluster, progress=False)
    assert (run.ran, run.skipped, run.rows) == (0, 2, 0)
    assert {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.parquet")} == before


def test_a_killed_sweep_completes_on_rerun(swept, cluster):
    """Simulated kill: one task's file is missing and a partial temporary is left behind."""
    from vaetheory.sweep.run import run_sweep

    spec, out, _ = swept
    before = _rows(out).num_rows
    victim = sorted((out / "results").glob("*.parquet"))[1]
    victim.unlink()
    partial = out / "results" / f".{victim.name}.999999.abc.tmp"
    partial.write_bytes(b"PAR1 half a file")
    run = run_sweep(spec, SPEC, out, client=cluster, progress=False)
    assert (run.ran, run.skipped) == (1, 1)
    assert victim.exists() and not partial.exists()
    assert _rows(out).num_rows == before


def test_a_folder_of_another_spec_is_refused(swept):
    spec, out, _ = swept
    other = spec_from_text(SPEC.replace("restarts = 2", "restarts = 3"))
    with pytest.raises(InputError, match=r"holds a different sweep \(its spec.toml differs in restarts\)"):
        SweepDir(out).open(other, SPEC)


def test_sweep_report_writes_summary_and_heat_maps(swept):
    spec, out, _ = swept
    result = write_summary(out)
    text = result.summary.read_text()
    assert text.startswith("# Sweep `unit`") and "Wilson" in text
    assert len(result.rows) == 2 and {r["r"] for r in result.rows} == {2, 3}
    for r in result.rows:
        assert r["problems"] == 1 and r["points"] == spec.restarts
        assert r["bad_rate_lo"] <= (r["bad_rate"] or 0) <= r["bad_rate_hi"]
        assert f"| {r['r']} | vae-diag | fixed:1e-4 | 1 |" in text
    assert result.figures and all(p.suffix == ".png" and p.read_bytes()[:4] == b"\x89PNG" for p in result.figures)


def test_sweep_cli_report_and_default_run(swept, tmp_path):
    from vaetheory.cli import cli, register_commands

    register_commands()
    _, out, _ = swept
    done = CliRunner().invoke(cli, ["sweep", "report", str(out)])
    assert done.exit_code == 0, done.output
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace("restarts = 2", "restarts = -1"))
    done = CliRunner().invoke(cli, ["sweep", str(bad), "--out", str(tmp_path / "o")])  # implied `run`
    assert done.exit_code == 2 and "[sweep] restarts must be an integer >= 1, got -1" in done.output
    assert not (tmp_path / "o").exists()


def test_sweep_help_and_spec_errors_import_no_heavy_stack(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace('oracle = "enumerate"', 'oracle = "magic"'))
    probe = ("import sys\nsys.argv = ['vaetheory'] + sys.argv[1:]\nfrom vaetheory.cli import main\ntry:\n    main()\n"
             "finally:\n    print('HEAVY=' + ','.join(m for m in ('torch', 'dask', 'distributed', 'duckdb', "
             "'pyarrow', 'matplotlib') if m in sys.modules), file=sys.stderr)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for args, code in ((["sweep", "--help"], 0), (["sweep", "run", "--help"], 0),
                       (["sweep", str(bad), "--out", str(tmp_path / "o")], 2)):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env,
                              timeout=120, cwd=tmp_path)
        lines = done.stderr.splitlines()
        assert done.returncode == code, done.stderr
        assert lines[-1] == "HEAVY=", (args, lines[-1])
        if code == 2:
            assert lines[:-1] == ["vaetheory: error: " + str(bad) + ": [sweep] oracle must be one of auto, "
                                  "enumerate, uniqueness, mip, none; got 'magic'"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.cluster
def test_scheduler_and_two_workers_give_the_same_verdict_counts(swept, tmp_path):
    """`dask scheduler` + two `dask worker` processes on 127.0.0.1, as a user would start them."""
    from distributed import Client

    from vaetheory.sweep.run import run_sweep

    spec, out, _ = swept
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    procs = []
    try:
        procs.append(subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        for _ in range(2):
            procs.append(subprocess.Popen([*dask, "worker", addr, "--nthreads", "1", "--no-dashboard",
                                           "--local-directory", str(tmp_path)], env=env, cwd=tmp_path,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(addr, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        remote = tmp_path / "remote"
        run = run_sweep(spec, SPEC, remote, scheduler=addr, progress=False)
        assert run.ran == 2 and run.lost == 0
        assert Counter(_rows(remote).column("verdict").to_pylist()) == Counter(_rows(out).column("verdict").to_pylist())
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
