"""The main job: every variant on the profile's problems; a table, ``summary.md``, ``summary.json`` and reports.

`run_main_job` generates the profile's problems (`vaetheory.problems.profiles`), analyses each once (oracle, ℓ2,1, conditions),
runs each variant with `run_check`, writes a report for every ``bad_local_min`` point, and summarises. A variant that
raises is recorded as an error for that (variant, problem) pair and the run goes on; reports already written stay.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from vaetheory.verdict.check import analyse_problem, run_check
from vaetheory.problems.profiles import ProblemSpec, get_profile
from vaetheory.report.counterexample import library_versions, write_check_reports
from vaetheory.variants.builtin import BUILTINS
from vaetheory.core.protocol import Variant
from vaetheory.verdict.judge import VERDICTS


@dataclass
class RunRecord:
    """One (variant, problem) run: verdict counts and claim status, or the error it raised."""

    variant: str
    problem: str
    describe: str
    summary: dict[str, int] = field(default_factory=dict)
    claim_status: str | None = None
    gamma: float | None = None
    gamma_mode: str | None = None
    reports: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MainJobResult:
    """Every run of the main job, the files written, and the exit code (1 when a declared claim was refuted)."""

    profile: str
    seed: int
    records: list[RunRecord]
    out_dir: Path
    summary_md: Path
    summary_json: Path

    @property
    def refuted(self) -> list[RunRecord]:
        return [r for r in self.records if r.claim_status == "refuted"]

    @property
    def errors(self) -> list[RunRecord]:
        return [r for r in self.records if r.error is not None]

    @property
    def exit_code(self) -> int:
        return 1 if self.refuted else 0

    def table(self) -> str:
        """Plain-text table: one line per (variant, problem) with verdict counts and claim status (or the error)."""
        head = f"{'variant':<12} {'problem':<16} " + " ".join(f"{v:>13}" for v in VERDICTS) + "  claim"
        lines = [head, "-" * len(head)]
        for r in self.records:
            if r.error is not None:
                lines.append(f"{r.variant:<12} {r.problem:<16} ERROR: {r.error}")
            else:
                lines.append(f"{r.variant:<12} {r.problem:<16} "
                             + " ".join(f"{r.summary.get(v, 0):>13}" for v in VERDICTS) + f"  {r.claim_status}")
        return "\n".join(lines)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o644)  # mkstemp creates 0600
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, file=sys.stderr, desc="vaetheory check", unit="run")


def run_main_job(profile: str | None = None, out_dir: str | os.PathLike = "reports", seed: int = 0,
                 variants: list[Variant] | None = None, progress: bool = True, *, specs: dict[str, str] | None = None,
                 problems: list[ProblemSpec] | None = None) -> MainJobResult:
    """Run `variants` (default: every built-in) on the problems of `profile`; write reports and summaries.

    specs: optional import spec per variant name, stored in reports of non-built-in variants. problems: run on
    these instead of the profile's (restart counts still come from the profile).
    """
    prof = get_profile(profile)
    problem_specs = list(prof.problems) if problems is None else list(problems)
    variants = list(BUILTINS.values()) if variants is None else list(variants)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records: list[RunRecord] = []
    bar = _progress(len(problem_specs) * len(variants), progress)
    for spec in problem_specs:  # a handful of problems per profile
        problem = spec.build()
        analysis = analyse_problem(problem)
        for variant in variants:  # one run per variant; each is batched over restarts inside run_check
            rec = RunRecord(variant.name, spec.name, problem.describe())
            t0 = time.perf_counter()
            try:
                result = run_check(problem, variant, restarts=prof.restarts_for(variant.name), seed=seed,
                                   analysis=analysis)
                rec.summary, rec.claim_status = result.summary, result.claim_status
                rec.gamma, rec.gamma_mode = result.gamma, result.gamma_mode
                paths = write_check_reports(result, out, spec=(specs or {}).get(variant.name), limit=3)
                rec.reports = [p.json.name for p in paths]
            except Exception as exc:  # a variant may fail in any way: record it, keep the other runs
                rec.error = (f"{type(exc).__name__}: {exc}".splitlines() or ["error"])[0][:300]
            rec.seconds = time.perf_counter() - t0
            records.append(rec)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{variant.name} on {spec.name}")
    if bar is not None:
        bar.close()
    result = MainJobResult(prof.name, seed, records, out, out / "summary.md", out / "summary.json")
    _write_summaries(result, prof.description)
    return result


def _write_summaries(result: MainJobResult, description: str) -> None:
    data = {"profile": result.profile, "seed": result.seed, "versions": library_versions(),
            "refuted": [f"{r.variant} on {r.problem}" for r in result.refuted],
            "errors": [f"{r.variant} on {r.problem}: {r.error}" for r in result.errors],
            "runs": [r.to_dict() for r in result.records], "exit_code": result.exit_code}
    _write_text(result.summary_json, json.dumps(data, indent=2, allow_nan=False))
    md = [f"# vaetheory main job — profile `{result.profile}` ({description}), seed {result.seed}", "",
          "| variant | problem | " + " | ".join(VERDICTS) + " | claim | reports |",
          "|---" * (len(VERDICTS) + 4) + "|"]
    for r in result.records:
        if r.error is not None:
            md.append(f"| {r.variant} | {r.problem} | " + " | ".join("–" for _ in VERDICTS)
                      + f" | ERROR: {r.error} | |")
        else:
            md.append(f"| {r.variant} | {r.problem} | " + " | ".join(str(r.summary.get(v, 0)) for v in VERDICTS)
                      + f" | {r.claim_status} | " + ", ".join(f"[{n}]({n})" for n in r.reports) + " |")
    md += ["", f"Refuted claims: {len(result.refuted)}; variant errors: {len(result.errors)}; "
           f"exit code {result.exit_code}.", ""]
    _write_text(result.summary_md, "\n".join(md))
