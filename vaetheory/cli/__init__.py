"""The `vaetheory` command: a thin layer over the library (see `vaetheory --help`).

Exit codes: 0 success; 1 a claim a variant declares was refuted (or a replay did not reproduce); 2 usage or input
error (one line on stderr, no traceback, nothing half-written); 3 a sweep finished with failed runs or lost tasks
(every other result kept); 130 interrupted (Ctrl-C; only complete reports are
left behind).

Startup cost matters here (every input error and every ``--help`` pays it): this package and the command modules
import only click and numpy-level helpers at import time; torch, scipy.optimize, cvxpy and matplotlib are imported
inside the commands, after the arguments and the input files have been checked.
"""
from __future__ import annotations

import sys

import click

from vaetheory.core.errors import VaetheoryError

EXIT_OK, EXIT_REFUTED, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_error(exc: OSError) -> str:
    """One line for a file-system error: the path(s), then what the system said."""
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    what = exc.strerror or _one_line(exc) or type(exc).__name__
    return f"{where}: {what}" if where else what


class _Group(click.Group):
    """Every user error becomes ONE line ``vaetheory: error: ...`` on stderr and exit code 2: a VaetheoryError
    raised by a command, a file-system error (OSError), running out of memory, a float64 failure of the energy, and
    click's own usage errors (bad option values, unknown commands). Ctrl-C is one line and exit code 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VaetheoryError as exc:
            message = _one_line(exc)
        except OSError as exc:  # the file system refused (read-only --out, a full disk, a path through a file)
            message = _os_error(exc)
        except MemoryError:
            message = ("out of memory; use a smaller problem or fewer --restarts (the limits checked up front are "
                       "estimates: docs/hostile.md)")
        except FloatingPointError as exc:  # float64 could not evaluate the energy at the values given
            message = f"numerical failure: {_one_line(exc)} (a gamma or data scale float64 cannot handle?)"
        click.echo(f"vaetheory: error: {message}", err=True)
        ctx.exit(EXIT_USAGE)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:  # UsageError, BadParameter, NoSuchOption, ...
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            click.echo(f"vaetheory: error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("vaetheory: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # looked up only when asked: importlib.metadata costs about 40 ms, a sixth of `vaetheory --help`
    if not value or ctx.resilient_parsing:
        return
    from vaetheory import __version__

    click.echo(f"vaetheory {__version__}")
    ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli() -> None:
    """Verify loss-landscape claims for sparse VAEs (Wipf, ICML 2023) and capture counterexamples.

    \b
    Typical use:
      vaetheory generate --d 20 --kappa 40 --r 5 --n 20 --seed 0 -o p.npz
      vaetheory oracle p.npz --json
      vaetheory check --variant vae-full --problem p.npz --json
      vaetheory check            # the main job: every built-in variant on the default profile
      python -m vaetheory --version

    Exit codes: 0 success, 1 a declared claim was refuted, 2 usage or input error, 3 a sweep had failed runs,
    130 interrupted.
    """


def register_commands() -> None:
    """Import the command modules (each registers its subcommands on `cli`); cheap: they import no torch."""
    from vaetheory.cli import commands, landscape_cmd, replay_cmd, sweep_cmd, variants_cmd  # noqa: F401


def main() -> None:
    """Console-script entry point (also ``python -m vaetheory``)."""
    register_commands()
    cli.main(prog_name="vaetheory")
