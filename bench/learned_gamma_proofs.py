"""Interval proofs of vae-diag's interior minima with γ learned (THEORY.md C6(c)), on points built here.

    python bench/learned_gamma_proofs.py              # two problems, 6 non-optimal BFS starts each (≈ 10 min here)
    python bench/learned_gamma_proofs.py --starts 2   # quicker

Construction (independent of vaetheory's search, which the learned-γ issue is improving): from the least-squares
fit on a non-optimal basic feasible solution with γ = 1e-4, L-BFGS-B on (ν, γ) with ν ≥ 0 (γ scaled by 1e-4, kept
≥ 1e-9), then Newton in float64 on (ν_A, γ) with the active set read at 1e-6 × max ν. Each end point goes to
`vaetheory.certify.interval.prove_point(..., learn_gamma=True)`: γ is a coordinate of the proof when it is above
the variant's floor. Prints one line per point and writes bench/learned_gamma_proofs.json.
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
import scipy.optimize as so  # noqa: E402
import torch  # noqa: E402

from vaetheory.certify.interval import prove_point  # noqa: E402
from vaetheory.oracle.exhaustive import sparsest_supports  # noqa: E402
from vaetheory.problems.generate import make_problem  # noqa: E402
from vaetheory.search.multistart import nonoptimal_bfs_masks  # noqa: E402
from vaetheory.search.objective import Objective  # noqa: E402
from vaetheory.variants.builtin import VAE_DIAG  # noqa: E402

GAMMA_SCALE = 1e-4


def build_point(obj: Objective, nu0: np.ndarray, maxiter: int = 20000) -> tuple[np.ndarray, float, int]:
    """L-BFGS-B on (ν, γ), then float64 Newton on (ν_A, γ); returns (ν, γ, L-BFGS-B iterations)."""
    k = obj.size

    def f(x):
        E, g, gg = obj.value_and_grad(x[None, :-1], np.array([x[-1] * GAMMA_SCALE]))
        return E[0], np.concatenate([g[0], [gg[0] * GAMMA_SCALE]])

    r = so.minimize(f, np.concatenate([nu0, [1.0]]), jac=True, method="L-BFGS-B",
                    bounds=[(0.0, None)] * k + [(1e-5, None)],
                    options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-12})
    nu, gam = r.x[:-1].copy(), float(r.x[-1] * GAMMA_SCALE)
    A = np.flatnonzero(nu > 1e-6 * nu.max())
    nu[np.setdiff1d(np.arange(k), A)] = 0.0
    Phi, X = torch.tensor(obj.problem.Phi), torch.tensor(obj.problem.X)

    def energy(z):
        th = torch.zeros(k, dtype=torch.float64).index_put((torch.tensor(A),), z[:-1])
        return VAE_DIAG.energy({"nu": th}, Phi, X, z[-1])

    for _ in range(30):
        _, g, gg = obj.value_and_grad(nu[None], np.array([gam]))
        z = np.concatenate([nu[A], [gam]])
        H = torch.autograd.functional.hessian(energy, torch.tensor(z)).numpy()
        step = np.linalg.solve(H, np.concatenate([g[0][A], [gg[0]]]))
        zn = z - step
        if (zn <= 0).any():
            break
        nu[A], gam = zn[:-1], float(zn[-1])
        if np.abs(step / zn).max() < 1e-15:
            break
    return nu, gam, int(r.nit)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=6)
    ap.add_argument("--out", default=str(Path(__file__).with_name("learned_gamma_proofs.json")))
    args = ap.parse_args(argv)
    rows = []
    for sizes in ((10, 25, 5, 20), (8, 20, 3, 12)):
        problem = make_problem(*sizes, "orthogonal", 0)
        obj = Objective(VAE_DIAG, problem)
        oracle = sparsest_supports(problem)
        masks = nonoptimal_bfs_masks(problem, oracle.supports, args.starts, np.random.default_rng(0))
        starts = obj.layout.pack(VAE_DIAG.init_from_support(problem, masks, GAMMA_SCALE), len(masks))
        for i, nu0 in enumerate(starts):
            t0 = time.perf_counter()
            nu, gam, nit = build_point(obj, nu0)
            t_build = time.perf_counter() - t0
            pr = prove_point(obj, nu, gam, learn_gamma=True)
            support = [int(j) for j in np.flatnonzero(nu > 0)]
            row = {"sizes": list(sizes), "start": i, "support_size": len(support), "k_star": oracle.k,
                   "optimal": oracle.is_optimal(support), "gamma": gam, "lbfgs_iterations": nit,
                   "build_s": round(t_build, 2), "proof": pr.to_dict(), "load1": round(os.getloadavg()[0], 2)}
            rows.append(row)
            print(f"{sizes} start {i}: |A|={len(support)} (k*={oracle.k}) gamma={gam:.3g} -> {pr.status} "
                  f"({pr.gamma_role}, min_eig>={pr.min_eig_lower}, min_inactive>={pr.min_inactive_grad_lower}, "
                  f"{pr.seconds:.2f} s) {'' if pr.proved else pr.reason}", flush=True)
    Path(args.out).write_text(json.dumps({"rows": rows}, indent=1))


if __name__ == "__main__":
    main()
