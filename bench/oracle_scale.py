"""Oracle methods at the published single-response size (docs/oracles.md, notes/issue-11-oracle.md).

For d = 100, κ = 200, n = 1, Gaussian Φ and rows, seed 0 (`vaetheory generate --d 100 --kappa 200 --r R --n 1
--rows gaussian --seed 0`), and R in --r: what `analyse_problem(oracle="auto")` picks, whether k* is certain, and
the wall time of the oracle and of the whole analysis (ℓ2,1 relaxation and conditions included). Optionally
(--methods) each explicit method too. Every row carries the load averages (the machine is shared).

    python -m bench.oracle_scale --r 2 10 20 40 60 --mip-time-limit 60 -o bench/oracle_scale.json
"""
from __future__ import annotations

import argparse
import json
import time

from bench.common import load
from vaetheory.oracle.answer import OracleNotApplicable
from vaetheory.oracle.auto import run_oracle
from vaetheory.problems.generate import make_problem
from vaetheory.verdict.check import analyse_problem


def measure(r: int, d: int, kappa: int, mip_time_limit: float, methods: list[str]) -> dict:
    p = make_problem(d, kappa, r, 1, "gaussian", 0)
    t = time.perf_counter()
    a = analyse_problem(p, oracle="auto", mip_time_limit=mip_time_limit)
    total = time.perf_counter() - t
    o = a.oracle
    row = {"d": d, "kappa": kappa, "r": r, "n": 1, "auto_method": o.method, "k_star": o.k_star,
           "k_star_certain": o.k_star_certain, "oracle_seconds": round(o.seconds, 3),
           "analysis_seconds": round(total, 3), "assumption": o.assumption is not None,
           "relaxation_support_size": None if a.relaxation is None else len(a.relaxation.support),
           "basis": o.basis, "load": load(), "methods": {}}
    for m in methods:
        t = time.perf_counter()
        try:
            x = run_oracle(p, m, mip_time_limit=mip_time_limit)
            row["methods"][m] = {"k_star": x.k_star, "certain": x.k_star_certain,
                                 "seconds": round(time.perf_counter() - t, 3)}
        except (OracleNotApplicable, Exception) as exc:  # noqa: BLE001 (BudgetError etc.: recorded, not raised)
            row["methods"][m] = {"error": f"{type(exc).__name__}: {str(exc)[:160]}",
                                 "seconds": round(time.perf_counter() - t, 3)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--r", type=int, nargs="+", default=[2, 10, 20, 40, 60])
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--kappa", type=int, default=200)
    ap.add_argument("--mip-time-limit", type=float, default=60.0)
    ap.add_argument("--methods", nargs="*", default=[])
    ap.add_argument("-o", "--output", default=None)
    a = ap.parse_args()
    rows = []
    for r in a.r:
        row = measure(r, a.d, a.kappa, a.mip_time_limit, a.methods)
        rows.append(row)
        print(f"r={r:3d}  auto -> {row['auto_method']:<10} k*={row['k_star']:3d} certain={row['k_star_certain']!s:5}"
              f"  oracle {row['oracle_seconds']:7.2f} s  analysis {row['analysis_seconds']:7.2f} s  load {row['load']}"
              + "".join(f"\n        {m}: {v}" for m, v in row["methods"].items()), flush=True)
    if a.output:
        with open(a.output, "w") as fh:
            json.dump({"mip_time_limit": a.mip_time_limit, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
