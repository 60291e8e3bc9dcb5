"""Cost of `vaetheory replay` (issue 20): how fast a hostile file is refused, and what a genuine replay costs.

* ``cli``: wall clock of whole ``vaetheory replay FILE`` commands (subprocess, median and min of N runs) for
  `vaetheory --help` (the floor every command pays), each malformed file below, and each curated report in
  ``reports/examples/`` (a full replay: imports, oracle, certificate, a fresh interval proof);
* ``in_process``: seconds of `read_report` (the checks before any computation) on each malformed file, and of a
  whole `replay_report` of each curated report once the libraries are imported (best of N).

    python bench/replay.py [--runs 5]          # writes bench/replay.json

Malformed files are built from the first curated report: nested 100,000 deep, a proof precision of 10^7 bits,
NaN in the end point, a text energy, one byte over the size limit, and a report of about 15 MB (a 400 x 1900 Φ,
valid to the schema, refused only when its X does not match Φ) for the cost of reading a large file.
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
sys.path.insert(0, str(ROOT))

from bench.common import commit, load  # noqa: E402

EXAMPLES = sorted((ROOT / "reports" / "examples").glob("*.json"))


def hostile_files(tmp: Path) -> dict[str, Path]:
    from vaetheory.report.replay import MAX_REPORT_BYTES

    genuine = json.loads(EXAMPLES[0].read_text())
    files = {}

    def put(name: str, text: str) -> None:
        files[name] = tmp / f"{name}.json"
        files[name].write_text(text)

    put("nested 100,000 deep", "[" * 100_000 + "]" * 100_000)
    proof = genuine | {"verdict": genuine["verdict"] | {"proof": {"status": "proved", "method": "krawczyk-arb",
                                                                  "precision_bits": 10**7, "box_radius": 1e-24}}}
    put("proof precision 10^7 bits", json.dumps(proof))
    put("NaN in the end point", json.dumps(genuine).replace('"theta": [', '"theta": [NaN, ', 1))
    put("energy as text", json.dumps(genuine | {"verdict": genuine["verdict"] | {"energy": "abc"}}))
    put("one byte over the size limit", " " * (MAX_REPORT_BYTES + 1))
    import numpy as np

    big = np.random.default_rng(0).standard_normal((400, 1900))  # near the size limit; its X does not match: exit 2
    put("15 MB report (Phi 400 x 1900)", json.dumps(genuine | {"problem": genuine["problem"] | {"Phi": big.tolist()}}))
    return files


def cli_times(files: dict[str, Path], runs: int) -> dict[str, dict]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    vt = [sys.executable, "-m", "vaetheory"]
    commands = {"vaetheory --help": vt + ["--help"]}
    commands |= {f"replay: {name}": vt + ["replay", str(path)] for name, path in files.items()}
    commands |= {f"replay: {p.name} (genuine)": vt + ["replay", str(p)] for p in EXAMPLES}
    out = {}
    for label, cmd in commands.items():
        times, codes = [], set()
        for _ in range(runs if "genuine" not in label else max(1, runs // 2)):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
            times.append(time.perf_counter() - t0)
            codes.add(proc.returncode)
        out[label] = {"median_s": statistics.median(times), "min_s": min(times), "exit_codes": sorted(codes),
                      "load": load()}
        print(f"{label:<70} median {statistics.median(times):.3f} s  min {min(times):.3f} s  exit {sorted(codes)}",
              flush=True)
    return out


def in_process_times(files: dict[str, Path], runs: int) -> dict[str, dict]:
    from vaetheory.core.errors import InputError
    from vaetheory.report.replay import read_report, replay_report

    out = {}
    replay_report(EXAMPLES[0])  # imports and first-call costs outside the timings
    for name, path in files.items():
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            try:
                read_report(path)
            except InputError:
                pass
            best = min(best, time.perf_counter() - t0)
        out[f"read_report: {name}"] = {"best_s": best, "load": load()}
    for p in EXAMPLES:
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            assert replay_report(p).reproduced
            best = min(best, time.perf_counter() - t0)
        out[f"replay_report: {p.name}"] = {"best_s": best, "load": load()}
    for label, v in out.items():
        print(f"{label:<70} best {v['best_s']:.4f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "replay.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = hostile_files(Path(tmp))
        result = {"runs": args.runs, "commit": commit(), "cli": cli_times(files, args.runs),
                  "in_process": in_process_times(files, args.runs)}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
