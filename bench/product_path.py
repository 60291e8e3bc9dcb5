"""The product path against plain M-SBL (issue 24): vaetheory's sweep task at the published size beside the 20-line
M-SBL fixed point of bench/baselines/msbl.py, on the same problems, in one run.

Configuration: d = 100, κ = 200, n = 1, Gaussian Φ, r ∈ {2, 20, 40, 60}, vae-full, 8 restarts; γ fixed at 1e-6
(against M-SBL at λ = 1e-6) and γ learned (against M-SBL with its λ update, from the variant's starting γ 1e-4 down to
the same floor 1e-6).

vaetheory runs as users run it: a generated spec (start mix, relaxation and oracle at their defaults, reports off)
and its tasks, each run by `vaetheory.sweep.tasks.run_task` in this process exactly as a sweep worker calls it (a
warm-up task first: workers keep their state). Per problem it records the rows' own times (``seconds``: the check,
i.e. search, certificate and verdicts; ``analysis_seconds``: oracle, conditions and, when the start mix asks for it,
the ℓ2,1 relaxation) and the task's CPU time (``time.process_time``: core-seconds, which a machine shared with other
jobs inflates far less than wall time). M-SBL runs right after each task on the same problem, one thread
(threadpoolctl), 8 random starts, timed the same two ways. With ``--sweep`` a real `vaetheory sweep run` of the same
spec (a LocalCluster of ``--workers`` single-threaded workers, in a subprocess) is added and its rows' times reported.

Recovered: vaetheory as the sweep defines it (vaetheory/sweep/tasks.py: the lowest-energy certified minimum is
``optimal``), and whether its lowest-energy end point has the planted support (M-SBL's criterion); M-SBL: its
lowest-energy end point has the planted support.

Writes bench/product_path.json (per problem and per r). Example:
    nice -n 10 python bench/product_path.py                       # r = 2,20,40,60, 8 problems per r, both γ modes
    nice -n 10 python bench/product_path.py --r 20 --problems 8 --gamma fixed --sweep
"""
from __future__ import annotations

import os

# as in a sweep worker: dask's nanny starts workers with one BLAS/OpenMP thread (and M-SBL runs on one thread)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.baselines.msbl import msbl_multistart  # noqa: E402
from bench.common import commit, load, machine  # noqa: E402

D, KAPPA, N = 100, 200, 1
GAMMA_FIXED, GAMMA_START, GAMMA_FLOOR = 1e-6, 1e-4, 1e-6
CERTIFIED = ("optimal", "bad_local_min", "undecided_min")


def spec_text(rs: list[int], problems: int, restarts: int, gamma: str) -> str:
    return (f'[sweep]\nname = "product-path"\nproblems = {problems}\nrestarts = {restarts}\nvariants = ["vae-full"]\n'
            f'gamma = ["{gamma}"]\nreports = 0\n[grid]\nd = [{D}]\nkappa = [{KAPPA}]\nr = {rs}\nn = [{N}]\n'
            'rows = ["gaussian"]\n')


def run_cli_sweep(text: str, workers: int) -> tuple[list[dict], float]:
    """Rows of a real `vaetheory sweep run` of `text` (subprocess), and its wall seconds."""
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


def task_record(rows: list[dict], planted: list[int]) -> dict:
    """Recovery, times and verdict counts of one task's rows."""
    lowest = [r for r in rows if r["lowest"]]
    finite = [r for r in rows if r["energy"] is not None and np.isfinite(r["energy"])]
    best = min(finite, key=lambda r: r["energy"]) if finite else None
    verdicts: dict[str, int] = {}
    for r in rows:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    return {
        "recovered": bool(lowest and lowest[0]["verdict"] == "optimal"),
        "lowest_energy_has_planted_support": bool(best and sorted(best["support"]) == planted),
        "check_seconds": float(rows[0]["seconds"] or 0.0), "analysis_seconds": float(rows[0]["analysis_seconds"] or 0),
        "verdicts": verdicts, "start_kinds": sorted({r["start_kind"] for r in rows if r["start_kind"]}),
        "oracle_method": rows[0]["oracle_method"], "k_star_certain": rows[0]["k_star_certain"],
        "certified_end_points": sum(r["verdict"] in CERTIFIED for r in rows), "end_points": len(rows),
        "errors": sorted({r["error"] for r in rows if r["error"]}),
    }


def msbl_problem(problem, planted: list[int], seed: int, restarts: int, learned: bool) -> dict:
    from threadpoolctl import threadpool_limits

    kw = {"lam": GAMMA_START, "learn_lam": True, "lam_floor": GAMMA_FLOOR} if learned else {"lam": GAMMA_FIXED}
    with threadpool_limits(limits=1):
        t0, c0 = time.perf_counter(), time.process_time()
        res = msbl_multistart(problem.Phi, problem.X, starts=restarts, seed=seed % 2**32, **kw)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"recovered": sorted(res["support"]) == planted, "seconds": seconds, "cpu_seconds": cpu,
            "iterations": res["iterations"], "support_size": len(res["support"]), "gamma": res["gamma"]}


def run_mode(text: str, restarts: int, learned: bool) -> list[dict]:
    """Every task of the spec by `run_task` in this process (after a warm-up task), each followed by M-SBL."""
    from vaetheory.problems.generate import make_problem
    from vaetheory.sweep.spec import spec_from_text
    from vaetheory.sweep.tasks import run_task

    spec = spec_from_text(text)
    keys = spec.tasks()
    run_task(spec, keys[0])  # warm-up: a worker's first task imports and initialises what the others reuse
    out = []
    for key in keys:
        c0, t0 = time.process_time(), time.perf_counter()
        result = run_task(spec, key)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        c = key.cell
        problem = make_problem(c.d, c.kappa, c.r, c.n, c.rows, seed=key.problem_seed, noise=c.noise)
        planted = sorted(int(j) for j in np.flatnonzero(np.abs(problem.Z).sum(1)))
        rec = {"r": c.r, "problem_seed": key.problem_seed, "planted": planted, "task_cpu_seconds": cpu,
               "task_wall_seconds": wall} | task_record(result["rows"], planted)
        rec["msbl"] = msbl_problem(problem, planted, key.problem_seed, restarts, learned)
        out.append(rec)
        print(f"  r={c.r:2d} seed={key.problem_seed}: vaetheory {rec['verdicts']} cpu {cpu:.3f} s (check "
              f"{rec['check_seconds']:.3f} s wall) | M-SBL recovered={rec['msbl']['recovered']} cpu "
              f"{rec['msbl']['cpu_seconds']:.3f} s", flush=True)
    return out


def summarise(problems: list[dict]) -> dict:
    def mean(vals):
        return float(np.mean(vals)) if len(vals) else None

    vt_cpu = [p["task_cpu_seconds"] for p in problems]
    ms_cpu = [p["msbl"]["cpu_seconds"] for p in problems]
    vt_task = [p["check_seconds"] + p["analysis_seconds"] for p in problems]
    ms_wall = [p["msbl"]["seconds"] for p in problems]
    return {
        "problems": len(problems),
        "vaetheory_recovered": sum(p["recovered"] for p in problems),
        "vaetheory_lowest_energy_planted": sum(p["lowest_energy_has_planted_support"] for p in problems),
        "msbl_recovered": sum(p["msbl"]["recovered"] for p in problems),
        "vaetheory_task_cpu_seconds_mean": mean(vt_cpu),
        "msbl_cpu_seconds_mean": mean(ms_cpu),
        "task_cpu_over_msbl_cpu": mean(vt_cpu) / mean(ms_cpu),
        "vaetheory_row_check_seconds_mean": mean([p["check_seconds"] for p in problems]),
        "vaetheory_row_analysis_seconds_mean": mean([p["analysis_seconds"] for p in problems]),
        "vaetheory_row_task_seconds_mean": mean(vt_task),
        "msbl_wall_seconds_mean": mean(ms_wall),
        "row_task_over_msbl_wall": mean(vt_task) / mean(ms_wall),
        "certified_end_points": sum(p["certified_end_points"] for p in problems),
        "end_points": sum(p["end_points"] for p in problems),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--r", default="2,20,40,60", help="planted support sizes (comma-separated)")
    ap.add_argument("--problems", type=int, default=8, help="problems per r")
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--gamma", default="fixed,learned", help="γ modes: fixed (1e-6), learned, or both")
    ap.add_argument("--sweep", action="store_true", help="also run the spec through `vaetheory sweep run`")
    ap.add_argument("--workers", type=int, default=1, help="workers of that sweep")
    ap.add_argument("--out", default=str(ROOT / "bench" / "product_path.json"))
    args = ap.parse_args(argv)
    rs = [int(x) for x in args.r.split(",")]
    result = {"command": "python bench/product_path.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": {"d": D, "kappa": KAPPA, "n": N, "rows": "gaussian", "r": rs, "problems": args.problems,
                         "restarts": args.restarts},
              "machine": machine(), "measured_on": commit(), "load_before": load(), "modes": {}}
    for mode in args.gamma.split(","):
        learned = mode == "learned"
        gamma = "learned" if learned else f"fixed:{GAMMA_FIXED:g}"
        text = spec_text(rs, args.problems, args.restarts, gamma)
        print(gamma, flush=True)
        problems = run_mode(text, args.restarts, learned)
        per_r = {str(r): summarise([p for p in problems if p["r"] == r]) for r in rs}
        entry = {"spec": text, "per_r": per_r, "problems": problems}
        if args.sweep:
            rows, wall = run_cli_sweep(text, args.workers)
            entry["cli_sweep"] = {"workers": args.workers, "wall_seconds": wall, "tasks": [
                {"r": x["r"], "problem_seed": x["problem_seed"], "check_seconds": x["seconds"],
                 "analysis_seconds": x["analysis_seconds"]} for x in rows if x["restart"] == 0], "per_r": {
                str(r): {"check_seconds_mean": float(np.mean([x["seconds"] for x in rows if x["r"] == r and x["restart"] == 0])),
                         "analysis_seconds_mean": float(np.mean([x["analysis_seconds"] for x in rows
                                                                 if x["r"] == r and x["restart"] == 0]))}
                for r in rs}}
        result["modes"][gamma] = entry
        for r in rs:
            s = per_r[str(r)]
            print(f"{gamma:>10} r={r:2d}: vaetheory recovered {s['vaetheory_recovered']}/{s['problems']} (lowest "
                  f"energy planted {s['vaetheory_lowest_energy_planted']}), certified {s['certified_end_points']}/"
                  f"{s['end_points']}, task {s['vaetheory_task_cpu_seconds_mean']:.3f} core-s | M-SBL "
                  f"{s['msbl_recovered']}/{s['problems']}, {s['msbl_cpu_seconds_mean']:.3f} core-s | ratio "
                  f"{s['task_cpu_over_msbl_cpu']:.1f}x (rows' wall: {s['row_task_over_msbl_wall']:.1f}x)", flush=True)
    result["load_after"] = load()
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
