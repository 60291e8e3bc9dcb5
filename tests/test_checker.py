"""The import checker: usable variants pass untouched; each way of breaking the protocol gives one precise line."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from vaetheory.core.errors import VariantError
from vaetheory.problems.generate import make_problem
from vaetheory.variants import get_variant
from vaetheory.variants.builtin import BUILTINS, VAE_FULL
from vaetheory.certify.plugin_check import METHODS, check_variant, validate_variant
from vaetheory.core.protocol import Claim, GammaPolicy, ParamSpec

DATA = Path(__file__).resolve().parent / "data"


class Patched:
    """vae-full with some protocol methods replaced by the given functions (same signatures, without self)."""

    def __init__(self, **overrides):
        self.name, self.description, self.claim, self.gamma = "patched", "vae-full, patched", VAE_FULL.claim, \
            VAE_FULL.gamma
        for method in METHODS:
            setattr(self, method, overrides.get(method, getattr(VAE_FULL, method)))


patched = Patched
_full = VAE_FULL.energy


@pytest.mark.parametrize("name", list(BUILTINS))
def test_builtins_pass(name):
    assert check_variant(BUILTINS[name]) == []


def test_a_variant_from_a_separate_file_passes():
    variant = get_variant(f"{DATA / 'my_variant.py'}:VARIANT")
    assert check_variant(variant) == []
    assert validate_variant(variant) is variant


def test_a_given_problem_is_used():
    problem = make_problem(5, 9, 2, 3, seed=1)
    wrong = patched(latent_scales=lambda params: params["nu"][:9])  # right only when κ = 9
    assert check_variant(wrong, problem) == []
    assert "latent_scales must return a tensor of shape (12,)" in check_variant(wrong)[0]


BROKEN = {
    "not a variant at all": (object(), "missing method 'energy'"),
    "name with spaces": (dataclasses.replace(VAE_FULL, name="my vae"), "name must be a non-empty string"),
    "claim kind misspelt": (dataclasses.replace(VAE_FULL, claim=Claim("optimal_minimum")),
                            "claim kind 'optimal_minimum' is not one of optimal_minima, bad_minima_exist, none"),
    "unknown condition": (dataclasses.replace(VAE_FULL, claim=Claim("optimal_minima", ("urp", "spark_ok"))),
                          "claim condition 'spark_ok' is unknown (known: urp, "),
    "conditions as one string": (dataclasses.replace(VAE_FULL, claim=Claim("optimal_minima", "urp")),
                                 "claim conditions must be a tuple of condition names, got 'urp'"),
    "gamma not positive": (dataclasses.replace(VAE_FULL, gamma=GammaPolicy(-1.0)),
                           "gamma policy needs finite default > 0 and floor > 0, got default=-1.0"),
    "gamma floor above default": (dataclasses.replace(VAE_FULL, gamma=GammaPolicy(1e-4, True, 1e-2)),
                                  "gamma policy floor 0.01 is above its default 0.0001"),
    "learnable not a bool": (dataclasses.replace(VAE_FULL, gamma=GammaPolicy(1e-4, "yes", 1e-6)),
                             "gamma policy 'learnable' must be a bool, got 'yes'"),
    "learned-gamma claim, fixed gamma": (
        dataclasses.replace(VAE_FULL, claim=Claim("optimal_minima", ("learned_gamma",)),
                            gamma=GammaPolicy(1e-4, False, 1e-4)),
        "claim is conditioned on 'learned_gamma' but the gamma policy is not learnable"),
    "param_specs not ParamSpec": (patched(param_specs=lambda d, k, n: {"nu": (k,)}),
                                  "param_specs entry 'nu' must map a string to a ParamSpec, got tuple"),
    "param_specs raises": (patched(param_specs=lambda d, k, n: 1 / 0),
                           "param_specs(d, kappa, n) raised ZeroDivisionError: division by zero"),
    "init_random wrong shape": (patched(init_random=lambda p, rng, size: {"nu": np.ones((size, p.kappa + 1))}),
                                "init_random: parameter 'nu' has shape (2, 13), expected (2, 12)"),
    "init_from_support missing parameter": (patched(init_from_support=lambda p, masks, gamma: {}),
                                            "init_from_support: missing parameter 'nu'"),
    "init with an undeclared parameter": (
        patched(init_random=lambda p, rng, size: {"nu": np.ones((size, p.kappa)), "w": np.ones(size)}),
        "init_random: undeclared parameter(s) 'w'"),
    "init negative": (patched(init_random=lambda p, rng, size: {"nu": -np.ones((size, p.kappa))}),
                      "init_random: returned negative values for a parameter declared nonneg"),
    "energy a vector": (patched(energy=lambda params, Phi, X, g: params["nu"] * 1.0),
                        "energy must return a 0-d float64 tensor, got dtype torch.float64 shape (12,)"),
    "energy float32": (patched(energy=lambda *a: _full(*a).float()),
                       "energy must return a 0-d float64 tensor, got dtype torch.float32 shape ()"),
    "energy a float": (patched(energy=lambda *a: float(_full(*a).detach())),
                       "energy must return a torch.Tensor, got float"),
    "energy not finite": (patched(energy=lambda *a: _full(*a) + torch.inf),
                          "energy is not finite (inf) at a start from init_random"),
    "energy detached": (patched(energy=lambda *a: _full(*a).detach()),
                        "energy has no gradient in the parameters"),
    "energy raises": (patched(energy=lambda *a: torch.linalg.solve(torch.zeros(3, 3), torch.ones(3))),
                      "energy raised LinAlgError: torch.linalg.solve: The solver failed because the input matrix is "
                      "singular"),
    "gradient infinite at the support starts": (
        patched(energy=lambda params, Phi, X, g: _full(params, Phi, X, g) + params["nu"].sqrt().sum()),
        "energy or its gradient is not finite under vmap at a start from init_from_support"),
    "gamma learnable but unused": (
        patched(energy=lambda params, Phi, X, g: _full(params, Phi, X, torch.tensor(1e-4,
                                                                                                 dtype=torch.float64))),
        "gamma is learnable but the energy has no finite gradient in gamma"),
    "calls .item()": (patched(energy=lambda *a: _full(*a) + a[0]["nu"].sum().item()),
                      "not vmap-compatible (the search evaluates batches with torch.func.vmap): RuntimeError: "
                      "energy failed: vmap: It looks like you're either (1) calling .item()"),
    "energy with wrong batched Hessians": (
        patched(energy=lambda params, Phi, X, g: X.shape[1] * torch.linalg.slogdet(
            g * torch.eye(Phi.shape[0], dtype=Phi.dtype) + (Phi * params["nu"]) @ Phi.T)[1] + X.square().sum() / g),
        "Hessian under vmap differs from plain autograd"),
    "latent_scales wrong shape": (patched(latent_scales=lambda params: params["nu"][:3]),
                                  "latent_scales must return a tensor of shape (12,), got (3,)"),
    "latent_scales negative": (patched(latent_scales=lambda params: -params["nu"]),
                               "latent_scales returned non-finite or negative values"),
    "representation transposed": (
        patched(representation=lambda *a: VAE_FULL.representation(*a).T),
        "representation must return a tensor of shape (12, 4), got (4, 12)"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_variant_gets_one_precise_line(case):
    variant, expected = BROKEN[case]
    problems = check_variant(variant)
    assert problems, f"{case}: accepted"
    assert all("\n" not in p and p.startswith("variant ") for p in problems)
    assert any(expected in p for p in problems), problems
    assert len(problems) == len(set(problems))


def test_validate_joins_every_problem_into_one_error():
    variant = get_variant(f"{DATA / 'broken_variant.py'}:VARIANT")
    with pytest.raises(VariantError) as info:
        validate_variant(variant)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("variant 'broken-numpy' is not usable: claim kind 'optimal_minimum'")
    assert message.count("; ") == 2 and "'urp_holds' is unknown" in message and "no gradient" in message
    assert info.value.problems == check_variant(variant)
    assert len(info.value.problems) == 3


def test_checks_leave_the_variant_usable_afterwards():
    # the checker must not change the process's torch thread setting or the variant
    threads = torch.get_num_threads()
    before = dataclasses.asdict(VAE_FULL)
    assert check_variant(VAE_FULL) == []
    assert torch.get_num_threads() == threads
    assert dataclasses.asdict(VAE_FULL) == before


def test_param_shapes_must_be_positive_ints():
    bad = patched(param_specs=lambda d, k, n: {"nu": ParamSpec((k, 0), nonneg=True)})
    assert "parameter 'nu': shape must be a tuple of positive ints, got (12, 0)" in check_variant(bad)[0]
