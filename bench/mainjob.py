"""Measure the main job as a new user runs it and store what it printed: ``bench/mainjob.json``.

Runs ``vaetheory check --json`` (every built-in variant, fixed and learned γ, profile ``ci``, seed 0: the README's
first command) in a fresh process with its reports in a temporary folder, and stores its JSON summary with the
commit it ran on, the machine load and the wall time. ``python bench/publish.py`` renders README's main-job table
from that file with the same function that prints it (`vaetheory.report.mainjob.format_table`), so a fresh clone's
``vaetheory check`` prints exactly README's table.

    python bench/mainjob.py                 # about 20-40 s; then: python bench/publish.py
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import commit, load  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "mainjob.json"


def measure(profile: str = "ci", seed: int = 0, out: Path = OUT) -> dict:
    """Run the main job in a child process; write and return its record."""
    before = load()
    with tempfile.TemporaryDirectory(prefix="vaetheory-mainjob-") as reports:
        cmd = [sys.executable, "-m", "vaetheory", "check", "--json", "--profile", profile, "--seed", str(seed),
               "--out", reports]
        env = dict(os.environ, VAETHEORY_PROFILE=profile)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE.parent)
        wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):  # 1: a claim refuted, which is a result; anything else is a failure
        raise SystemExit(f"vaetheory check failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    summary = json.loads(done.stdout)
    record = {"command": f"vaetheory check --profile {profile} --seed {seed}", "exit_code": done.returncode,
              "wall_seconds": round(wall, 1), "load_before": before, "load_after": load(),
              "measured_on": commit(), "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "summary": summary}
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rec = measure(args.profile, args.seed, args.out)
    print(f"wrote {args.out}: {len(rec['summary']['runs'])} runs in {rec['wall_seconds']} s on "
          f"{rec['measured_on']['commit']}" + (" (uncommitted changes)" if rec["measured_on"]["dirty"] else ""))


if __name__ == "__main__":
    main()
