"""A variant's energy as a batched function of flat parameter vectors: values, gradients and Hessians over many
points at once (no Python loop over points): the variant's closed-form hooks when it has them
(``value_and_grad_batch``, ``hessian``: `vaetheory.core.protocol`), ``torch.func.vmap`` of autograd otherwise."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch.func import grad, grad_and_value, jvp, vmap

from vaetheory.core.threads import single_threaded
from vaetheory.core.errors import VariantError
from vaetheory.problems.problem import Problem
from vaetheory.core.protocol import ParamLayout, Variant

#: Memory budget for one batch of Hessians (bytes); the batch size is derived from it and the parameter count.
HESSIAN_MEMORY_BUDGET = 256 * 2**20


def _defining_class(obj, name: str):
    return next((c for c in type(obj).__mro__ if name in vars(c)), None)


def closed_form_hook(variant, name: str):
    """The variant's optional closed-form method `name` (``hessian``, ``value_and_grad_batch``), unless ``energy``
    is overridden in a subclass below the class that defines it (then the inherited hook belongs to another energy
    and autograd is used instead)."""
    closed = getattr(variant, name, None)
    if closed is None or not callable(closed):
        return None
    h_cls, e_cls = _defining_class(variant, name), _defining_class(variant, "energy")
    if h_cls is None:  # not defined by the class (an instance attribute, or forwarded by __getattr__): trust it only
        return closed if e_cls is None else None  # when the energy is not a class method either
    if e_cls is None:
        return closed
    return closed if issubclass(h_cls, e_cls) else None


class Objective:
    """Energy of `variant` on `problem` as functions of (B, P) parameter arrays and (B,) noise levels γ."""

    def __init__(self, variant: Variant, problem: Problem):
        self.variant = variant
        self.problem = problem
        self.layout = ParamLayout.from_specs(variant.param_specs(problem.d, problem.kappa, problem.n))
        self.Phi = torch.from_numpy(np.array(problem.Phi))
        self.X = torch.from_numpy(np.array(problem.X))
        self._vg = vmap(grad_and_value(self._energy, argnums=(0, 1)))
        g_theta = grad(self._energy)

        def hvps(theta, gamma, tangents):  # Hessian-vector products along each row of `tangents`
            return vmap(lambda v: jvp(lambda th: g_theta(th, gamma), (theta,), (v,))[1])(tangents)

        self._hvps = vmap(hvps)
        self._vg_hook = closed_form_hook(variant, "value_and_grad_batch")
        closed = closed_form_hook(variant, "hessian")
        self._hess = None if closed is None else vmap(
            lambda th, g: closed(self.layout.unpack(th), self.Phi, self.X, g))
        self._canonical = closed_form_hook(variant, "canonical")
        self._fixed_point = closed_form_hook(variant, "fixed_point_batch")
        self._curv_hook = closed_form_hook(variant, "gamma_curvature_batch")
        at = closed_form_hook(variant, "hessian_at")
        self._hess_at_one = None if at is None else (
            lambda th, g, idx: at(self.layout.unpack(th), self.Phi, self.X, g, idx))
        self._hess_at = None if at is None else vmap(self._hess_at_one)
        self._scales = vmap(lambda th: variant.latent_scales(self.layout.unpack(th)))
        self._rep = vmap(lambda th, g: variant.representation(self.layout.unpack(th), self.Phi, self.X, g))

    @property
    def size(self) -> int:
        return self.layout.size

    def _energy(self, theta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        return self.variant.energy(self.layout.unpack(theta), self.Phi, self.X, gamma)

    @staticmethod
    def _t(a) -> torch.Tensor:
        return torch.from_numpy(np.array(a, dtype=np.float64))  # a copy: callers pass read-only arrays

    @property
    def has_closed_form_gradient(self) -> bool:
        """Whether `value_and_grad` uses the variant's ``value_and_grad_batch`` hook (else vmap of autograd)."""
        return self._vg_hook is not None

    @property
    def has_closed_form_hessian(self) -> bool:
        """Whether `active_hessian` uses the variant's ``hessian_at`` or ``hessian`` hook (else Hessian-vector
        products)."""
        return self._hess is not None or self._hess_at is not None

    def _hook_value_and_grad(self, theta: torch.Tensor, gamma: torch.Tensor, with_gamma: bool):
        B = theta.shape[0]
        params = {n: theta[:, self.layout.offsets[i]:self.layout.offsets[i + 1]].reshape(B, *s)
                  for i, (n, s) in enumerate(zip(self.layout.names, self.layout.shapes))}
        val, grads, g_gamma = self._vg_hook(params, self.Phi, self.X, gamma, with_gamma)
        g_theta = torch.cat([grads[n].reshape(B, -1) for n in self.layout.names], dim=1)
        if with_gamma and g_gamma is None:
            raise TypeError("value_and_grad_batch returned no gamma derivative although with_gamma=True")
        return (g_theta, g_gamma), val

    @contextmanager
    def _evaluating(self):
        """Map failures of an energy evaluation: a failed factorisation is a FloatingPointError (the point left the
        domain), anything else the variant's fault (VariantError, one line)."""
        try:
            yield
        except torch.linalg.LinAlgError as exc:
            raise FloatingPointError(f"energy evaluation failed: {exc}") from None
        except (RuntimeError, TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
            raise VariantError(f"variant {self.variant.name!r}: energy failed: {exc}") from None

    @single_threaded
    def value_and_grad(self, theta: np.ndarray, gamma: np.ndarray, *, with_gamma: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Energies (B,), gradients in θ (B, P) and derivatives in γ (B,). With ``with_gamma=False`` the caller does
        not need ∂E/∂γ (fixed γ): a closed-form hook may skip it and the third array may be None."""
        if self._vg_hook is None or not len(theta):
            return self.autograd_value_and_grad(theta, gamma)
        with self._evaluating():
            (g_theta, g_gamma), val = self._hook_value_and_grad(self._t(theta), self._t(gamma), with_gamma)
        return val.numpy(), g_theta.numpy(), None if g_gamma is None else g_gamma.numpy()

    @property
    def has_fixed_point(self) -> bool:
        """Whether the variant has the optional ``fixed_point_batch`` hook (`vaetheory.search.fixed_point`)."""
        return self._fixed_point is not None

    @single_threaded
    def fixed_point(self, theta: np.ndarray, gamma: np.ndarray, gamma_floor: float | None, safe: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One ``fixed_point_batch`` update of each point (B, P): (E at the input (B,), new θ (B, P), new γ (B,))."""
        B = theta.shape[0]
        th = self._t(theta)
        params = {n: th[:, self.layout.offsets[i]:self.layout.offsets[i + 1]].reshape(B, *s)
                  for i, (n, s) in enumerate(zip(self.layout.names, self.layout.shapes))}
        with self._evaluating():
            E, new_params, new_gamma = self._fixed_point(params, self.Phi, self.X, self._t(gamma), gamma_floor,
                                                         bool(safe))
            new = torch.cat([new_params[n].reshape(B, -1) for n in self.layout.names], dim=1)
        return E.numpy(), new.numpy(), new_gamma.numpy()

    def canonical(self, theta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """The variant's optional ``canonical`` map applied to each point (B, P), kept only where the energy did not
        increase (so a faulty hook cannot make the search worse); `theta` itself without the hook."""
        if self._canonical is None or not len(theta):
            return theta
        new = self.layout.pack(self._canonical(self.layout.unpack_numpy(np.array(theta))), len(theta))
        E0, _, _ = self.value_and_grad(theta, gamma, with_gamma=False)
        E1, _, _ = self.value_and_grad(new, gamma, with_gamma=False)
        return np.where((np.isfinite(E1) & (E1 <= E0))[:, None], new, theta)

    @property
    def has_closed_form_gamma_curvature(self) -> bool:
        """Whether `gamma_curvature` uses the variant's ``gamma_curvature_batch`` hook."""
        return self._curv_hook is not None

    @single_threaded
    def gamma_curvature(self, theta: np.ndarray, gamma: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """E (B,), ∂E/∂θ (B, P), ∂E/∂γ (B,), ∂²E/∂θ∂γ (B, P) and ∂²E/∂γ² (B,): the variant's closed-form
        ``gamma_curvature_batch`` hook when it has one (the collapsed VAEs), else `autograd_gamma_curvature`."""
        if self._curv_hook is None or not len(theta):
            return self.autograd_gamma_curvature(theta, gamma)
        B = len(theta)
        th = self._t(theta)
        params = {n: th[:, self.layout.offsets[i]:self.layout.offsets[i + 1]].reshape(B, *s)
                  for i, (n, s) in enumerate(zip(self.layout.names, self.layout.shapes))}
        with self._evaluating():
            E, grads, g_ga, h_th, h_ga = self._curv_hook(params, self.Phi, self.X, self._t(gamma))
            g_th = torch.cat([grads[n].reshape(B, -1) for n in self.layout.names], dim=1)
            h_thga = torch.cat([h_th[n].reshape(B, -1) for n in self.layout.names], dim=1)
        return tuple(a.numpy() for a in (E, g_th, g_ga, h_thga, h_ga))

    @single_threaded
    def autograd_gamma_curvature(self, theta: np.ndarray, gamma: np.ndarray
                                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`gamma_curvature` through the ``value_and_grad_batch`` hook by autograd: one reverse pass of
        Σ_b ∂E_b/∂γ_b in (θ, γ) gives both second derivatives (the points are independent), without torch.func
        (whose first use imports torch._dynamo)."""
        th = self._t(theta).requires_grad_(True)
        ga = self._t(gamma).requires_grad_(True)
        with self._evaluating(), torch.enable_grad():
            (g_th, g_ga), E = self._hook_value_and_grad(th, ga, True)
            h_thga, h_gaga = torch.autograd.grad(g_ga.sum(), (th, ga), allow_unused=True)
        h_thga = torch.zeros_like(th) if h_thga is None else h_thga
        h_gaga = torch.zeros_like(ga) if h_gaga is None else h_gaga
        return tuple(a.detach().numpy() for a in (E, g_th, g_ga, h_thga, h_gaga))

    @single_threaded
    def reference_value_and_grad(self, theta: np.ndarray, gamma: float) -> tuple[float, np.ndarray, float]:
        """Energy, gradient (P,) and ∂E/∂γ at ONE point by plain reverse-mode autograd of ``energy``: no hook, no
        torch.func (whose first use imports torch._dynamo, ~1.5 s, in a process that needs nothing else from it)."""
        th = torch.tensor(np.asarray(theta, dtype=np.float64), requires_grad=True)
        ga = torch.tensor(float(gamma), dtype=torch.float64, requires_grad=True)
        with self._evaluating():
            E = self._energy(th, ga)
            g_th, g_ga = torch.autograd.grad(E, (th, ga))
        return float(E.detach()), g_th.numpy(), float(g_ga)

    @single_threaded
    def autograd_value_and_grad(self, theta: np.ndarray, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`value_and_grad` by vmap of autograd of ``energy``, ignoring any closed-form hook (the reference)."""
        with self._evaluating():
            (g_theta, g_gamma), val = self._vg(self._t(theta), self._t(gamma))
        return val.numpy(), g_theta.numpy(), g_gamma.numpy()

    @single_threaded
    def active_hessian(self, theta: np.ndarray, gamma: np.ndarray, active: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hessians restricted to the active coordinates of each point, from Hessian-vector products (never the
        full P×P matrix).

        Returns (H, order, valid): H (B, m, m) with m the largest active count, order (B, m) the coordinate index of
        each row/column (active coordinates first, in increasing order) and valid (B, m) which of the m slots are
        real; rows and columns of invalid slots are zero. Batches are sized to HESSIAN_MEMORY_BUDGET.
        """
        active = np.asarray(active, dtype=bool)
        B, P = active.shape
        counts = active.sum(1)
        m = max(int(counts.max()), 1)
        order = np.argsort(~active, axis=1, kind="stable")[:, :m]
        valid = np.arange(m)[None, :] < counts[:, None]
        chunk = max(1, HESSIAN_MEMORY_BUDGET // (8 * 6 * m * P))
        th, ga = self._t(theta), self._t(gamma)
        out = []
        if self._hess_at is not None:  # the variant's closed form on the active coordinates only
            chunk = max(1, HESSIAN_MEMORY_BUDGET // (8 * 12 * m * m))
            for i in range(0, B, chunk):
                o, v = order[i:i + chunk], valid[i:i + chunk]
                if len(o) == 1:  # one point (the Newton polish of a shared end point, a certificate): no vmap
                    Hb = self._hess_at_one(th[i], ga[i], torch.from_numpy(o[0]))[None].numpy()
                else:
                    Hb = self._hess_at(th[i:i + chunk], ga[i:i + chunk], torch.from_numpy(o)).numpy()
                out.append(Hb * (v[:, :, None] & v[:, None, :]))
            H = np.concatenate(out)
            return 0.5 * (H + np.swapaxes(H, 1, 2)), order, valid
        if self._hess is not None:  # the variant's closed form: full P×P per point, then the active block
            chunk = max(1, HESSIAN_MEMORY_BUDGET // (8 * 2 * P * P))
            for i in range(0, B, chunk):
                Hf = self._hess(th[i:i + chunk], ga[i:i + chunk]).numpy()
                o, v = order[i:i + chunk], valid[i:i + chunk]
                Hb = np.take_along_axis(np.take_along_axis(Hf, o[:, :, None], axis=1), o[:, None, :], axis=2)
                out.append(Hb * (v[:, :, None] & v[:, None, :]))
            H = np.concatenate(out)
            return 0.5 * (H + np.swapaxes(H, 1, 2)), order, valid
        for i in range(0, B, chunk):  # one iteration per memory-sized batch of points
            o, v = order[i:i + chunk], valid[i:i + chunk]
            tangents = np.zeros((len(o), m, P))
            np.put_along_axis(tangents, o[:, :, None], v[:, :, None].astype(float), axis=2)
            HV = self._hvps(th[i:i + chunk], ga[i:i + chunk], self._t(tangents)).numpy()  # (b, m, P)
            out.append(np.take_along_axis(HV, o[:, None, :], axis=2) * (v[:, :, None] & v[:, None, :]))
        H = np.concatenate(out)
        return 0.5 * (H + np.swapaxes(H, 1, 2)), order, valid

    @single_threaded
    def hvp(self, theta: np.ndarray, gamma: np.ndarray, V: np.ndarray) -> np.ndarray:
        """(B, P) Hessian-vector products H(θ_b) v_b, one per point: for a variant with a closed-form gradient hook,
        reverse-mode autograd of ⟨g(θ), v⟩ through the hook (H is symmetric, so Jᵀv = Hv); forward mode
        (``torch.func.jvp`` or dual numbers) gives the same numbers but its first use imports torch._dynamo or
        torch._refs and sympy, 1.5–2 s of a check. Otherwise vmapped autograd of the energy (no P×P matrix)."""
        th, ga, v = self._t(theta), self._t(gamma), self._t(V)
        try:
            if self._vg_hook is not None:
                with torch.enable_grad():
                    x = th.requires_grad_(True)
                    (g, _), _ = self._hook_value_and_grad(x, ga, False)
                    # ⟨g, v⟩ as a scalar: autograd.grad with grad_outputs imports torch.fx's symbolic_shapes on
                    # first use (0.5 s of a check)
                    (out,) = torch.autograd.grad((g * v).sum(), x, allow_unused=True)
                out = torch.zeros_like(th) if out is None else out.detach()  # None: the gradient ignores θ
            else:
                out = self._hvps(th, ga, v[:, None, :])[:, 0]
        except torch.linalg.LinAlgError as exc:
            raise FloatingPointError(f"Hessian-vector product failed: {exc}") from None
        return out.numpy()

    @single_threaded
    def latent_scales(self, theta: np.ndarray) -> np.ndarray:
        """(B, κ) magnitude of each latent dimension."""
        return self._scales(self._t(theta)).numpy()

    @single_threaded
    def representation(self, theta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """(B, κ, n) representations U."""
        return self._rep(self._t(theta), self._t(gamma)).numpy()
