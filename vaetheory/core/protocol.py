"""The variant protocol: what a theory variant must provide to be searched, certified and reported.

A *variant* is an energy over named torch parameters together with how to start it, how to read its active latent
dimensions and its representation U, how it treats the noise γ, and the claim it makes. Built-in variants
(`vaetheory.variants.builtin`) are written against exactly this protocol; so is any third-party one.

Conventions the machinery relies on
-----------------------------------
* ``energy``, ``latent_scales`` and ``representation`` act on ONE point (no batch axis) and must be composable with
  ``torch.func`` (``vmap``, ``grad``, ``hessian``): pure torch ops, no in-place writes to inputs, no ``.item()``.
* A parameter declared ``nonneg=True`` is constrained to ``≥ 0``; a coordinate at 0 is *inactive* and the
  certificate checks that its gradient is not clearly negative (docs/theory.md §5). Free parameters must be stationary.
* ``init_random`` and ``init_from_support`` return numpy arrays with a leading batch axis of the requested size.
* Optional: ``hessian(params, Phi, X, gamma) -> (P, P)`` tensor, the exact Hessian of ``energy`` in the flat
  parameter order of ``param_specs``. When present, certificates and the Newton phase use it instead of autograd
  Hessian-vector products (the import checker compares it with autograd).
* Optional: ``hessian_at(params, Phi, X, gamma, index) -> (m, m)`` tensor, ``hessian`` restricted to the flat
  coordinates ``index`` (an (m,) int64 tensor) without forming the P×P matrix; preferred over ``hessian`` when both
  are present (the Newton phase needs only the free coordinates; the import checker compares it with autograd).
* Optional: ``canonical(params) -> params``, on numpy arrays with a batch axis: a map to points of no larger
  energy that removes a redundancy of the parametrisation (the split-sign AEs: M⁺, M⁻ → max(±(M⁺ − M⁻), 0)). The
  search applies it before its Newton phase and keeps the result only where the energy did not increase.
* Optional: ``value_and_grad_batch(params, Phi, X, gamma, with_gamma) -> (E, grads, dE_dgamma)``, closed-form energies
  and gradients for a batch: ``params`` ``{name: (B, *shape)}`` tensors, ``gamma`` (B,); returns E (B,), ``grads``
  ``{name: (B, *shape)}`` and ∂E/∂γ (B,) (None allowed when ``with_gamma`` is False). Used by the search and
  certificates instead of vmap of autograd, and differentiated once more by reverse-mode autograd for
  Hessian-vector products and the γ curvature; the import checker compares it with autograd of ``energy`` (docs/variants.md).
* Optional: ``gamma_curvature_batch(params, Phi, X, gamma) -> (E, grads, dE_dgamma, d2E_dparams_dgamma,
  d2E_dgamma2)``, closed-form first derivatives and the second derivatives in γ for a batch (``params``
  ``{name: (B, *shape)}`` tensors, ``gamma`` (B,); the mixed ones ``{name: (B, *shape)}``): with γ learned, the
  Newton phase and the certificate use it instead of a reverse pass through ``value_and_grad_batch`` (the import
  checker compares it with autograd of ``energy``).
* Optional: ``fixed_point_batch(params, Phi, X, gamma, gamma_floor, safe) -> (E, new_params, new_gamma)``, a
  fixed-point or majorise–minimise update for a batch (M-SBL's for vae-full): ``params`` ``{name: (B, *shape)}``
  tensors, ``gamma`` (B,); ``gamma_floor`` None at fixed γ (return ``gamma`` unchanged), else a float: γ is learned
  and the new γ must be ≥ it. Returns E (B,), the energy at the INPUT point, and the updated point. With ``safe``
  the update must not increase the energy (a majorise–minimise step); without it a faster update with the same
  fixed points may (the search's fixed-point stage, `vaetheory.search.fixed_point`, accepts a fast step only where
  the energy decreased and falls back to the safe one). Its fixed points must be stationary where the parameters
  are positive. When present the search runs it, batched over restarts, before its Newton phase and certificate
  (docs/search.md). The stage checks the returned E against ``value_and_grad`` on its first call and skips the
  hook when they disagree; the Newton phase and certificate never use it, so a faulty hook costs time, not truth.
* Optional: ``learned_gamma_claim: Claim``, the claim judged when γ is learned (``vaetheory.verdict.claims.claim_for``);
  without it ``claim`` is judged in both γ modes.
* Optional: ``interval_derivatives(theta, Phi, X, gamma, active, with_gamma) -> (grad, hess)``, the hook that makes
  a variant's minima provable in interval arithmetic (`vaetheory.certify.interval`, docs/proofs.md). Arguments are
  python-flint balls: ``theta`` a list of P ``flint.arb`` in the flat order of ``param_specs`` (inactive
  coordinates exactly 0), ``Phi``/``X`` ``flint.arb_mat``, ``gamma`` a ``flint.arb``; ``active`` the sorted flat
  indices of the active coordinates; ``with_gamma`` whether γ is one more coordinate. Return ``grad``, a list of P
  balls (P + 1 with γ last when ``with_gamma``) enclosing ∂E/∂θ_i, and ``hess``, a square ``flint.arb_mat`` over
  the active coordinates (then γ) enclosing the Hessian, both for EVERY point in the input balls, at the working
  precision ``flint.ctx.prec``. Without it (or when ``energy`` is overridden below the class defining it) the
  variant's proofs are ``not_applicable``; before trusting it the prover compares it with autograd at the point.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # the protocol is the ground floor: it names Problem (and torch's Tensor) in annotations only,
    # so importing it (and so `vaetheory --help`, `vaetheory variants`) does not load torch
    from torch import Tensor

    from vaetheory.problems.problem import Problem

ClaimKind = Literal["optimal_minima", "bad_minima_exist", "none"]
CLAIM_KINDS: tuple[str, ...] = ("optimal_minima", "bad_minima_exist", "none")

#: The named conditions a claim may be declared under, with what each means. `vaetheory.verdict.claims` evaluates
#: them on a run; the import checker and `describe_variant` only need the names, so they live on the ground floor.
CONDITION_DESCRIPTIONS: dict[str, str] = {
    "urp": "every d columns of Phi are linearly independent (spark = d + 1)",
    "r_less_than_d": "planted support size r < d",
    "orthogonal_rows": "nonzero rows of Z* are mutually orthogonal",
    "within_uniqueness_bound": "r < (spark - 1 + rank X)/2",
    "fixed_gamma": "gamma held fixed during the search",
    "small_gamma": "gamma <= 0.001",
    "learned_gamma": "gamma learned jointly (down to its floor)",
    "nonoptimal_bfs_exists": "kappa > d and k* < d, so non-optimal basic feasible solutions exist",
}


@dataclass(frozen=True)
class Claim:
    """What a variant claims, and under which named conditions (see `CONDITION_DESCRIPTIONS`).

    kind: ``"optimal_minima"`` (every certified local minimum is optimally sparse), ``"bad_minima_exist"`` (a
    certified non-optimal local minimum exists), or ``"none"`` (the variant is a baseline: verdicts only).
    """

    kind: ClaimKind
    conditions: tuple[str, ...] = ()
    statement: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """Shape of one named parameter and whether it is constrained to be non-negative."""

    shape: tuple[int, ...]
    nonneg: bool = False


@dataclass(frozen=True)
class GammaPolicy:
    """How a variant treats the decoder noise γ.

    default: the fixed γ used when the caller gives none. learnable: whether γ may be learned jointly (down to
    ``floor``, where the point is then certified at fixed γ; docs/theory.md §2 explains why the floor is needed).
    """

    default: float = 1e-4
    learnable: bool = True
    floor: float = 1e-6


@runtime_checkable
class Variant(Protocol):
    """Structural type of a theory variant (see the module docstring for the conventions)."""

    name: str
    description: str
    claim: Claim
    gamma: GammaPolicy

    def param_specs(self, d: int, kappa: int, n: int) -> Mapping[str, ParamSpec]:
        """Named parameters for a problem of size (d, κ, n)."""

    def energy(self, params: Mapping[str, Tensor], Phi: Tensor, X: Tensor, gamma: Tensor) -> Tensor:
        """Scalar float64 energy to minimise (one point)."""

    def init_random(self, problem: Problem, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
        """`size` random starting points."""

    def init_from_support(self, problem: Problem, masks: np.ndarray, gamma: float) -> dict[str, np.ndarray]:
        """One starting point per row of `masks` ((B, κ) bool): the least-squares fit on that support."""

    def latent_scales(self, params: Mapping[str, Tensor]) -> Tensor:
        """(κ,) non-negative magnitude of each latent dimension; dimension j is active when it is above the
        certificate's relative threshold."""

    def representation(self, params: Mapping[str, Tensor], Phi: Tensor, X: Tensor, gamma: Tensor) -> Tensor:
        """The representation U = D M (κ×n) the point encodes."""


@dataclass(frozen=True)
class ParamLayout:
    """Packs named parameters into one flat float64 vector and back (the search and certificates work on it)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    nonneg_flags: tuple[bool, ...]
    offsets: tuple[int, ...] = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        object.__setattr__(self, "offsets", tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)])))
        object.__setattr__(self, "size", int(sum(sizes)))

    @classmethod
    def from_specs(cls, specs: Mapping[str, ParamSpec]) -> "ParamLayout":
        return cls(tuple(specs), tuple(tuple(s.shape) for s in specs.values()),
                   tuple(bool(s.nonneg) for s in specs.values()))

    @property
    def nonneg(self) -> np.ndarray:
        """(P,) bool mask of the coordinates constrained to be ≥ 0."""
        return np.concatenate([np.full(self.offsets[i + 1] - self.offsets[i], f)
                               for i, f in enumerate(self.nonneg_flags)])

    @property
    def block_ids(self) -> np.ndarray:
        """(P,) index of the named parameter each coordinate belongs to."""
        return np.concatenate([np.full(self.offsets[i + 1] - self.offsets[i], i) for i in range(len(self.names))])

    def pack(self, params: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
        """(batch, P) array from a dict of (batch, *shape) arrays; raises ValueError naming a wrong shape."""
        out = []
        for name, shape in zip(self.names, self.shapes):
            if name not in params:
                raise ValueError(f"missing parameter {name!r}")
            a = np.asarray(params[name], dtype=np.float64)
            if a.shape != (batch, *shape):
                raise ValueError(f"parameter {name!r} has shape {a.shape}, expected {(batch, *shape)}")
            out.append(a.reshape(batch, -1))
        return np.concatenate(out, axis=1)

    def unpack(self, theta: Tensor) -> dict[str, Tensor]:
        """Dict of named views of a flat (P,) vector (works under vmap)."""
        return {n: theta[self.offsets[i]:self.offsets[i + 1]].reshape(s)
                for i, (n, s) in enumerate(zip(self.names, self.shapes))}

    def unpack_numpy(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Dict of named (B, *shape) arrays from a (B, P) array."""
        return {n: theta[:, self.offsets[i]:self.offsets[i + 1]].reshape(theta.shape[0], *s)
                for i, (n, s) in enumerate(zip(self.names, self.shapes))}
