"""Shared pieces of the property tests: the active profile, where reports go, and the checks that capture
counterexamples before asserting (so a failing property always leaves a replayable report behind)."""
from __future__ import annotations

import os
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
