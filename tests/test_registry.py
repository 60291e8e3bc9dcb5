"""Variant lookup: built-in names, entry points, ``module:object`` and ``file.py:object`` specs, descriptions, and
one-line errors for everything that can go wrong."""
from __future__ import annotations

import json
import os
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

import vaetheory.cli.variants_cmd  # noqa: F401  (registers the command)
from vaetheory.verdict.claims import CONDITIONS
from vaetheory.cli import EXIT_OK, EXIT_USAGE, cli
from vaetheory.core.errors import VariantError
from vaetheory.variants import registry
from vaetheory.variants.builtin import BUILTINS, VAE_DIAG
from vaetheory.variants.registry import (ENTRY_POINT_GROUP, available_variants, describe_variant, get_variant,
                                         resolve_variant)

REPO = Path(__file__).resolve().parents[1]
MY_VARIANT = "tests/data/my_variant.py:VARIANT"


@pytest.fixture
def in_repo(monkeypatch):
    """Run from the repository root, so the relative file specs the docs show work as written."""
    monkeypatch.chdir(REPO)


@pytest.fixture
def fake_entry_points(monkeypatch, tmp_path):
    """Replace the installed entry points of the group by a few pointing into a throw-away module."""
    (tmp_path / "ep_variants.py").write_text(
        "import dataclasses\nfrom vaetheory.variants.builtin import VAE_FULL\n"
        "GOOD = dataclasses.replace(VAE_FULL, name='ep-vae')\n"
        "MISNAMED = dataclasses.replace(VAE_FULL, name='something-else')\n")
    (tmp_path / "ep_broken.py").write_text("raise ImportError('this plug-in needs a missing library')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("ep_variants", "ep_broken"):  # fresh imports of the files just written
        monkeypatch.delitem(sys.modules, module, raising=False)
    eps = [EntryPoint("ep-vae", "ep_variants:GOOD", ENTRY_POINT_GROUP),
           EntryPoint("ep-misnamed", "ep_variants:MISNAMED", ENTRY_POINT_GROUP),
           EntryPoint("ep-broken", "ep_broken:VARIANT", ENTRY_POINT_GROUP),
           EntryPoint("vae-full", "ep_variants:GOOD", ENTRY_POINT_GROUP)]  # cannot shadow the built-in

    def fake(group):
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(registry, "entry_points", fake)
    return eps


def _one_line_error(spec: str, *fragments: str) -> str:
    with pytest.raises(VariantError) as info:
        get_variant(spec)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_builtin_names_resolve_to_the_builtins():
    for name, variant in BUILTINS.items():
        assert get_variant(name) is variant
        assert resolve_variant(name)[1].kind == "builtin"
    assert available_variants()[:len(BUILTINS)] == list(BUILTINS)


def test_module_spec_imports_the_object():
    assert get_variant("vaetheory.variants.builtin:VAE_DIAG") is VAE_DIAG
    assert get_variant("vaetheory.variants.builtin:BUILTINS.get") == BUILTINS.get  # dotted attribute paths


def test_file_spec_loads_a_variant_vaetheory_never_saw(in_repo):
    variant, origin = resolve_variant(MY_VARIANT)
    assert variant.name == "my-msbl" and type(variant).__name__ == "MSBL"
    assert origin.kind == "import path" and origin.source == MY_VARIANT
    assert get_variant(MY_VARIANT) is variant  # the file is executed once
    assert get_variant(str(REPO / MY_VARIANT)) is variant  # the same file by another path


def test_file_spec_is_reloaded_when_the_file_changes(tmp_path):
    path = tmp_path / "v.py"
    path.write_text("import dataclasses\nfrom vaetheory.variants.builtin import VAE_FULL\n"
                    "V = dataclasses.replace(VAE_FULL, name='first')\n")
    assert get_variant(f"{path}:V").name == "first"
    path.write_text(path.read_text().replace("first", "second"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert get_variant(f"{path}:V").name == "second"


@pytest.mark.parametrize("spec, fragments", [
    ("no-such-variant", ["unknown variant 'no-such-variant'", "available: vae-full", "module.path:object"]),
    ("no_such_module:X", ["cannot import module 'no_such_module'", "ModuleNotFoundError"]),
    ("vaetheory.variants.builtin:NOPE", ["has no attribute 'NOPE'"]),
    ("vaetheory.variants.builtin:CollapsedVAE", ["is a class", "instance"]),
    ("vaetheory.variants.builtin:1bad", ["expected 'module.path:object' or 'path/to/file.py:object'"]),
    ("missing/file.py:VARIANT", ["variant file 'missing/file.py': no such file"]),
    ("", ["non-empty"]),
])
def test_bad_specs_give_one_line_errors(spec, fragments):
    _one_line_error(spec, *fragments)


def test_a_file_that_fails_to_import_is_one_line(tmp_path):
    (tmp_path / "raises.py").write_text("import numpy\nraise ValueError('line one\\nline two')\n")
    (tmp_path / "syntax.py").write_text("def f(:\n")
    _one_line_error(f"{tmp_path / 'raises.py'}:V", "import failed: ValueError: line one line two")
    _one_line_error(f"{tmp_path / 'syntax.py'}:V", "import failed: SyntaxError")


def test_entry_points_are_listed_and_loaded(fake_entry_points):
    names = available_variants()
    assert names == list(BUILTINS) + ["ep-broken", "ep-misnamed", "ep-vae"]
    variant, origin = resolve_variant("ep-vae")
    assert variant.name == "ep-vae"
    assert origin.kind == "entry point" and origin.source.startswith("ep_variants:GOOD")
    assert get_variant("vae-full") is BUILTINS["vae-full"]  # built-ins cannot be shadowed


def test_entry_point_failures_are_one_line(fake_entry_points):
    _one_line_error("ep-broken", "entry point ep_broken:VARIANT failed to load",
                    "ImportError: this plug-in needs a missing library")
    _one_line_error("ep-misnamed", "loads a variant named 'something-else'", "must match")


def test_describe_gives_claim_conditions_gamma_and_origin(in_repo):
    info = describe_variant("vae-full")
    assert info["name"] == "vae-full"
    assert info["claim"]["kind"] == "optimal_minima"
    assert [c["name"] for c in info["claim"]["conditions"]] == list(BUILTINS["vae-full"].claim.conditions)
    assert all(c["description"] == CONDITIONS[c["name"]][0] for c in info["claim"]["conditions"])
    assert info["gamma"] == {"default": 1e-4, "learnable": True, "floor": 1e-6}
    assert info["origin"]["kind"] == "builtin"
    mine = describe_variant(MY_VARIANT)
    assert mine["origin"] == {"kind": "import path", "source": MY_VARIANT}
    assert mine["claim"]["statement"].startswith("no bad local minima")
    json.dumps(mine)  # JSON-ready


def test_describe_rejects_objects_that_are_not_variants():
    with pytest.raises(VariantError, match="cannot be described: AttributeError"):
        describe_variant("vaetheory.core.errors:VariantError.__doc__")


# --- the CLI: `vaetheory variants` --------------------------------------------------------------------------------

def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cli_lists_every_variant_with_claims(fake_entry_points):
    res = _run("variants", "--json")
    assert res.exit_code == EXIT_USAGE  # two registered entry points are broken ...
    listed = [v["name"] for v in json.loads(res.stdout)]
    assert listed == list(BUILTINS) + ["ep-vae"]  # ... the rest is still listed
    errors = res.stderr.splitlines()
    assert len(errors) == 2 and all(line.startswith("vaetheory: error: variant 'ep-") for line in errors)


def test_cli_describes_a_file_variant_in_text(in_repo):
    res = _run("variants", MY_VARIANT, "vae-diag")
    assert res.exit_code == EXIT_OK, res.output
    assert res.stdout.startswith(f"my-msbl  [import path: {MY_VARIANT}]")
    assert "  claim: optimal_minima - no bad local minima" in res.stdout
    assert f"    if urp: {CONDITIONS['urp'][0]}" in res.stdout
    assert "vae-diag  [builtin" in res.stdout and "claim: bad_minima_exist" in res.stdout


def test_cli_check_reports_each_problem_on_its_own_line(in_repo):
    res = _run("variants", "--check", MY_VARIANT, "tests/data/broken_variant.py:VARIANT")
    assert res.exit_code == EXIT_USAGE
    assert res.stdout.startswith("my-msbl")  # the good one is listed
    lines = res.stderr.splitlines()
    assert len(lines) == 3, res.stderr
    assert all(line.startswith("vaetheory: error: variant 'broken-numpy': ") for line in lines)
    assert "claim kind 'optimal_minimum'" in lines[0]
    assert "claim condition 'urp_holds' is unknown" in lines[1]
    assert "no gradient" in lines[2]
    assert "Traceback" not in res.output


def test_cli_check_runs_a_file_variant_like_the_builtin(in_repo, tmp_path):
    """End to end through `vaetheory check`: the file variant gets vae-full's verdicts; a broken one exits 2."""
    import vaetheory.cli.commands  # noqa: F401  (registers `generate` and `check`)

    problem = tmp_path / "p.npz"
    assert _run("generate", "--d", "8", "--kappa", "16", "--r", "3", "--n", "6", "-o", str(problem)).exit_code == 0
    runs = {}
    for spec in ("vae-full", MY_VARIANT):
        res = _run("check", "--variant", spec, "--problem", str(problem), "--restarts", "8", "--json",
                   "--out", str(tmp_path / "reports"))
        assert res.exit_code == EXIT_OK, res.output
        runs[spec] = json.loads(res.stdout)
    mine, builtin = runs[MY_VARIANT], runs["vae-full"]
    assert mine["variant"] == "my-msbl"
    for key in ("summary", "optimal", "conditions"):
        assert mine[key] == builtin[key], key
    assert mine["claim"]["status"] == builtin["claim"]["status"] == "held"
    res = _run("check", "--variant", "tests/data/broken_variant.py:VARIANT", "--problem", str(problem))
    assert res.exit_code == EXIT_USAGE and res.stdout == ""
    assert res.stderr.startswith("vaetheory: error: variant 'broken-numpy'") and "urp_holds" in res.stderr
    assert "Traceback" not in res.stderr
