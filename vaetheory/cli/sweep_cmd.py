"""``vaetheory sweep``: run a TOML grid of problems × variants × γ modes on Dask, and summarise it.

``sweep`` is a group with two subcommands, ``run`` and ``report``; ``vaetheory sweep SPEC.toml --out DIR`` (no
subcommand) means ``vaetheory sweep run SPEC.toml --out DIR``. dask, pyarrow, duckdb and matplotlib are imported
inside the commands, after the arguments and the spec are checked.
"""
from __future__ import annotations

from pathlib import Path

import click

from vaetheory.cli import EXIT_FAILED, EXIT_OK, cli
from vaetheory.cli.options import limit_scale_option, positive_float, progress_enabled, writable_folder


def _examples(*lines: str) -> str:
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


class _DefaultRun(click.Group):
    """A group whose first argument, when it is not a subcommand (nor --help), is the spec of an implied ``run``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


_SWEEP_EXAMPLES = _examples(
    "vaetheory sweep specs/tiny.toml --out runs/tiny",
    "vaetheory sweep specs/learned-gamma.toml --out runs/lg --workers 2",
    "vaetheory sweep report runs/tiny",
    "",
    "on a cluster started from the command line (here on one machine; workers elsewhere need no shared disk):",
    "  dask scheduler --host 127.0.0.1 --port 8786",
    "  dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1",
    "  vaetheory sweep specs/tiny.toml --out runs/tiny --scheduler tcp://127.0.0.1:8786")


@cli.group("sweep", cls=_DefaultRun, epilog=_SWEEP_EXAMPLES)
def sweep() -> None:
    """Run a grid of checks on Dask and summarise it (docs/sweeps.md).

    `vaetheory sweep SPEC.toml --out DIR` is short for `vaetheory sweep run SPEC.toml --out DIR`.
    """


@sweep.command("run", epilog=_SWEEP_EXAMPLES)
@click.argument("spec_path", metavar="SPEC.toml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Sweep folder (created; an existing one of the same spec is resumed).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the embedded LocalCluster (1 thread each; default: one per core).")
@click.option("--scheduler", default=None, metavar="ADDR",
              help="Use an existing Dask cluster, e.g. tcp://127.0.0.1:8786, instead of a LocalCluster.")
@click.option("--timeout", type=float, default=None, callback=positive_float,
              help="Time limit in seconds for each variant on each task (its import and all its gamma modes; "
                   "overrides the spec's timeout). Plug-ins always run in a child process, with a default limit of "
                   "900 s; with a limit, built-ins do too.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@limit_scale_option
def run_cmd(spec_path, out_dir, workers, scheduler, timeout, no_progress, limit_scale):
    """Run every task (grid cell × problem) of SPEC.toml not yet finished in DIR, write one Parquet file per task
    under DIR/results/ and counterexample reports under DIR/reports/. Re-running the same command adds nothing;
    a sweep killed midway completes. The progress bar shows tasks done / total and the verdict counts.

    Exit code 3 when a run failed or timed out (its rows say verdict "error" and name the variant; every other
    row is kept; DIR/errors.jsonl lists them) or the cluster lost a task (retried by the next run)."""
    from dataclasses import replace

    from vaetheory.core.errors import InputError
    from vaetheory.sweep.spec import load_spec

    if workers is not None and scheduler is not None:
        raise InputError("give --workers or --scheduler, not both (an existing cluster has its own workers)")
    spec = load_spec(spec_path)
    if timeout is not None:
        spec = replace(spec, timeout=timeout)
    _check_sizes(spec, limit_scale)
    from vaetheory.sweep.run import check_scheduler, run_sweep

    if scheduler is not None:
        check_scheduler(scheduler)
    writable_folder(out_dir)
    result = run_sweep(spec, Path(spec_path).read_text(encoding="utf-8"), out_dir, workers=workers,
                       scheduler=scheduler, progress=not no_progress and progress_enabled(False))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.verdicts.items())) or "no new rows"
    click.echo(f"sweep {spec.name}: {result.total} tasks, {result.skipped} already done, {result.ran} run now"
               + (f", {result.failed} with failed runs (error rows; see {out_dir}/errors.jsonl)"
                  if result.failed else "")
               + (f", {result.lost} lost (retried next run; see {out_dir}/errors.jsonl)" if result.lost else "")
               + f"; {result.rows} rows ({counts}) in {result.seconds:.1f} s"
               + (f" on {result.cluster}" if result.cluster else "") + f" -> {out_dir}/results/", err=True)
    raise SystemExit(EXIT_FAILED if result.failed or result.lost else EXIT_OK)


def _check_sizes(spec, scale: float) -> None:
    """Every grid cell within the resource limits of `vaetheory.core.limits` (the oracle method, the condition
    report, the restarts against this machine's memory), before a cluster starts: one line naming the cell."""
    from vaetheory.core import limits
    from vaetheory.core.errors import VaetheoryError

    for cell in spec.cells():
        try:
            limits.check_oracle_size(spec.oracle, cell.d, cell.kappa, cell.n, scale=scale)
            limits.check_conditions_size(cell.kappa, scale=scale)
            limits.check_restarts(spec.restarts, cell.d, cell.kappa, cell.n, scale=scale)
        except VaetheoryError as exc:
            raise type(exc)(f"{spec.source}: grid cell {cell.label()}: {exc}") from None


@sweep.command("report", epilog=_examples("vaetheory sweep report runs/tiny",
                                          "vaetheory sweep report runs/lg --x r --y n"))
@click.argument("sweep_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--x", "x_axis", default=None, help="Grid axis along the figures' x (default: first varying axis).")
@click.option("--y", "y_axis", default=None,
              help="Grid axis along the heat maps' y (default: the next one; giving it draws heat maps).")
def report_cmd(sweep_dir, x_axis, y_axis):
    """Summarise the sweep in DIR with DuckDB: per grid cell × variant × γ mode, the share of bad end points and
    the recovery rate (Wilson 95 % intervals), written to DIR/summary.md, and figures DIR/rates*.png: line plots
    when the grid has one varying axis, else heat maps over --x and --y (one panel per variant × γ mode)."""
    from vaetheory.core.errors import InputError
    from vaetheory.sweep.report import write_summary
    from vaetheory.sweep.store import RESULTS, unreadable_results

    if not Path(sweep_dir).is_dir():
        raise InputError(f"{sweep_dir}: no such folder")
    bad = unreadable_results(Path(sweep_dir) / RESULTS)
    if bad:
        path, why = next(iter(bad.items()))
        raise InputError(f"{path}: not a readable result file ({why}); {len(bad)} such file(s): run `vaetheory sweep "
                         f"run SPEC.toml --out {sweep_dir}` again, which redoes their tasks")
    out = write_summary(sweep_dir, x=x_axis, y=y_axis)
    click.echo(f"{out.n_rows} rows -> {out.summary}" + "".join(f", {p}" for p in out.figures), err=True)
    raise SystemExit(EXIT_OK)
