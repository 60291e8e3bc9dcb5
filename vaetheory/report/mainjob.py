"""The main job: every variant on the profile's problems; a table, a summary (``summary-<run>.md`` and
``summary-<run>.json``, one pair per run) and reports.

`run_main_job` generates the profile's problems (`vaetheory.problems.profiles`), analyses each once (oracle, ℓ2,1,
conditions), runs each variant with `run_check` in every γ mode it supports — at its fixed γ and, when its
`GammaPolicy` is learnable, with γ learned jointly (the paper's own setting, docs/learned-gamma.md) — writes one
report per distinct bad support, and summarises. A
variant that raises, fails the import check or runs out of time is recorded as an error for its (variant, problem)
pairs, named in the summary, and the run goes on; reports already written stay.

Isolation (`vaetheory.report.isolate`): a plug-in variant (anything but a built-in name) runs in a child process
under a time limit covering its import and all its runs (`DEFAULT_PLUGIN_TIMEOUT` unless given); with an explicit
`timeout` every variant given by name runs that way. Variant objects passed in directly run in this process.
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from vaetheory.core.files import write_group
from vaetheory.core.protocol import Variant
from vaetheory.problems.profiles import ProblemSpec, get_profile
from vaetheory.report.counterexample import library_versions, write_check_reports
from vaetheory.report.isolate import DEFAULT_PLUGIN_TIMEOUT, run_isolated
from vaetheory.variants.builtin import BUILTINS
from vaetheory.verdict.check import analyse_problem, run_check
from vaetheory.verdict.judge import VERDICTS

#: Reports written per (variant, problem) run of the main job: the first distinct bad supports.
REPORTS_PER_RUN = 3


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
    k_star: int | None = None
    k_star_certain: bool | None = None
    oracle_method: str | None = None
    proofs: dict | None = None  # proof statuses per verdict (`verdict.proofs.proof_summary`); None: not run
    gamma_range: list[float] | None = None  # learned γ: [lowest, highest] over the run's minima (else end points)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


#: Short column heads of the verdict counts in the text table (a verdict without one shows its own name).
SHORT = {"optimal": "opt", "bad_local_min": "bad", "undecided_min": "undec", "degenerate_min": "degen",
         "saddle": "saddle", "not_converged": "not_conv"}


def gamma_text(gamma: float | None, mode: str | None, gamma_range: list[float] | None) -> str:
    """γ as a run used it: the fixed value, or the range the learned γ ended in (never the starting γ alone)."""
    if gamma is None:
        return ""
    if mode == "learned" and gamma_range:
        lo, hi = gamma_range
        return f"{lo:.1e}" if lo == hi else f"{lo:.1e}..{hi:.1e}"
    return f"{gamma:.0e}" + (" (start)" if mode == "learned" else "")


def learned_gamma_range(points) -> list[float] | None:
    """[lowest, highest] γ over the reported minima of a learned-γ run (over every end point when it has none)."""
    from vaetheory.verdict.judge import MINIMA

    gammas = [p.gamma for p in points if p.verdict in MINIMA] or [p.gamma for p in points]
    return [float(min(gammas)), float(max(gammas))] if gammas else None


def proofs_text(proofs: dict | None, summary: dict[str, int]) -> str:
    """Proved minima as ``proved/minima`` (e.g. ``8/8``); ``n/a`` when no reported minimum has an applicable proof
    (the variant has no interval hook, docs/proofs.md), ``off`` when proofs were not run, ``-`` with no minima."""
    from vaetheory.verdict.judge import MINIMA

    if proofs is None:
        return "off"
    minima = sum(summary.get(v, 0) for v in MINIMA)
    if not minima:
        return "-"
    na = sum(proofs.get(v, {}).get("not_applicable", 0) for v in MINIMA)
    if na == minima:
        return "n/a"
    proved = sum(proofs.get(v, {}).get("proved", 0) for v in MINIMA)
    return f"{proved}/{minima - na}" + (f" ({na} n/a)" if na else "")


def format_table(runs: list[dict], failed_variants: dict[str, str] | None = None) -> str:
    """The main job's text table from its run records (`RunRecord.to_dict`, as stored in summary-<run>.json): one
    line per (variant, problem, γ mode) with verdict counts, k*, proved minima and claim status (or the error).
    `vaetheory check` prints it; bench/publish.py renders README's copy from bench/mainjob.json with it."""
    from vaetheory.verdict.judge import VERDICTS

    heads = ["variant", "γ mode", "γ", "problem"] + [SHORT.get(v, v) for v in VERDICTS] + ["k*", "proved", "claim"]
    rows, errors = [], {}
    for r in runs:
        first = [r["variant"], r.get("gamma_mode") or "", gamma_text(r.get("gamma"), r.get("gamma_mode"),
                                                                      r.get("gamma_range")), r["problem"]]
        if r.get("error") is not None:
            errors[len(rows)] = f"ERROR: {r['error']}"
            rows.append(first)
            continue
        k = r.get("k_star")
        kk = "" if k is None else (f"{k}" if r.get("k_star_certain", True) else f"<={k}")
        rows.append(first + [str(r["summary"].get(v, 0)) for v in VERDICTS]
                    + [kk, proofs_text(r.get("proofs"), r["summary"]), str(r["claim_status"])])
    widths = [max([len(h)] + [len(row[i]) for row in rows if i < len(row)]) for i, h in enumerate(heads)]
    left = {0, 1, 2, 3, len(heads) - 2, len(heads) - 1}  # text columns; the counts and k* are right-aligned

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(heads).rstrip()]
    out.append("-" * len(out[0]))
    for i, row in enumerate(rows):
        out.append((line(row) + ("  " + errors[i] if i in errors else "")).rstrip())
    legend = ", ".join(f"{SHORT[v]} = {v}" for v in VERDICTS if v in SHORT and SHORT[v] != v)
    out += [f"({legend};", " γ learned: the range it ended in at the minima (the floor: γ → 0 limits); proved = minima "
            "proved in interval", " arithmetic / minima with a proof, n/a: the variant has no interval proof)"]
    if failed_variants:
        out.append("failed or timed out: " + "; ".join(f"{k} ({v})" for k, v in failed_variants.items()))
    return "\n".join(out)


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
    def failed_variants(self) -> dict[str, str]:
        """Each variant with at least one failed or timed-out run, with the first error it gave."""
        out: dict[str, str] = {}
        for r in self.errors:
            out.setdefault(r.variant, r.error)
        return out

    @property
    def exit_code(self) -> int:
        return 1 if self.refuted else 0

    def table(self) -> str:
        """Plain-text table (`format_table`): one line per (variant, problem, γ mode) with verdict counts, k*,
        proved minima and claim status (or the error)."""
        return format_table([r.to_dict() for r in self.records], self.failed_variants)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, file=sys.stderr, desc="vaetheory check", unit="run")


def _error_text(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or ["error"])[0][:300]


def gamma_modes(variant: Variant) -> tuple[bool, ...]:
    """The γ modes the main job runs `variant` in, as `learn_gamma` flags: fixed γ always; learned γ too when the
    variant's γ policy is learnable."""
    return (False, True) if variant.gamma.learnable else (False,)


def problem_origin(spec: ProblemSpec) -> dict:
    """Where a generated problem of the main job came from (stored in its reports, shown on their figures)."""
    call = (f"make_problem({spec.d}, {spec.kappa}, {spec.r}, {spec.n}, {spec.rows!r}, seed={spec.seed}"
            + ("" if spec.coherence is None else f", coherence={spec.coherence}") + ")")
    return {"name": spec.name, "rows": spec.rows, "seed": spec.seed, "generator": call}


def _run_one(variant: Variant, spec: ProblemSpec, problem, analysis, restarts: int, seed: int, out: Path,
             report_spec: str | None, learn_gamma: bool = False) -> RunRecord:
    rec = RunRecord(variant.name, spec.name, problem.describe(), gamma_mode="learned" if learn_gamma else "fixed")
    t0 = time.perf_counter()
    try:
        result = run_check(problem, variant, restarts=restarts, seed=seed, analysis=analysis,
                           learn_gamma=learn_gamma)
        rec.summary, rec.claim_status = result.summary, result.claim_status
        rec.gamma, rec.gamma_mode = result.gamma, result.gamma_mode
        o = result.analysis.oracle
        rec.k_star, rec.k_star_certain = int(o.k), bool(o.k_star_certain)
        rec.oracle_method = getattr(o, "method", "enumerate")
        rec.proofs = result.proofs
        if learn_gamma:
            rec.gamma_range = learned_gamma_range(result.points)
        paths = write_check_reports(result, out, spec=report_spec, limit=REPORTS_PER_RUN,
                                    origin=problem_origin(spec))
        rec.reports = [p.json.name for p in paths]
    except Exception as exc:  # a variant may fail in any way: record it, keep the other runs
        rec.error = _error_text(exc)
    rec.seconds = time.perf_counter() - t0
    return rec


def _load_checked(spec: str) -> Variant:
    """The variant `spec` names; a plug-in (not a built-in) must also pass the import checker. Built-ins are
    checked by the test suite, not on every run."""
    from vaetheory.variants.registry import get_variant

    variant = get_variant(spec)
    if BUILTINS.get(spec) is not variant:
        from vaetheory.certify.plugin_check import validate_variant

        validate_variant(variant)
    return variant


def variant_records(spec: str, *, profile: str, seed: int, out_dir: str, problems: list[dict],
                    announce=None) -> Iterator[RunRecord]:
    """One variant (by spec) on the given problems, one `RunRecord` per (problem, γ mode) at a time (what an
    isolated child runs). announce: called with the list of γ modes once the variant is loaded, so that a parent
    can tell which runs a child that dies never finished."""
    prof = get_profile(profile)
    specs = [ProblemSpec(**p) for p in problems]
    t0 = time.perf_counter()
    try:
        variant = _load_checked(spec)
    except Exception as exc:
        for ps in specs:
            yield RunRecord(spec, ps.name, "", error=_error_text(exc), seconds=time.perf_counter() - t0)
        return
    report_spec = None if BUILTINS.get(spec) is variant else spec
    if announce is not None:
        announce(["learned" if learn else "fixed" for learn in gamma_modes(variant)])
    for ps in specs:
        problem = ps.build()
        analysis = analyse_problem(problem)
        for learn in gamma_modes(variant):
            yield _run_one(variant, ps, problem, analysis, prof.restarts_for(variant.name), seed, Path(out_dir),
                           report_spec, learn)


def check_problem_file(spec: str, *, problem_path: str, restarts: int, seed: int, gamma: float | None,
                       learn_gamma: bool, budget: int, out_dir: str, options: dict | None = None,
                       oracle: str = "auto", mip_time_limit: float | None = None) -> dict:
    """One variant (by spec) on one problem file: run, write its reports, return the JSON of ``vaetheory check
    --json`` (with the report paths) and the one-line text summary (what ``check --problem`` prints).

    oracle, mip_time_limit: how k* is found (`analyse_problem`; docs/oracles.md); the text line names the method.
    options: further keyword arguments for `run_check` (JSON-able: an isolated child receives them as JSON)."""
    from vaetheory.problems.problem import Problem

    variant = _load_checked(spec)
    p = Problem.load(problem_path)
    extra = {} if mip_time_limit is None else {"mip_time_limit": mip_time_limit}
    t = time.perf_counter()
    analysis = analyse_problem(p, budget=budget, oracle=oracle, **extra)
    t_analysis = time.perf_counter() - t
    result = run_check(p, variant, restarts=restarts, seed=seed, gamma=gamma, learn_gamma=learn_gamma,
                       analysis=analysis, **(options or {}))
    t = time.perf_counter()
    paths = write_check_reports(result, out_dir, spec=None if BUILTINS.get(spec) is variant else spec,
                                origin={"file": Path(problem_path).name})
    data = result.to_dict()
    data["timings"] |= {"analysis": t_analysis, "reports": time.perf_counter() - t}
    s = result.summary
    o = result.analysis.oracle
    if result.gamma_mode == "learned":
        lo, hi = learned_gamma_range(result.points) or (result.gamma, result.gamma)
        gamma = f"gamma learned: {lo:.2g} to {hi:.2g} at the minima, started at {result.gamma:g}"
    else:
        gamma = f"gamma={result.gamma:g}, fixed"
    line = (f"{variant.name} on {p.describe()} ({gamma}): "
            + ", ".join(f"{k}={v}" for k, v in s.items()) + f"; claim {result.claim_status}; oracle {o.method} "
            f"(k* {'=' if o.k_star_certain else '<='} {o.k_star}, {'certain' if o.k_star_certain else 'not certain'})")
    from vaetheory.verdict.proofs import unproved_minima

    return {"json": data | {"reports": [str(x.json) for x in paths]}, "line": line,
            "claim_status": result.claim_status,
            "unproved": unproved_minima(result.points) if result.proofs is not None else []}


def isolated_check_problem_file(spec: str, timeout: float | None, **args) -> dict:
    """`check_problem_file` in a child process under `timeout` seconds; VariantError (one line) when the variant
    fails, times out or its process dies."""
    from vaetheory.core.errors import VaetheoryError, VariantError

    outcome = run_isolated({"kind": "single", "spec": spec, "args": args}, timeout, out_dir=args.get("out_dir"))
    for m in outcome.messages:
        if "result" in m:
            return m["result"]
        if "error" in m:
            raise VariantError(m["error"] if m.get("user_error") else f"variant {spec!r}: {m['error']}")
    raise VariantError(f"variant {spec!r}: {outcome.error}") if outcome.error else VaetheoryError(
        f"variant {spec!r}: no result")


def _isolated_records(spec: str, timeout: float, prof, seed: int, out: Path, problem_specs: list[ProblemSpec],
                      bar) -> list[RunRecord]:
    def progress(message: dict) -> None:
        if bar is not None and "record" in message and message["record"]["gamma_mode"] in ("fixed", None):
            bar.update(1)  # the bar counts (variant, problem) pairs; a problem's fixed-γ run comes first
            bar.set_postfix_str(f"{message['record']['variant']} on {message['record']['problem']}")

    task = {"kind": "main", "spec": spec, "args": {"profile": prof.name, "seed": seed, "out_dir": str(out),
                                                   "problems": [asdict(p) for p in problem_specs]}}
    t0 = time.perf_counter()
    outcome = run_isolated(task, timeout, out_dir=out, on_message=progress)
    records = [RunRecord(**m["record"]) for m in outcome.messages if "record" in m]
    failure = next((m["error"] for m in outcome.messages if "error" in m), outcome.error)
    modes = next((m["modes"] for m in outcome.messages if "modes" in m), ["fixed"])
    name = records[0].variant if records else spec
    done = {(r.problem, r.gamma_mode) for r in records}
    failed_before_runs = {r.problem for r in records if r.gamma_mode is None}  # e.g. the variant did not load
    for ps in problem_specs:  # the runs the child never finished
        if ps.name in failed_before_runs:
            continue
        missing = [mode for mode in modes if (ps.name, mode) not in done]
        for mode in missing:
            records.append(RunRecord(name, ps.name, "", gamma_mode=mode, error=failure or "no result",
                                     seconds=time.perf_counter() - t0))
        if "fixed" in missing and bar is not None:
            bar.update(1)
    return records


def run_main_job(profile: str | None = None, out_dir: str | os.PathLike = "reports", seed: int = 0,
                 variants: list[Variant | str] | None = None, progress: bool = True, *,
                 specs: dict[str, str] | None = None, problems: list[ProblemSpec] | None = None,
                 timeout: float | None = None, plugin_timeout: float = DEFAULT_PLUGIN_TIMEOUT) -> MainJobResult:
    """Run `variants` (default: every built-in) on the problems of `profile`; write reports and summaries.

    variants: variant objects (run in this process) or specs (names or import specs; see the module docstring for
    which run in a child process under a time limit). specs: optional import spec per variant name, stored in
    reports of non-built-in variant objects. problems: run on these instead of the profile's (restart counts
    still come from the profile). timeout: time limit in seconds per variant given by spec (import and every
    run); plugin_timeout: the limit for plug-ins when `timeout` is None.
    """
    t_start = time.perf_counter()
    prof = get_profile(profile)
    problem_specs = list(prof.problems) if problems is None else list(problems)
    entries = list(BUILTINS) if variants is None else list(variants)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bar = _progress(len(problem_specs) * len(entries), progress)
    by_entry: dict[int, list[RunRecord]] = {}
    local: list[tuple[int, Variant, str | None]] = []
    try:
        for i, entry in enumerate(entries):
            if isinstance(entry, str) and (timeout is not None or entry not in BUILTINS):
                limit = timeout if timeout is not None else plugin_timeout
                by_entry[i] = _isolated_records(entry, limit, prof, seed, out, problem_specs, bar)
            else:
                variant = BUILTINS[entry] if isinstance(entry, str) else entry
                local.append((i, variant, (specs or {}).get(variant.name)))
                by_entry[i] = []
        for spec in problem_specs:  # a handful of problems per profile, each analysed once for all local variants
            if not local:
                break
            problem = spec.build()
            analysis = analyse_problem(problem)
            for i, variant, report_spec in local:  # each run is batched over restarts inside run_check
                for learn in gamma_modes(variant):
                    by_entry[i].append(_run_one(variant, spec, problem, analysis, prof.restarts_for(variant.name),
                                                seed, out, report_spec, learn))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{variant.name} on {spec.name}")
    finally:
        if bar is not None:
            bar.close()
    # problem-major order; within a problem, the variants in the order given, each in its γ modes
    by_problem: dict[str, list[RunRecord]] = {}
    for i in range(len(entries)):
        for rec in by_entry[i]:
            by_problem.setdefault(rec.problem, []).append(rec)
    records = [rec for ps in problem_specs for rec in by_problem.get(ps.name, [])]
    # unique per run (time, process, random part), so that runs sharing a folder never overwrite each other's summary
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    result = MainJobResult(prof.name, seed, records, out, out / f"summary-{run_id}.md",
                           out / f"summary-{run_id}.json")
    _write_summaries(result, prof.description, problem_specs, time.perf_counter() - t_start)
    return result


def _problem_rows(problems: list[ProblemSpec]) -> list[dict]:
    return [{"name": p.name, "d": p.d, "kappa": p.kappa, "r": p.r, "n": p.n, "rows": p.rows, "seed": p.seed,
             "coherence": p.coherence, "generator": problem_origin(p)["generator"]} for p in problems]


def _write_summaries(result: MainJobResult, description: str, problems: list[ProblemSpec] | None = None,
                     seconds: float | None = None) -> None:
    """summary-<run>.json and .md, written together (a second run sharing the folder writes its own pair).

    The Markdown explains the problem names, gives per run the verdict counts, k*, proof counts, claim status,
    seconds and links to the readable (.md) reports; the JSON holds the same records (`format_table` prints them)."""
    from vaetheory.verdict.judge import VERDICTS

    data = {"profile": result.profile, "seed": result.seed, "versions": library_versions(),
            "problems": _problem_rows(problems or []),
            "refuted": [f"{r.variant} ({r.gamma_mode} gamma) on {r.problem}" for r in result.refuted],
            "errors": [f"{r.variant} on {r.problem}: {r.error}" for r in result.errors],
            "failed_variants": result.failed_variants,
            "runs": [r.to_dict() for r in result.records], "exit_code": result.exit_code,
            "seconds": seconds}
    md = [f"# vaetheory main job — profile `{result.profile}` ({description}), seed {result.seed}", ""]
    if problems:
        md += ["Problems (X = ΦZ*, Φ Gaussian with unit columns; the name gives the row structure of Z* — `ortho`: "
               "orthogonal nonzero rows, `gauss`: Gaussian rows, `coherent`: a coherent Φ — then d and κ):", ""]
        md += [f"- `{p.name}`: d = {p.d}, κ = {p.kappa}, r = {p.r} nonzero rows, n = {p.n} samples, "
               f"{p.rows} rows, seed {p.seed}" + ("" if p.coherence is None else f", coherence {p.coherence}")
               + f" (`{problem_origin(p)['generator']}`)" for p in problems]
        md.append("")
    md += ["Counts are end points (restarts) per verdict (docs/theory.md §5). k*: the fewest nonzero rows of an "
           "exact representation (≤ when not certain). proved: minima proved strict local minima in interval "
           "arithmetic out of those with a proof (docs/proofs.md); n/a: the variant has no interval proof; off: "
           "proofs not run. γ: the fixed value, or with γ learned the range it ended in at the minima.", "",
           "| variant | γ mode | γ | problem | " + " | ".join(VERDICTS) + " | k* | proved | claim | s | reports |",
           "|---" * (len(VERDICTS) + 9) + "|"]
    for r in result.records:
        gamma = gamma_text(r.gamma, r.gamma_mode, r.gamma_range)
        head = f"| {r.variant} | {r.gamma_mode or ''} | {gamma} | {r.problem} | "
        if r.error is not None:
            md.append(head + " | ".join("–" for _ in VERDICTS) + f" | | | ERROR: {r.error} | {r.seconds:.1f} | |")
            continue
        k = "" if r.k_star is None else (f"{r.k_star}" if r.k_star_certain else f"≤ {r.k_star}")
        links = ", ".join(f"[{Path(n).stem}]({Path(n).with_suffix('.md').name})" for n in r.reports)
        md.append(head + " | ".join(str(r.summary.get(v, 0)) for v in VERDICTS)
                  + f" | {k} | {proofs_text(r.proofs, r.summary)} | {r.claim_status} | {r.seconds:.1f} | {links} |")
    total = "" if seconds is None else (f"; {seconds:.0f} s in all "
                                        f"({sum(r.seconds for r in result.records):.0f} s in the runs)")
    md += ["", f"Refuted claims: {len(result.refuted)}; variant errors: {len(result.errors)}; "
           f"exit code {result.exit_code}{total}. Each report holds one distinct bad minimum (at most "
           f"{REPORTS_PER_RUN} per run); replay one with `vaetheory replay <report>.json`."]
    if result.failed_variants:
        md += ["", "Variants that failed or timed out (their other runs, and every other variant's, are above):"]
        md += [f"- `{name}`: {error}" for name, error in result.failed_variants.items()]
    write_group({result.summary_json: json.dumps(data, indent=2, allow_nan=False).encode(),
                 result.summary_md: ("\n".join(md) + "\n").encode()})
