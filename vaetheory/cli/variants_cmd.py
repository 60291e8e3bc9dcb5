"""``vaetheory variants``: list known variants (or describe given specs) with their claims and conditions."""
from __future__ import annotations

import click

from vaetheory.core.errors import VariantError
from vaetheory.variants.registry import available_variants, describe_variant, get_variant
from vaetheory.cli import EXIT_OK, EXIT_USAGE, cli
from vaetheory.cli.options import emit_json


def _text(info: dict) -> list[str]:
    claim, gamma = info["claim"], info["gamma"]
    learn = f"learnable down to {gamma['floor']:g}" if gamma["learnable"] else "fixed"
    lines = [f"{info['name']}  [{info['origin']['kind']}: {info['origin']['source']}]",
             f"  {info['description']}",
             f"  claim: {claim['kind']}" + (f" - {claim['statement']}" if claim["statement"] else ""),
             *(f"    if {c['name']}: {c['description']}" for c in claim["conditions"]),
             f"  gamma: default {gamma['default']:g}, {learn}"]
    lc = info.get("learned_gamma_claim")
    if lc:
        lines += [f"  claim with gamma learned: {lc['kind']}" + (f" - {lc['statement']}" if lc["statement"] else ""),
                  *(f"    if {c['name']}: {c['description']}" for c in lc["conditions"])]
    return lines


@cli.command("variants", epilog="\b\nExamples:\n  vaetheory variants\n  vaetheory variants vae-diag --json\n"
             "  vaetheory variants path/to/my_variant.py:VARIANT --check")
@click.argument("specs", nargs=-1, metavar="[SPEC]...")
@click.option("--check", "run_checks", is_flag=True,
              help="Also run the import checker on each variant (problems: one error line each, exit 2).")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout (a list, one object per variant).")
def variants(specs, run_checks, as_json):
    """List every known variant (built-ins, then entry points of installed packages), or describe the given SPECs:
    a name, 'module.path:object' or 'path/to/file.py:object'.

    Each variant is shown with its claim, the conditions it is claimed under and its gamma policy. A variant that
    cannot be loaded (or, with --check, fails a check) is reported as `vaetheory: error: ...` on stderr; the others
    are still listed, and the exit code is 2.
    """
    described, errors = [], []
    for spec in specs or available_variants():
        try:
            info = describe_variant(spec)
            if run_checks:
                from vaetheory.certify.plugin_check import validate_variant  # torch: only when asked for

                validate_variant(get_variant(spec))
        except VariantError as exc:
            errors += getattr(exc, "problems", [str(exc)])
            continue
        described.append(info)
    if as_json:
        emit_json(described)
    else:
        for info in described:
            click.echo("\n".join(_text(info)))
    for line in errors:
        click.echo(f"vaetheory: error: {line}", err=True)
    raise SystemExit(EXIT_USAGE if errors else EXIT_OK)
