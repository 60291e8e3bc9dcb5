"""Issue 12 speed figures, one run, side by side; writes bench/speed.json and bench/speed.md.

    python bench/speed.py                       # every section
    python bench/speed.py --only eval,memory    # some sections (others already in speed.json are kept)

Sections (each figure carries the load averages when it was taken; the machine is shared):

* ``gemm``: this machine's per-core float64 GEMM rate, torch.matmul of 1024×1024 matrices on one thread (best of 5).
* ``eval``: per-point time of the collapsed vae-full energy + gradient (the search's `Objective.value_and_grad`,
  closed-form hook, batch of 32 restarts, one thread; and vmap-of-autograd for comparison) against its FLOP floor
  at (d, κ, n) = (100, 200, 1) and (20, 40, 20). The floor counts the flops of the closed form itself, exploiting
  symmetry and triangularity (module `floor_flops`): forming Σ_x = ΦΓΦᵀ + γI, d²κ (half of the d×d products, 2
  flops each); its Cholesky, d³/3; the triangular solve L⁻¹[Φ X], d²(κ + n); B = (L⁻¹Φ)ᵀ(L⁻¹X), 2dκn; the column
  norms and row norms, 2dκ + 2κn + 2dn. Floor time = flops / the measured GEMM rate (GEMM is the fastest kernel
  there is, so this floor cannot be beaten).
* ``lbfgs``: the search's first L-BFGS stage (250 iterations) on the cli problem below with ae-l1 (P = 1640
  coordinates per restart) from the 32 starts `check --seed 0` uses there (random, non-optimal-BFS and ℓ2,1 fits),
  both engines: the joint L-BFGS-B run on the summed
  energies (scipy) and `vaetheory.search.lbfgs.batched_lbfgs` (one problem per row). Seconds, milliseconds inside
  scipy's L-BFGS-B routine per call, energy evaluations, and the free-count quartiles after the stage (the coordinates
  the Newton phase would still have to move; `free_counts`).
* ``cli``: ``python -m vaetheory check --variant V --problem P --restarts 32 --json`` per built-in on d=20, κ=40,
  r=5, n=20 orthogonal rows (seed 0), whole command in a fresh process (`bench.cli_checks.check_once`).
* ``memory``: peak resident memory (resource.getrusage ru_maxrss of a child process) of (a) search + certificate at
  d=100, κ=200, n=1, r=20 with 64 restarts (the exhaustive oracle is infeasible there: `bench.fast_search`), and
  (b) the exhaustive oracle on the cli problem, against a child that only imports the same modules.
* ``startup``: `python -m vaetheory --help` against `python -c "import numpy"` (median of 5).
* ``recovery1``: the published configuration (d=100, κ=200, n=1, Gaussian Φ, seed 1000·r + trial) with ONE restart
  (γ-continued random start, `bench.fast_search.recover_support`): recovery and seconds per problem at each r.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import load, machine, merge_section  # noqa: E402
from bench.report import _table  # noqa: E402

SECTIONS = ("gemm", "eval", "kernels", "lbfgs", "cli", "memory", "startup", "recovery1")
ENV = os.environ | {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def gemm_rate(size: int = 1024, repeats: int = 5) -> dict[str, Any]:
    """Best single-thread float64 GEMM rate (flop/s) of torch.matmul on size×size matrices."""
    import torch

    from vaetheory.core.threads import torch_threads

    a = torch.randn(size, size, dtype=torch.float64)
    b = torch.randn(size, size, dtype=torch.float64)
    best = float("inf")
    with torch_threads(1):
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return {"size": size, "flops_per_s": 2 * size**3 / best, "seconds": best, "load": load()}


def floor_flops(d: int, kappa: int, n: int) -> float:
    """Flops of one closed-form L_full value + ν-gradient (module docstring)."""
    return d * d * kappa + d**3 / 3 + d * d * (kappa + n) + 2 * d * kappa * n + 2 * d * kappa + 2 * kappa * n + 2 * d * n


def eval_section(rate: float, batch: int = 32) -> dict[str, Any]:
    import numpy as np

    from bench.common import best_rate
    from vaetheory.problems.generate import make_problem
    from vaetheory.search.objective import Objective
    from vaetheory.variants.registry import get_variant

    rows = []
    for d, kappa, n in ((100, 200, 1), (20, 40, 20)):
        p = make_problem(d, kappa, min(5, d - 1), n, "gaussian", seed=0)
        obj = Objective(get_variant("vae-full"), p)
        theta = np.random.default_rng(0).exponential(size=(batch, kappa)) * float(np.mean(p.X**2))
        gam = np.full(batch, 1e-4)
        hook = best_rate(lambda: (obj.value_and_grad(theta, gam, with_gamma=False), batch)[1], 0.5, 5)
        auto = best_rate(lambda: (obj.autograd_value_and_grad(theta, gam), batch)[1], 0.5, 3)
        flops = floor_flops(d, kappa, n)
        floor_s = flops / rate
        rows.append({"d": d, "kappa": kappa, "n": n, "batch": batch, "floor_flops": flops,
                     "floor_seconds": floor_s, "closed_form_seconds": 1 / hook, "autograd_seconds": 1 / auto,
                     "closed_form_over_floor": (1 / hook) / floor_s, "autograd_over_floor": (1 / auto) / floor_s,
                     "target_over_floor": 2.0, "met": (1 / hook) / floor_s <= 2.0, "load": load()})
        print(f"eval d={d} kappa={kappa} n={n}: {1e6 / hook:.1f} us/point (autograd {1e6 / auto:.1f}), floor "
              f"{1e6 * floor_s:.1f} us -> {(1 / hook) / floor_s:.1f}x", flush=True)
    return {"rows": rows, "gemm_flops_per_s": rate}


def kernels_section(rate: float, batch: int = 32) -> dict[str, Any]:
    """Where the closed form's time goes: each torch kernel of `collapsed_value_and_grad` timed alone on the same
    batch (best of 20, one thread), with its flops and its rate against the GEMM rate. Explains the gap to the
    floor: the floor charges every flop at the GEMM rate, and LAPACK's batched Cholesky and triangular solve on
    100×100 factors run far below it."""
    import torch

    from vaetheory.core.threads import torch_threads

    def best(f, reps=20):
        f()
        t = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            t = min(t, time.perf_counter() - t0)
        return t

    rows = []
    with torch_threads(1):
        for d, kappa, n in ((100, 200, 1), (20, 40, 20)):
            g = torch.Generator().manual_seed(0)
            Phi = torch.randn(d, kappa, dtype=torch.float64, generator=g)
            X = torch.randn(d, n, dtype=torch.float64, generator=g)
            nu = torch.rand(batch, kappa, dtype=torch.float64, generator=g)
            eye = torch.eye(d, dtype=torch.float64)
            S = (Phi * nu[:, None, :]) @ Phi.T + 1e-4 * eye
            L = torch.linalg.cholesky(S)
            PX = torch.cat([Phi, X], 1).expand(batch, d, kappa + n)
            W = torch.linalg.solve_triangular(L, PX, upper=False)
            kernels = {
                "S = (Φ diag ν) Φᵀ + γI (GEMM)": (lambda: (Phi * nu[:, None, :]) @ Phi.T + 1e-4 * eye, 2 * d * d * kappa),
                "Cholesky of S": (lambda: torch.linalg.cholesky(S), d**3 / 3),
                "L⁻¹[Φ X] (triangular solve)": (lambda: torch.linalg.solve_triangular(L, PX, upper=False),
                                                d * d * (kappa + n)),
                "B = WφᵀY, norms": (lambda: ((W[:, :, :kappa].transpose(1, 2) @ W[:, :, kappa:]) ** 2).sum(2)
                                    + (W[:, :, :kappa] ** 2).sum(1), 2 * d * kappa * n + 2 * d * kappa),
                # alternatives to the triangular solve, not used: same W, the flops they actually do
                "alt.: L⁻¹ by a solve against I, then a GEMM": (
                    lambda: torch.linalg.solve_triangular(L, eye.expand(batch, d, d), upper=False) @ PX,
                    d**3 + 2 * d * d * (kappa + n)),
                "alt.: L⁻¹ by inv_ex, then a GEMM": (lambda: torch.linalg.inv_ex(L)[0] @ PX,
                                                     d**3 + 2 * d * d * (kappa + n)),
            }
            for name, (f, flops) in kernels.items():
                sec = best(f) / batch
                rows.append({"d": d, "kappa": kappa, "n": n, "kernel": name, "seconds_per_point": sec,
                             "flops": flops, "gflops_per_s": flops / sec / 1e9, "of_gemm_rate": flops / sec / rate})
                print(f"kernel d={d} {name}: {1e6 * sec:.1f} us, {flops / sec / 1e9:.1f} GFLOP/s", flush=True)
    return {"rows": rows, "batch": batch, "gemm_flops_per_s": rate, "load": load()}


def lbfgs_section(stage: int = 250, restarts: int = 32) -> dict[str, Any]:
    import numpy as np
    import scipy.optimize._lbfgsb_py as lbfgsb_py
    from scipy.optimize import Bounds, minimize

    from vaetheory.problems.generate import make_problem
    from vaetheory.search.lbfgs import batched_lbfgs
    from vaetheory.search.multistart import free_counts, make_starts
    from vaetheory.search.objective import Objective
    from vaetheory.variants.registry import get_variant
    from vaetheory.verdict.check import analyse_problem

    problem = make_problem(20, 40, 5, 20, "orthogonal", seed=0)
    variant = get_variant("ae-l1")
    obj = Objective(variant, problem)
    analysis = analyse_problem(problem)  # the starts of `vaetheory check --restarts 32 --seed 0` on this problem
    theta0 = make_starts(obj, restarts, np.random.default_rng(0), variant.gamma.default,
                         optimal_supports=analysis.oracle.supports, l21_support=analysis.relaxation.support).theta
    R, P = theta0.shape
    gamma = np.full(R, variant.gamma.default)
    lower = np.where(obj.layout.nonneg, 0.0, -np.inf)
    evals = [0]

    def rows_fun(rows, th):
        evals[0] += 1
        E, g, _ = obj.value_and_grad(th, gamma[rows], with_gamma=False)
        return E, g

    def joint_fun(x):
        evals[0] += 1
        E, g, _ = obj.value_and_grad(x.reshape(R, P), gamma, with_gamma=False)
        return float(E.sum()), g.ravel()

    inner = [0.0, 0]
    real = lbfgsb_py._lbfgsb.setulb

    def timed(*a, **k):
        t = time.perf_counter()
        out = real(*a, **k)
        inner[0] += time.perf_counter() - t
        inner[1] += 1
        return out

    rows = []
    for engine in ("joint L-BFGS-B", "batched rows"):
        evals[0] = 0
        load_before = load()
        t = time.perf_counter()
        if engine == "batched rows":
            theta = batched_lbfgs(rows_fun, theta0, lower, max_iter=stage, pgtol=1e-10).x
        else:
            lbfgsb_py._lbfgsb.setulb = timed
            try:
                res = minimize(joint_fun, theta0.ravel(), jac=True, method="L-BFGS-B",
                               bounds=Bounds(np.tile(lower, R), np.inf),
                               options={"maxiter": stage, "maxfun": 2 * stage, "ftol": 0.0, "gtol": 1e-10,
                                        "maxcor": 10})
            finally:
                lbfgsb_py._lbfgsb.setulb = real
            theta = res.x.reshape(R, P)
        seconds = time.perf_counter() - t
        free = free_counts(obj, theta, gamma)
        row = {"engine": engine, "seconds": seconds, "evaluations": evals[0],
               "free_quartiles": [int(q) for q in np.percentile(free, [0, 25, 50, 75, 100])], "load": load_before}
        if engine != "batched rows":
            row["setulb_ms_per_call"] = 1e3 * inner[0] / max(inner[1], 1)
            row["setulb_calls"] = inner[1]
        rows.append(row)
        print(f"lbfgs {engine}: {seconds:.2f} s, free quartiles {row['free_quartiles']}", flush=True)
    return {"problem": {"d": 20, "kappa": 40, "r": 5, "n": 20, "rows": "orthogonal", "seed": 0},
            "variant": "ae-l1", "restarts": restarts, "iterations": stage, "coordinates_per_restart": P,
            "rows": rows}


def cli_section(timeout: float) -> dict[str, Any]:
    from bench.cli_checks import check_once
    from vaetheory.problems.generate import make_problem

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = make_problem(20, 40, 5, 20, "orthogonal", seed=0).save(Path(tmp) / "P.npz")
        for v in ("vae-full", "vae-diag", "ae-l21", "ae-l1", "ae-log"):
            row = check_once(v, path, 32, Path(tmp), timeout)
            rows.append(row)
            print(f"cli {v}: {row['wall_seconds']:.1f} s {row.get('summary')} {row.get('error', '')}", flush=True)
    full = next(r["wall_seconds"] for r in rows if r["variant"] == "vae-full")
    for r in rows:
        r["over_vae_full"] = r["wall_seconds"] / full
    return {"problem": {"d": 20, "kappa": 40, "r": 5, "n": 20, "rows": "orthogonal", "seed": 0}, "restarts": 32,
            "timeout_seconds": timeout, "rows": rows,
            "target": "ae-l1 and ae-log under 4x vae-full (whole commands)"}


_MEM_CHILD = """
import resource, sys, json, time
sys.path.insert(0, {root!r})
what = {what!r}
from vaetheory.problems.generate import make_problem
from bench.fast_search import recover_support
from vaetheory.oracle.exhaustive import sparsest_supports
t0 = time.perf_counter()
if what == "check_d100_r64":
    p = make_problem(100, 200, 20, 1, "gaussian", seed=20000)
    s, sec, status = recover_support(p, restarts=64, seed=0)
    extra = {{"recovered": s == tuple(sorted(p.support)), "status": status}}
elif what == "oracle_cli_problem":
    p = make_problem(20, 40, 5, 20, "orthogonal", seed=0)
    o = sparsest_supports(p)
    extra = {{"k": o.k, "method": o.method}}
else:
    extra = {{}}
print(json.dumps({{"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - t0, **extra}}))
"""


def memory_section() -> dict[str, Any]:
    out = {}
    for what in ("imports_only", "check_d100_r64", "oracle_cli_problem"):
        proc = subprocess.run([sys.executable, "-c", _MEM_CHILD.format(root=str(ROOT), what=what)],
                              capture_output=True, text=True, env=ENV)
        try:
            out[what] = json.loads(proc.stdout.strip().splitlines()[-1]) | {"load": load()}
        except (IndexError, json.JSONDecodeError):
            out[what] = {"error": proc.stderr[-500:]}
        print(f"memory {what}: {out[what]}", flush=True)
    return out


def startup_section(runs: int = 5) -> dict[str, Any]:
    cmds = {"python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
            "python -m vaetheory --help": [sys.executable, "-m", "vaetheory", "--help"]}
    out = {}
    for label, cmd in cmds.items():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=ENV, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[label] = {"median_s": statistics.median(times), "min_s": min(times)}
    ratio = out["python -m vaetheory --help"]["median_s"] / out["python -c 'import numpy'"]["median_s"]
    print(f"startup: {out} ratio {ratio:.2f}", flush=True)
    return {"runs": runs, "results": out, "help_over_numpy": ratio, "target": 2.0, "met": ratio <= 2.0,
            "load": load()}


def recovery1_section(rs: list[int], trials: int, restarts: int = 1) -> dict[str, Any]:
    from bench.fast_search import recover_support
    from vaetheory.problems.generate import make_problem

    rows = []
    for r in rs:
        res = []
        for t in range(trials):
            p = make_problem(100, 200, r, 1, "gaussian", seed=1000 * r + t)
            s, sec, status = recover_support(p, restarts=restarts, seed=t)
            res.append((s == tuple(sorted(p.support)), sec, status))
        rows.append({"r": r, "trials": trials, "restarts": restarts,
                     "recovery": sum(x[0] for x in res) / trials,
                     "seconds_per_problem": sum(x[1] for x in res) / trials,
                     "seconds_max": max(x[1] for x in res), "statuses": [x[2] for x in res], "load": load()})
        print(f"recovery r={r}: {rows[-1]['recovery']:.2f} in {rows[-1]['seconds_per_problem']:.1f} s/problem",
              flush=True)
    return {"protocol": {"d": 100, "kappa": 200, "n": 1, "rows": "gaussian", "gamma": 1e-6, "gamma_mode": "fixed",
                         "starts": "random, gamma-continued", "call": "bench.fast_search.recover_support"},
            "rows": rows}


def _md(head: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of one Markdown table (`bench.report._table`) and a blank line after it."""
    return _table(head, rows).splitlines() + [""]


def markdown(data: dict[str, Any]) -> str:
    s = data.get("sections", {})
    lines = ["# Speed (issue 12): `python bench/speed.py`", ""]
    if "gemm" in s:
        g = s["gemm"]
        lines += [f"Per-core float64 GEMM rate: {g['flops_per_s'] / 1e9:.1f} GFLOP/s (torch.matmul {g['size']}², one "
                  f"thread, best of 5; load {g['load']}).", ""]
    if "eval" in s:
        lines += ["| energy + gradient (vae-full), per point, batch 32 | closed form | autograd (vmap) | FLOP floor "
                  "| closed form / floor | target | met? | load |", "|---|---|---|---|---|---|---|---|"]
        for r in s["eval"]["rows"]:
            lines.append(f"| d={r['d']}, κ={r['kappa']}, n={r['n']} | {1e6 * r['closed_form_seconds']:.1f} µs | "
                         f"{1e6 * r['autograd_seconds']:.1f} µs | {1e6 * r['floor_seconds']:.1f} µs "
                         f"({r['floor_flops'] / 1e6:.2f} MFLOP) | {r['closed_form_over_floor']:.1f}× | ≤ 2× | "
                         f"{'yes' if r['met'] else 'no'} | {r['load'][0]} |")
        lines.append("")
    if "kernels" in s:
        lines += _md(["kernel of the closed form (batch 32, per point)", "d, κ, n", "µs", "GFLOP/s",
                            "of the GEMM rate"],
                           [[r["kernel"], f"{r['d']}, {r['kappa']}, {r['n']}", f"{1e6 * r['seconds_per_point']:.1f}",
                             f"{r['gflops_per_s']:.1f}", f"{r['of_gemm_rate']:.2f}"] for r in s["kernels"]["rows"]])
    if "lbfgs" in s:
        lb = s["lbfgs"]
        lines += _md([f"first L-BFGS stage: {lb['variant']}, {lb['restarts']} restarts × {lb['coordinates_per_restart']}"
                      f" coordinates, {lb['iterations']} iterations", "s", "evaluations", "L-BFGS-B routine ms/call",
                      "free coordinates after (min, quartiles, max)", "load"],
                     [[r["engine"], f"{r['seconds']:.2f}", str(r["evaluations"]),
                       f"{r['setulb_ms_per_call']:.2f}" if "setulb_ms_per_call" in r else "—",
                       str(r["free_quartiles"]), str(r["load"][0])] for r in lb["rows"]])
    if "cli" in s:
        lines += _md(["`check --restarts 32`, d=20 κ=40 r=5 n=20", "wall s", "× vae-full", "verdicts", "load"],
                           [[r["variant"], f"{r['wall_seconds']:.1f}{' (timed out)' if r.get('timed_out') else ''}",
                             f"{r['over_vae_full']:.1f}", str(r.get("summary", r.get("error", ""))),
                             str(r["load_before"][0])] for r in s["cli"]["rows"]])
    if "memory" in s:
        lines += ["| peak RSS (child process) | MB | seconds |", "|---|---|---|"]
        for k, v in s["memory"].items():
            if "maxrss_kb" in v:
                lines.append(f"| {k} | {v['maxrss_kb'] / 1024:.0f} | {v['seconds']:.1f} |")
        lines.append("")
    if "startup" in s:
        st = s["startup"]
        lines += [f"Startup: `vaetheory --help` {st['results']['python -m vaetheory --help']['median_s']:.2f} s vs "
                  f"`import numpy` {st['results'][chr(112) + 'ython -c ' + chr(39) + 'import numpy' + chr(39)]['median_s']:.2f} s "
                  f"(median of {st['runs']}): {st['help_over_numpy']:.2f}× (target ≤ 2×; load {st['load']}).", ""]
    if "recovery1" in s:
        lines += ["| published configuration, 1 restart (γ-continued) | r | recovery | s/problem | load |",
                  "|---|---|---|---|---|"]
        for r in s["recovery1"]["rows"]:
            lines.append(f"| d=100 κ=200 n=1 | {r['r']} | {r['recovery']:.2f} ({r['trials']} trials) | "
                         f"{r['seconds_per_problem']:.1f} | {r['load'][0]} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--out", default=str(ROOT / "bench"))
    ap.add_argument("--cli-timeout", type=float, default=300.0)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--rs", default="2,10,20,30,40")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "speed.json"
    only = args.only.split(",")
    meta = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    rate = None
    for name in SECTIONS:
        if name not in only and not (name == "gemm" and ("eval" in only or "kernels" in only)):
            continue
        if name == "gemm":
            sec = gemm_rate()
            rate = sec["flops_per_s"]
        elif name == "eval":
            sec = eval_section(rate)
        elif name == "kernels":
            sec = kernels_section(rate)
        elif name == "lbfgs":
            sec = lbfgs_section()
        elif name == "cli":
            sec = cli_section(args.cli_timeout)
        elif name == "memory":
            sec = memory_section()
        elif name == "startup":
            sec = startup_section()
        else:
            sec = recovery1_section([int(r) for r in args.rs.split(",")], args.trials)
        data = merge_section(path, name, sec, meta)
        (out / "speed.md").write_text(markdown(data))


if __name__ == "__main__":
    main()
