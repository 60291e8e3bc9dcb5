"""Startup time of the command line: `vaetheory --help`, `vaetheory variants`, input errors, against
`python -c "import numpy"` (the floor any numpy program pays). Median and min of N subprocess runs, wall clock
(time.perf_counter around subprocess.run), with the load average beside the numbers.

    python bench/startup.py [--runs 7]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(tmp: Path) -> dict[str, list[str]]:
    bad = tmp / "complex.npz"
    import numpy as np

    np.savez(bad, Phi=np.ones((3, 5)) * (1 + 1j), X=np.ones((3, 2)))
    vt = [sys.executable, "-m", "vaetheory"]
    return {
        "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
        "vaetheory --help": vt + ["--help"],
        "vaetheory --version": vt + ["--version"],
        "vaetheory variants vae-full": vt + ["variants", "vae-full"],
        "vaetheory variants (built-ins + installed plug-ins)": vt + ["variants"],
        "vaetheory check --seed -1": vt + ["check", "--seed", "-1"],
        "vaetheory check --variant vae-full --problem complex.npz": vt + ["check", "--variant", "vae-full",
                                                                          "--problem", str(bad)],
        "vaetheory check --variant vae-full --problem missing.npz": vt + ["check", "--variant", "vae-full",
                                                                          "--problem", str(tmp / "missing.npz")],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, cmd in commands(Path(tmp)).items():
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, cwd=tmp)
                times.append(time.perf_counter() - t0)
            out[label] = {"median_s": statistics.median(times), "min_s": min(times)}
            print(f"{label:<60} median {statistics.median(times):.3f} s   min {min(times):.3f} s", flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"load average: {' '.join(load)}")
    print(json.dumps({"runs": args.runs, "loadavg": load, "results": out}))


if __name__ == "__main__":
    main()
