"""pytest plugin ``vaetheory`` (entry point ``pytest11``): generic claim properties for theory variants.

For every variant it checks, the plugin adds test items (marked ``vaetheory_variant``) to the session:

* ``protocol[SPEC]`` — the import checker (`vaetheory.certify.plugin_check.validate_variant`) finds no problem;
* ``claim[SPEC-seedS]`` — on ``make_problem(8, 16, 3, 6, "orthogonal", seed=S)`` (Gaussian Φ, so the URP holds and
  is decidable; r = 3 < d; orthogonal rows; within the uniqueness bound; non-optimal BFS exist) at the variant's
  γ — fixed, or learned when the claim is conditioned on ``learned_gamma``; at most 1e-3 under ``small_gamma`` —
  `run_check` searches and certifies, and the item asserts the declared claim:

  - ``optimal_minima``: no certified ``bad_local_min`` (the failure message gives each counterexample's support,
    energy and certificate), and at least one certified optimal minimum (otherwise the claim held vacuously: a
    variant whose search never converges must not pass);
  - ``bad_minima_exist``: at least one certified ``bad_local_min``; it is recorded in the item's
    ``user_properties`` (and JUnit XML) and, with ``--vaetheory-report-dir``, in the run's JSON report;
  - ``none``: skipped. A problem that does not meet every declared condition is skipped, with the reason.

Which variants:

* ``--vaetheory-variant SPEC`` (repeatable; a name, ``module.path:object`` or ``path/to/file.py:object``):
  exactly these. If no test path is given on the command line, the rest of the suite is not collected.
* otherwise, when the ini option ``vaetheory_entry_point_variants`` is true: every variant installed packages
  register under the entry-point group ``vaetheory.variants`` (not the built-ins: ``properties/`` covers them),
  and only in whole-suite runs (no test path on the command line). The ini option is off by default so that
  merely installing vaetheory adds nothing to other projects' test runs (nor to ``pytester`` runs).

Other options: ``--vaetheory-seeds N`` (problems per variant, default 2), ``--vaetheory-report-dir DIR``.
Everything heavy is imported inside the items, so loading the plugin costs nothing when it has nothing to do.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

#: Size of the generated problems (d, κ, r, n) and the number of restarts per run.
PROBLEM_SIZE = (8, 16, 3, 6)
RESTARTS = 12
MARKER = "vaetheory_variant"
_state_key = pytest.StashKey[dict]()


class ClaimFailure(Exception):
    """A variant's declared claim failed on a generated problem; the message is the whole report."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vaetheory", "generic claim checks of theory variants")
    group.addoption("--vaetheory-variant", action="append", default=[], metavar="SPEC",
                    help="check this variant's declared claim (name, module.path:object or file.py:object); "
                         "repeatable")
    group.addoption("--vaetheory-seeds", type=int, default=2, metavar="N",
                    help="generated problems per variant (default 2)")
    group.addoption("--vaetheory-report-dir", default=None, metavar="DIR",
                    help="write the JSON report of every claim run into DIR")
    parser.addini("vaetheory_entry_point_variants", type="bool", default=False,
                  help="check every variant registered under the 'vaetheory.variants' entry-point group in "
                       "whole-suite runs")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: generic claim check of a theory variant (vaetheory plugin)")
    config.stash[_state_key] = {"variants": {}, "problems": {}}


def _whole_suite(config: pytest.Config) -> bool:
    """True when pytest was not given test paths (it runs testpaths or the invocation directory)."""
    return config.args_source != pytest.Config.ArgsSource.ARGS


def _specs(config: pytest.Config) -> list[str]:
    specs = config.getoption("vaetheory_variant")
    if specs:
        return list(dict.fromkeys(specs))
    if config.getini("vaetheory_entry_point_variants") and _whole_suite(config):
        from vaetheory.variants.builtin import BUILTINS
        from vaetheory.variants.registry import available_variants

        return [name for name in available_variants() if name not in BUILTINS]
    return []


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With --vaetheory-variant and no test path, collect nothing else (the variant items are the run)."""
    if config.getoption("vaetheory_variant") and _whole_suite(config):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so those apply to the generated items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    seeds = config.getoption("vaetheory_seeds")
    if seeds < 1:
        raise pytest.UsageError(f"--vaetheory-seeds must be >= 1, got {seeds}")
    for spec in _specs(config):
        items.append(VariantItem.from_parent(session, name=f"protocol[{spec}]", spec=spec, seed=None,
                                             nodeid=f"vaetheory-variant::protocol[{spec}]"))
        items.extend(VariantItem.from_parent(session, name=f"claim[{spec}-seed{s}]", spec=spec, seed=s,
                                             nodeid=f"vaetheory-variant::claim[{spec}-seed{s}]")
                     for s in range(seeds))


def _loaded(config: pytest.Config, spec: str):
    """(variant, None) or (None, the import checker's problems, one line each), cached per spec for the session."""
    cache = config.stash[_state_key]["variants"]
    if spec not in cache:
        from vaetheory.core.errors import VariantError
        from vaetheory.certify.plugin_check import validate_variant
        from vaetheory.variants.registry import get_variant

        try:
            cache[spec] = (validate_variant(get_variant(spec)), None)
        except VariantError as exc:
            cache[spec] = (None, "\n".join(getattr(exc, "problems", [str(exc)])))
    return cache[spec]


def _problem(config: pytest.Config, seed: int):
    """(problem, analysis) for a seed, shared by every variant of the session."""
    cache = config.stash[_state_key]["problems"]
    if seed not in cache:
        from vaetheory.verdict.check import analyse_problem
        from vaetheory.problems.generate import make_problem

        problem = make_problem(*PROBLEM_SIZE, "orthogonal", seed=seed)
        cache[seed] = (problem, analyse_problem(problem))
    return cache[seed]


def _run_settings(variant) -> tuple[float, bool]:
    """(γ, learn γ?) meeting the claim's γ conditions; skips when they contradict each other."""
    from vaetheory.verdict.claims import SMALL_GAMMA

    conditions = set(variant.claim.conditions)
    if {"fixed_gamma", "learned_gamma"} <= conditions:
        pytest.skip("the claim is conditioned on both fixed_gamma and learned_gamma: no run can meet both")
    gamma = float(variant.gamma.default)
    if "small_gamma" in conditions:
        gamma = min(gamma, SMALL_GAMMA)
    return gamma, "learned_gamma" in conditions


def _point_line(p) -> str:
    return (f"support {p.support} ({len(p.support)} active), energy {p.energy:.10g}, refit residual "
            f"{p.residual:.2e}, kkt {p.kkt:.1e}, min Hessian eig (rel) {p.min_hessian_eig_rel:.1e}, "
            f"gamma {p.gamma:g}, start {p.start_kind}, proof {(p.proof or {}).get('status', 'not run')}")


class VariantItem(pytest.Item):
    """One generated check: the import checker (seed None) or the declared claim on one generated problem."""

    def __init__(self, *, spec: str, seed: int | None, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.seed = spec, seed
        self.add_marker(MARKER)

    def reportinfo(self):
        return self.path, None, f"vaetheory variant {self.spec}: " + (
            "import checker" if self.seed is None else f"claim on generated problem seed={self.seed}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def runtest(self) -> None:
        variant, problems = _loaded(self.config, self.spec)
        if self.seed is None:
            if problems:
                raise ClaimFailure(problems)
            return
        if variant is None:
            pytest.skip(f"{self.spec} failed the import checker (see protocol[{self.spec}])")
        if variant.claim.kind == "none":
            pytest.skip(f"variant {variant.name!r} declares no claim")
        self._check_claim(variant)

    def _check_claim(self, variant) -> None:
        from vaetheory.verdict.check import run_check
        from vaetheory.core.errors import VaetheoryError
        from vaetheory.variants.registry import one_line

        gamma, learn = _run_settings(variant)
        problem, analysis = _problem(self.config, self.seed)
        where = f"make_problem({', '.join(map(str, PROBLEM_SIZE))}, 'orthogonal', seed={self.seed})"
        try:
            result = run_check(problem, variant, restarts=RESTARTS, seed=self.seed, gamma=gamma, learn_gamma=learn,
                               analysis=analysis)
        except Exception as exc:  # a variant may fail mid-run in any way: that is its result, in one line
            reason = " ".join(str(exc).split()) if isinstance(exc, VaetheoryError) else one_line(exc)
            raise ClaimFailure(f"variant {variant.name!r} failed during the run on {where}: {reason}") from None
        self._write_report(variant, result)
        nonfinite = sum(1 for p in result.points if not math.isfinite(p.energy))
        if nonfinite:
            raise ClaimFailure(f"variant {variant.name!r} returned non-finite energies during the run on {where}: "
                               f"{nonfinite} of {len(result.points)} end points")
        unmet = {c: v for c, v in result.claim_conditions.items() if v is not True}
        if unmet:
            pytest.skip(f"{where} does not meet the claim's conditions: {unmet}")
        claim, summary = variant.claim, result.summary
        bad = [result.points[i] for i in result.bad_points]
        head = (f"variant {variant.name!r} claims {claim.kind} ({claim.statement}) under "
                f"{', '.join(claim.conditions) or 'no conditions'}; on {where} at gamma={result.gamma:g} "
                f"({result.gamma_mode}), optimal support(s) {[list(s) for s in analysis.oracle.supports]} "
                f"(k*={analysis.oracle.k}); verdicts {summary}; claim status {result.claim_status} "
                f"(counting {result.claim_evidence} verdicts)")
        if claim.kind == "optimal_minima":
            if bad:
                lines = [f"  counterexample: certified bad_local_min, {_point_line(p)}" for p in bad]
                optimal = [p.energy for p in result.points if p.verdict == "optimal"]
                lines.append(f"  lowest energy of a certified optimal minimum: "
                             f"{min(optimal):.10g}" if optimal else "  no certified optimal minimum")
                raise ClaimFailure("REFUTED: " + head + "\n" + "\n".join(lines))
            if summary.get("optimal", 0) == 0:
                lowest = min(result.points, key=lambda p: p.energy)
                raise ClaimFailure("VACUOUS: " + head + "\n  no start reached a certified minimum; lowest end "
                                   f"point: verdict {lowest.verdict}, {_point_line(lowest)}")
        elif claim.kind == "bad_minima_exist":
            if not bad:
                raise ClaimFailure(f"NOT FOUND: {head}\n  no certified bad_local_min among {len(result.points)} "
                                   "restarts (including the adversarial non-optimal BFS starts)")
            for p in bad:
                self.user_properties.append(("counterexample", json.dumps(p.to_dict())))

    def _write_report(self, variant, result) -> None:
        directory = self.config.getoption("vaetheory_report_dir")
        if directory:
            stem = re.sub(r"[^\w.-]", "_", variant.name)
            path = Path(directory) / f"{stem}-seed{self.seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False))
