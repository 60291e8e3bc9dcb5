"""Enumeration: subsets per second of the batched oracle screen vs a per-subset least-squares loop, and end-to-end
P0 solves (k*, all optimal supports) by the oracle, the loop and a big-M MIP (cvxpy + HiGHS) on the same instances.

Instances are single-response (n = 1, so rank X = 1 and the rank-aware shortcut cannot decide: the oracle really
enumerates k = 2, 3, …, r) from `make_problem(d, κ, r, 1, "gaussian", seed)`. The MIP's big-M is 10·max|Z*| (valid:
the planted Z* is the unique sparsest solution under the uniqueness bound); its certificate holds only under that
assumption. Where a method would take longer than its cap, its time is extrapolated from its measured rate ×
C(κ, k) and labelled so.
"""
from __future__ import annotations

from math import comb
from typing import Any

import numpy as np
import torch

from bench.common import MEMORY_BUDGET, best_rate, load, timed
from vaetheory.core.threads import torch_threads
from vaetheory.problems.generate import make_problem
from vaetheory.oracle.exhaustive import _screen, sparsest_supports
from vaetheory.core.subsets import iter_subset_chunks


def screen_chunk(k: int, n: int) -> int:
    """Subsets per chunk so that one chunk's gathered G_TT, its factor, C_T and the solve fit the memory budget."""
    per_subset = 8 * (3 * k * k + 3 * k * n + k)
    return int(max(1024, min(65536, MEMORY_BUDGET // 8 // per_subset)))


def screen_rates(problem, k: int, sample: int) -> dict[str, float]:
    """Subsets/s of `_screen` alone and of subset generation + `_screen`, on the first `sample` k-subsets."""
    Phi, X = problem.Phi, problem.X
    G, C = torch.from_numpy(Phi.T @ Phi), torch.from_numpy(Phi.T @ X)
    x2 = float(np.sum(X * X))
    tol2 = (1e-4 ** 2) * x2
    chunk = screen_chunk(k, problem.n)
    chunks = []
    for T in iter_subset_chunks(problem.kappa, k, chunk):
        chunks.append(T)
        if sum(len(c) for c in chunks) >= sample:
            break
    count = sum(len(c) for c in chunks)

    def screen_only() -> int:
        for T in chunks:
            _screen(G, C, x2, T, tol2)
        return count

    def generate_and_screen() -> int:
        done = 0
        for T in iter_subset_chunks(problem.kappa, k, chunk):
            _screen(G, C, x2, T, tol2)
            done += len(T)
            if done >= sample:
                break
        return done

    with torch_threads(1):
        return {"screen_only": best_rate(screen_only, 0.3, 3),
                "generate_and_screen": best_rate(generate_and_screen, 0.3, 3), "chunk": chunk, "sample": count}


def rate_table(cases: list[tuple[int, int, int]], loop_sample: int, batch_sample: int) -> list[dict[str, Any]]:
    """Per (d, κ, k): batched vs loop subsets/s on a problem with a planted size-k support, n = 1."""
    from bench.baselines.loop_oracle import loop_subsets_per_second
    rows = []
    for d, kappa, k in cases:
        p = make_problem(d, kappa, k, 1, "gaussian", seed=kappa + k)
        batched = screen_rates(p, k, batch_sample)
        loop = max(loop_subsets_per_second(p.Phi, p.X, k, loop_sample) for _ in range(2))
        rows.append({"d": d, "kappa": kappa, "k": k, "n": 1, "C(kappa,k)": comb(kappa, k),
                     "batched_screen_per_s": batched["screen_only"],
                     "batched_with_generation_per_s": batched["generate_and_screen"],
                     "loop_per_s": loop, "speedup": batched["generate_and_screen"] / loop,
                     "chunk": batched["chunk"], "load": load()})
    return rows


def solve_table(cases: list[tuple[int, int, int]], loop_cap: int, oracle_cap: int,
                mip_time_limit: float) -> list[dict[str, Any]]:
    """Per instance (d, κ, r), n = 1: seconds to solve P0 by the oracle, the loop and the MIP, and their answers."""
    from bench.baselines.loop_oracle import loop_sparsest, loop_subsets_per_second
    from bench.baselines.mip_oracle import mip_sparsest
    rows = []
    for d, kappa, r in cases:
        p = make_problem(d, kappa, r, 1, "gaussian", seed=7 * kappa + r)
        planted = sorted(int(j) for j in p.support)
        need = sum(comb(kappa, k) for k in range(1, r + 1))  # levels the enumeration visits, k = rank X = 1 … r
        row: dict[str, Any] = {"d": d, "kappa": kappa, "r": r, "n": 1, "subsets_to_k_star": need}
        if need <= oracle_cap:
            res, s = timed(lambda: sparsest_supports(p, budget=oracle_cap))
            row.update(oracle_seconds=s, oracle_extrapolated=False, oracle_correct=res.supports == (tuple(planted),))
        else:
            rate = screen_rates(p, r, 200_000)["generate_and_screen"]
            row.update(oracle_seconds=need / rate, oracle_extrapolated=True, oracle_correct=None)
        if need <= loop_cap:
            (k, sup, _), s = timed(lambda: loop_sparsest(p.Phi, p.X, k_max=r))
            row.update(loop_seconds=s, loop_extrapolated=False, loop_correct=sup == [planted])
        else:
            rate = loop_subsets_per_second(p.Phi, p.X, r, 3000)
            row.update(loop_seconds=need / rate, loop_extrapolated=True, loop_correct=None)
        big_m = 10 * float(np.abs(p.Z).max())
        mip = mip_sparsest(p.Phi, p.X, big_m=big_m, solver="HIGHS", time_limit=mip_time_limit)
        row.update(mip_seconds=mip["solve_seconds"], mip_status=mip["status"], mip_k=mip["k"], big_m=big_m,
                   mip_bound_binding=mip["bound_binding"], mip_correct=mip["support"] == planted,
                   mip_time_limit=mip_time_limit, load=load())
        rows.append(row)
    return rows


def run(quick: bool) -> dict[str, Any]:
    """The enumeration section (quick: small sizes only)."""
    if quick:
        rates = rate_table([(10, 20, 3), (20, 40, 4)], 2000, 20_000)
        solves = solve_table([(10, 20, 3)], 10_000, 1_000_000, 20.0)
    else:
        rates = rate_table([(20, 40, 3), (20, 40, 5), (50, 100, 2), (50, 100, 5), (50, 100, 10),
                            (100, 200, 2), (100, 200, 5), (100, 200, 10), (100, 200, 20)], 5000, 200_000)
        solves = solve_table([(12, 30, 4), (20, 40, 5), (30, 60, 4), (50, 100, 4), (100, 200, 10)],
                             200_000, 20_000_000, 60.0)
    return {"rates": rates, "solves": solves, "memory_budget_bytes": MEMORY_BUDGET,
            "screen_tolerance_rtol": 1e-4}
