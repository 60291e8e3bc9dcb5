"""Subcommands. Each is a few lines of argument handling around one library call.

Imports of the library's heavy stages (torch, scipy.optimize, cvxpy, matplotlib) happen inside the commands, after
the arguments and input files are checked, so usage and input errors (and ``--help``) answer at once.
"""
from __future__ import annotations

import click

from vaetheory.cli import EXIT_OK, EXIT_REFUTED, cli
from vaetheory.cli.options import (emit_json, finite_float, limit_scale_option, positive_float, progress_enabled,
                                   screen_problem, writable_folder)
from vaetheory.core.subsets import DEFAULT_BUDGET
from vaetheory.oracle.answer import DEFAULT_MIP_TIME_LIMIT, ORACLE_METHODS
from vaetheory.problems.generate import ROW_KINDS

_problem_arg = click.argument("problem", type=click.Path(dir_okay=False))
_json_opt = click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
_budget_opt = click.option("--budget", type=click.IntRange(min=1), default=DEFAULT_BUDGET, show_default=True,
                           help="Most subsets the exhaustive oracle may test before failing.")
_method_opt = click.option("--method", "method", type=click.Choice(ORACLE_METHODS), default="auto", show_default=True,
                           help="Oracle method (docs/oracles.md): auto picks the cheapest certain one.")
_mip_time_opt = click.option("--mip-time-limit", type=float, callback=positive_float,
                             default=DEFAULT_MIP_TIME_LIMIT, show_default=True,
                             help="Wall-clock limit of the MIP oracle, in seconds.")
#: numpy seeds must be >= 0; click checks it, so a bad seed is a one-line usage error (it was a traceback).
_SEED = click.IntRange(min=0)


def _examples(*lines: str) -> str:
    """A help epilog: the example command lines, kept verbatim by click (\\b)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


@cli.command(epilog=_examples(
    "vaetheory generate --d 20 --kappa 40 --r 5 --n 20 --rows orthogonal --seed 0 -o p.npz",
    "vaetheory generate --d 8 --kappa 16 --r 3 --n 6 --rows gaussian --coherence 0.9 -o coherent.npz"))
@click.option("--d", "d", type=click.IntRange(min=1), required=True, help="Data dimension d.")
@click.option("--kappa", type=click.IntRange(min=1), required=True, help="Dictionary size κ.")
@click.option("--r", "r", type=click.IntRange(min=1), required=True, help="Number of nonzero rows of Z*.")
@click.option("--n", "n", type=click.IntRange(min=1), required=True, help="Number of samples.")
@click.option("--rows", type=click.Choice(ROW_KINDS), default="orthogonal", show_default=True,
              help="Structure of the nonzero rows of Z*.")
@click.option("--coherence", type=float, default=None, callback=finite_float, help="Target mutual coherence of Φ (default: Gaussian Φ).")
@click.option("--noise", type=click.FloatRange(min=0), default=0.0, callback=finite_float, show_default=True, help="Noise std added to X.")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Random seed (>= 0).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .npz file.")
@limit_scale_option
def generate(d, kappa, r, n, rows, coherence, noise, seed, output, limit_scale):
    """Generate a sparse-regression problem X = Φ Z* and save it as .npz (keys Phi, X, Z, noise)."""
    from vaetheory.core.limits import check_generate_size
    from vaetheory.problems.generate import make_problem

    check_generate_size(d, kappa, n, scale=limit_scale)

    problem = make_problem(d, kappa, r, n, rows, seed, coherence=coherence, noise=noise)
    problem.save(output)
    click.echo(f"wrote {output}: {problem.describe()} support={list(problem.support)}", err=True)


@cli.command(epilog=_examples("vaetheory oracle p.npz", "vaetheory oracle p.npz --json --budget 1000000",
                             "vaetheory oracle big.npz --method uniqueness     # MMV uniqueness bound, planted support",
                             "vaetheory oracle big.npz --method mip --mip-time-limit 30"))
@_problem_arg
@_json_opt
@_budget_opt
@_method_opt
@_mip_time_opt
@limit_scale_option
def oracle(problem, as_json, budget, method, mip_time_limit, limit_scale):
    """Sparsest row support k* (docs/oracles.md): by enumeration, the MMV uniqueness bound, a big-M MIP, or the
    planted support uncertified; `auto` picks the cheapest certain method and says which and why."""
    p = screen_problem(problem, scale=limit_scale, oracle=method)
    from vaetheory.oracle.auto import run_oracle

    result = run_oracle(p, method, budget=budget, mip_time_limit=mip_time_limit)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"k* {'=' if result.k_star_certain else '<='} {result.k_star} ({result.method}, "
                   f"{'certain' if result.k_star_certain else 'not certain'}, {result.seconds:.3f} s)")
        click.echo(f"  basis: {result.basis}")
        if result.assumption:
            click.echo(f"  assumption: {result.assumption}")
        head = "optimal support" if result.k_star_certain else "best known support"
        for s in result.supports:
            click.echo(f"  {head}: {list(s)}")
        if result.k_star_certain and not result.supports_complete:
            click.echo("  (other optimal supports may exist)")


@cli.command(epilog=_examples("vaetheory relax p.npz", "vaetheory relax p.npz --json"))
@_problem_arg
@_json_opt
@_budget_opt
@_method_opt
@_mip_time_opt
@limit_scale_option
def relax(problem, as_json, budget, method, mip_time_limit, limit_scale):
    """ℓ2,1 relaxation: min Σ_j ‖u_j‖₂ subject to ΦU = X (cvxpy), its support and whether it is optimal."""
    p = screen_problem(problem, scale=limit_scale, oracle=method, relax=True)
    from vaetheory.oracle.auto import run_oracle
    from vaetheory.oracle.relax import judge_relaxation, l21_relaxation

    rel = l21_relaxation(p)
    result = judge_relaxation(rel, run_oracle(p, method, budget=budget, mip_time_limit=mip_time_limit,
                                              l21_support=rel.support))
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"l21 support ({len(result.support)} rows): {list(result.support)}; optimal: {result.optimal}")


@cli.command(epilog=_examples(
    "vaetheory check                                   # main job: every built-in on the profile's problems",
    "vaetheory check --variant vae-full --problem p.npz --restarts 32 --seed 0 --json",
    "vaetheory check --variant vae-diag --problem p.npz --learn-gamma --gamma 1e-2",
    "vaetheory check --variant path/to/my_variant.py:VARIANT --problem p.npz --timeout 120",
    "vaetheory check --variant my_pkg.variants:MY_VAE --out reports/mine   # main job, one plug-in",
    "vaetheory check --variant vae-full --problem big.npz --restarts 8 --oracle auto   # d=100, kappa=200",
    "vaetheory check --variant vae-full --problem p.npz --oracle mip --mip-time-limit 30"))
@click.option("--variant", "variant_name", default=None,
              help="Variant name or import spec (see `vaetheory variants`); default: every built-in (main job).")
@click.option("--problem", "problem_path", type=click.Path(dir_okay=False), default=None,
              help="Problem .npz; default: the profile's generated problems.")
@click.option("--restarts", type=click.IntRange(min=1), default=None,
              help="Number of starts (default: 32 with --problem, else the profile's).")
@click.option("--seed", type=_SEED, default=0, show_default=True, help="Seed for the starts (>= 0).")
@click.option("--gamma", type=float, default=None, callback=positive_float,
              help="Fixed γ (default: the variant's); with --learn-gamma, the starting γ.")
@click.option("--learn-gamma", is_flag=True, help="Learn γ jointly down to the variant's floor.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Folder for counterexample reports and summaries.")
@click.option("--profile", "profile_name", default=None,
              help="Run profile (ci, dev, deep; default: $VAETHEORY_PROFILE or ci).")
@click.option("--timeout", type=float, default=None, callback=positive_float,
              help="Time limit in seconds per variant, covering its import and all its runs; the variant then "
                   "runs in a child process that is killed when the time is up. Plug-ins always run that way, "
                   "with a default limit of 900 s; built-ins run in this process unless --timeout is given.")
@click.option("--prove/--no-prove", "prove", default=None,
              help="Interval proofs of every reported minimum (docs/proofs.md); default: on when d <= 20.")
@click.option("--require-proof", is_flag=True,
              help="Exit 1 when a reported minimum (optimal, bad_local_min or undecided_min) is not proved "
                   "(implies --prove).")
@click.option("--oracle", "oracle_method", type=click.Choice(ORACLE_METHODS), default=None,
              help="How k* is found (docs/oracles.md): auto (default) picks the cheapest certain method; "
                   "enumerate, uniqueness, mip, or none (the planted support, uncertified). Needs --problem.")
@click.option("--mip-time-limit", type=float, default=None, callback=positive_float,
              help=f"Wall-clock limit of the MIP oracle in seconds (default {DEFAULT_MIP_TIME_LIMIT:g}).")
@click.option("--continuation", is_flag=True,
              help="Start every random restart with a gamma-continuation (large gamma down to the run's gamma): "
                   "needed for large active sets (d = 100, kappa = 200, r = 40). Needs --problem.")
@_budget_opt
@_json_opt
@limit_scale_option
def check(variant_name, problem_path, restarts, seed, gamma, learn_gamma, out_dir, profile_name, timeout, prove,
          require_proof, oracle_method, mip_time_limit, continuation, budget, as_json, limit_scale):
    """Search, certify and judge local minima: one variant on one problem, or (without --problem) the main job.

    One report per distinct bad support is written under --out (with the number of end points that reached it);
    the main job also writes summary-<run>.md/.json there, naming any variant that failed or timed out.
    """
    from vaetheory.cli.options import require

    if problem_path is None:
        require(gamma is None and not learn_gamma and restarts is None and prove is None and not require_proof
                and oracle_method is None and mip_time_limit is None and not continuation,
                "--gamma, --learn-gamma, --restarts, --prove, --require-proof, --oracle, --mip-time-limit and "
                "--continuation need --problem (the main job uses the profile's settings)")
        from vaetheory.problems.profiles import get_profile

        profile = get_profile(profile_name)
        _precheck_variant(variant_name)
        writable_folder(out_dir)
        import json

        from vaetheory.report.mainjob import run_main_job

        variants = None if variant_name is None else [variant_name]
        job = run_main_job(profile.name, out_dir, seed, variants, progress=progress_enabled(as_json),
                           timeout=timeout)
        if as_json:
            emit_json(json.loads(job.summary_json.read_text()))
        else:
            click.echo(job.table())
            click.echo(f"wrote {job.summary_md} and {job.summary_json}; refuted claims: {len(job.refuted)}",
                       err=True)
        raise SystemExit(job.exit_code)
    require(variant_name is not None, "--problem needs --variant (or give neither to run the main job)")
    if profile_name is not None:  # not used with --problem, but a wrong name is still an error
        from vaetheory.problems.profiles import get_profile

        get_profile(profile_name)
    # input errors and resource limits first, before any heavy import
    screen_problem(problem_path, scale=limit_scale, oracle=oracle_method or "auto",
                   restarts=32 if restarts is None else restarts, gamma=gamma, conditions=True)
    isolated = _precheck_variant(variant_name) or timeout is not None
    writable_folder(out_dir)
    from vaetheory.report import mainjob

    args = {"problem_path": problem_path, "restarts": 32 if restarts is None else restarts, "seed": seed,
            "gamma": gamma, "learn_gamma": learn_gamma, "budget": budget, "out_dir": out_dir,
            "options": {"prove": True if require_proof else prove, "continuation": continuation}, "oracle": oracle_method or "auto",
            "mip_time_limit": mip_time_limit}
    if isolated:
        limit = timeout if timeout is not None else mainjob.DEFAULT_PLUGIN_TIMEOUT
        done = mainjob.isolated_check_problem_file(variant_name, limit, **args)
    else:
        done = mainjob.check_problem_file(variant_name, **args)
    if as_json:
        emit_json(done["json"])
    else:
        click.echo(done["line"])
        consistency = done["json"].get("oracle_consistency") or {}
        if consistency.get("contradicted"):
            click.echo(f"  oracle contradicted by the run: {consistency['note']}; every point was judged again")
        if done["claim_status"].endswith("_unproved"):
            click.echo(f"  claim {done['claim_status']}: the float certificates say "
                       f"{done['claim_status'].removesuffix('_unproved')}, but no proved point carries it")
        proofs = done["json"].get("proofs")
        if proofs is not None:
            from vaetheory.verdict.judge import MINIMA

            summary = done["json"]["summary"]
            if mainjob.proofs_text(proofs, summary) == "n/a":  # no interval hook: nothing was tried, nothing failed
                click.echo("  proofs n/a: this variant has no interval proof (docs/proofs.md)")
            else:
                click.echo("  proved: " + ", ".join(
                    f"{v} {proofs[v]['proved']}/{summary[v] - proofs[v]['not_applicable']}" for v in MINIMA
                    if v in proofs and (v in ("optimal", "bad_local_min") or summary.get(v))))
        for x in done["json"]["reports"]:
            click.echo(f"  report: {x}", err=True)
    if require_proof and done["unproved"]:
        click.echo(f"--require-proof: {len(done['unproved'])} reported minimum/minima not proved "
                   f"(points {done['unproved']})", err=True)
        raise SystemExit(EXIT_REFUTED)
    raise SystemExit(EXIT_REFUTED if done["claim_status"] == "refuted" else EXIT_OK)


def _precheck_variant(spec: str | None) -> bool:
    """Cheap checks of a variant spec before anything heavy runs; True when it names a plug-in (which then runs
    in a child process under a time limit), False for a built-in (or no spec). An unknown plain name fails here."""
    if spec is None:
        return False
    from vaetheory.variants.registry import BUILTINS, _entry_point_variants, available_variants, is_import_spec
    from vaetheory.core.errors import VariantError

    if spec in BUILTINS:
        return False
    if not is_import_spec(spec) and spec not in _entry_point_variants():
        raise VariantError(f"unknown variant {spec!r}; available: {', '.join(available_variants())} "
                           "(or give 'module.path:object' or 'path/to/file.py:object')")
    return True
