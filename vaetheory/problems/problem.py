"""The `Problem`: data X = Φ Z* (d×n), dictionary Φ (d×κ), optional planted Z*; validated, immutable, `.npz` I/O."""
from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaetheory.core.errors import InputError
from vaetheory.core.validation import MAX_NPZ_BYTES, as_matrix, screen_npz
from vaetheory.problems.provenance import provenance_text, verified_provenance

#: Relative tolerance for "X lies in range(Φ)" and "X = Φ Z" on noiseless problems.
RANGE_RTOL = 1e-8
#: Largest total a problem file's arrays may declare (bytes; `vaetheory.core.validation.screen_npz`).
MAX_ARRAY_BYTES = MAX_NPZ_BYTES
#: The arrays a problem file is read for; other members are screened but never loaded.
_KEYS = ("Phi", "X", "Z", "noise", "provenance")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Problem:
    """A multiple-response sparse regression instance (docs/theory.md §1).

    Attributes
    ----------
    Phi : (d, κ) dictionary, no zero column.
    X : (d, n) data. For a noiseless problem (``noise == 0``) X must lie in range(Φ) to relative tolerance
        ``RANGE_RTOL``; if Z is given, X must equal Φ Z to the same tolerance.
    Z : optional (κ, n) planted code Z*.
    noise : standard deviation of the additive noise used to make X (0 for noiseless problems).
    provenance : how Φ was made, when vaetheory drew it (`vaetheory.problems.provenance`): e.g.
        ``{"phi": "gaussian", "seed": 3}``. Only such a Φ is *known* to be generic (every d columns independent with
        probability one); a Φ from anywhere else is not assumed to be (docs/oracles.md). A file's provenance is
        believed only when regenerating Φ from it reproduces Φ exactly.

    Arrays are copied and made read-only, so a Problem cannot be changed after validation.
    """

    Phi: np.ndarray
    X: np.ndarray
    Z: np.ndarray | None = None
    noise: float = 0.0
    provenance: dict | None = None

    def __post_init__(self) -> None:
        Phi = as_matrix(self.Phi, "Phi")
        d, kappa = Phi.shape
        X = as_matrix(self.X, "X", rows=d)
        Z = None if self.Z is None else as_matrix(self.Z, "Z", rows=kappa, cols=X.shape[1])
        noise = float(self.noise)
        if not np.isfinite(noise) or noise < 0:
            raise InputError(f"noise must be finite and >= 0, got {noise}")
        norms = np.linalg.norm(Phi, axis=0)
        zero = np.flatnonzero(norms <= 1e-12 * max(norms.max(), 1e-300))
        if zero.size:
            raise InputError(f"Phi has {zero.size} zero column(s), first at index {zero[0]}")
        xnorm = np.linalg.norm(X)
        if xnorm == 0:
            raise InputError("X is all zeros: there is nothing to represent")
        if noise == 0:
            coef, *_ = np.linalg.lstsq(Phi, X, rcond=None)
            rel = np.linalg.norm(X - Phi @ coef) / xnorm
            if rel > RANGE_RTOL:
                raise InputError(
                    f"X is not in range(Phi): relative residual {rel:.3g} > {RANGE_RTOL:g} "
                    "(pass noise > 0 for a noisy problem)"
                )
            if Z is not None:
                rel = np.linalg.norm(X - Phi @ Z) / xnorm
                if rel > RANGE_RTOL:
                    raise InputError(f"X != Phi @ Z: relative residual {rel:.3g} > {RANGE_RTOL:g}")
        object.__setattr__(self, "Phi", _readonly(Phi))
        object.__setattr__(self, "X", _readonly(X))
        object.__setattr__(self, "Z", None if Z is None else _readonly(Z))
        object.__setattr__(self, "noise", noise)

    # Shapes -------------------------------------------------------------------------------------
    @property
    def d(self) -> int:
        return self.Phi.shape[0]

    @property
    def kappa(self) -> int:
        return self.Phi.shape[1]

    @property
    def n(self) -> int:
        return self.X.shape[1]

    @property
    def support(self) -> tuple[int, ...] | None:
        """Row support S* of the planted Z* (rows with any nonzero entry), or None without Z."""
        if self.Z is None:
            return None
        return tuple(int(j) for j in np.flatnonzero(np.any(self.Z != 0, axis=1)))

    def describe(self) -> str:
        r = "?" if self.Z is None else len(self.support)
        return f"d={self.d} kappa={self.kappa} n={self.n} r={r} noise={self.noise:g}"

    # I/O ----------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"Phi": np.asarray(self.Phi), "X": np.asarray(self.X), "noise": np.float64(self.noise)}
        if self.Z is not None:
            out["Z"] = np.asarray(self.Z)
        if self.provenance is not None and self.provenance.get("seed") is not None:  # only what a reader can verify
            out["provenance"] = np.array(provenance_text(self.provenance))
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the problem to `path` (.npz, keys Phi, X, noise and optional Z) atomically; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **self.to_arrays())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_arrays(cls, arrays) -> "Problem":
        """Build a Problem from a mapping with keys Phi, X and optional Z, noise."""
        missing = [k for k in ("Phi", "X") if k not in arrays]
        if missing:
            raise InputError(f"missing required array(s): {', '.join(missing)}")
        noise = 0.0
        if "noise" in arrays:
            raw = np.asarray(arrays["noise"])
            if raw.ndim != 0 or raw.dtype.kind not in "iuf":
                raise InputError(f"noise must be a numeric scalar, got {raw.dtype} array of shape {raw.shape}")
            noise = float(raw)
        Z = arrays["Z"] if "Z" in arrays else None
        problem = cls(Phi=arrays["Phi"], X=arrays["X"], Z=Z, noise=noise)
        if "provenance" in arrays:
            object.__setattr__(problem, "provenance", verified_provenance(arrays["provenance"], problem.Phi))
        return problem

    @classmethod
    def load(cls, path: str | os.PathLike, *, max_bytes: int = MAX_NPZ_BYTES) -> "Problem":
        """Read and validate a problem saved by :meth:`save` (or any .npz with keys Phi, X[, Z]).

        Every member's declared size is screened before anything is loaded (`screen_npz`, at most `max_bytes`
        together), and only the keys Phi, X, Z and noise are read."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        # Everything below parses bytes from the file: whatever goes wrong there is the file's fault, so any
        # exception numpy, zipfile or zlib raises while reading becomes a one-line InputError.
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: not a readable .npz file (not a zip archive; a .npy file is a single array)")
        try:
            screen_npz(path, max_bytes=max_bytes)
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in _KEYS if k in data.files}
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        except Exception as exc:  # noqa: BLE001  (see above)
            raise InputError(f"{path}: not a readable .npz file ({_one_line(exc)})") from None
        try:
            return cls.from_arrays(arrays)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
