"""Shared pieces of the property tests: the active profile, where reports go, and the checks that capture
counterexamples before asserting (so a failing property always leaves a replayable report behind)."""
from __future__ import annotations

import os

import numpy as np
from pathlib import Path

from vaetheory.verdict.check import CheckResult, ProblemAnalysis, run_check
from vaetheory.problems.profiles import get_profile
from vaetheory.report.counterexample import ReportPaths, append_finding, replay_report, write_check_reports
from vaetheory.core.protocol import Variant

PROFILE = get_profile()
#: Counterexamples found by the properties land here (override with $VAETHEORY_REPORTS_DIR).
REPORTS_DIR = Path(os.environ.get("VAETHEORY_REPORTS_DIR", Path(__file__).resolve().parents[1] / "reports"
                                  / "properties"))


def examples(scale: float = 1.0) -> int:
    """Examples for one property: the profile's count scaled by the property's relative cost (at least 1)."""
    return max(1, int(round(PROFILE.max_examples * scale)))


def capture(result: CheckResult, *, spec: str | None = None, limit: int | None = 3,
            out_dir: Path | None = None) -> list[ReportPaths]:
    """Write a report for (up to `limit`) bad_local_min points of `result`."""
    return write_check_reports(result, REPORTS_DIR if out_dir is None else out_dir, spec=spec, limit=limit)


def finding(line: str, out_dir: Path | None = None) -> None:
    append_finding(line, REPORTS_DIR if out_dir is None else out_dir)


def assert_all_minima_optimal(result: CheckResult, *, spec: str | None = None, out_dir: Path | None = None) -> None:
    """P1: every certified local minimum is optimally sparse (an oracle support, residual ≈ 0). Bad minima are
    captured as reports first, so a failure names replayable files."""
    paths = capture(result, spec=spec, limit=None, out_dir=out_dir)
    oracle = result.analysis.oracle
    assert not paths, (f"{result.variant.name}: {len(paths)} certified bad local minima on "
                       f"{result.problem.describe()}; captured: {[str(p.json) for p in paths]}")
    for p in result.points:
        if p.verdict == "optimal":
            assert oracle.is_optimal(p.support) and p.residual <= oracle.rtol
    assert result.claim_status in ("held", "not_applicable", "undecided")


def assert_replays(paths: list[ReportPaths], variant: Variant | None = None) -> None:
    """Every captured report reproduces its verdict from the file alone."""
    for p in paths:
        replay = replay_report(p.json, variant=variant)
        assert replay.reproduced, f"{p.json}: {replay.mismatches}"


def run(problem, variant: Variant, analysis: ProblemAnalysis, *, restarts: int | None = None,
        **kwargs) -> CheckResult:
    """run_check with the profile's restart count for this variant."""
    return run_check(problem, variant, restarts=restarts or PROFILE.restarts_for(variant.name), seed=0,
                     analysis=analysis, **kwargs)


def _numpy_energy(covariance: str, Phi, X, nu, gamma):
    """L_full / L_diag (docs/theory.md §2) for batches of ν (B, κ) and γ (B,), in plain numpy: independent of the
    library's torch energies and of their autograd derivatives."""
    d, n = X.shape
    S = gamma[:, None, None] * np.eye(d) + (Phi[None] * nu[:, None, :]) @ Phi.T
    fit = np.einsum("dn,bdn->b", X, np.linalg.solve(S, X[None]))
    if covariance == "full":
        return n * np.linalg.slogdet(S)[1] + fit
    c = (Phi**2).sum(0)
    return fit + n * np.log(gamma[:, None] + nu * c).sum(1) + n * (d - Phi.shape[1]) * np.log(gamma)


def assert_learned_gamma_points_decided(result: CheckResult, *, samples: int = 400,
                                        max_not_converged: float = 0.25) -> None:
    """Learned-γ property (docs/learned-gamma.md), for the collapsed VAEs (variants with a ``covariance``):

    1. the search decides the landscape: at most `max_not_converged` of the points stay not_converged, and each of
       those names the condition it failed (`reason`);
    2. every certified minimum is a local minimum of the true energy over (ν, γ): random feasible perturbations
       (ν ≥ 0, γ ≥ floor) of relative size 1e-3 and 1e-5, evaluated in numpy, never lower it (for a γ → 0 limit point
       the perturbations that would go below the floor are clipped to it: the box-constrained statement).
    """
    pts = result.points
    stuck = [p for p in pts if p.verdict == "not_converged"]
    assert len(stuck) <= max_not_converged * len(pts), (
        f"{result.variant.name}: {len(stuck)}/{len(pts)} learned-gamma points not converged on "
        f"{result.problem.describe()}: {[p.reason for p in stuck][:3]}")
    assert all(p.reason for p in stuck)
    floor = result.variant.gamma.floor
    Phi, X = result.problem.Phi, result.problem.X
    rng = np.random.default_rng(0)
    for i, p in enumerate(pts):
        if p.verdict not in ("optimal", "bad_local_min"):
            continue
        nu, g = result.search.theta[i], float(result.search.gamma[i])
        E0 = _numpy_energy(result.variant.covariance, Phi, X, nu[None], np.array([g]))[0]
        for scale in (1e-3, 1e-5):
            dn = rng.standard_normal((samples, nu.size)) * scale * nu.max()
            dg = rng.standard_normal(samples) * scale * g
            E = _numpy_energy(result.variant.covariance, Phi, X, np.maximum(nu + dn, 0), np.maximum(g + dg, floor))
            assert E.min() - E0 >= -1e-9 * max(abs(E0), 1.0), (
                f"{result.variant.name}: certified point {i} ({p.verdict}, gamma {g:.3g}, limit {p.limit}) is not a "
                f"minimum over (nu, gamma): a perturbation of size {scale} lowers the energy by {E0 - E.min():.3g} "
                f"on {result.problem.describe()}")
