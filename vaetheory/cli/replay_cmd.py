"""``vaetheory replay REPORT.json``: recompute a counterexample's verdict from the report file alone."""
from __future__ import annotations

import click

from vaetheory.cli import EXIT_OK, EXIT_REFUTED, cli
from vaetheory.cli.options import emit_json


@cli.command("replay", epilog="\b\nExamples:\n  vaetheory replay reports/examples/vae-full-27dbaa23d6d3.json\n"
             "  vaetheory replay reports/vae-diag-0123456789ab.json --json")
@click.argument("report", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def replay(report, as_json):
    """Rebuild problem and variant from REPORT, certify its end point at its γ and recompute support, residual
    and oracle. Exit 0 when the stored verdict is reproduced, 1 when it is not, 2 on a bad file."""
    from vaetheory.report.replay import replay_report

    result = replay_report(report)
    if as_json:
        emit_json({"path": str(result.path), "variant": result.variant, "stored_verdict": result.stored_verdict,
                   "verdict": result.verdict, "support": result.support, "residual": result.residual,
                   "optimal_supports": result.optimal_supports, "energy": result.energy,
                   "reproduced": result.reproduced, "mismatches": result.mismatches, "gamma": result.gamma,
                   "limit": result.limit, "reason": result.reason, "proof": result.proof})
    else:
        status = "reproduced" if result.reproduced else "NOT reproduced: " + "; ".join(result.mismatches)
        click.echo(f"{result.variant}: {result.verdict} (support {result.support}, residual {result.residual:.3g}; "
                   f"optimal {result.optimal_supports}) — {status}"
                   + ("" if result.proof is None else f"; proof {result.proof['status']}"
                      + (" (proved from the stored point now: the report stores no proof)"
                         if (result.proof.get("extra") or {}).get("source") else "")))
    raise SystemExit(EXIT_OK if result.reproduced else EXIT_REFUTED)
