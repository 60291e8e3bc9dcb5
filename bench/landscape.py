"""How κ, d, n and γ drive the complete-landscape search (docs/landscape.md): boxes, faces closed, time.

    python bench/landscape.py                 # the default grid (≈ 20-30 min on this shared machine)
    python bench/landscape.py --quick         # a few rows
    python bench/landscape.py --c1 --out bench/landscape_c1.json   # C1 instances, each complete or not (≈ 3-5 min)

Fixed γ (vae-full, vae-diag): one `run_landscape` per problem with a per-face box budget and a per-problem time
limit; each row says whether it completed, the boxes by face size, the unresolved faces and the seconds.
Limit mode (vae-full, γ → 0, n = 1 < r): supports decided per second and the bad limit minima found.
Writes bench/landscape.json (each row carries the 1-minute load average: the machine is shared).
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

from bench.common import commit  # noqa: E402
from vaetheory.landscape import run_landscape  # noqa: E402
from vaetheory.problems.generate import make_problem  # noqa: E402
from vaetheory.variants import get_variant  # noqa: E402

FIXED = [  # (variant, d, kappa, r, n, rows, gamma, seed[, time limit in s when it is not --time-limit])
    ("vae-full", 2, 3, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-full", 2, 4, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-full", 2, 6, 1, 3, "orthogonal", 1e-2, 2),
    ("vae-full", 2, 8, 1, 3, "orthogonal", 1e-2, 3),
    ("vae-full", 2, 4, 1, 1, "gaussian", 1e-2, 2),
    ("vae-full", 2, 4, 1, 2, "orthogonal", 1e-4, 0),
    ("vae-full", 2, 4, 1, 2, "orthogonal", 1e-6, 0),
    ("vae-full", 2, 4, 1, 2, "orthogonal", 1e-8, 0),
    ("vae-diag", 2, 3, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-diag", 2, 3, 1, 2, "orthogonal", 1e-6, 0),
    ("vae-diag", 2, 4, 1, 2, "orthogonal", 1e-2, 0),
    # rank-one data (r = 1 or n = 1): every face of more than d columns goes by the second-order rule
    ("vae-full", 3, 6, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-diag", 3, 6, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-full", 3, 6, 1, 1, "gaussian", 1e-2, 1),
    ("vae-diag", 3, 6, 1, 1, "gaussian", 1e-2, 1),
    ("vae-full", 4, 8, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-diag", 4, 8, 1, 2, "orthogonal", 1e-2, 0),
    ("vae-full", 4, 8, 1, 1, "gaussian", 1e-2, 2),
    ("vae-diag", 4, 8, 1, 1, "gaussian", 1e-2, 2),
    ("vae-full", 4, 8, 1, 2, "orthogonal", 1e-4, 0),
    # rank-two data: faces of d + 1 … 2d − 1 columns must be searched; where the enclosures stop closing
    ("vae-full", 3, 4, 2, 3, "orthogonal", 1e-2, 0, 120.0),
    ("vae-full", 3, 6, 2, 3, "orthogonal", 1e-2, 0, 120.0),
    ("vae-diag", 3, 6, 2, 3, "orthogonal", 1e-2, 0, 120.0),
]
LIMIT = [(6, 12, 3, 1, 0), (8, 16, 3, 1, 0), (8, 16, 3, 1, 1), (10, 20, 3, 1, 0)]
#: Instances meeting C1's conditions (orthogonal rows, r < d, fixed small γ) at the sizes where the fixed-γ search
#: completes: every one is a theorem about that problem when it says complete (README's C1 line).
C1 = ([("vae-full", 2, kappa, 1, 2, "orthogonal", gamma, seed)
       for kappa in (3, 4, 5, 6) for gamma in (1e-4, 1e-6) for seed in range(10)]
      + [("vae-full", 3, kappa, 1, 2, "orthogonal", gamma, seed)
         for kappa in (4, 5, 6) for gamma in (1e-4, 1e-6) for seed in range(5)]
      + [("vae-full", 4, kappa, 1, 2, "orthogonal", gamma, seed)
         for kappa in (6, 8) for gamma in (1e-4, 1e-6) for seed in range(3)])


def fixed_row(spec, max_boxes: int, time_limit: float) -> dict:
    v, d, kappa, r, n, rows, gamma, seed = spec[:8]
    time_limit = spec[8] if len(spec) > 8 else time_limit
    problem = make_problem(d, kappa, r, n, rows, seed)
    t0 = time.perf_counter()
    res = run_landscape(problem, get_variant(v), gamma=gamma, max_boxes_per_face=max_boxes, time_limit=time_limit)
    faces_open = sorted({tuple(u["face"]) for u in res.unresolved if "face" in u})
    return {"variant": v, "d": d, "kappa": kappa, "r": r, "n": n, "rows": rows, "gamma": gamma, "seed": seed,
            "complete": res.complete, "minima": [[m.support, m.verdict] for m in res.minima],
            "saddles": len(res.saddles), "boxes": res.stats.get("boxes"),
            "by_face_size": res.stats.get("by_face_size"), "unresolved_faces": len(faces_open),
            "unresolved_face_sizes": sorted({len(f) for f in faces_open}),
            "other_unresolved": [u["why"] for u in res.unresolved if "face" not in u],
            "max_boxes_per_face": max_boxes, "time_limit": time_limit,
            "seconds": round(time.perf_counter() - t0, 2), "load1": round(os.getloadavg()[0], 2)}


def limit_row(spec) -> dict:
    d, kappa, r, n, seed = spec
    problem = make_problem(d, kappa, r, n, "gaussian", seed)
    t0 = time.perf_counter()
    res = run_landscape(problem, get_variant("vae-full"), learn_gamma_limit=True)
    sec = time.perf_counter() - t0
    return {"d": d, "kappa": kappa, "r": r, "n": n, "rows": "gaussian", "seed": seed, "complete": res.complete,
            "supports": res.stats["supports_total"], "decisions": res.stats["decisions"],
            "limit_minima": len(res.minima), "bad_limit_minima": len(res.bad_minima),
            "bad_fraction_of_supports": round(len(res.bad_minima) / res.stats["supports_total"], 4),
            "seconds": round(sec, 2), "supports_per_second": round(res.stats["supports_total"] / sec, 1),
            "load1": round(os.getloadavg()[0], 2)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--c1", action="store_true", help="only the C1 instances (fixed γ), no limit rows")
    ap.add_argument("--max-boxes", type=int, default=20000)
    ap.add_argument("--time-limit", type=float, default=300.0, help="per problem (the issue's target: 5 min)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "landscape.json"))
    ap.add_argument("--only-limit", action="store_true",
                    help="re-measure only the limit-mode rows, keeping the fixed-γ rows (and their commit) of --out")
    args = ap.parse_args(argv)
    if args.only_limit:
        out = json.loads(Path(args.out).read_text())
        out["limit"] = []
        for spec in LIMIT:
            row = limit_row(spec)
            out["limit"].append(row)
            print(json.dumps(row), flush=True)
        out["limit_measured_on"] = {"command": "python bench/landscape.py --only-limit", **commit()}
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
        return
    fixed = C1 if args.c1 else FIXED[:2] + FIXED[11:13] if args.quick else FIXED
    limits = [] if args.c1 else LIMIT[:1] if args.quick else LIMIT
    flags = " --c1" if args.c1 else " --quick" if args.quick else ""
    out = {"command": "python bench/landscape.py" + flags, **commit(),
           "fixed_gamma": [], "limit": []}
    for spec in fixed:
        row = fixed_row(spec, args.max_boxes, args.time_limit)
        out["fixed_gamma"].append(row)
        print(json.dumps(row), flush=True)
    for spec in limits:
        row = limit_row(spec)
        out["limit"].append(row)
        print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
