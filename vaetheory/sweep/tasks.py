"""One sweep task: problem `index` of one grid cell, every variant × γ mode of the spec on it.

A task generates its problem with `make_problem` from the task's deterministic seed (`TaskKey.problem_seed`), runs
`analyse_problem` ONCE (oracle, ℓ2,1 relaxation, conditions: they depend on the problem only) and then `run_check`
for every (variant, γ mode), and returns plain Python: one row per end point (the schema is `ROW_FIELDS`, documented
in docs/sweeps.md) and the counterexample report files as bytes. It never raises: a failure becomes one row with
verdict ``"error"`` per (variant, γ mode) it prevented, with the message in ``error``. It writes nothing in the
sweep folder (the driver does), so workers need not share a file system with the driver.

Exact recovery (per problem × variant × γ mode) is decided from the rows: the run *recovers* the sparse
representation when its lowest-energy certified minimum (verdict ``optimal``, ``bad_local_min`` or, with an uncertain
k*, ``undecided_min``) is ``optimal``
(its support is an optimal support of P0 and the least-squares refit on it is exact). The row of that point has
``lowest = true``; a run without a certified minimum has no such row and does not recover.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from vaetheory.sweep.spec import GammaMode, SweepSpec, TaskKey

# Column order of the result files (types: vaetheory.sweep.store.SCHEMA).
ROW_FIELDS = ("spec", "task_id", "d", "kappa", "r", "n", "rows", "noise", "variant", "gamma_mode", "problem_index",
              "problem_seed", "restart", "start_kind", "verdict", "limit", "lowest", "support", "support_size",
              "k_star", "k_star_certain", "oracle_method", "energy", "gamma", "residual", "proof_status",
              "claim_status", "seconds", "analysis_seconds", "error", "version")
CERTIFIED = ("optimal", "bad_local_min", "undecided_min")  # certified minima (undecided: k* uncertain)


def _error_text(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or ["error"])[0][:300]


def analyse(problem, spec: SweepSpec, cell=None):
    """`analyse_problem` with the spec's oracle method, budget, MIP time limit and relaxation switch (for `cell`
    when given: "auto" resolved by `SweepSpec.start_mix`; else on unless the spec says false)."""
    from vaetheory.verdict.check import analyse_problem

    relax = spec.start_mix(cell)[2] if cell is not None else spec.relax is not False
    kwargs: dict = {"relax": relax, "oracle": spec.oracle, "mip_time_limit": spec.mip_time_limit}
    if spec.budget is not None:
        kwargs["budget"] = spec.budget
    return analyse_problem(problem, **kwargs)


def _base(spec: SweepSpec, key: TaskKey, variant: str, gamma: GammaMode, version: str) -> dict:
    c = key.cell
    row = dict.fromkeys(ROW_FIELDS)
    row.update(spec=spec.name, task_id=key.task_id, d=c.d, kappa=c.kappa, r=c.r, n=c.n, rows=c.rows, noise=c.noise,
               variant=variant, gamma_mode=gamma.text, problem_index=key.index, problem_seed=key.problem_seed,
               version=version)
    return row


def _check_rows(spec, key, variant_name, gamma, version, problem, analysis, analysis_seconds, report_dir):
    """Rows of one (variant, γ mode) run on the task's problem (and its counterexample reports in report_dir)."""
    from vaetheory.report.counterexample import write_check_reports
    from vaetheory.variants.registry import get_variant
    from vaetheory.verdict.check import run_check

    t0 = time.perf_counter()
    variant = get_variant(variant_name)
    adversarial, continuation, _ = spec.start_mix(key.cell)
    result = run_check(problem, variant, restarts=spec.restarts, seed=key.problem_seed, gamma=gamma.value,
                       learn_gamma=gamma.learned, analysis=analysis, maxiter=spec.maxiter, prove=spec.prove,
                       adversarial_fraction=adversarial, continuation=continuation)
    seconds = time.perf_counter() - t0
    o = analysis.oracle
    energies = np.array([p.energy if p.verdict in CERTIFIED else np.inf for p in result.points])
    lowest = int(np.argmin(energies)) if np.isfinite(energies).any() else -1
    rows = []
    for i, p in enumerate(result.points):
        row = _base(spec, key, variant_name, gamma, version)
        row.update(restart=i, start_kind=p.start_kind, verdict=p.verdict, limit=bool(p.limit), lowest=i == lowest,
                   support=[int(j) for j in p.support], support_size=len(p.support), k_star=int(o.k_star),
                   k_star_certain=bool(o.k_star_certain), oracle_method=str(o.method), energy=float(p.energy), gamma=float(p.gamma),
                   residual=float(p.residual), proof_status=None if p.proof is None else p.proof.get("status"),
                   claim_status=result.claim_status, seconds=seconds, analysis_seconds=analysis_seconds)
        rows.append(row)
    if spec.reports and result.bad_points:
        write_check_reports(result, report_dir, spec=variant_name, plot=spec.report_plots, limit=spec.reports)
    return rows


def run_task(spec: SweepSpec, key: TaskKey) -> dict:
    """Run one task (see the module docstring): ``{"task_id", "rows", "reports": {file name: bytes}, "seconds"}``."""
    from vaetheory.core.threads import torch_threads
    from vaetheory.problems.generate import make_problem

    from vaetheory.report.counterexample import library_versions

    __version__ = library_versions()["vaetheory"]
    t0 = time.perf_counter()
    rows: list[dict] = []
    runs = [(v, g) for v in spec.variants for g in spec.gamma]
    with tempfile.TemporaryDirectory(prefix="vaetheory-sweep-") as tmp, torch_threads(1):
        report_dir = Path(tmp)
        try:
            c = key.cell
            problem = make_problem(c.d, c.kappa, c.r, c.n, c.rows, seed=key.problem_seed, noise=c.noise)
            ta = time.perf_counter()
            analysis = analyse(problem, spec, c)
            analysis_seconds = time.perf_counter() - ta
        except Exception as exc:  # the problem or its oracle failed: every run of the task is an error
            for v, g in runs:
                rows.append(_base(spec, key, v, g, __version__) | {"verdict": "error", "error": _error_text(exc)})
            runs = []
        for v, g in runs:
            try:
                rows += _check_rows(spec, key, v, g, __version__, problem, analysis, analysis_seconds, report_dir)
            except Exception as exc:  # a variant may fail in any way: record it, keep the other runs
                rows.append(_base(spec, key, v, g, __version__) | {"verdict": "error", "error": _error_text(exc)})
        reports = {p.name: p.read_bytes() for p in sorted(report_dir.iterdir()) if p.is_file()}
    return {"task_id": key.task_id, "rows": rows, "reports": reports, "seconds": time.perf_counter() - t0}
