"""Hostile plug-ins and folders in sweeps (issue 23).

* plug-ins run in an isolated child inside each task: one that segfaults or hangs is recorded with its name, the
  built-in's rows of the same task are kept, and the driver never imports a plug-in to validate the spec;
* the sweep exits 3 when a run failed, and a task the cluster keeps losing is written as error rows, not retried
  forever;
* a truncated result file is redone when the folder is opened, and `sweep report` on one is exit 2 with one line;
* two drivers opening one fresh folder at once both succeed; opening a folder leaves another driver's temporaries;
* a scheduler address that is not one, and an --out that cannot be written, are exit 2 with one line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import vaetheory.cli.sweep_cmd  # noqa: F401  (registers the subcommands)
from vaetheory.cli import EXIT_FAILED, EXIT_USAGE, cli
from vaetheory.sweep.spec import spec_from_text
from vaetheory.sweep.store import SweepDir
from vaetheory.sweep.tasks import isolated, run_task

ROOT = Path(__file__).resolve().parents[1]
HANGING = str(ROOT / "tests/data/hanging_variant.py") + ":VARIANT"

SEGFAULT = '''"""Importing this file kills its process (a NULL read)."""
import ctypes
ctypes.string_at(0)
VARIANT = None
'''

SPEC = """
[sweep]
name = "hostile"
problems = 1
restarts = 2
variants = {variants}
gamma = ["fixed:1e-4"]
oracle = "enumerate"
reports = 0
{extra}
[grid]
d = [4]
kappa = [6]
r = [2]
n = [3]
"""


def _spec(variants: list[str], extra: str = "") -> str:
    return SPEC.format(variants=json.dumps(variants), extra=extra)


@pytest.fixture(scope="module")
def segfault_plugin(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("plugins") / "segv_variant.py"
    path.write_text(SEGFAULT)
    return f"{path}:VARIANT"


def test_spec_validation_never_imports_a_plugin(tmp_path):
    """Before: loading the spec imported the plug-in to describe it, so a hanging import hung the driver."""
    marker = tmp_path / "imported"
    plugin = tmp_path / "loud_variant.py"
    plugin.write_text(f"open({str(marker)!r}, 'w').close()\nVARIANT = None\n")
    t0 = time.monotonic()
    spec = spec_from_text(_spec(["vae-diag", HANGING, f"{plugin}:VARIANT"]))
    assert time.monotonic() - t0 < 5
    assert spec.variants[1] == HANGING and not marker.exists()


def test_a_segfaulting_and_a_hanging_plugin_are_named_and_the_builtin_rows_kept(segfault_plugin, monkeypatch):
    """Before: the segfault killed the worker and lost every row of the task (the built-in's too), and a plug-in
    that hangs never let the task finish."""
    monkeypatch.setattr("vaetheory.report.isolate.DEFAULT_PLUGIN_TIMEOUT", 10.0)  # plug-ins' limit without a timeout
    spec = spec_from_text(_spec(["vae-diag", segfault_plugin, HANGING]))
    assert not isolated(spec, "vae-diag") and isolated(spec, HANGING)  # the built-in runs in the worker
    t0 = time.monotonic()
    out = run_task(spec, spec.tasks()[0])
    assert time.monotonic() - t0 < 60
    by_variant: dict[str, list[dict]] = {}
    for row in out["rows"]:
        by_variant.setdefault(row["variant"], []).append(row)
    assert len(by_variant["vae-diag"]) == 2 and all(r["verdict"] != "error" for r in by_variant["vae-diag"])
    [segv] = by_variant[segfault_plugin]
    assert segv["verdict"] == "error" and segfault_plugin in segv["error"] and "exit code -11" in segv["error"]
    [hang] = by_variant[HANGING]
    assert hang["verdict"] == "error" and "timed out after 10 s" in hang["error"] and HANGING in hang["error"]
    assert {f["variant"] for f in out["failures"]} == {segfault_plugin, HANGING}


def test_a_time_limit_isolates_every_variant_and_is_not_part_of_the_identity():
    limited = spec_from_text(_spec(["vae-diag"], "timeout = 30"))
    assert isolated(limited, "vae-diag") and limited.timeout == 30.0
    assert limited.identity() == spec_from_text(_spec(["vae-diag"])).identity()  # same task ids, same folder


def _run_cli(args, **kw):
    return CliRunner().invoke(cli, args, **kw)


def test_sweep_exits_3_on_a_failed_run_and_logs_the_variant(tmp_path, segfault_plugin):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(_spec(["vae-diag", segfault_plugin]))
    out = tmp_path / "out"
    res = _run_cli(["sweep", "run", str(spec_path), "--out", str(out), "--workers", "1", "--no-progress"])
    assert res.exit_code == EXIT_FAILED, res.output
    assert "1 with failed runs" in res.stderr
    logged = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [e["variant"] for e in logged] == [segfault_plugin]
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "results").to_pylist()
    assert {r["variant"]: r["verdict"] != "error" for r in rows} == {"vae-diag": True, segfault_plugin: False}


def test_a_task_lost_twice_is_written_as_error_rows(tmp_path, monkeypatch):
    """Before: a task that killed its worker every time was lost, and retried, on every run for ever."""
    from vaetheory.sweep import run as run_module

    class _Lost:
        def __init__(self, key):
            self.key = key

        def result(self):
            raise RuntimeError("KilledWorker: worker died")

        def release(self):
            pass

        def cancel(self):
            pass

    class _Client:  # a cluster whose worker dies on every task
        def submit(self, fn, spec, task, *, key, pure, retries):
            assert retries == 0  # dask never retries a task on its own
            return _Lost(key)

    monkeypatch.setattr("distributed.as_completed", lambda futures: iter(futures))
    text = _spec(["vae-diag"])
    spec = spec_from_text(text)
    out = tmp_path / "out"
    first = run_module.run_sweep(spec, text, out, client=_Client(), progress=False)
    assert (first.lost, first.failed) == (1, 0) and not list((out / "results").glob("*.parquet"))
    second = run_module.run_sweep(spec, text, out, client=_Client(), progress=False)
    assert (second.lost, second.failed) == (0, 1)
    [result] = (out / "results").glob("*.parquet")
    import pyarrow.parquet as pq

    [row] = pq.read_table(result).to_pylist()
    assert row["verdict"] == "error" and "lost by the cluster 2 times" in row["error"]
    third = run_module.run_sweep(spec, text, out, client=_Client(), progress=False)
    assert third.skipped == 1 and third.ran == 0


def _folder(tmp_path) -> tuple[Path, object, str]:
    text = _spec(["vae-diag"])
    spec = spec_from_text(text)
    out = tmp_path / "out"
    SweepDir(out).open(spec, text)
    return out, spec, text


def test_a_truncated_result_file_is_redone_and_report_refuses_it(tmp_path):
    """Before: the truncated file counted as done on re-run and then crashed `sweep report` with a traceback."""
    out, spec, text = _folder(tmp_path)
    task = spec.tasks()[0]
    bad = out / "results" / f"{task.task_id}.parquet"
    bad.write_bytes(b"PAR1" + b"\0" * 40)  # a Parquet file cut short: no footer
    res = _run_cli(["sweep", "report", str(out)])
    assert res.exit_code == EXIT_USAGE and res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "not a readable result file" in lines[0] and "Traceback" not in res.stderr
    folder = SweepDir(out).open(spec, text)
    assert task.task_id not in folder.done()
    assert (out / "results" / f"{task.task_id}.parquet.corrupt").exists()
    logged = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert logged[-1]["kind"] == "corrupt" and logged[-1]["task_id"] == task.task_id


def test_opening_a_folder_leaves_a_live_drivers_temporaries(tmp_path):
    """Before: opening a folder deleted every .*.tmp in results/, another driver's files in flight included."""
    out, spec, text = _folder(tmp_path)
    live = out / "results" / f".x.parquet.{os.getpid()}.abc123.tmp"
    live.write_bytes(b"in flight")
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    dead = out / "results" / f".y.parquet.{dead_pid}.abc123.tmp"
    dead.write_bytes(b"left by a killed driver")
    SweepDir(out).open(spec, text)
    assert live.exists() and not dead.exists()


_OPEN = """
import sys
from vaetheory.sweep.spec import spec_from_text
from vaetheory.sweep.store import SweepDir
text = open(sys.argv[1]).read()
SweepDir(sys.argv[2]).open(spec_from_text(text), text)
"""


def test_two_drivers_opening_one_fresh_folder_both_succeed(tmp_path):
    """Before: one in three failed with 'folder is not empty and has no spec.toml (not a sweep folder)'."""
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(_spec(["vae-diag"]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN, str(spec_path), str(out)], env=env,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, errors
        assert (out / "spec.toml").read_text() == spec_path.read_text()


@pytest.mark.parametrize("address", ["not a url", "tcp://", "foo://127.0.0.1:8786", "tcp://host:99999"])
def test_a_bad_scheduler_address_is_one_line(tmp_path, address):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(_spec(["vae-diag"]))
    res = _run_cli(["sweep", "run", str(spec_path), "--out", str(tmp_path / "out"), "--scheduler", address])
    assert res.exit_code == EXIT_USAGE and res.stdout == "" and "Traceback" not in res.stderr
    assert len(res.stderr.splitlines()) == 1 and "--scheduler" in res.stderr
    assert not (tmp_path / "out").exists()


def test_an_out_folder_that_cannot_be_written_is_one_line(tmp_path):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(_spec(["vae-diag"]))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = _run_cli(["sweep", "run", str(spec_path), "--out", str(blocker / "out")])
    assert res.exit_code == EXIT_USAGE and res.stdout == ""
    assert res.stderr.splitlines() == [f"vaetheory: error: --out {blocker / 'out'}: {blocker} exists and is not a "
                                       f"folder"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_folder_is_one_line(tmp_path):
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(_spec(["vae-diag"]))
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    res = _run_cli(["sweep", "run", str(spec_path), "--out", str(ro / "out")])
    assert res.exit_code == EXIT_USAGE and "is not writable" in res.stderr and len(res.stderr.splitlines()) == 1
