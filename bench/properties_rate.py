"""Property suite throughput: Hypothesis examples per minute of ``pytest properties/`` under the ``ci`` profile.

Examples are counted from ``--hypothesis-show-statistics`` (passing + failing + invalid examples of every phase);
wall time is the whole pytest process. If ``properties/`` or ``vaetheory/profiles.py`` is missing, the entry says
"not measured" and why.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import load

ROOT = Path(__file__).resolve().parent.parent
_COUNTS = re.compile(r"(\d+) passing examples?, (\d+) failing examples?, (\d+) invalid examples?")
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def run(quick: bool) -> dict[str, Any]:
    """Run the suite and count examples (quick: skipped, reported as not measured)."""
    if quick:  # the suite takes longer than the whole smoke run may
        return {"measured": False, "reason": "not measured in --quick (run the full benchmark)"}
    if not (ROOT / "properties").is_dir() or not (ROOT / "vaetheory" / "profiles.py").is_file():
        return {"measured": False, "reason": "properties/ or vaetheory/profiles.py does not exist yet"}
    target = ["properties"]
    cmd = [sys.executable, "-m", "pytest", *target, "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
           "--vaetheory-profile", "ci"]
    env = os.environ | {"PYTHONPATH": str(ROOT), "VAETHEORY_PROFILE": "ci"}
    load_before = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    examples = sum(sum(int(g) for g in m.groups()) for m in _COUNTS.finditer(proc.stdout))
    outcome = {kind: int(num) for num, kind in _SUMMARY.findall(proc.stdout.splitlines()[-1] if proc.stdout else "")}
    return {"measured": examples > 0, "profile": "ci", "command": " ".join(cmd[1:]), "targets": target,
            "exit_code": proc.returncode, "outcome": outcome, "examples": examples, "wall_seconds": wall,
            "examples_per_minute": 60 * examples / wall if wall > 0 else None,
            "load_before": load_before, "load_after": load(),
            **({} if examples else {"reason": "no Hypothesis statistics in the output", "tail": proc.stdout[-800:]})}
