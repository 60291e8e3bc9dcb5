"""Mutation test: a deliberately broken vae-full makes property P1 fail, and the failure leaves a captured,
replayable counterexample behind. If P1 passed here, the property could not detect a wrong energy."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import Phase, example, given, settings

from vaetheory.core.errors import InputError
from vaetheory.verdict.check import analyse_problem, run_check
from vaetheory.variants.energies import data_term
from vaetheory.problems.generate import make_problem
from vaetheory.report.counterexample import load_report, replay_report
from vaetheory.problems.strategies import c1_problems
from vaetheory.variants.builtin import VAE_FULL, CollapsedVAE

_SUPPORT = Path(__file__).resolve().parents[1] / "properties" / "_support.py"


def _load_support():
    spec = importlib.util.spec_from_file_location("vaetheory_properties_support", _SUPPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class DiagonalLogDetVAE(CollapsedVAE):
    """The bug: log|Σ_x| computed from the diagonal of Σ_x only (so the log-det/KL term loses the coupling between
    latent dimensions), while still declaring vae-full's claim C1."""

    def energy(self, params, Phi, X, gamma):
        nu = params["nu"]
        diag = gamma + (Phi * Phi * nu).sum(1)
        return X.shape[1] * torch.log(diag).sum() + data_term(Phi, X, nu, gamma)


MUTANT = DiagonalLogDetVAE("full", "vae-full-mutant", "vae-full with a diagonal log-det (deliberate bug)",
                           VAE_FULL.claim)
MUTANT_SPEC = f"{Path(__file__).resolve()}:MUTANT"
#: Measured: the mutant ends at certified bad minima on this problem (C1's conditions hold on it).
PROBLEM = make_problem(6, 10, 2, 4, "orthogonal", seed=2)


def test_p1_catches_the_mutant_and_captures_a_replayable_counterexample(tmp_path):
    support = _load_support()

    @settings(phases=[Phase.explicit], database=None, deadline=None)
    @given(problem=c1_problems())
    @example(problem=PROBLEM)
    def p1_on_mutant(problem):
        analysis = analyse_problem(problem)
        result = run_check(problem, MUTANT, restarts=8, seed=0, analysis=analysis, adversarial_fraction=0.5)
        support.assert_all_minima_optimal(result, spec=MUTANT_SPEC, out_dir=tmp_path)

    with pytest.raises(AssertionError, match="certified bad local minima"):
        p1_on_mutant()
    reports = sorted(tmp_path.glob("vae-full-mutant-*.json"))
    assert reports
    data = load_report(reports[0])
    assert data["variant"]["spec"] == MUTANT_SPEC and data["variant"]["claim"]["status"] == "refuted"
    replay = replay_report(reports[0], variant=MUTANT)
    assert replay.reproduced, replay.mismatches
    # the report names a plug-in: replay never imports code a report names (issue 20) ...
    with pytest.raises(InputError, match="never runs code a report names"):
        replay_report(reports[0])
    # ... the reviewer names it, and it runs in a child process under a time limit
    assert replay_report(reports[0], variant=MUTANT_SPEC, timeout=300).reproduced
    # the same point is not a minimum of the correct energy: replaying it as vae-full does not reproduce
    assert not replay_report(reports[0], variant=VAE_FULL).reproduced


def test_p1_passes_on_the_correct_variant_for_the_same_problem(tmp_path):
    support = _load_support()
    result = run_check(PROBLEM, VAE_FULL, restarts=8, seed=0, adversarial_fraction=0.5)
    support.assert_all_minima_optimal(result, out_dir=tmp_path)
    assert not list(tmp_path.glob("*.json"))
