"""Resource limits decided before work starts: problem sizes against what each oracle method and the relaxation can
do, restarts against memory, and γ against float64.

Each check raises `BudgetError` (or `InputError` for γ) naming the quantity, its limit and how to raise it, so a
problem too big for the chosen method is refused in a second instead of running for minutes or until the machine runs
out of memory. The limits are deliberately generous for the problems the theory is about (d ≤ 100, κ ≤ 200 in the
README's largest runs) and scale by one factor, ``--limit-scale`` on the command line (`scale` here).

Where the numbers come from (measured on the 2-core development machine under load, issue 23):

* ``enumerate`` and ``uniqueness`` form the κ×κ Gram matrix Φᵀ Φ (the enumeration screens subsets with it, the
  uniqueness test computes the mutual coherence from it): κ = 10^4 took 5-6 s and 1.0-1.8 GB; κ = 10^6 would need
  8 TB. `GRAM_MAX_KAPPA` keeps both to a few seconds. ``auto`` tries them first, so the same limit applies to it.
* ``mip`` builds κ·n continuous variables and 2κn box constraints in cvxpy before HiGHS sees its time limit: κ·n =
  25,000 took 9 s at a 1 s limit and κ·n = 5·10^5 took 23.5 s at a 5 s limit. `MIP_MAX_ENTRIES` keeps the building
  to a few seconds.
* the ℓ2,1 relaxation (cvxpy, conic) on κ·n = 25,000 took 37 s; `RELAX_MAX_ENTRIES` keeps it near 10 s.
* a search holds, per restart, its end point, its record and the batched energy's intermediates; peak RSS grew by
  11 KB per restart at d = 6, κ = 10, n = 4 and 66 KB at d = 20, κ = 40, n = 20 (2,000 against 16 restarts):
  `restart_bytes` over-estimates both. The restarts must fit in `MEMORY_FRACTION` of the memory available now.
"""
from __future__ import annotations

import math
import os

import numpy as np

from vaetheory.core.errors import BudgetError, InputError

GRAM_MAX_KAPPA = 10_000
MIP_MAX_ENTRIES = 10_000
RELAX_MAX_ENTRIES = 10_000
MEMORY_FRACTION = 0.5
#: Per restart: a fixed part (the end point's Python record, certificate and verdict) and 8-byte words per entry of
#: the d×κ, κ×n and d×d arrays the batched energy and its gradient keep for each restart (with autograd's copies).
RESTART_FIXED_BYTES = 16 * 1024
RESTART_WORDS_PER_ENTRY = 8
#: γ relative to the data: below EPS·‖Φ‖₂² the γI in γI + ΦΓΦᵀ is lost in rounding (the Cholesky factorisation of
#: the VAE energies fails); above ‖X‖₂²/EPS the data term X'Σ⁻¹X is below float64 resolution next to log det Σ.
EPS = float(np.finfo(np.float64).eps)

_RAISE = "raise the limit with --limit-scale"


def _scale(scale: float) -> float:
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"--limit-scale must be a finite number > 0, got {scale}")
    return scale


def _need(scale_needed: float) -> str:
    return f"{_RAISE} {math.ceil(scale_needed * 10) / 10:g}"


def check_oracle_size(method: str, d: int, kappa: int, n: int, *, scale: float = 1.0) -> None:
    """Refuse a problem of size (d, κ, n) too big for oracle `method` (BudgetError naming the limit)."""
    scale = _scale(scale)
    if method in ("auto", "enumerate", "uniqueness"):
        limit = int(GRAM_MAX_KAPPA * scale)
        if kappa > limit:
            raise BudgetError(
                f"oracle {method}: kappa = {kappa:,} is over the limit of {limit:,} for this method (it forms the "
                f"kappa x kappa Gram matrix, {8 * kappa**2 / 1e9:.3g} GB); use --method none (the planted support, "
                f"uncertified) or {_need(kappa / GRAM_MAX_KAPPA)}")
    if method == "mip":
        limit = int(MIP_MAX_ENTRIES * scale)
        if kappa * n > limit:
            raise BudgetError(
                f"oracle mip: kappa*n = {kappa * n:,} is over the limit of {limit:,} (building the MIP alone takes "
                f"longer than any time limit; the MIP time limit does not cover it); use --method none or "
                f"{_need(kappa * n / MIP_MAX_ENTRIES)}")


def check_generate_size(d: int, kappa: int, n: int, *, scale: float = 1.0) -> None:
    """Refuse generating a problem whose file would be over the problem-file limit (`MAX_NPZ_BYTES` times `scale`):
    it could not be loaded, and making it may exhaust the memory first."""
    from vaetheory.core.validation import MAX_NPZ_BYTES

    nbytes = 8 * (d * kappa + d * n + kappa * n)  # Φ, X and Z in float64
    limit = int(MAX_NPZ_BYTES * _scale(scale))
    if nbytes > limit:
        raise BudgetError(f"generate: d = {d:,}, kappa = {kappa:,}, n = {n:,} makes {nbytes:,} bytes of arrays, over "
                          f"the limit of {limit:,} bytes for a problem file; {_need(nbytes / MAX_NPZ_BYTES)}")


def check_conditions_size(kappa: int, *, scale: float = 1.0) -> None:
    """Refuse a check whose theorem-condition report (the mutual coherence, from the κ×κ Gram matrix; any oracle
    method) is over `GRAM_MAX_KAPPA` (times `scale`)."""
    limit = int(GRAM_MAX_KAPPA * _scale(scale))
    if kappa > limit:
        raise BudgetError(
            f"check: kappa = {kappa:,} is over the limit of {limit:,} (the theorem-condition report computes the "
            f"mutual coherence from the kappa x kappa Gram matrix, {8 * kappa**2 / 1e9:.3g} GB, whatever the oracle "
            f"method); {_need(kappa / GRAM_MAX_KAPPA)}")


def check_relax_size(kappa: int, n: int, *, scale: float = 1.0) -> None:
    """Refuse an ℓ2,1 relaxation over `RELAX_MAX_ENTRIES` unknowns (times `scale`)."""
    limit = int(RELAX_MAX_ENTRIES * _scale(scale))
    if kappa * n > limit:
        raise BudgetError(f"l21 relaxation: kappa*n = {kappa * n:,} unknowns is over the limit of {limit:,}; "
                          f"{_need(kappa * n / RELAX_MAX_ENTRIES)}")


def available_memory() -> int:
    """Bytes of memory available now (Linux: MemAvailable; elsewhere the physical memory), at least 256 MiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return max(int(line.split()[1]) * 1024, 2**28)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return max(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), 2**28)
    except (AttributeError, ValueError, OSError):
        return 2**33


def restart_bytes(d: int, kappa: int, n: int) -> int:
    """Estimated peak bytes one restart of the search holds (see the module docstring)."""
    return RESTART_FIXED_BYTES + 8 * RESTART_WORDS_PER_ENTRY * (d * kappa + kappa * n + d * d)


def check_restarts(restarts: int, d: int, kappa: int, n: int, *, scale: float = 1.0,
                   memory: int | None = None) -> None:
    """Refuse `restarts` whose estimated memory is over MEMORY_FRACTION of the available memory (times `scale`)."""
    memory = available_memory() if memory is None else memory
    need = restarts * restart_bytes(d, kappa, n)
    allowed = MEMORY_FRACTION * memory * _scale(scale)
    if need > allowed:
        most = max(int(allowed // restart_bytes(d, kappa, n)), 0)
        raise BudgetError(
            f"--restarts {restarts:,} would need about {need / 1e9:.3g} GB at d = {d}, kappa = {kappa}, n = {n} "
            f"(about {restart_bytes(d, kappa, n) / 1e3:.3g} kB per restart), over the {allowed / 1e9:.3g} GB "
            f"allowed ({MEMORY_FRACTION:g} of the {memory / 1e9:.3g} GB available); use at most {most:,} restarts "
            f"or {_need(need / (MEMORY_FRACTION * memory))}")


def check_gamma(gamma: float, Phi: np.ndarray, X: np.ndarray, name: str = "gamma") -> float:
    """Return `gamma` when float64 can evaluate the energies at it on (Φ, X), else raise InputError.

    Lower end EPS·‖Φ‖₂² (γI vanishes next to ΦΓΦᵀ), upper end ‖X‖₂²/EPS (the data no longer count)."""
    g = float(gamma)
    if not (math.isfinite(g) and g > 0):
        raise InputError(f"{name} must be finite and > 0, got {g}")
    phi2 = float(np.linalg.norm(Phi, 2)) ** 2
    x2 = float(np.linalg.norm(X, 2)) ** 2
    low, high = EPS * phi2, x2 / EPS
    if g < low:
        raise InputError(f"{name} = {g:g} is below {low:.3g} = eps * ||Phi||_2^2: in float64 the gamma*I in "
                         f"gamma*I + Phi Gamma Phi' is lost in rounding (the energy is not defined there)")
    if g > high:
        raise InputError(f"{name} = {g:g} is above {high:.3g} = ||X||_2^2 / eps: in float64 the data term is lost "
                         f"next to the log-determinant (the energy no longer depends on X)")
    return g
