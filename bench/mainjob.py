"""Measure the main job as a new user runs it and store what it printed: ``bench/mainjob.json``.

Runs ``vaetheory check --json`` (every built-in variant, fixed and learned γ, profile ``ci``, seed 0: the README's
first command) in a fresh process with its reports in a temporary folder, and stores its JSON summary with the
commit it ran on, the machine load and the wall time. ``python bench/publish.py`` renders README's main-job table
from that file with the same function that prints it (`vaetheory.report.mainjob.format_table`), so a fresh clone's
``vaetheory check`` prints exactly README's table.

It also runs the README's example (`examples/quickstart.py`) and stores what it printed, and with ``--suite`` times
the README's second command's test run (``python -m pytest -q -p no:cacheprovider``, the whole suite).

    python bench/mainjob.py                 # main job and example, about 1 min at load 1; then: python bench/publish.py
    python bench/mainjob.py --suite         # also the whole test suite (a few minutes)
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


def run_example(out: Path = OUT) -> dict:
    """Run examples/quickstart.py in a fresh process; store its output and wall time under "example"."""
    before = load()
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "examples/quickstart.py"], capture_output=True, text=True, check=True,
                          cwd=HERE.parent)
    return _update(out, "example", {"stdout": done.stdout, "wall_seconds": round(time.perf_counter() - t0, 1),
                                    "load_before": before, "measured_on": commit()})


def run_suite(out: Path = OUT) -> dict:
    """Time the README's test run (the whole suite, as CI runs it); store the wall time and the summary line."""
    before = load()
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True,
                          text=True, cwd=HERE.parent)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-1:] or [""]
    return _update(out, "suite", {"exit_code": done.returncode, "summary": tail[0].strip("= "),
                                  "wall_seconds": round(time.perf_counter() - t0, 1), "load_before": before,
                                  "measured_on": commit()})


def _update(out: Path, key: str, value: dict) -> dict:
    data = json.loads(out.read_text()) if out.exists() else {}
    data[key] = value
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    parser.add_argument("--only", choices=("mainjob", "example", "suite"), default=None,
                        help="measure only this part (the others already in the file are kept)")
    args = parser.parse_args(argv)
    if args.only in ("example", "suite"):
        (run_example if args.only == "example" else run_suite)(args.out)
        print(f"wrote {args.out}: {args.only}")
        return
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    rec = measure(args.profile, args.seed, args.out)
    for key in ("example", "suite"):  # measured apart: keep them
        if key in old:
            _update(args.out, key, old[key])
    if args.only is None:
        run_example(args.out)
        if args.suite:
            run_suite(args.out)
    print(f"wrote {args.out}: {len(rec['summary']['runs'])} runs in {rec['wall_seconds']} s on "
          f"{rec['measured_on']['commit']}" + (" (uncommitted changes)" if rec["measured_on"]["dirty"] else ""))


if __name__ == "__main__":
    main()
