"""``vaetheory landscape PROBLEM``: every local minimum, proved, and whether the list is complete."""
from __future__ import annotations

import click

from vaetheory.cli import EXIT_OK, cli
from vaetheory.cli.options import emit_json, load_problem, positive_float, progress_enabled, require


@cli.command("landscape", epilog="\b\nExamples:\n"
             "  vaetheory landscape p.npz --variant vae-full --gamma 1e-2\n"
             "  vaetheory landscape p.npz --variant vae-diag --gamma 1e-2 --time-limit 300 --json\n"
             "  vaetheory landscape p.npz --variant vae-full --learn-gamma --limit --json")
@click.argument("problem", type=click.Path(dir_okay=False))
@click.option("--variant", "variant_name", default="vae-full", show_default=True,
              help="vae-full or vae-diag (or a plug-in with a collapsed-VAE energy and an interval hook).")
@click.option("--gamma", type=float, default=None, callback=positive_float,
              help="Fixed γ for the interval branch and bound (default: the variant's).")
@click.option("--learn-gamma", is_flag=True, help="γ learned: with --limit, decide the γ → 0 limit (vae-full).")
@click.option("--limit", "limit_mode", is_flag=True,
              help="γ → 0 limit mode: decide every basic feasible support (needs --learn-gamma).")
@click.option("--time-limit", type=float, default=None, callback=positive_float,
              help="Seconds for the whole search; what is left is reported unresolved (complete = false).")
@click.option("--max-boxes", type=click.IntRange(min=1), default=None,
              help="Box budget per face (fixed γ); default unlimited.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def landscape(problem, variant_name, gamma, learn_gamma, limit_mode, time_limit, max_boxes, as_json):
    """List every local minimum of VARIANT on PROBLEM with an interval proof each, and prove there are no others
    (docs/landscape.md). Fixed γ: face-by-face interval branch and bound. --learn-gamma --limit: the γ → 0 limit
    with γ learned, every basic feasible support decided in ball arithmetic. Exit 0 when the search ran (read
    `complete`), 2 on bad input."""
    require(not (learn_gamma ^ limit_mode), "--learn-gamma needs --limit (and --limit needs --learn-gamma): the "
            "learned-gamma landscape is decided in its gamma -> 0 limit")
    require(not (limit_mode and gamma is not None), "--gamma and --limit exclude each other")
    p = load_problem(problem)
    from vaetheory.variants.registry import get_variant

    variant = get_variant(variant_name)
    from vaetheory.landscape import run_landscape

    bar = None
    if progress_enabled(as_json):
        from tqdm import tqdm

        bar = tqdm(desc="supports" if limit_mode else "faces", unit="", leave=False)

    def progress(done, total):
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = run_landscape(p, variant, gamma=gamma, learn_gamma_limit=limit_mode, time_limit=time_limit,
                               max_boxes_per_face=max_boxes, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        emit_json(result.to_dict())
    else:
        mode = "gamma -> 0 limit (learned)" if limit_mode else f"gamma = {result.gamma:g}"
        click.echo(f"{result.variant} on {p.describe()}, {mode}: {result.message}")
        for m in result.minima:
            e = "-inf" if m.energy is None or m.energy == float("-inf") else f"{m.energy:.6g}"
            click.echo(f"  min  support {m.support}  energy {e}  verdict {m.verdict}  proof {m.proof['status']}")
        for s in result.saddles:
            click.echo(f"  saddle  support {s.support}  energy {s.energy:.6g}")
        for u in result.unresolved[:10]:
            click.echo(f"  unresolved: {u.get('face', u.get('support', ''))} {u['why']}")
        if len(result.unresolved) > 10:
            click.echo(f"  ... {len(result.unresolved) - 10} more unresolved")
    raise SystemExit(EXIT_OK)
