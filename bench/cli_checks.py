"""`vaetheory check --variant V --problem P.npz --restarts 32 --json` per built-in variant: wall time of the whole
command (a fresh process: imports, oracle, ℓ2,1 relaxation, conditions, search, certificates, reports), with the
run's own phase timings and verdict counts. Problem: d=20, κ=40, r=5, n=20, orthogonal rows, seed 0. Target: under
10 s on 2 cores for vae-full.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import load
from vaetheory.problems.generate import make_problem
from vaetheory.variants.registry import available_variants

ROOT = Path(__file__).resolve().parent.parent
CLI = "from vaetheory.cli import main; main()"  # the console script's entry point, without needing an install


def check_once(variant: str, problem_path: Path, restarts: int, out_dir: Path, timeout: float) -> dict[str, Any]:
    """Run the command once in a subprocess (killed after `timeout` s); wall seconds, exit code, summary, timings."""
    env = os.environ | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-c", CLI, "check", "--variant", variant, "--problem", str(problem_path),
           "--restarts", str(restarts), "--out", str(out_dir), "--json"]
    load_before = load()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out_dir, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "restarts": restarts, "wall_seconds": time.perf_counter() - t0,
                "exit_code": None, "timed_out": True, "error": f"killed after {timeout:g} s",
                "load_before": load_before, "load_after": load()}
    wall = time.perf_counter() - t0
    row: dict[str, Any] = {"variant": variant, "restarts": restarts, "wall_seconds": wall,
                           "exit_code": proc.returncode, "load_before": load_before, "load_after": load()}
    try:
        data = json.loads(proc.stdout)
        row.update(summary=data["summary"], claim=data["claim"]["status"], timings=data["timings"],
                   optimal_method=data["optimal"]["method"])
    except (json.JSONDecodeError, KeyError):
        row["error"] = (proc.stderr or proc.stdout)[-500:]
    return row


def import_seconds() -> float:
    """Wall seconds of a process that only imports the CLI (the fixed cost inside every figure above)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import vaetheory.cli.commands, vaetheory.verdict.check"], env=env, check=True)
    return time.perf_counter() - t0


def run(quick: bool, timeout: float = 300.0) -> dict[str, Any]:
    """The cli section (quick: vae-full on a tiny problem, 4 restarts); each command is killed after `timeout` s."""
    sizes = (8, 16, 3, 6) if quick else (20, 40, 5, 20)
    restarts = 4 if quick else 32
    variants = ["vae-full"] if quick else [v for v in available_variants()
                                           if v in ("vae-full", "vae-diag", "ae-l21", "ae-l1", "ae-log")]
    with tempfile.TemporaryDirectory() as tmp:
        path = make_problem(*sizes, "orthogonal", seed=0).save(Path(tmp) / "P.npz")
        rows = [check_once(v, path, restarts, Path(tmp), timeout) for v in variants]
    return {"problem": dict(zip(("d", "kappa", "r", "n"), sizes)) | {"rows": "orthogonal", "seed": 0},
            "import_seconds": None if quick else import_seconds(), "rows": rows, "target_seconds": 10.0,
            "timeout_seconds": timeout}
