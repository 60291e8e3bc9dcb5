"""How far the big-M MIP oracle reaches (the evidence for `vaetheory.oracle.auto.MIP_AUTO_MAX_KAPPA`): the MIP
(`oracle_mip`, HiGHS, its default 60 s limit) on Gaussian problems with n = 1, the planted support as its witness,
recording whether it proved k* and HiGHS's lower bound when it did not.

Writes bench/mip_reach.json. Example:
    nice -n 10 python bench/mip_reach.py                          # the default sizes, ~6 min
    nice -n 10 python bench/mip_reach.py --sizes 50x100x4,100x200x60
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import commit, load, machine  # noqa: E402

SIZES = "50x100x4,50x100x8,75x150x4,100x200x4,100x200x60"


def main(argv=None) -> int:
    from vaetheory.oracle.mip import oracle_mip
    from vaetheory.problems.generate import make_problem

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=SIZES, help="d x kappa x r, comma-separated")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "mip_reach.json"))
    args = ap.parse_args(argv)
    rows = []
    result = {"command": "python bench/mip_reach.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": machine(), "measured_on": commit(), "load_before": load(), "time_limit": args.time_limit,
              "rows": rows}
    for size in args.sizes.split(","):
        d, kappa, r = (int(x) for x in size.split("x"))
        p = make_problem(d, kappa, r, 1, "gaussian", seed=1000 * r + d)
        t0, c0 = time.perf_counter(), time.process_time()
        a = oracle_mip(p, time_limit=args.time_limit)
        row = {"d": d, "kappa": kappa, "r": r, "n": 1, "seconds": time.perf_counter() - t0,
               "cpu_seconds": time.process_time() - c0, "k_star": a.k_star, "proven": a.details["proven"],
               "certain": a.k_star_certain, "lower_bound": a.details["lower_bound"], "status": a.details["status"],
               "load": load()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result["load_after"] = load()
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
