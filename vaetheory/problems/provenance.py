"""Where a dictionary Φ came from, and whether that can be believed (docs/oracles.md, "Certain").

The MMV uniqueness bound needs spark(Φ); for large Φ it cannot be computed, and "every d columns are independent"
(spark = d + 1) is only *known* for a Φ drawn from a continuous distribution — with probability one. vaetheory knows
that for the Φ it drew itself (`make_problem`), and records how: the generator and its integer seed. A problem file
can carry that record (``provenance``, a JSON string), but a file is untrusted: the record is believed only when
drawing Φ again from it gives exactly the Φ in the file. Anything else — a Φ from a user, an edited Φ, a record that
does not reproduce — has no provenance, and the oracle does not assume it generic.
"""
from __future__ import annotations

import json

import numpy as np

from vaetheory.core.errors import InputError

#: Generators whose Φ is generic with probability one (continuous distributions).
CONTINUOUS = ("gaussian", "coherent")
#: Longest provenance text a file may carry.
MAX_TEXT = 1_000


def provenance_text(record: dict) -> str:
    return json.dumps({k: record[k] for k in ("phi", "seed", "coherence") if k in record}, sort_keys=True)


def drawn_continuous(problem) -> bool:
    """True when vaetheory drew `problem`'s Φ from a continuous distribution (in this process, or as verified when
    its file was read)."""
    prov = getattr(problem, "provenance", None)
    return bool(prov) and prov.get("phi") in CONTINUOUS


def describe(problem) -> str:
    prov = getattr(problem, "provenance", None)
    if not prov:
        return "Φ has no provenance (not drawn by vaetheory, or drawn from a generator it cannot replay)"
    seed = prov.get("seed")
    return f"Φ drawn by vaetheory ({prov['phi']}" + ("" if seed is None else f", seed {seed}") + ")"


def regenerate_phi(record: dict, d: int, kappa: int) -> np.ndarray:
    """Φ as `make_problem` draws it from `record` (its first draw from ``default_rng(seed)``)."""
    from vaetheory.problems.generate import coherent_dictionary, gaussian_dictionary

    rng = np.random.default_rng(record["seed"])
    if record["phi"] == "gaussian":
        return gaussian_dictionary(d, kappa, rng)
    return coherent_dictionary(d, kappa, float(record["coherence"]), rng)


def verified_provenance(raw, Phi: np.ndarray) -> dict:
    """The provenance record read from a file, checked: InputError unless it parses, names a known generator with an
    integer seed, and reproduces `Phi` exactly."""
    arr = np.asarray(raw)
    if arr.ndim != 0 or arr.dtype.kind != "U" or len(str(arr)) > MAX_TEXT:
        raise InputError("provenance must be one short text (a JSON record written by vaetheory)")
    try:
        record = json.loads(str(arr))
    except json.JSONDecodeError as exc:
        raise InputError(f"provenance is not JSON ({exc.msg})") from None
    if (not isinstance(record, dict) or record.get("phi") not in CONTINUOUS or type(record.get("seed")) is not int
            or record["seed"] < 0 or (record["phi"] == "coherent"
                                      and not isinstance(record.get("coherence"), (int, float)))):
        raise InputError(f"provenance {str(arr)[:120]!r} is not a record vaetheory writes "
                         f"(phi in {CONTINUOUS}, an integer seed >= 0, a coherence for 'coherent')")
    d, kappa = Phi.shape
    try:
        again = regenerate_phi(record, d, kappa)
    except (InputError, ValueError, OverflowError) as exc:
        raise InputError(f"provenance {provenance_text(record)} cannot be replayed ({exc})") from None
    if not np.array_equal(again, Phi):
        raise InputError(f"provenance {provenance_text(record)} does not reproduce Phi (the file's Phi was not drawn "
                         "that way, or was edited): remove the provenance entry to use this Phi")
    return dict(record, verified=True)
