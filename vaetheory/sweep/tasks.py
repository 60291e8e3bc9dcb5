"""One sweep task: problem `index` of one grid cell, every variant × γ mode of the spec on it.

A task generates its problem with `make_problem` from the task's deterministic seed (`TaskKey.problem_seed`), runs
`analyse_problem` ONCE (oracle, ℓ2,1 relaxation, conditions: they depend on the problem only) and then `run_check`
for every (variant, γ mode), and returns plain Python: one row per end point (the schema is `ROW_FIELDS`, documented
in docs/sweeps.md) and the counterexample report files as bytes. It never raises: a failure becomes one row with
verdict ``"error"`` per (variant, γ mode) it prevented, with the message in ``error`` (naming the variant), and lists
it in ``failures``. It writes nothing in the sweep folder (the driver does), so workers need not share a file system
with the driver.

Plug-ins run isolated: a variant that is not a built-in (and every variant when the spec or ``--timeout`` sets a time
limit) runs in a child process (`vaetheory.report.isolate.run_isolated`) under the time limit (``timeout``, default
`DEFAULT_PLUGIN_TIMEOUT`), covering its import and all its γ modes on the task's problem. The child gets the problem
and its analysis from a file this worker wrote a moment before in its private temporary folder, sends the rows of
each γ mode as it finishes, and writes its reports into that folder. A plug-in that hangs, segfaults or exits is
killed or reported; the γ modes it did not finish become error rows naming it, and every other variant's rows of
the task are kept: the worker itself never runs plug-in code.

Exact recovery (per problem × variant × γ mode) is decided from the rows: the run *recovers* the sparse
representation when its lowest-energy certified minimum (verdict ``optimal``, ``bad_local_min`` or, with an uncertain
k*, ``undecided_min``) is ``optimal``
(its support is an optimal support of P0 and the least-squares refit on it is exact). The row of that point has
``lowest = true``; a run without a certified minimum has no such row and does not recover.
"""
from __future__ import annotations

import contextlib
import functools
import pickle
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


def isolated(spec: SweepSpec, variant: str) -> bool:
    """Whether `variant` runs in a child process in this sweep: every plug-in, and every variant under a time limit."""
    from vaetheory.variants.registry import BUILTINS

    return variant not in BUILTINS or spec.timeout is not None


def skipped_learned(spec: SweepSpec, variant: str) -> bool:
    """With ``skip_infeasible``, a built-in that cannot learn γ runs its fixed-γ modes only (a plug-in is not
    imported here: if it cannot learn γ, its learned modes are error rows that say so)."""
    from vaetheory.variants.registry import BUILTINS

    return spec.skip_infeasible and variant in BUILTINS and not BUILTINS[variant].gamma.learnable


def error_rows(spec: SweepSpec, key: TaskKey, variant: str, modes, version: str, message: str) -> list[dict]:
    """One ``error`` row per γ mode of `modes` that `variant` did not finish, with `message`."""
    return [_base(spec, key, variant, g, version) | {"verdict": "error", "error": message[:300]} for g in modes]


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


def _check_rows(spec, key, variant_name, gamma, version, problem, analysis, analysis_seconds, report_dir,
                variant=None):
    """Rows of one (variant, γ mode) run on the task's problem (and its counterexample reports in report_dir)."""
    from vaetheory.report.counterexample import write_check_reports
    from vaetheory.variants.registry import get_variant
    from vaetheory.verdict.check import run_check

    t0 = time.perf_counter()
    variant = get_variant(variant_name) if variant is None else variant
    if gamma.learned and not variant.gamma.learnable:
        raise ValueError(f"variant {variant_name!r} does not support a learned gamma")
    adversarial, continuation, _ = spec.start_mix(key.cell)
    result = run_check(problem, variant, restarts=spec.restarts, seed=key.problem_seed, gamma=gamma.value,
                       learn_gamma=gamma.learned, analysis=analysis, maxiter=spec.maxiter, prove=spec.prove,
                       adversarial_fraction=adversarial, continuation=continuation,
                       anneal_fraction=spec.anneal_fraction(key.cell))
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


@functools.cache
def _version() -> str:
    """vaetheory's version, read once per worker process (importlib.metadata: about 10 ms a package), which also
    imports the check's modules before the first task's timers start (workers keep their state between tasks)."""
    from vaetheory.report.counterexample import library_versions
    from vaetheory.verdict.check import run_check  # noqa: F401  (warm-up import)

    return library_versions()["vaetheory"]


def run_task(spec: SweepSpec, key: TaskKey) -> dict:
    """Run one task (see the module docstring): ``{"task_id", "rows", "reports": {file name: bytes}, "seconds"}``."""
    from vaetheory.core.threads import torch_threads
    from vaetheory.problems.generate import make_problem

    __version__ = _version()
    t0 = time.perf_counter()
    rows: list[dict] = []
    runs = [(v, g) for v in spec.variants for g in spec.gamma if not (g.learned and skipped_learned(spec, v))]
    # a private folder for counterexample reports and isolated children, made only when the task can use one
    # (creating and removing it cost 3-4 ms of a 0.1 s task on this machine's file system)
    need_dir = bool(spec.reports) or any(isolated(spec, v) for v, _ in runs)
    with (tempfile.TemporaryDirectory(prefix="vaetheory-sweep-") if need_dir else contextlib.nullcontext()) as tmp, \
            torch_threads(1):
        report_dir = Path(tmp) if tmp is not None else None
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
        in_child = set()
        for v, g in runs:
            if isolated(spec, v):
                if v not in in_child:  # all its γ modes in one child
                    in_child.add(v)
                    rows += _isolated_rows(spec, key, v, __version__, (problem, analysis, analysis_seconds),
                                           report_dir)
                continue
            try:
                rows += _check_rows(spec, key, v, g, __version__, problem, analysis, analysis_seconds, report_dir)
            except Exception as exc:  # a variant may fail in any way: record it, keep the other runs
                rows.append(_base(spec, key, v, g, __version__) | {"verdict": "error", "error": _error_text(exc)})
        reports = {} if report_dir is None else {p.name: p.read_bytes() for p in sorted(report_dir.iterdir())
                                                  if p.is_file() and not p.name.startswith(".")}
    failures: dict[str, str] = {}
    for r in rows:
        if r["verdict"] == "error":
            failures.setdefault(r["variant"], r["error"])
    return {"task_id": key.task_id, "rows": rows, "reports": reports, "seconds": time.perf_counter() - t0,
            "failures": [{"variant": v, "error": e} for v, e in failures.items()]}


def _isolated_rows(spec: SweepSpec, key: TaskKey, variant: str, version: str, context: tuple,
                   report_dir: Path) -> list[dict]:
    """Rows of `variant` on the task's problem, computed in a child process under the spec's time limit."""
    from vaetheory.report.isolate import DEFAULT_PLUGIN_TIMEOUT, run_isolated

    # Written now by this worker in its private temporary folder and read by the child it starts: the child needs
    # the problem and its analysis (the oracle's answer), which would be costly to compute again.
    ctx = report_dir / f".context-{len(list(report_dir.glob('.context-*')))}.pickle"
    ctx.write_bytes(pickle.dumps({"spec": spec, "key": key, "context": context, "version": version}))
    limit = spec.timeout if spec.timeout is not None else DEFAULT_PLUGIN_TIMEOUT
    outcome = run_isolated({"kind": "call", "target": "vaetheory.sweep.tasks:child_runs", "spec": variant,
                            "args": {"context": str(ctx), "report_dir": str(report_dir)}}, limit, out_dir=report_dir)
    rows: list[dict] = []
    finished: set[str] = set()
    error = outcome.error
    for m in outcome.messages:
        if "rows" in m:
            rows += m["rows"]
            finished.add(m["gamma_mode"])
        elif "error" in m:
            error = m["error"]
    left = [g for g in spec.gamma if g.text not in finished and not (g.learned and skipped_learned(spec, variant))]
    if left:
        message = error or "the child process ended before finishing"
        if not message.startswith(f"variant {variant!r}"):
            message = f"variant {variant!r}: {message}"
        rows += error_rows(spec, key, variant, left, version, message)
    return rows


def child_runs(spec_name: str, *, context: str, report_dir: str):
    """The isolated child's side of `_isolated_rows`: load the variant (a plug-in passes the import checker),
    then yield ``{"gamma_mode", "rows"}`` for each γ mode of the spec (a failing mode gives its error rows)."""
    from vaetheory.core.threads import torch_threads
    from vaetheory.report.mainjob import _load_checked

    with open(context, "rb") as fh:  # written by the worker that started this child (see `_isolated_rows`)
        data = pickle.load(fh)
    spec, key, version = data["spec"], data["key"], data["version"]
    problem, analysis, analysis_seconds = data["context"]
    variant = _load_checked(spec_name)
    for g in spec.gamma:
        if g.learned and skipped_learned(spec, spec_name):
            continue
        try:
            with torch_threads(1):
                rows = _check_rows(spec, key, spec_name, g, version, problem, analysis, analysis_seconds,
                                   Path(report_dir), variant=variant)
        except Exception as exc:  # a plug-in may fail in any way: its error rows, then the next mode
            rows = error_rows(spec, key, spec_name, [g], version, f"variant {spec_name!r}: {_error_text(exc)}")
        yield {"gamma_mode": g.text, "rows": rows}
