"""Subcommands. Each is a few lines of argument handling around one library call."""
from __future__ import annotations

import click

from ..check import analyse_problem, run_check
from ..generate import ROW_KINDS, make_problem
from ..oracle import DEFAULT_BUDGET, sparsest_supports
from ..relax import l21_relaxation
from ..variants import get_variant
from . import EXIT_OK, EXIT_REFUTED, cli
from .options import emit_json, load_problem, positive_float

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
    """ℓ2,1 relaxation min Σ_j ‖u_j‖₂ s.t. ΦU = X (cvxpy), its support and whether that support is optimal."""
    p = load_problem(problem)
    result = l21_relaxation(p, sparsest_supports(p, budget=budget))
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"l21 support ({len(result.support)} rows): {list(result.support)}; optimal: {result.optimal}")


@cli.command()
@click.option("--variant", "variant_name", required=True, help="Variant name (see `vaetheory variants`).")
@click.option("--problem", "problem_path", type=click.Path(dir_okay=False), required=True, help="Problem .npz.")
@click.option("--restarts", type=click.IntRange(min=1), default=32, show_default=True, help="Number of starts.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the starts.")
@click.option("--gamma", type=float, default=None, callback=positive_float,
              help="Fixed γ (default: the variant's); with --learn-gamma, the starting γ.")
@click.option("--learn-gamma", is_flag=True, help="Learn γ jointly down to the variant's floor.")
@_budget_opt
@_json_opt
def check(variant_name, problem_path, restarts, seed, gamma, learn_gamma, budget, as_json):
    """Search, certify and judge the local minima of one variant on one problem."""
    variant = get_variant(variant_name)
    p = load_problem(problem_path)
    result = run_check(p, variant, restarts=restarts, seed=seed, gamma=gamma, learn_gamma=learn_gamma,
                       analysis=analyse_problem(p, budget=budget))
    if as_json:
        emit_json(result.to_dict())
    else:
        s = result.summary
        click.echo(f"{variant.name} on {p.describe()} (gamma={result.gamma:g}, {result.gamma_mode}): "
                   + ", ".join(f"{k}={v}" for k, v in s.items()) + f"; claim {result.claim_status}")
    raise SystemExit(EXIT_REFUTED if result.claim_status == "refuted" else EXIT_OK)
