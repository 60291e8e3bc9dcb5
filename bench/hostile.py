"""The hostile cases of issue 23, each as a fresh `vaetheory` process: exit code, wall seconds, peak RSS, whether
stderr is one line without a traceback. `--tree DIR` runs them against another source tree (e.g. the commit before
the issue, extracted with `git archive <commit> | tar -x -C DIR`), so before and after are measured alike.

    python bench/hostile.py                       # this tree -> bench/hostile.json, section "current"
    python bench/hostile.py --tree /tmp/old --section before

Every case is killed after --cap seconds (default 120); an inflating archive is made on the fly in a temporary
folder (1200 MiB of zeros in a member without the .npy suffix, about 1.2 MB on disk: over the 1 GiB limit).
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load, machine, merge_section  # noqa: E402

BOMB_MIB = 1200


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _fixtures(tmp: Path, tree: Path) -> dict[str, Path]:
    """Problem files made with `tree`'s own generator (so both trees read the same files)."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    made = {}
    for name, args in {"tiny": "--d 6 --kappa 10 --r 2 --n 4 --seed 1",
                       "wide": "--d 10 --kappa 100000 --r 3 --n 5 --rows gaussian",
                       "mip": "--d 10 --kappa 2500 --r 3 --n 10 --rows gaussian"}.items():
        made[name] = tmp / f"{name}.npz"
        subprocess.run([sys.executable, "-m", "vaetheory", "generate", *args.split(), "-o", str(made[name])],
                       env=env, check=True, capture_output=True, cwd=tmp)
    tiny = np.load(made["tiny"])
    made["bomb"] = tmp / "bomb.npz"
    with zipfile.ZipFile(made["bomb"], "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Phi.npy", _npy(tiny["Phi"]))
        zf.writestr("X.npy", _npy(tiny["X"]))
        with zf.open("junk", "w", force_zip64=True) as fh:
            chunk = bytes(2**20)
            for _ in range(BOMB_MIB):
                fh.write(chunk)
    spec = tmp / "tiny.toml"
    spec.write_text('[sweep]\nname = "t"\nproblems = 1\nrestarts = 2\nvariants = ["vae-diag"]\ngamma = ["fixed"]\n'
                    '[grid]\nd = [4]\nkappa = [6]\nr = [2]\nn = [3]\n')
    made["spec"] = spec
    return made


def cases(f: dict[str, Path], tmp: Path) -> dict[str, list[str]]:
    out = str(tmp / "out")
    return {
        f"npz member without .npy suffix, {BOMB_MIB} MiB inflated": ["oracle", str(f["bomb"])],
        "check --gamma 1e-320": ["check", "--variant", "vae-full", "--problem", str(f["tiny"]), "--gamma", "1e-320",
                                 "--restarts", "2", "--out", out],
        "check --restarts 1000000000": ["check", "--variant", "vae-full", "--problem", str(f["tiny"]), "--restarts",
                                        "1000000000", "--out", out],
        "check --timeout nan": ["check", "--variant", "vae-full", "--problem", str(f["tiny"]), "--timeout", "nan",
                                "--restarts", "2", "--no-prove", "--out", out],
        "oracle d=10 kappa=1e5": ["oracle", str(f["wide"])],
        "oracle --method mip kappa*n=25000 --mip-time-limit 1": ["oracle", str(f["mip"]), "--method", "mip",
                                                                "--mip-time-limit", "1"],
        "sweep --scheduler 'not a url'": ["sweep", str(f["spec"]), "--out", str(tmp / "sw"), "--scheduler",
                                          "not a url"],
        "check --out through a file": ["check", "--variant", "vae-full", "--problem", str(f["tiny"]), "--restarts",
                                       "2", "--no-prove", "--out", str(f["tiny"]) + "/out"],
    }


def run_case(args: list[str], tree: Path, cap: float, cwd: Path) -> dict:
    """One case in a fresh process run from `cwd` (`python -m` puts the working folder first on the path: never
    a source tree's root, or that tree is what runs)."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vaetheory", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=cwd)
    try:
        _, stderr = proc.communicate(timeout=cap)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        _, stderr = proc.communicate()
        timed_out = True
    wall = time.perf_counter() - t0
    lines = [line for line in stderr.splitlines() if line.strip()]
    return {"exit_code": None if timed_out else proc.returncode, "killed_after_cap": timed_out,
            "wall_seconds": round(wall, 2), "stderr_lines": len(lines), "traceback": "Traceback" in stderr,
            "last_line": (lines[-1] if lines else "")[:240]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree to run (default: this one)")
    ap.add_argument("--section", default="current", help="section name in bench/hostile.json")
    ap.add_argument("--cap", type=float, default=120.0, help="seconds before a case is killed")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaetheory-hostile-") as tmp:
        tmp = Path(tmp)
        f = _fixtures(tmp, opts.tree)
        runs = {}
        for name, args in cases(f, tmp).items():
            before = load()
            runs[name] = {"args": ["vaetheory", *[a.replace(str(tmp), "$TMP") for a in args]],
                          **run_case(args, opts.tree, opts.cap, tmp), "load_before": before}
            runs[name]["last_line"] = runs[name]["last_line"].replace(str(tmp), "$TMP")
            print(f"{name}: {runs[name]['exit_code']} in {runs[name]['wall_seconds']} s; "
                  f"{runs[name]['last_line'][:120]}", file=sys.stderr)
    merge_section(ROOT / "bench" / "hostile.json", opts.section,
                  {"tree": "this tree" if opts.tree == ROOT else "another tree (--tree)", "runs": runs},
                  {"machine": machine()})


if __name__ == "__main__":
    main()
