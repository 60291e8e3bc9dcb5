"""Mutation tests for the learned-γ properties (properties/test_p6_learned_gamma.py): a VAE whose γ-gradient is
dropped (the energy's value is right, but γ enters the log terms through ``detach``, so ∂E/∂γ is wrong) makes both
P6 properties fail with a counterexample problem. (On the same problem the correct variants leave no point
undecided: measured, 8/8 optimal for vae-full and 6 optimal / 2 bad for vae-diag; the properties themselves run on
the correct variants.)"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import Phase, example, given, settings

from vaetheory.problems.generate import make_problem
from vaetheory.problems.strategies import c1_problems
from vaetheory.variants.builtin import VAE_DIAG, VAE_FULL, CollapsedVAE
from vaetheory.variants.energies import _chol_terms

PROPERTIES = Path(__file__).resolve().parents[1] / "properties"
#: Measured: both mutants leave every learned-γ point undecided on this problem (C1's conditions hold on it).
PROBLEM = make_problem(5, 9, 2, 4, "orthogonal", 0)


@dataclass(frozen=True)
class GammaGradDroppedVAE(CollapsedVAE):
    """The bug: the log-det / log terms see γ through ``detach`` — right energy values, γ-gradient only from the data
    term (as if γ were a constant in the KL part)."""

    def energy(self, params, Phi, X, gamma):
        nu, g0 = params["nu"], gamma.detach()
        d, kappa = Phi.shape
        n = X.shape[1]
        logdet, _ = _chol_terms(Phi, X, nu, g0)
        _, fit = _chol_terms(Phi, X, nu, gamma)
        if self.covariance == "full":
            return n * logdet + fit
        c = (Phi * Phi).sum(0)
        return fit + n * torch.log(g0 + nu * c).sum() + n * (d - kappa) * torch.log(g0)


def _mutant(base):
    return GammaGradDroppedVAE(base.covariance, f"{base.name}-gamma-mutant", f"{base.name} with its gamma-gradient "
                               "dropped (deliberate bug)", base.claim, learned_gamma_claim=base.learned_gamma_claim)


def _load_p6(monkeypatch):
    monkeypatch.syspath_prepend(str(PROPERTIES))
    spec = importlib.util.spec_from_file_location("vaetheory_p6", PROPERTIES / "test_p6_learned_gamma.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("base, prop", [(VAE_FULL, "p6_vae_full"), (VAE_DIAG, "p6_vae_diag")],
                         ids=["vae-full", "vae-diag"])
def test_p6_catches_a_dropped_gamma_gradient(base, prop, monkeypatch, tmp_path):
    p6 = _load_p6(monkeypatch)
    body = getattr(p6, prop)
    mutant = _mutant(base)

    @settings(phases=[Phase.explicit], database=None, deadline=None)
    @given(problem=c1_problems())
    @example(problem=PROBLEM)
    def on_mutant(problem):
        body(problem, variant=mutant, out_dir=tmp_path)

    with pytest.raises(AssertionError, match="learned-gamma points not converged") as info:
        on_mutant()
    assert "d=5 kappa=9" in str(info.value)  # the counterexample problem is named
