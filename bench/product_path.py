"""The product path against plain M-SBL (issue 24): `vaetheory sweep` at the published size beside the 20-line
M-SBL fixed point of bench/baselines/msbl.py, on the same problems, in one run.

Configuration: d = 100, κ = 200, n = 1, Gaussian Φ, r ∈ {2, 20, 40, 60}, vae-full, 8 restarts; γ fixed at 1e-6
(against M-SBL at λ = 1e-6) and γ learned (against M-SBL with its λ update, from the variant's starting γ 1e-4 down to
the same floor 1e-6).

vaetheory runs as users run it: a generated spec (start mix, relaxation and oracle left at their defaults) through
`vaetheory sweep run` in a subprocess (a LocalCluster of `--workers` single-threaded workers) into a temporary
folder; its times are the rows' own: ``seconds`` (the check: search, certificate, verdicts) and
``analysis_seconds`` (oracle, conditions and, when the start mix asks for it, the ℓ2,1 relaxation) per problem.
Recovered (as the sweep defines it, vaetheory/sweep/tasks.py): the lowest-energy certified minimum is ``optimal``;
also reported: whether the lowest-energy end point has the planted support (M-SBL's criterion).

M-SBL runs in this process, one thread (threadpoolctl), on the problems the sweep drew (regenerated from each row's
problem_seed), 8 random starts; recovered = its lowest-energy end point has the planted support.

Writes bench/product_path.json (per problem and per r). Example:
    nice -n 10 python bench/product_path.py                       # r = 2,20,40,60, 4 problems per r, both γ modes
    nice -n 10 python bench/product_path.py --r 20 --problems 8 --gamma fixed
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.baselines.msbl import msbl_multistart  # noqa: E402
from bench.common import load, machine  # noqa: E402

D, KAPPA, N = 100, 200, 1
GAMMA_FIXED, GAMMA_START, GAMMA_FLOOR = 1e-6, 1e-4, 1e-6
CERTIFIED = ("optimal", "bad_local_min", "undecided_min")


def spec_text(rs: list[int], problems: int, restarts: int, gamma: str) -> str:
    return (f'[sweep]\nname = "product-path"\nproblems = {problems}\nrestarts = {restarts}\nvariants = ["vae-full"]\n'
            f'gamma = ["{gamma}"]\nreports = 0\n[grid]\nd = [{D}]\nkappa = [{KAPPA}]\nr = {rs}\nn = [{N}]\n'
            'rows = ["gaussian"]\n')


def run_sweep(text: str, workers: int) -> tuple[list[dict], float]:
    """Rows of a real `vaetheory sweep run` of `text`, and its wall seconds."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="product-path-") as tmp:
        spec = Path(tmp) / "spec.toml"
        spec.write_text(text)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vaetheory", "sweep", "run", str(spec), "--out", str(Path(tmp) / "out"),
                        "--workers", str(workers)], check=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        rows = []
        for f in sorted((Path(tmp) / "out" / "results").glob("*.parquet")):
            rows += pq.read_table(f).to_pylist()
    return rows, wall


def vaetheory_problems(rows: list[dict]) -> dict[tuple[int, int], dict]:
    """Per (r, problem_seed): recovery, times and verdict counts from a run's rows."""
    from vaetheory.problems.generate import make_problem

    out = {}
    for key in sorted({(r["r"], r["problem_seed"]) for r in rows}):
        rs = [r for r in rows if (r["r"], r["problem_seed"]) == key]
        problem = make_problem(D, KAPPA, key[0], N, "gaussian", seed=key[1])
        planted = sorted(int(j) for j in np.flatnonzero(np.abs(problem.Z).sum(1)))
        lowest = [r for r in rs if r["lowest"]]
        finite = [r for r in rs if r["energy"] is not None and np.isfinite(r["energy"])]
        best = min(finite, key=lambda r: r["energy"]) if finite else None
        verdicts: dict[str, int] = {}
        for r in rs:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
        out[key] = {
            "r": key[0], "problem_seed": key[1], "planted": planted,
            "recovered": bool(lowest and lowest[0]["verdict"] == "optimal"),
            "lowest_energy_has_planted_support": bool(best and sorted(best["support"]) == planted),
            "check_seconds": float(rs[0]["seconds"] or 0.0), "analysis_seconds": float(rs[0]["analysis_seconds"] or 0),
            "verdicts": verdicts, "start_kinds": sorted({r["start_kind"] for r in rs if r["start_kind"]}),
            "oracle_method": rs[0]["oracle_method"], "k_star_certain": rs[0]["k_star_certain"],
            "certified_end_points": sum(r["verdict"] in CERTIFIED for r in rs), "end_points": len(rs),
            "errors": sorted({r["error"] for r in rs if r["error"]}),
        }
    return out


def msbl_problem(r: int, seed: int, restarts: int, learned: bool) -> dict:
    from threadpoolctl import threadpool_limits

    from vaetheory.problems.generate import make_problem

    problem = make_problem(D, KAPPA, r, N, "gaussian", seed=seed)
    planted = sorted(int(j) for j in np.flatnonzero(np.abs(problem.Z).sum(1)))
    kw = {"lam": GAMMA_START, "learn_lam": True, "lam_floor": GAMMA_FLOOR} if learned else {"lam": GAMMA_FIXED}
    with threadpool_limits(limits=1):
        t0 = time.perf_counter()
        res = msbl_multistart(problem.Phi, problem.X, starts=restarts, seed=seed % 2**32, **kw)
        seconds = time.perf_counter() - t0
    return {"recovered": sorted(res["support"]) == planted, "seconds": seconds, "iterations": res["iterations"],
            "support_size": len(res["support"]), "gamma": res["gamma"]}


def summarise(problems: list[dict]) -> dict:
    def med(key, sub=None):
        vals = [p[sub][key] if sub else p[key] for p in problems]
        return float(np.median(vals)) if vals else None

    vt_task = [p["check_seconds"] + p["analysis_seconds"] for p in problems]
    return {
        "problems": len(problems),
        "vaetheory_recovered": sum(p["recovered"] for p in problems),
        "vaetheory_lowest_energy_planted": sum(p["lowest_energy_has_planted_support"] for p in problems),
        "msbl_recovered": sum(p["msbl"]["recovered"] for p in problems),
        "vaetheory_check_seconds_median": med("check_seconds"),
        "vaetheory_analysis_seconds_median": med("analysis_seconds"),
        "vaetheory_task_seconds_median": float(np.median(vt_task)),
        "vaetheory_check_seconds_mean": float(np.mean([p["check_seconds"] for p in problems])),
        "vaetheory_task_seconds_mean": float(np.mean(vt_task)),
        "msbl_seconds_median": med("seconds", "msbl"),
        "msbl_seconds_mean": float(np.mean([p["msbl"]["seconds"] for p in problems])),
        "check_over_msbl_mean": float(np.mean([p["check_seconds"] for p in problems])
                                      / np.mean([p["msbl"]["seconds"] for p in problems])),
        "task_over_msbl_mean": float(np.mean(vt_task) / np.mean([p["msbl"]["seconds"] for p in problems])),
        "certified_end_points": sum(p["certified_end_points"] for p in problems),
        "end_points": sum(p["end_points"] for p in problems),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--r", default="2,20,40,60", help="planted support sizes (comma-separated)")
    ap.add_argument("--problems", type=int, default=4, help="problems per r")
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--gamma", default="fixed,learned", help="γ modes: fixed (1e-6), learned, or both")
    ap.add_argument("--workers", type=int, default=1, help="sweep workers (1: task time = core time)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "product_path.json"))
    args = ap.parse_args(argv)
    rs = [int(x) for x in args.r.split(",")]
    result = {"command": "python bench/product_path.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": {"d": D, "kappa": KAPPA, "n": N, "rows": "gaussian", "r": rs, "problems": args.problems,
                         "restarts": args.restarts, "workers": args.workers},
              "machine": machine(), "load_before": load(), "modes": {}}
    for mode in args.gamma.split(","):
        learned = mode == "learned"
        gamma = "learned" if learned else f"fixed:{GAMMA_FIXED:g}"
        text = spec_text(rs, args.problems, args.restarts, gamma)
        rows, wall = run_sweep(text, args.workers)
        problems = vaetheory_problems(rows)
        for (r, seed), p in problems.items():
            p["msbl"] = msbl_problem(r, seed, args.restarts, learned)
        per_r = {str(r): summarise([p for (rr, _), p in problems.items() if rr == r]) for r in rs}
        result["modes"][gamma] = {"spec": text, "sweep_wall_seconds": wall, "per_r": per_r,
                                  "problems": list(problems.values())}
        for r in rs:
            s = per_r[str(r)]
            print(f"{gamma:>10} r={r:2d}: vaetheory {s['vaetheory_recovered']}/{s['problems']} recovered, check "
                  f"{s['vaetheory_check_seconds_mean']:.2f} s, task {s['vaetheory_task_seconds_mean']:.2f} s, "
                  f"certified {s['certified_end_points']}/{s['end_points']} | M-SBL {s['msbl_recovered']}/"
                  f"{s['problems']}, {s['msbl_seconds_mean']:.3f} s | check/M-SBL {s['check_over_msbl_mean']:.1f}x, "
                  f"task/M-SBL {s['task_over_msbl_mean']:.1f}x", flush=True)
    result["load_after"] = load()
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
