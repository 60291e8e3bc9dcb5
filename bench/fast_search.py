"""vaetheory's certified search as a recovery method on one problem, without the exhaustive oracle (infeasible at
κ = 200): the call the published-configuration benchmarks use.

    from bench.fast_search import recover_support
    support, seconds, verdict = recover_support(problem, restarts=8, seed=0)

What it runs (all public library calls): `make_starts(objective, restarts, rng, γ, continuation=True)` (random starts
only: no knowledge of the answer; each one γ-continued from 0.1 × the data scale down to γ), `minimise` (L-BFGS-B,
then the projected Newton phase), `certify` (the numeric certificate of docs/theory.md §5, as strict as `check`'s),
and returns the latent support of the lowest-energy *certified* end point (None when no end point is certified),
the wall seconds of the whole call, and that point's status ("certified" / "none_certified"). γ = 1e-6 fixed by
default (vae-full's floor; at 1e-4 small planted coefficients are pruned, README findings).
"""
from __future__ import annotations

import time

import numpy as np

from vaetheory.certify.numeric import certify
from vaetheory.search.multistart import ACTIVE_RTOL, make_starts, minimise
from vaetheory.search.objective import Objective
from vaetheory.variants.registry import get_variant


def recover_support(problem, restarts: int = 1, seed: int = 0, gamma: float = 1e-6, variant: str = "vae-full",
                    continuation: bool = True) -> tuple[tuple[int, ...] | None, float, str]:
    """(support of the best certified end point or None, wall seconds, status); see the module docstring."""
    t0 = time.perf_counter()
    objective = Objective(get_variant(variant), problem)
    starts = make_starts(objective, restarts, np.random.default_rng(seed), gamma, continuation=continuation)
    res = minimise(objective, starts, gamma)
    cert = certify(objective, res.theta, res.gamma)
    scales = objective.latent_scales(res.theta)
    ok = np.flatnonzero(cert.certified)
    if not len(ok):
        return None, time.perf_counter() - t0, "none_certified"
    best = ok[np.argmin(cert.energy[ok])]
    support = tuple(int(j) for j in np.flatnonzero(scales[best] > ACTIVE_RTOL * scales[best].max()))
    return support, time.perf_counter() - t0, "certified"
