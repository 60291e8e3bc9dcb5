"""Input validation in the style of scikit-learn: one function per check, exact messages naming the input."""
from __future__ import annotations

import numpy as np

from vaetheory.core.errors import InputError


def as_matrix(value, name: str, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """Return `value` as a C-contiguous float64 2-D array, or raise InputError saying what is wrong.

    Integer and floating arrays are converted; complex, boolean, object, string and structured arrays are refused
    (never cast with a warning).

    `rows`/`cols`, when given, are the required sizes of the two axes.
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:  # e.g. ragged nested lists
        raise InputError(f"{name} must be a numeric array ({exc})") from None
    if raw.dtype.kind == "c":  # casting would drop the imaginary part (numpy only warns)
        raise InputError(f"{name} is complex-valued (dtype {raw.dtype}); vaetheory needs real arrays (pass the real "
                         "part explicitly if that is what you mean)")
    if raw.dtype.kind not in "iuf":  # bool, object, strings, dates, structured records
        raise InputError(f"{name} must be a real numeric array, got dtype {raw.dtype}")
    arr = raw.astype(np.float64, copy=False)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array, got {arr.ndim}-D with shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} must be non-empty, got shape {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise InputError(f"{name} must have {rows} rows, got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise InputError(f"{name} must have {cols} columns, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"{name} contains {int(bad.sum())} non-finite value(s), first at [{i}, {j}]: {arr[i, j]}")
    return np.ascontiguousarray(arr)


def check_positive(value: float, name: str) -> float:
    """Return `value` as a finite positive float, or raise InputError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be finite and > 0, got {v}")
    return v


def check_int(value, name: str, *, low: int, high: int | None = None) -> int:
    """Return `value` as an int in [low, high], or raise InputError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(f"{name} must be {rng}, got {v}")
    return v
