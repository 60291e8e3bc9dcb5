"""Process hygiene of the isolated child (issue 23): no orphan, no daemonised grandchild left holding stderr.

A plug-in starts a grandchild in a new session (``setsid``), writes both pids to a file, and hangs in its import.
Then `vaetheory check` is stopped by SIGTERM (as `timeout` does), killed outright (SIGKILL: only the child's tie to
its parent can act), or runs out of its own --timeout; in each case the child and the grandchild must be gone within
seconds. Before: SIGTERM to `vaetheory check` left its `python -m vaetheory.report.isolate` child running, and the
plug-in's setsid grandchild survived every case.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vaetheory.report.isolate import descendants

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

PLUGIN = '''"""Starts a setsid grandchild that holds stderr, records the pids, then hangs in its import."""
import os, subprocess, sys, threading
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
with open(os.environ["PIDS_FILE"] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}\\n")
os.replace(os.environ["PIDS_FILE"] + ".tmp", os.environ["PIDS_FILE"])
threading.Event().wait()
VARIANT = None
'''


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] != b"Z"


def _wait_gone(pids, seconds: float = 20.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.fixture
def started(tmp_path):
    """Start `vaetheory check` on the plug-in; yield (the process, the child's and grandchild's pids, tmp)."""
    from vaetheory.problems.generate import make_problem

    problem = make_problem(6, 10, 2, 4, "orthogonal", seed=1).save(tmp_path / "p.npz")
    plugin = tmp_path / "daemon_variant.py"
    plugin.write_text(PLUGIN)
    pids_file = tmp_path / "pids"
    env = dict(os.environ, PIDS_FILE=str(pids_file),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    procs = []

    def start(*extra: str):
        proc = subprocess.Popen([sys.executable, "-m", "vaetheory", "check", "--variant", f"{plugin}:VARIANT",
                                 "--problem", str(problem), "--out", str(tmp_path / "out"), *extra],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        deadline = time.monotonic() + 120
        while not pids_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert pids_file.exists(), proc.stderr.read() if proc.poll() is not None else "plug-in never started"
        isolate_pid, grandchild = map(int, pids_file.read_text().split())
        return proc, [isolate_pid, grandchild]

    yield start
    for proc in procs:  # whatever a failing test left
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


def test_sigterm_to_check_leaves_no_child_and_no_grandchild(started):
    proc, pids = started()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert _wait_gone(pids) == []


def test_sigkill_to_check_still_ends_the_child_and_its_grandchild(started):
    proc, pids = started()
    proc.kill()
    proc.wait()
    assert _wait_gone(pids) == []


def test_the_time_limit_kills_the_setsid_grandchild_too(started):
    proc, pids = started("--timeout", "20")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "timed out after 20 s" in stderr
    assert _wait_gone(pids, 5) == []


def test_descendants_finds_a_whole_tree():
    outer = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
                              "start_new_session=True); time.sleep(60)"])
    try:
        deadline = time.monotonic() + 30
        while len(descendants(outer.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        below = descendants(outer.pid)
        assert len(below) == 1 and outer.pid in descendants(os.getpid())
    finally:
        for pid in [outer.pid, *descendants(outer.pid)]:
            os.kill(pid, signal.SIGKILL)
        outer.wait()
