"""The `vaetheory` command: a thin layer over the library (see `vaetheory --help`).

Exit codes: 0 success; 1 a claim a variant declares was refuted (or a replay did not reproduce); 2 usage or input
error (one line on stderr, no traceback, nothing half-written).
"""
from __future__ import annotations

import sys

import click

from vaetheory.core.errors import VaetheoryError

EXIT_OK, EXIT_REFUTED, EXIT_USAGE = 0, 1, 2


class _Group(click.Group):
    """Turns every VaetheoryError raised by a command into a one-line message and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VaetheoryError as exc:
            click.echo(f"vaetheory: error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="vaetheory")
def cli() -> None:
    """Verify loss-landscape claims for sparse VAEs (Wipf, ICML 2023) and capture counterexamples.

    \b
    Typical use:
      vaetheory generate --d 20 --kappa 40 --r 5 --n 20 --seed 0 -o p.npz
      vaetheory oracle p.npz --json
      vaetheory check --variant vae-full --problem p.npz --json
      vaetheory check            # the main job: every built-in variant on the default profile

    Exit codes: 0 success, 1 a declared claim was refuted, 2 usage or input error.
    """


def main() -> None:
    """Console-script entry point."""
    from vaetheory.cli import commands, replay_cmd, variants_cmd  # noqa: F401  (registers the subcommands)

    sys.exit(cli.main(standalone_mode=True))
