"""Input validation in the style of scikit-learn: one function per check, exact messages naming the input."""
from __future__ import annotations

import math
import zipfile

import numpy as np

from vaetheory.core.errors import InputError

#: Most bytes the members of an .npz may declare together (each member counted, whatever its name): a header or a
#: zip entry that lies cannot make a load allocate or inflate more than this. 1 GiB holds a d = 10, κ = 10^7
#: dictionary, far beyond what any oracle can use (`vaetheory.core.limits`).
MAX_NPZ_BYTES = 2**30
#: Most members an .npz may hold (a problem file has four).
MAX_NPZ_MEMBERS = 64
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _declared_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> int:
    """Bytes that loading member `info` would produce, from its first bytes only (nothing else is decompressed).

    numpy loads any member that starts with the .npy magic as an array, suffix or not; any other member is
    returned as its raw bytes, whose size the zip directory declares (and zipfile never inflates past it)."""
    with zf.open(info) as fh:
        magic = fh.read(len(np.lib.format.MAGIC_PREFIX))
        if magic != np.lib.format.MAGIC_PREFIX:
            return info.file_size
        version = tuple(fh.read(2))
        read_header = _NPY_HEADERS.get(version)
        if read_header is None:
            raise InputError(f"array {name!r}: unsupported .npy format version {'.'.join(map(str, version))}")
        shape, _, dtype = read_header(fh)
    if dtype.hasobject:
        raise InputError(f"array {name!r} holds Python objects (dtype {dtype}); only numeric arrays are read")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > info.file_size:
        raise InputError(f"array {name!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) but the archive "
                         f"holds {info.file_size:,} bytes for it")
    return nbytes


def screen_npz(path, *, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, int]:
    """Check an .npz before anything in it is loaded: read each member's .npy header (or, for a member that is not
    an .npy array, its declared size) through zipfile without decompressing the data, and refuse the archive when a
    header is inconsistent, a member holds objects, or the members together declare more than `max_bytes`.

    Returns ``{key: declared bytes}`` (keys as numpy names them: a ``.npy`` suffix dropped). Raises InputError;
    zipfile's own errors (a corrupt directory) propagate for the caller to word."""
    declared: dict[str, int] = {}
    with zipfile.ZipFile(path) as zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
        if len(members) > MAX_NPZ_MEMBERS:
            raise InputError(f"holds {len(members):,} members; a problem file has at most {MAX_NPZ_MEMBERS}")
        total = 0
        for info in members:
            name = info.filename.removesuffix(".npy")
            nbytes = _declared_bytes(zf, info, name)
            declared[name] = declared.get(name, 0) + nbytes
            total += nbytes
            if total > max_bytes:
                raise InputError(f"member {name!r} declares {nbytes:,} bytes, {total:,} bytes with the members "
                                 f"before it: over the limit of {max_bytes:,} bytes for a problem file "
                                 f"(raise it with --limit-scale)")
    return declared


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
