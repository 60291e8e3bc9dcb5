"""Scaling: search time of vae-full vs d, κ, n and the number of restarts R (batched restarts vs R × one), and
where the exhaustive oracle stops being usable (C(κ, k) / measured subsets per second).

Search = `make_starts` (random starts only, so no oracle is needed) + `minimise` at the variant's default γ, on
`make_problem(d, κ, r, n, "orthogonal", seed=0)`; each time is the best of `repeats` runs (shared machine).
"""
from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from bench.common import load, timed
from bench.enumeration import screen_rates
from vaetheory.problems.generate import make_problem
from vaetheory.search.objective import Objective
from vaetheory.search.multistart import make_starts, minimise
from vaetheory.variants.registry import get_variant


def search_seconds(d: int, kappa: int, r: int, n: int, restarts: int, repeats: int) -> dict[str, Any]:
    """Best-of-`repeats` wall seconds of one batched search, with L-BFGS-B and Newton iteration counts."""
    variant = get_variant("vae-full")
    objective = Objective(variant, make_problem(d, kappa, r, n, "orthogonal", seed=0))
    gamma = variant.gamma.default
    best, res = np.inf, None
    for rep in range(repeats):
        starts = make_starts(objective, restarts, np.random.default_rng(rep), gamma)
        res, s = timed(lambda: minimise(objective, starts, gamma))
        best = min(best, s)
    return {"d": d, "kappa": kappa, "r": r, "n": n, "restarts": restarts, "seconds": best, "nit": res.nit,
            "newton_iters": getattr(res, "newton_iters", None), "load": load()}


def oracle_limits(rates: dict[int, float], horizons: tuple[float, ...] = (1.0, 60.0, 3600.0)) -> list[dict]:
    """For each k with a measured rate: the largest κ whose C(κ, k) subsets fit each time horizon."""
    rows = []
    for k, rate in sorted(rates.items()):
        row: dict[str, Any] = {"k": k, "subsets_per_s": rate}
        for h in horizons:
            kappa = k
            while comb(kappa + 1, k) / rate <= h and kappa < 100_000:
                kappa += 1
            row[f"max_kappa_{h:g}s"] = kappa
        row["seconds_at_kappa_200"] = comb(200, k) / rate
        rows.append(row)
    return rows


def run(quick: bool) -> dict[str, Any]:
    """The scaling section (quick: tiny sizes)."""
    if quick:
        base, reps = (8, 16, 3, 6), 1
        grid = {}
        restarts, ks = [1, 4], [2, 3]
    else:
        base, reps = (20, 40, 5, 20), 2
        grid = {"d": [(10, 40, 5, 20), (40, 80, 5, 20), (80, 160, 5, 20)],
                "kappa": [(20, 30, 5, 20), (20, 80, 5, 20), (20, 160, 5, 20)],
                "n": [(20, 40, 5, 5), (20, 40, 5, 80), (20, 40, 5, 320)]}
        restarts, ks = [1, 4, 16, 32, 64], [2, 3, 5, 8, 10, 15]
    out: dict[str, Any] = {"base": dict(zip(("d", "kappa", "r", "n"), base)), "restarts_per_run": 8}
    rows = [search_seconds(*base, 8, reps)]
    for axis, cases in grid.items():
        rows += [search_seconds(*c, 8, reps) | {"axis": axis} for c in cases]
    out["search_vs_size"] = rows
    rs = [search_seconds(*base, R, reps) for R in restarts]
    one = rs[0]["seconds"]
    for row in rs:
        row["ratio_to_R_times_one"] = row["seconds"] / (row["restarts"] * one)
    out["search_vs_restarts"] = rs
    p = make_problem(50, 100, max(ks), 1, "gaussian", seed=0)
    rates = {k: screen_rates(p, k, 100_000 if quick else 300_000)["generate_and_screen"] for k in ks}
    out["oracle_limits"] = oracle_limits(rates)
    out["oracle_limits_note"] = ("rates measured at d=50, κ=100, n=1 (generation + batched screen, 1 thread); the "
                                 "screen never touches d, and the cost per subset grows with k")
    return out
