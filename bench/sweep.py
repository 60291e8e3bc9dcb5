"""Run the committed sweeps from scratch: every ``bench/sweeps/<name>.toml``, and the atlas ``specs/atlas.toml``, into
``bench/sweeps/<name>/``.

Old results are removed first (a sweep folder resumes otherwise: re-running would add nothing), then
``vaetheory sweep`` and ``vaetheory sweep report`` run, and ``<name>/measured.json`` records the commit, the load
and the wall time. The Parquet rows (``<name>/results/``) are committed; bench/publish.py renders the docs' sweep
tables from them. Reports, the summary and the figures stay out of git (bench/sweeps/.gitignore).

    python bench/sweep.py                       # every spec (learned-gamma-r: about 1 min on one worker)
    python bench/sweep.py --only learned-gamma-r --workers 2
    python bench/sweep.py --only atlas --workers 2   # the atlas (docs/atlas.md)
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import commit, load  # noqa: E402

SWEEPS = Path(__file__).resolve().parent / "sweeps"
#: Specs kept with the user-facing ones in specs/ whose rows are committed here too.
EXTRA = (SWEEPS.parent.parent / "specs" / "atlas.toml",)


def run(spec: Path, workers: int) -> dict:
    folder = SWEEPS / spec.stem
    if folder.exists():
        shutil.rmtree(folder)
    before = load()
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "vaetheory", "sweep", "run", str(spec), "--out", str(folder), "--workers",
           str(workers), "--no-progress"]
    subprocess.run(cmd, check=True, cwd=SWEEPS.parent.parent)
    wall = time.perf_counter() - t0
    subprocess.run([sys.executable, "-m", "vaetheory", "sweep", "report", str(folder)], check=True)
    record = {"spec": str(spec.relative_to(SWEEPS.parent.parent)), "workers": workers, "wall_seconds": round(wall, 1),
              "load_before": before, "load_after": load(), "measured_on": commit(),
              "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    (folder / "measured.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated spec names (default: every spec)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    specs = sorted(SWEEPS.glob("*.toml")) + [p for p in EXTRA if p.exists()]
    if args.only:
        names = set(args.only.split(","))
        specs = [s for s in specs if s.stem in names]
    for spec in specs:
        rec = run(spec, args.workers)
        print(f"{spec.stem}: {rec['wall_seconds']} s on {rec['measured_on']['commit']}")


if __name__ == "__main__":
    main()
