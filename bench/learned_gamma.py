"""Learned γ against fixed γ on a seeded batch of problems (issue 10 findings; docs/learned-gamma.md).

Family: `vaetheory generate --d 10 --kappa 25 --r 5 --n 20 --rows orthogonal --seed S` (= `make_problem(10, 25, 5,
20, "orthogonal", S)`), seeds S = --first .. --first + --count − 1 (default 1000..1019, seeds no test uses).
For each problem, the analysis (exact oracle, ℓ2,1 relaxation, conditions) is computed once; then for vae-full and
vae-diag, `run_check(problem, variant, restarts=16, seed=0)` at fixed γ = 1e-6 and with γ learned (`learn_gamma=True`,
starting γ = the variant default 1e-4, floor 1e-6) — exactly what `vaetheory check --variant V --problem p.npz
--restarts 16 --seed 0 [--gamma 1e-6 | --learn-gamma]` runs.

Counted per (variant, γ mode): optimal (split into interior / limit), bad (interior), bad (limit), saddle,
not_converged; plus, per problem, the issue's acceptance tests (vae-diag learned: ≥ 1 bad_local_min with γ above the
floor and ≤ 4 not_converged; vae-full learned: 0 bad_local_min and ≥ 12 optimal). Writes JSON (every point's
verdict, support size, γ, start kind, limit flag and reason) and prints a Markdown table; records load averages.

    PYTHONPATH=. python bench/learned_gamma.py --out bench/learned_gamma.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import commit  # noqa: E402
from vaetheory.problems.generate import make_problem  # noqa: E402
from vaetheory.variants import get_variant  # noqa: E402
from vaetheory.verdict.check import analyse_problem, run_check  # noqa: E402

MODES = (("fixed 1e-6", dict(gamma=1e-6)), ("learned", dict(learn_gamma=True)))
COLUMNS = ("optimal (interior)", "optimal (limit)", "bad (interior)", "bad (limit)", "undecided_min", "degenerate_min",
           "saddle", "not_converged")


def counts(points: list[dict]) -> dict[str, int]:
    out = dict.fromkeys(COLUMNS, 0)
    for p in points:
        v = p["verdict"]
        if v in ("optimal", "bad_local_min"):
            out[f"{'optimal' if v == 'optimal' else 'bad'} ({'limit' if p['limit'] else 'interior'})"] += 1
        else:
            out[v] += 1
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=1000)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--restarts", type=int, default=16)
    ap.add_argument("--rows", default="orthogonal", help="nonzero rows of Z*: orthogonal or gaussian")
    ap.add_argument("--r", type=int, default=5)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--out", default="bench/learned_gamma.json")
    args = ap.parse_args(argv)
    rows, t_all = [], time.perf_counter()
    for seed in range(args.first, args.first + args.count):
        problem = make_problem(10, 25, args.r, args.n, args.rows, seed)
        analysis = analyse_problem(problem)
        row = {"seed": seed, "k": analysis.oracle.k, "runs": {}}
        for name in ("vae-full", "vae-diag"):
            for mode, kw in MODES:
                t0 = time.perf_counter()
                res = run_check(problem, get_variant(name), restarts=args.restarts, seed=0, analysis=analysis, **kw)
                pts = [p.to_dict() for p in res.points]
                row["runs"][f"{name} {mode}"] = {
                    "counts": counts(pts), "claim_status": res.claim_status, "seconds": time.perf_counter() - t0,
                    "load": list(os.getloadavg()),
                    "proofs": res.proofs,
                    "points": [{k: p[k] for k in ("verdict", "gamma", "gamma_floor", "followed", "start_kind", "limit",
                                                  "reason", "energy")}
                               | {"size": len(p["support"]),
                                  "proof": (p.get("proof") or {}).get("status")} for p in pts]}
        diag, full = row["runs"]["vae-diag learned"], row["runs"]["vae-full learned"]
        row["accept"] = {
            "diag_bad_above_floor": sum(p["verdict"] == "bad_local_min" and not p["limit"] for p in diag["points"]),
            "diag_not_converged": diag["counts"]["not_converged"],
            "full_bad": full["counts"]["bad (interior)"] + full["counts"]["bad (limit)"],
            "full_optimal": full["counts"]["optimal (interior)"] + full["counts"]["optimal (limit)"]}
        rows.append(row)
        print(f"seed {seed}: " + "; ".join(f"{k}: {v['counts']}" for k, v in row["runs"].items()), flush=True)
    total = {}
    for key in rows[0]["runs"]:
        total[key] = {c: sum(r["runs"][key]["counts"][c] for r in rows) for c in COLUMNS}
    proved = {}  # per (variant, γ mode): reported minima proved / reported minima (interval proofs, d ≤ 20)
    for key in rows[0]["runs"]:
        pts = [p for r in rows for p in r["runs"][key]["points"] if p["verdict"] in ("optimal", "bad_local_min")]
        proved[key] = {v: f"{sum(p['proof'] == 'proved' for p in pts if p['verdict'] == v)}/"
                          f"{sum(p['verdict'] == v for p in pts)}" for v in ("optimal", "bad_local_min")}
    acc = [r["accept"] for r in rows]
    limit_failures = {key: sum(p["verdict"] == "not_converged" and "limit" in (p["reason"] or "")
                               for r in rows for p in r["runs"][key]["points"]) for key in rows[0]["runs"]}
    followed = {key: sum(bool(p["followed"]) for r in rows for p in r["runs"][key]["points"]) for key in rows[0]["runs"]}
    summary = {"family": {"d": 10, "kappa": 25, "r": args.r, "n": args.n, "rows": args.rows},
               "commit": commit(), "problems": len(rows), "restarts": args.restarts,
               "not_converged_by_failed_limit_check": limit_failures, "followed_below_floor": followed, "seconds": time.perf_counter() - t_all,
               "load_end": list(os.getloadavg()), "totals": total, "proved": proved,
               "diag_problems_with_interior_bad": sum(a["diag_bad_above_floor"] >= 1 for a in acc),
               "diag_problems_not_converged_le_4": sum(a["diag_not_converged"] <= 4 for a in acc),
               "full_problems_no_bad": sum(a["full_bad"] == 0 for a in acc),
               "full_problems_optimal_ge_12": sum(a["full_optimal"] >= 12 for a in acc)}
    Path(args.out).write_text(json.dumps({"summary": summary, "problems": rows}, indent=1))
    print(f"\n{len(rows)} problems (seeds {args.first}..{args.first + args.count - 1}), {args.restarts} restarts each, "
          f"{summary['seconds']:.0f} s, load at end {summary['load_end']}\n")
    print("| variant, γ mode | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for key, c in total.items():
        print(f"| {key} | " + " | ".join(str(c[k]) for k in COLUMNS) + " |")
    print("\nproved / reported minima: " + json.dumps(proved))
    print("\n" + json.dumps({k: v for k, v in summary.items() if k not in ("totals", "proved")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
