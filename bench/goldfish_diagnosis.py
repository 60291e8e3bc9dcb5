"""Why the old recipe reimplementation fell short: controlled ablations on the goldfish problems (issue 11, item 7).

Same problems as bench/goldfish.py (``make_problem(100, 200, r, 1, "gaussian", seed=1000·r + t)``), fewer steps. Each
row changes one thing between the old reimplementation (``bench/baselines/recipe_vae.py``: log γ from ‖x‖²/d,
triangular C = I, w = 1, bias, float64, lr 1e-2 throughout, read-out |u_j| > 1e-2·max|u|) and the published recipe
(``bench/baselines/published_recipe.py``: raw γ = 0.1, full S ~ 0.01·N, w ~ 0.1·N, no bias, float32, lr 1e-2 cut to
1e-4 at the first negative loss, read-out |u_j| > 1e-3). Recovery is counted under both read-outs for every row.

Example:
    python bench/goldfish_diagnosis.py --r 10 --problems 4 --steps 10000
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import load  # noqa: E402


def _rules(u: np.ndarray, planted: list[int]) -> tuple[bool, bool, int]:
    a = np.nan_to_num(np.abs(np.asarray(u, dtype=np.float64)), nan=0.0)
    absolute = np.flatnonzero(a > 1e-3).tolist()
    relative = np.flatnonzero(a > 1e-2 * a.max()).tolist() if a.max() > 0 else []
    return absolute == planted, relative == planted, len(absolute)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__[__doc__.index("Example:"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--r", default="10")
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--rows", default="old,old-lr1e-4,published,published-nocut",
                    help="comma-separated subset of the rows")
    ap.add_argument("--out", default=str(ROOT / "bench" / "goldfish_diagnosis.json"))
    a = ap.parse_args(argv)
    from bench.baselines.published_recipe import RecipeConfig, train_published_recipe
    from bench.baselines.recipe_vae import train_recipe_batched
    from vaetheory.problems.generate import make_problem

    rs = [int(v) for v in a.r.split(",")]
    seeds = [(r, 1000 * r + t) for r in rs for t in range(a.problems)]
    probs = [make_problem(100, 200, r, 1, "gaussian", seed=s) for r, s in seeds]
    planted = [sorted(int(j) for j in p.support) for p in probs]
    Phi, x = np.stack([p.Phi for p in probs]), np.stack([p.X[:, 0] for p in probs])
    rows = []
    for name in a.rows.split(","):
        t0, l0 = time.perf_counter(), load()
        if name == "old":
            res = train_recipe_batched(Phi, x, steps=a.steps, lr=1e-2, seed=0)
        elif name == "old-lr1e-4":
            res = train_recipe_batched(Phi, x, steps=a.steps, lr=1e-4, seed=0)
        elif name == "published":
            res = train_published_recipe(Phi, x, [s for _, s in seeds], RecipeConfig(steps=a.steps), progress=name)
        elif name == "published-nocut":
            res = train_published_recipe(Phi, x, [s for _, s in seeds],
                                         RecipeConfig(steps=a.steps, lr_cut_factor=1.0), progress=name)
        else:
            print(f"unknown row {name!r}", file=sys.stderr)
            return 2
        seconds = time.perf_counter() - t0
        judged = [_rules(res[i]["u"], planted[i]) for i in range(len(probs))]
        row = {"row": name, "steps": a.steps, "problems": len(probs), "rs": rs,
               "recovery_abs_1e-3": float(np.mean([j[0] for j in judged])),
               "recovery_rel_1e-2": float(np.mean([j[1] for j in judged])),
               "support_sizes_abs": [j[2] for j in judged],
               "gamma": [float(res[i]["gamma"]) for i in range(len(probs))],
               "status": [res[i].get("status", "ok") for i in range(len(probs))],
               "seconds_per_problem": seconds / len(probs), "load_start": l0, "load_end": load()}
        rows.append(row)
        print(f"{name:16s} abs 1e-3: {row['recovery_abs_1e-3']:.2f}  rel 1e-2: {row['recovery_rel_1e-2']:.2f}  "
              f"|S| {row['support_sizes_abs']}  median γ {np.nanmedian(row['gamma']):.1e}  "
              f"{row['seconds_per_problem']:.1f} s/problem", flush=True)
    Path(a.out).write_text(json.dumps({"rows": rows, "command": "python bench/goldfish_diagnosis.py "
                                       + " ".join(argv if argv is not None else sys.argv[1:])}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
