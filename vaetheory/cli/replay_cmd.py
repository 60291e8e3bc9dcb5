"""``vaetheory replay REPORT.json``: check a counterexample report independently (docs/replay.md)."""
from __future__ import annotations

import click

from vaetheory.cli import EXIT_OK, EXIT_REFUTED, cli
from vaetheory.cli.options import emit_json

_EPILOG = """\b
Exit codes: 0 every stated claim was reproduced; 1 not reproduced (each mismatch names its field); 2 the file is
malformed, too large, names a plug-in that was not passed with --variant, or the plug-in failed.
\b
Examples:
  vaetheory replay reports/examples/vae-full-27dbaa23d6d3.json
  vaetheory replay reports/vae-diag-0123456789ab.json --json
  vaetheory replay reports/my-vae-0123456789ab.json --variant my_vae.py:VARIANT --timeout 120"""


@cli.command("replay", epilog=_EPILOG)
@click.argument("report", type=click.Path(dir_okay=False))
@click.option("--variant", "variant_spec", default=None, metavar="SPEC",
              help="The variant to replay with: a built-in name, or a plug-in (file.py:OBJ, module:OBJ) run in a "
                   "child process under --timeout. Needed for a report of a plug-in: replay never imports code a "
                   "report names.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Time limit for a plug-in given by --variant (import and replay); default 900 s.")
@click.option("--kkt-tol", type=float, default=None,
              help="Tighter first-order tolerance than the suite's (1e-6); looser values are refused.")
@click.option("--hessian-tol", type=float, default=None,
              help="Tighter second-order tolerance than the suite's (1e-8); looser values are refused.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def replay(report, variant_spec, timeout, kkt_tol, hessian_tol, as_json):
    """Check REPORT as a skeptical reviewer would: rebuild its problem and variant, recompute every claim it
    makes (verdict, energy, residuals, support, certificate measures, oracle evidence and k*, interval proof,
    claim status) with this installed suite's own settings, and compare each stated number with the recomputed
    one. Tolerances and proof settings written in the report are never used."""
    from vaetheory.report.replay import ReplaySettings, replay_report

    settings = ReplaySettings(kkt_tol=kkt_tol, hessian_tol=hessian_tol)
    result = replay_report(report, variant=variant_spec, settings=settings, timeout=timeout)
    if as_json:
        emit_json(result.to_dict())
    else:
        status = "reproduced" if result.reproduced else "NOT reproduced: " + "; ".join(result.mismatches)
        proof = result.proof
        click.echo(f"{result.variant}: {result.verdict} (support {result.support}, residual {result.residual:.3g}; "
                   f"optimal {result.optimal_supports}) — {status}"
                   + ("" if proof is None else f"; proof {proof['status']}"
                      + (" (proved from the stored point now: the report stores no proof)"
                         if (proof.get("extra") or {}).get("source") else "")))
    raise SystemExit(EXIT_OK if result.reproduced else EXIT_REFUTED)
