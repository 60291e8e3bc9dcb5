"""Broken theory variants for the import checker's tests (every one should be rejected with one-line errors).

VARIANT: a misspelt claim kind, an unknown condition, and an energy computed in numpy (no gradient).
RAISES_IN_RUN / NAN_IN_RUN: pass the import checker (κ = 12), then raise / return NaN on the run's problems.
"""
from __future__ import annotations

import dataclasses

import torch

from vaetheory.variants.builtin import VAE_FULL, CollapsedVAE
from vaetheory.core.protocol import Claim


@dataclasses.dataclass(frozen=True)
class NumpyEnergy(CollapsedVAE):
    def energy(self, params, Phi, X, gamma):
        value = super().energy(params, Phi, X, gamma).detach().numpy()  # leaves torch: no gradient
        return torch.tensor(float(value), dtype=torch.float64)


VARIANT = NumpyEnergy("full", "broken-numpy", "vae-full computed through numpy",
                      Claim("optimal_minimum", ("urp", "urp_holds"), "misspelt kind, unknown condition"))


@dataclasses.dataclass(frozen=True)
class FailsInRun(CollapsedVAE):
    """Fine on the import checker's tiny problem (κ = 12); on larger ones it raises, or returns NaN."""

    failure: str = "raise"

    def energy(self, params, Phi, X, gamma):
        if Phi.shape[1] < 16:
            return super().energy(params, Phi, X, gamma)
        if self.failure == "raise":
            raise RuntimeError("simulated failure inside the energy")
        return super().energy(params, Phi, X, gamma) * torch.nan


RAISES_IN_RUN = FailsInRun("full", "raises-in-run", "vae-full that raises when kappa >= 16", VAE_FULL.claim)
NAN_IN_RUN = FailsInRun("full", "nan-in-run", "vae-full that returns NaN when kappa >= 16", VAE_FULL.claim,
                        failure="nan")
