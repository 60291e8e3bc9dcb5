"""Subcommands. Each is a few lines of argument handling around one library call."""
from __future__ import annotations

import click

from vaetheory.verdict.check import analyse_problem, run_check
from vaetheory.problems.generate import ROW_KINDS, make_problem
from vaetheory.oracle.exhaustive import DEFAULT_BUDGET, sparsest_supports
from vaetheory.oracle.relax import l21_relaxation
from vaetheory.variants import get_variant
from vaetheory.cli import EXIT_OK, EXIT_REFUTED, cli
from vaetheory.cli.options import emit_json, load_problem, positive_float

_problem_arg = click.argument("problem", type=click.Path(dir_okay=False))
_json_opt = click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
_budget_opt = click.option("--budget", type=click.IntRange(min=1), default=DEFAULT_BUDGET, show_default=True,
                           help="Most subsets the exhaustive oracle may test before failing.")


@cli.command()
@click.option("--d", "d", type=click.IntRange(min=1), required=True, help="Data dimension d.")
@click.option("--kappa", type=click.IntRange(min=1), required=True, help="Dictionary size κ.")
@click.option("--r", "r", type=click.IntRange(min=1), required=True, help="Number of nonzero rows of Z*.")
@click.option("--n", "n", type=click.IntRange(min=1), required=True, help="Number of samples.")
@click.option("--rows", type=click.Choice(ROW_KINDS), default="orthogonal", show_default=True,
              help="Structure of the nonzero rows of Z*.")
@click.option("--coherence", type=float, default=None, help="Target mutual coherence of Φ (default: Gaussian Φ).")
@click.option("--noise", type=click.FloatRange(min=0), default=0.0, show_default=True, help="Noise std added to X.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .npz file.")
def generate(d, kappa, r, n, rows, coherence, noise, seed, output):
    """Generate a sparse-regression problem X = Φ Z* and save it as .npz (keys Phi, X, Z, noise)."""
    problem = make_problem(d, kappa, r, n, rows, seed, coherence=coherence, noise=noise)
    problem.save(output)
    click.echo(f"wrote {output}: {problem.describe()} support={list(problem.support)}", err=True)


@cli.command()
@_problem_arg
@_json_opt
@_budget_opt
def oracle(problem, as_json, budget):
    """Exact sparsest row support k* and all optimal supports, by batched exhaustive enumeration."""
    result = sparsest_supports(load_problem(problem), budget=budget)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"k* = {result.k} ({result.method}, {result.n_subsets:,} subsets, {result.seconds:.3f} s)")
        for s in result.supports:
            click.echo(f"  optimal support: {list(s)}")


@cli.command()
@_problem_arg
@_json_opt
@_budget_opt
def relax(problem, as_json, budget):
    """ℓ2,1 relaxation: min Σ_j ‖u_j‖₂ subject to ΦU = X (cvxpy), its support and whether it is optimal."""
    p = load_problem(problem)
    result = l21_relaxation(p, sparsest_supports(p, budget=budget))
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"l21 support ({len(result.support)} rows): {list(result.support)}; optimal: {result.optimal}")


def _validated_variant(spec: str):
    """get_variant(spec), then the import checker when it is available (it raises VariantError on a bad variant)."""
    variant = get_variant(spec)
    try:
        from vaetheory.certify.plugin_check import validate_variant
    except ImportError:  # the checker module is optional
        return variant
    validate_variant(variant)
    return variant


@cli.command()
@click.option("--variant", "variant_name", default=None,
              help="Variant name or import spec (see `vaetheory variants`); default: every built-in (main job).")
@click.option("--problem", "problem_path", type=click.Path(dir_okay=False), default=None,
              help="Problem .npz; default: the profile's generated problems.")
@click.option("--restarts", type=click.IntRange(min=1), default=None,
              help="Number of starts (default: 32 with --problem, else the profile's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the starts.")
@click.option("--gamma", type=float, default=None, callback=positive_float,
              help="Fixed γ (default: the variant's); with --learn-gamma, the starting γ.")
@click.option("--learn-gamma", is_flag=True, help="Learn γ jointly down to the variant's floor.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Folder for counterexample reports and summaries.")
@click.option("--profile", "profile_name", default=None,
              help="Run profile (ci, dev, deep; default: $VAETHEORY_PROFILE or ci).")
@click.option("--prove/--no-prove", "prove", default=None,
              help="Interval proofs of every reported minimum (docs/proofs.md); default: on when d <= 20.")
@click.option("--require-proof", is_flag=True,
              help="Exit 1 when a reported minimum (optimal or bad_local_min) is not proved (implies --prove).")
@_budget_opt
@_json_opt
def check(variant_name, problem_path, restarts, seed, gamma, learn_gamma, out_dir, profile_name, prove, require_proof,
          budget, as_json):
    """Search, certify and judge local minima: one variant on one problem, or (without --variant) the main job."""
    import json

    from vaetheory.report.mainjob import run_main_job
    from vaetheory.problems.profiles import get_profile
    from vaetheory.report.counterexample import write_check_reports
    from vaetheory.cli.options import require

    profile = get_profile(profile_name)
    if problem_path is None:
        require(gamma is None and not learn_gamma and restarts is None and prove is None and not require_proof,
                "--gamma, --learn-gamma, --restarts, --prove and --require-proof need --problem (the main job uses "
                "the profile's settings)")
        variants = None if variant_name is None else [_validated_variant(variant_name)]
        specs = None if variant_name is None else {variants[0].name: variant_name}
        job = run_main_job(profile.name, out_dir, seed, variants, progress=not as_json, specs=specs)
        if as_json:
            emit_json(json.loads(job.summary_json.read_text()))
        else:
            click.echo(job.table())
            click.echo(f"wrote {job.summary_md} and {job.summary_json}; refuted claims: {len(job.refuted)}",
                       err=True)
        raise SystemExit(job.exit_code)
    require(variant_name is not None, "--problem needs --variant (or give neither to run the main job)")
    variant = _validated_variant(variant_name)
    p = load_problem(problem_path)
    result = run_check(p, variant, restarts=32 if restarts is None else restarts, seed=seed, gamma=gamma,
                       learn_gamma=learn_gamma, analysis=analyse_problem(p, budget=budget),
                       prove=True if require_proof else prove)
    paths = write_check_reports(result, out_dir, spec=variant_name)
    if as_json:
        emit_json(result.to_dict() | {"reports": [str(x.json) for x in paths]})
    else:
        s = result.summary
        click.echo(f"{variant.name} on {p.describe()} (gamma={result.gamma:g}, {result.gamma_mode}): "
                   + ", ".join(f"{k}={v}" for k, v in s.items()) + f"; claim {result.claim_status}")
        if result.proofs is not None:
            click.echo("  proved: " + ", ".join(f"{v} {c['proved']}/{result.summary[v]}"
                                                for v, c in result.proofs.items() if v in ("optimal", "bad_local_min")))
        for x in paths:
            click.echo(f"  report: {x.json}", err=True)
    if require_proof:
        from vaetheory.verdict.proofs import unproved_minima

        missing = unproved_minima(result.points)
        if missing:
            click.echo(f"--require-proof: {len(missing)} reported minimum/minima not proved (points {missing})",
                       err=True)
            raise SystemExit(EXIT_REFUTED)
    raise SystemExit(EXIT_REFUTED if result.claim_status == "refuted" else EXIT_OK)
