"""The import checker: is an object a usable theory variant? Run it before a search, not after an hour of one.

`check_variant` returns every problem it finds, one line each (empty list: the variant is usable);
`validate_variant` raises a VariantError carrying them. The checks, in order (later ones need earlier ones):

1. attributes: ``name`` (an identifier-like string), ``description``, ``claim``, ``gamma`` and the six methods;
2. the claim: kind in ``CLAIM_KINDS``, conditions a tuple of names known to ``vaetheory.core.protocol.CONDITION_DESCRIPTIONS``;
   the γ policy: finite default and floor > 0, floor ≤ default, ``learnable`` a bool;
3. ``param_specs`` is a non-empty mapping of names to ``ParamSpec`` with positive integer shapes;
4. ``init_random`` and ``init_from_support`` give finite arrays of the declared shapes (``ParamLayout.pack``),
   non-negative where declared;
5. on one point: the energy is a finite float64 0-d tensor with a finite gradient in the parameters (and in γ when
   γ is learnable); ``latent_scales`` is (κ,) finite ≥ 0; ``representation`` is (κ, n) finite;
6. batched, exactly as the search and the certificate call it (``Objective.value_and_grad`` and
   ``Objective.active_hessian`` under ``vmap``) on a batch of four points, agreeing with plain autograd on
   energies, gradients and Hessians (some torch ops have wrong batching rules for Hessian-vector products);
7. the optional closed-form hook ``value_and_grad_batch``, when present, agreeing with autograd of ``energy`` on
   energies, gradients and (γ learnable) ∂E/∂γ (`hook_disagreement`); with γ learnable, the optional
   ``gamma_curvature_batch`` likewise, second derivatives in γ included (`curvature_disagreement`).

Everything runs on a tiny generated problem (d=6, κ=12, r=2, n=4) unless one is given: well under a second.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping

import numpy as np
import torch

from vaetheory.core.threads import single_threaded
from vaetheory.core.errors import VariantError
from vaetheory.problems.problem import Problem
from vaetheory.core.protocol import CLAIM_KINDS, CONDITION_DESCRIPTIONS, ParamLayout, ParamSpec
from vaetheory.variants.registry import one_line

METHODS = ("param_specs", "energy", "init_random", "init_from_support", "latent_scales", "representation")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
#: Relative disagreement allowed between batched (vmap) and plain-autograd energies, gradients and Hessians.
VMAP_RTOL = 1e-7
#: Relative disagreement allowed between a ``value_and_grad_batch`` hook and autograd (`hook_disagreement`).
HOOK_RTOL = 1e-7


@lru_cache(maxsize=1)
def tiny_problem() -> Problem:
    """The problem every check runs on by default: make_problem(6, 12, 2, 4, seed=0)."""
    from vaetheory.problems.generate import make_problem  # lazy: generate is only needed when no problem is given

    return make_problem(6, 12, 2, 4, seed=0)


def _label(variant) -> str:
    name = getattr(variant, "name", None)
    return repr(name) if isinstance(name, str) and name else f"<{type(variant).__name__} object>"


def _attribute_problems(variant) -> list[str]:
    out = []
    name = getattr(variant, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        out.append(f"name must be a non-empty string of letters, digits and _.+- (no spaces), got {name!r}")
    if not isinstance(getattr(variant, "description", None), str):
        out.append("missing attribute 'description' (a one-line string)")
    for attr in ("claim", "gamma"):
        if not hasattr(variant, attr):
            out.append(f"missing attribute {attr!r}")
    out += [f"missing method {m!r}" for m in METHODS if not callable(getattr(variant, m, None))]
    return out


def _claim_problems(claim, gamma) -> list[str]:

    out = []
    kind = getattr(claim, "kind", None)
    if kind not in CLAIM_KINDS:
        out.append(f"claim kind {kind!r} is not one of {', '.join(CLAIM_KINDS)}")
    conditions = getattr(claim, "conditions", None)
    if isinstance(conditions, str) or not isinstance(conditions, (tuple, list)):
        out.append(f"claim conditions must be a tuple of condition names, got {conditions!r}")
        conditions = ()
    for c in conditions:
        if c not in CONDITION_DESCRIPTIONS:
            out.append(f"claim condition {c!r} is unknown (known: {', '.join(CONDITION_DESCRIPTIONS)})")
    if not isinstance(getattr(claim, "statement", None), str):
        out.append("claim statement must be a string")
    default, floor = getattr(gamma, "default", None), getattr(gamma, "floor", None)
    learnable = getattr(gamma, "learnable", None)
    numbers_ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v > 0
                     for v in (default, floor))
    if not numbers_ok:
        out.append(f"gamma policy needs finite default > 0 and floor > 0, got default={default!r}, floor={floor!r}")
    elif floor > default:
        out.append(f"gamma policy floor {floor:g} is above its default {default:g}")
    if not isinstance(learnable, bool):
        out.append(f"gamma policy 'learnable' must be a bool, got {learnable!r}")
    elif "learned_gamma" in conditions and not learnable:
        out.append("claim is conditioned on 'learned_gamma' but the gamma policy is not learnable")
    return out


def _layout(variant, problem: Problem) -> tuple[ParamLayout | None, list[str]]:
    try:
        specs = variant.param_specs(problem.d, problem.kappa, problem.n)
    except Exception as exc:
        return None, [f"param_specs(d, kappa, n) raised {one_line(exc)}"]
    if not isinstance(specs, Mapping) or not specs:
        return None, [f"param_specs must return a non-empty mapping of names to ParamSpec, got {type(specs).__name__}"]
    out = []
    for name, spec in specs.items():
        if not isinstance(name, str) or not isinstance(spec, ParamSpec):
            out.append(f"param_specs entry {name!r} must map a string to a ParamSpec, got {type(spec).__name__}")
        elif not (isinstance(spec.shape, tuple)
                  and all(isinstance(s, (int, np.integer)) and s >= 1 for s in spec.shape)):
            out.append(f"parameter {name!r}: shape must be a tuple of positive ints, got {spec.shape!r}")
    return (None, out) if out else (ParamLayout.from_specs(specs), [])


def _starts(variant, problem: Problem, layout: ParamLayout) -> tuple[np.ndarray | None, list[str]]:
    """(4, P) starting points: two from init_random, two from init_from_support (planted support, first d)."""
    masks = np.zeros((2, problem.kappa), dtype=bool)
    masks[0, list(problem.support or range(min(problem.d, problem.kappa)))] = True
    masks[1, :problem.d] = True
    calls = {"init_random": lambda: variant.init_random(problem, np.random.default_rng(0), 2),
             "init_from_support": lambda: variant.init_from_support(problem, masks, variant.gamma.default)}
    out, parts = [], []
    for method, call in calls.items():
        try:
            params = call()
            if not isinstance(params, Mapping):
                raise TypeError(f"returned {type(params).__name__}, expected a dict of arrays")
            extra = sorted(set(params) - set(layout.names))
            if extra:
                raise ValueError(f"undeclared parameter(s) {', '.join(map(repr, extra))}")
            theta = layout.pack(params, 2)
        except Exception as exc:
            out.append(f"{method}: {' '.join(str(exc).split())}")
            continue
        if not np.all(np.isfinite(theta)):
            out.append(f"{method}: returned non-finite values")
        elif np.any(theta[:, layout.nonneg] < 0):
            out.append(f"{method}: returned negative values for a parameter declared nonneg")
        else:
            parts.append(theta)
    return (np.concatenate(parts) if not out else None), out


def _point_problems(variant, problem: Problem, layout: ParamLayout, theta: np.ndarray) -> list[str]:
    """Energy, gradients, latent scales and representation at one point, unbatched."""
    Phi, X = torch.from_numpy(np.array(problem.Phi)), torch.from_numpy(np.array(problem.X))
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    gamma = torch.tensor(float(variant.gamma.default), dtype=torch.float64, requires_grad=True)
    params = layout.unpack(th)
    try:
        E = variant.energy(params, Phi, X, gamma)
    except Exception as exc:
        return [f"energy raised {one_line(exc)}"]
    if not isinstance(E, torch.Tensor):
        return [f"energy must return a torch.Tensor, got {type(E).__name__}"]
    if E.dtype != torch.float64 or E.ndim != 0:
        return [f"energy must return a 0-d float64 tensor, got dtype {E.dtype} shape {tuple(E.shape)}"]
    if not torch.isfinite(E):
        return [f"energy is not finite ({float(E.detach())}) at a start from init_random"]
    if not E.requires_grad:
        return ["energy has no gradient in the parameters (detached, or computed outside torch?)"]
    out = []
    g_theta, g_gamma = torch.autograd.grad(E, (th, gamma), allow_unused=True)
    if g_theta is None or not torch.all(torch.isfinite(g_theta)):
        out.append("gradient of the energy in the parameters is missing or not finite at a start from init_random")
    if variant.gamma.learnable and (g_gamma is None or not torch.isfinite(g_gamma)):
        out.append("gamma is learnable but the energy has no finite gradient in gamma")
    with torch.no_grad():
        for method, shape, args in (("latent_scales", (problem.kappa,), (params,)),
                                    ("representation", (problem.kappa, problem.n), (params, Phi, X, gamma))):
            try:
                value = getattr(variant, method)(*args)
            except Exception as exc:
                out.append(f"{method} raised {one_line(exc)}")
                continue
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                out.append(f"{method} must return a tensor of shape {shape}, got {got}")
            elif not torch.all(torch.isfinite(value)) or (method == "latent_scales" and torch.any(value < 0)):
                out.append(f"{method} returned non-finite{' or negative' * (method == 'latent_scales')} values")
    return out


def _reference_derivatives(variant, objective, theta: np.ndarray, gamma: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy, gradient and Hessian at one point by plain autograd: no vmap anywhere (the reference)."""
    def energy(th: torch.Tensor) -> torch.Tensor:
        return variant.energy(objective.layout.unpack(th), objective.Phi, objective.X,
                              torch.tensor(gamma, dtype=torch.float64))

    E, g, _ = objective.reference_value_and_grad(theta, gamma)
    H = torch.autograd.functional.hessian(energy, torch.tensor(theta, dtype=torch.float64))
    return E, g, H.numpy()


def _batched_problems(variant, problem: Problem, theta: np.ndarray) -> list[str]:
    """The search's and the certificate's own calls (vmap over a batch of points, Hessian-vector products under
    nested vmap), compared point by point with plain autograd. The comparison matters: in torch 2.13 the
    Hessian-vector products of torch.linalg.solve and slogdet come out wrong under nested vmap (values and
    gradients do not), which silently corrupts certificates; Cholesky + solve_triangular is fine."""
    from vaetheory.search.objective import Objective  # lazy: objective imports this package's protocol

    gamma = np.full(len(theta), float(variant.gamma.default))
    try:
        objective = Objective(variant, problem)
        E, g, _ = objective.autograd_value_and_grad(theta, gamma)
        objective.latent_scales(theta)
        objective.representation(theta, gamma)
        H, _, _ = objective.active_hessian(theta, gamma, np.ones(theta.shape, dtype=bool))
        half = np.zeros(theta.shape, dtype=bool)  # a restricted Hessian too (what `hessian_at` serves)
        half[:, ::2] = True
        H_half, order_half, _ = objective.active_hessian(theta, gamma, half)
    except Exception as exc:
        if isinstance(exc, VariantError):  # Objective's message: "variant 'x': energy failed: <torch's text>"
            exc = RuntimeError(str(exc).split(": ", 1)[-1])
        return [f"not vmap-compatible (the search evaluates batches with torch.func.vmap): {one_line(exc)}"]
    start = ["init_random"] * 2 + ["init_from_support"] * 2
    if not (np.all(np.isfinite(E)) and np.all(np.isfinite(g))):
        bad = int(np.flatnonzero(~(np.isfinite(E) & np.isfinite(g).all(1)))[0])
        return [f"energy or its gradient is not finite under vmap at a start from {start[bad]}"]
    for i in range(len(theta)):  # four points; the reference is unbatched by design
        E_ref, g_ref, H_ref = _reference_derivatives(variant, objective, theta[i], gamma[i])
        o = order_half[i]
        checks = (("energy", E[i], E_ref), ("gradient", g[i], g_ref), ("Hessian", H[i], H_ref),
                  ("restricted Hessian", H_half[i], H_ref[np.ix_(o, o)]))
        for what, batched, ref in checks:
            scale = max(float(np.abs(ref).max()), 1.0)
            if not np.all(np.isfinite(ref)) or np.abs(batched - ref).max() > VMAP_RTOL * scale:
                return [f"{what} under vmap differs from plain autograd at a start from {start[i]} (max error "
                        f"{np.abs(batched - ref).max():.3g}, scale {scale:.3g}); an op in the energy has a wrong "
                        "batching rule (in torch 2.13: linalg.solve, slogdet/logdet; use cholesky + solve_triangular)"]
    return hook_problems(objective, theta, gamma)


def hook_disagreement(objective, theta: np.ndarray, gamma: np.ndarray, *, with_gamma: bool = True
                      ) -> tuple[str, float] | None:
    """Where the variant's ``value_and_grad_batch`` hook (through `Objective.value_and_grad`) and autograd of its
    ``energy`` (`Objective.autograd_value_and_grad`) disagree on a batch of points: (what, relative error) for the
    first of energy, gradient, γ derivative (when `with_gamma`) beyond HOOK_RTOL, else None. Errors are relative to
    the largest magnitude of the reference quantity at each point (so scale-free), floored at 1."""
    E, g, gg = objective.value_and_grad(theta, gamma, with_gamma=with_gamma)
    E0, g0, gg0 = objective.autograd_value_and_grad(theta, gamma)
    pairs = [("energy", E[:, None], E0[:, None]), ("gradient", g, g0)]
    if with_gamma:
        pairs.append(("gamma derivative", np.asarray(gg, dtype=float)[:, None], gg0[:, None]))
    for what, hook, ref in pairs:
        scale = np.maximum(np.abs(ref).max(axis=1), 1.0)
        err = np.where(np.isfinite(hook), np.abs(hook - ref), np.inf).max(axis=1) / scale
        if not np.all(err <= HOOK_RTOL):
            return what, float(err.max())
    return None


def curvature_disagreement(objective, theta: np.ndarray, gamma: np.ndarray) -> tuple[str, float] | None:
    """Where the variant's ``gamma_curvature_batch`` hook (`Objective.gamma_curvature`) and plain autograd of its
    ``energy`` (second order, point by point) disagree: (what, relative error) as in `hook_disagreement`."""
    got = objective.gamma_curvature(theta, gamma)
    ref = [[] for _ in range(5)]
    for th, ga in zip(theta, gamma):  # a handful of points
        t = torch.tensor(th, dtype=torch.float64, requires_grad=True)
        g = torch.tensor(float(ga), dtype=torch.float64, requires_grad=True)
        E = objective._energy(t, g)
        g_t, g_g = torch.autograd.grad(E, (t, g), create_graph=True)
        h_t, h_g = torch.autograd.grad(g_g, (t, g), allow_unused=True)
        h_t = torch.zeros_like(t) if h_t is None else h_t
        h_g = torch.zeros_like(g) if h_g is None else h_g
        for k, v in enumerate((E, g_t, g_g, h_t, h_g)):
            ref[k].append(np.atleast_1d(v.detach().numpy()))
    names = ("energy", "gradient", "gamma derivative", "mixed second derivative", "second gamma derivative")
    for what, hook, r in zip(names, got, ref):
        hook, r = np.asarray(hook, dtype=float).reshape(len(theta), -1), np.array(r)
        scale = np.maximum(np.abs(r).max(axis=1), 1.0)
        err = np.where(np.isfinite(hook), np.abs(hook - r), np.inf).max(axis=1) / scale
        if not np.all(err <= HOOK_RTOL):
            return what, float(err.max())
    return None


def hook_problems(objective, theta: np.ndarray, gamma: np.ndarray) -> list[str]:
    """The optional ``value_and_grad_batch`` hook compared with autograd (`hook_disagreement`), in γ too when γ is
    learnable, and the optional ``gamma_curvature_batch`` hook (γ learnable: `curvature_disagreement`); [] without
    hooks."""
    out = []
    if objective.has_closed_form_gamma_curvature and objective.variant.gamma.learnable:
        try:
            found = curvature_disagreement(objective, theta, gamma)
        except Exception as exc:
            found = None
            out.append(f"gamma_curvature_batch raised {one_line(exc)}")
        if found is not None:
            out.append(f"gamma_curvature_batch: its {found[0]} differs from autograd of energy (max relative error "
                       f"{found[1]:.3g}); a wrong closed form would steer the search and the certificate")
    if not objective.has_closed_form_gradient:
        return out
    try:
        found = hook_disagreement(objective, theta, gamma, with_gamma=bool(objective.variant.gamma.learnable))
    except Exception as exc:
        return out + [f"value_and_grad_batch raised {one_line(exc)}"]
    if found is None:
        return out
    what, err = found
    return out + [f"value_and_grad_batch: its {what} differs from autograd of energy (max relative error {err:.3g}); "
            "a wrong closed form would steer the search to wrong points"]


@single_threaded
def _problems(variant, problem: Problem | None) -> list[str]:
    problem = tiny_problem() if problem is None else problem
    out = _attribute_problems(variant)
    if out:
        return out
    out = _claim_problems(variant.claim, variant.gamma)
    learned = getattr(variant, "learned_gamma_claim", None)  # optional: the claim with gamma learned
    if learned is not None:
        out += [f"learned_gamma_claim: {p}" for p in _claim_problems(learned, variant.gamma)]
    if any(p.startswith("gamma policy needs") for p in out):
        return out  # every later step evaluates at gamma.default
    layout, found = _layout(variant, problem)
    if layout is None:
        return out + found
    theta, found = _starts(variant, problem, layout)
    if theta is None:
        return out + found
    found = _point_problems(variant, problem, layout, theta[0])
    return out + (found or _batched_problems(variant, problem, theta))


def check_variant(variant, problem: Problem | None = None) -> list[str]:
    """Every problem with `variant`, one line each, prefixed with the variant's name; [] when usable."""
    label = _label(variant)
    return [f"variant {label}: {p}" for p in _problems(variant, problem)]


def validate_variant(variant, problem: Problem | None = None):
    """Return `variant` if it passes `check_variant`; else raise VariantError whose message joins every problem
    with "; " and whose ``problems`` attribute lists them (one line each, as `check_variant` gives them)."""
    label, problems = _label(variant), _problems(variant, problem)
    if problems:
        exc = VariantError(f"variant {label} is not usable: " + "; ".join(problems))
        exc.problems = [f"variant {label}: {p}" for p in problems]
        raise exc
    return variant
