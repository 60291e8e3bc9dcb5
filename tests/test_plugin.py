"""The pytest plugin, run through ``pytester``: it must pass good variants, and FAIL — with the counterexample in
the message — on mutants whose declared claim is false (the house rule for generic properties)."""
from __future__ import annotations

import json
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from vaetheory.variants import registry

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DATA = Path(__file__).resolve().parent / "data"
ONE_SEED = ["--vaetheory-seeds", "1", "-W", "ignore::DeprecationWarning", "-p", "no:cacheprovider"]

# A vae-full copy that keeps C1's claim but replaces log|Σ_x| by the mean-field (Hadamard) bound: vae-diag's energy.
MEANFIELD_MUTANT = """
import dataclasses
from vaetheory.variants.builtin import VAE_FULL
MUTANT = dataclasses.replace(VAE_FULL, covariance="diag", name="meanfield-mutant")
"""
# A vae-full copy whose energy flips the sign of the log-det (KL) term: unbounded below, no minimum to certify.
SIGN_FLIP_MUTANT = """
import dataclasses
from vaetheory.variants.energies import data_term
from vaetheory.variants.builtin import VAE_FULL, CollapsedVAE

@dataclasses.dataclass(frozen=True)
class SignFlip(CollapsedVAE):
    def energy(self, params, Phi, X, gamma):
        fit = data_term(Phi, X, params["nu"], gamma)
        return fit - (CollapsedVAE.energy(self, params, Phi, X, gamma) - fit)  # fit - n log|Sigma_x|

MUTANT = SignFlip("full", "sign-flip-mutant", "vae-full with -n log|Sigma_x|", VAE_FULL.claim)
"""
# vae-full (no bad minima) made to claim that bad minima exist.
FALSE_EXISTENCE = """
import dataclasses
from vaetheory.variants.builtin import VAE_FULL, VAE_DIAG
MUTANT = dataclasses.replace(VAE_FULL, name="false-existence", claim=VAE_DIAG.claim)
"""


def _plugin_args() -> list[str]:
    """Load the plugin explicitly unless pytest autoloads it (vaetheory installed, autoload not disabled)."""
    installed = any(ep.name == "vaetheory" for ep in entry_points(group="pytest11"))
    autoloaded = installed and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return [] if autoloaded else ["-p", "vaetheory.pytest_plugin"]


def _run(pytester, *args: str):
    return pytester.runpytest(*_plugin_args(), *ONE_SEED, *args)


def _variant_file(pytester, source: str) -> str:
    return f"{pytester.makepyfile(mutant=source)}:MUTANT"


def test_meanfield_mutant_is_refuted_with_a_counterexample(pytester):
    result = _run(pytester, "--vaetheory-variant", _variant_file(pytester, MEANFIELD_MUTANT))
    result.assert_outcomes(passed=1, failed=1)  # the import checker passes; the claim fails
    out = result.stdout.str()
    assert "REFUTED: variant 'meanfield-mutant' claims optimal_minima" in out
    assert "counterexample: certified bad_local_min, support [" in out and ", energy " in out
    assert "optimal support(s) [[" in out


def test_sign_flip_mutant_fails_as_vacuous(pytester):
    result = _run(pytester, "--vaetheory-variant", _variant_file(pytester, SIGN_FLIP_MUTANT))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["VACUOUS: variant 'sign-flip-mutant' claims optimal_minima*",
                                 "*no start reached a certified minimum; lowest end point: verdict not_converged*"])


def test_false_existence_claim_fails(pytester):
    result = _run(pytester, "--vaetheory-variant", _variant_file(pytester, FALSE_EXISTENCE))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["NOT FOUND: variant 'false-existence' claims bad_minima_exist*",
                                 "*no certified bad_local_min among 12 restarts*"])


def test_existence_claim_is_confirmed_and_the_counterexample_captured(pytester):
    xml = pytester.path / "junit.xml"
    result = _run(pytester, "--vaetheory-variant", "vae-diag", f"--junitxml={xml}")
    result.assert_outcomes(passed=2)
    text = xml.read_text()
    assert '<property name="counterexample"' in text and "bad_local_min" in text


def test_a_file_variant_gets_the_builtins_verdicts_and_failing_variants_do_not_stop_the_run(pytester):
    reports = pytester.path / "reports"
    broken = DATA / "broken_variant.py"
    result = _run(pytester, "--vaetheory-report-dir", str(reports),
                  "--vaetheory-variant", f"{broken}:RAISES_IN_RUN", "--vaetheory-variant", f"{broken}:NAN_IN_RUN",
                  "--vaetheory-variant", "vae-full", "--vaetheory-variant", f"{DATA / 'my_variant.py'}:VARIANT")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["variant 'raises-in-run' failed during the run on make_problem(8, 16, 3, 6, "
                                 "'orthogonal', seed=0): *energy failed: simulated failure inside the energy"])
    # NaN energies either stop the search (numpy's eigh raises) or end in non-finite end points: both are failures
    result.stdout.re_match_lines([r"variant 'nan-in-run' (failed during the run|returned non-finite energies)"])
    builtin = json.loads((reports / "vae-full-seed0.json").read_text())
    mine = json.loads((reports / "my-msbl-seed0.json").read_text())
    for key in ("summary", "optimal", "conditions"):
        assert mine[key] == builtin[key], key
    assert mine["claim"]["status"] == builtin["claim"]["status"] == "held"
    assert builtin["summary"]["optimal"] > 0


def test_a_broken_variant_fails_its_protocol_item_in_one_line_per_problem(pytester):
    result = _run(pytester, "--vaetheory-variant", f"{DATA / 'broken_variant.py'}:VARIANT")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["variant 'broken-numpy': claim kind 'optimal_minimum' is not one of *",
                                 "variant 'broken-numpy': claim condition 'urp_holds' is unknown *",
                                 "variant 'broken-numpy': energy has no gradient in the parameters *"])
    assert "Traceback" not in result.stdout.str()


def test_nothing_is_added_without_the_option_or_the_ini_switch(pytester):
    pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    assert "vaetheory-variant" not in result.stdout.str()


def test_the_option_alone_runs_only_the_variant_and_markers_deselect_it(pytester):
    pytester.makepyfile(test_a="def test_a():\n    assert False\n")
    result = _run(pytester, "--vaetheory-variant", "ae-l21")  # claim none: protocol item only
    result.assert_outcomes(passed=1, skipped=1)  # test_a.py was not collected
    result = _run(pytester, "--vaetheory-variant", "ae-l21", "test_a.py", "-m", "not vaetheory_variant")
    result.assert_outcomes(failed=1, deselected=2)


@pytest.fixture
def one_entry_point(pytester, monkeypatch):
    pytester.makepyfile(plugin_ep_variants="import dataclasses\nfrom vaetheory.core.protocol import Claim\n"
                                    "from vaetheory.variants.builtin import VAE_FULL\n"
                                    "V = dataclasses.replace(VAE_FULL, name='ep-baseline', claim=Claim('none'))\n")
    monkeypatch.syspath_prepend(str(pytester.path))
    monkeypatch.delitem(sys.modules, "plugin_ep_variants", raising=False)  # a fresh import of this file
    ep = EntryPoint("ep-baseline", "plugin_ep_variants:V", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == ep.group else [])
    pytester.makepyfile(test_a="def test_a():\n    pass\n")


def test_entry_point_variants_join_whole_suite_runs_when_switched_on(pytester, one_entry_point):
    result = _run(pytester, "-o", "vaetheory_entry_point_variants=true", "-v", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*protocol[[]ep-baseline[]] PASSED*", "*declares no claim*"])
    assert "vae-full" not in result.stdout.str()  # built-ins are not re-checked here
    # a run of named test files stays what it was asked to be
    _run(pytester, "-o", "vaetheory_entry_point_variants=true", "test_a.py").assert_outcomes(passed=1)
    _run(pytester).assert_outcomes(passed=1)  # the switch is off by default
