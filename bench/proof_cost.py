"""Cost and yield of the interval proofs (docs/proofs.md) against the search they certify.

    python bench/proof_cost.py                       # the issue-14 acceptance set, 32 restarts (≈ 5 min here)
    python bench/proof_cost.py --seeds 0 --restarts 8 --sizes 10,25,5,20   # a smaller run

For each problem (orthogonal rows, sizes d,κ,r,n; seeds) and variant (vae-diag, vae-full) at fixed γ: one
`run_check` without proofs (its search time), then the proofs of every reported minimum on the same end points
(`vaetheory.verdict.proofs.attach_proofs`), timed separately; then, untimed, how many of those minima the same
test proves on a box of relative radius 1e-8 instead of 1e-24 (why the box must be tiny). Prints one Markdown table and writes
bench/proof_cost.json. Each row carries the 1-minute load average (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from vaetheory.certify.interval import prove_point  # noqa: E402
from vaetheory.problems.generate import make_problem  # noqa: E402
from vaetheory.search.objective import Objective  # noqa: E402
from vaetheory.variants import get_variant  # noqa: E402
from vaetheory.verdict.check import analyse_problem, run_check  # noqa: E402
from vaetheory.verdict.proofs import attach_proofs, proof_summary  # noqa: E402


def measure(sizes: tuple[int, int, int, int], seed: int, variant_name: str, gamma: float, restarts: int,
            rows: str = "orthogonal") -> dict:
    d, kappa, r, n = sizes
    problem = make_problem(d, kappa, r, n, rows, seed)
    analysis = analyse_problem(problem)
    variant = get_variant(variant_name)
    t0 = time.perf_counter()
    res = run_check(problem, variant, restarts=restarts, seed=0, gamma=gamma, analysis=analysis, prove=False)
    t_check = time.perf_counter() - t0
    verdicts = [p.verdict for p in res.points]
    masks = np.zeros((len(res.points), problem.kappa), dtype=bool)
    for i, p in enumerate(res.points):
        masks[i, p.support] = True
    t0 = time.perf_counter()
    proofs = attach_proofs(Objective(variant, problem), res.search.theta, res.search.gamma, verdicts, masks,
                           analysis.oracle, active_rtol=res.certificate.active_rtol)
    t_prove = time.perf_counter() - t0
    summary = proof_summary(verdicts, [p.to_dict() for p in proofs])
    # the same proofs on a box of relative radius 1e-8 (same refined centre, 256 bits): why the box must be tiny
    obj = Objective(variant, problem)
    wide = sum(prove_point(obj, res.search.theta[i], float(res.search.gamma[i]), bits=256, rho=1e-8).proved
               for i, v in enumerate(verdicts) if v in ("optimal", "bad_local_min"))
    reasons = sorted({p.reason for p in proofs if p.status == "not_proved"})
    return {"sizes": list(sizes), "rows": rows, "seed": seed, "variant": variant_name, "gamma": gamma, "restarts": restarts,
            "verdicts": res.summary, "proofs": summary, "search_s": round(res.timings["search"], 3),
            "check_s": round(t_check, 3), "prove_s": round(t_prove, 3),
            "ratio_prove_to_search": round(t_prove / res.timings["search"], 4),
            "max_point_offset": max((p.point_offset or 0.0) for p in proofs),
            "proved_with_box_1e-8": int(wide),
            "not_proved_reasons": reasons, "load1": round(os.getloadavg()[0], 2)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--restarts", type=int, default=32)
    ap.add_argument("--gamma", type=float, default=1e-6)
    ap.add_argument("--sizes", default="10,25,5,20;20,40,5,20", help="d,kappa,r,n groups separated by ';'")
    ap.add_argument("--rows", default="orthogonal", help="nonzero rows of Z*: orthogonal (needs n >= r) or gaussian")
    ap.add_argument("--variants", default="vae-diag,vae-full")
    ap.add_argument("--out", default=str(Path(__file__).with_name("proof_cost.json")))
    args = ap.parse_args(argv)
    rows = []
    # warm-up, untimed: the first proof and search in a process pay one-off imports and torch set-up costs
    measure((6, 12, 2, 6), 0, "vae-diag", args.gamma, 4)
    print("| d,κ,r,n | seed | variant | verdicts (opt/bad) | proved (opt/bad) | search s | proofs s | ratio | proved at box 1e-8 | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for group in args.sizes.split(";"):
        sizes = tuple(int(x) for x in group.split(","))
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in args.variants.split(","):
                row = measure(sizes, seed, name, args.gamma, args.restarts, args.rows)
                rows.append(row)
                v, p = row["verdicts"], row["proofs"]
                print(f"| {group} | {seed} | {name} | {v['optimal']}/{v['bad_local_min']} | "
                      f"{p['optimal']['proved']}/{p['bad_local_min']['proved']} | {row['search_s']:.2f} | "
                      f"{row['prove_s']:.2f} | {row['ratio_prove_to_search']:.3f} | {row['proved_with_box_1e-8']} | "
                      f"{row['load1']} |", flush=True)
                if row["not_proved_reasons"]:
                    print("    not proved: " + " / ".join(row["not_proved_reasons"]), flush=True)
    from common import commit  # bench/common.py (this script's folder is on sys.path): bench/publish.py stamps with it

    Path(args.out).write_text(json.dumps({"rows": rows, "measured_on": commit()}, indent=1))


if __name__ == "__main__":
    main()
