"""Replay: an independent check of a counterexample report (docs/replay.md).

A report is untrusted input. Replay reads it defensively (`load_report`: a size limit and a nesting-depth limit
before parsing, finite numbers only, the versioned JSON Schema ``schema/report-v1.schema.json``), rebuilds the
problem and the variant, and recomputes every claim the report makes with the installed suite's own settings — the
certificate tolerances, the active threshold, the precisions and box radii of the interval proofs (`ReplaySettings`:
they may be tightened, never loosened) — then compares each stated number with the recomputed one
(`ReplaySettings.rtol`, `atol`). Every disagreement is a mismatch naming the field; a reproduced report has none.

A report never chooses code: a built-in variant is looked up by name; a plug-in runs only when the caller names it
(``variant="file.py:OBJ"``, the CLI's ``--variant``), and then in a child process under a time limit
(`vaetheory.report.isolate.run_isolated`).

This module imports nothing heavy at import time, so that a malformed file is refused before torch is loaded.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from vaetheory.core.errors import InputError

#: The report format this replay reads (the ``schema`` field) and its JSON Schema, shipped with the package.
SCHEMA_ID = "vaetheory.report/1"
SCHEMA_FILE = Path(__file__).parent / "schema" / "report-v1.schema.json"
#: A report larger than this is refused before it is read (the largest main-job reports are under 1 MB).
MAX_REPORT_BYTES = 16 * 2**20
#: Deepest JSON nesting accepted (reports nest 4-5 levels; Python's parser would recurse without bound).
MAX_DEPTH = 32
#: Problem sizes replay accepts (larger ones are refused before any computation): d, κ (the certificate forms a κ×κ
#: Hessian for the VAE variants: 128 MB at 4,000), n, and the entries of Φ and X.
MAX_D, MAX_KAPPA, MAX_N, MAX_ENTRIES = 2_000, 4_000, 10_000, 2_000_000
#: A stated number agrees with the recomputed one when |a − b| ≤ AGREE_RTOL·max(|a|, |b|) + AGREE_ATOL.
AGREE_RTOL, AGREE_ATOL = 1e-6, 1e-10
#: File names that carry a content hash: ``<variant>-<first 12 hex digits of sha256(file bytes)>.json``.
HASHED_NAME = re.compile(r"^(?P<stem>.+)-(?P<digest>[0-9a-f]{12})\.json$")


def _suite_defaults() -> dict:
    from vaetheory.certify.numeric import HESSIAN_TOL, KKT_TOL

    return {"kkt_tol": KKT_TOL, "hessian_tol": HESSIAN_TOL}


@dataclass(frozen=True)
class ReplaySettings:
    """What replay judges with. Defaults are the installed suite's; each may be tightened (made smaller), never
    loosened: `validate` raises InputError otherwise.

    kkt_tol, hessian_tol: the certificate tolerances (`vaetheory.certify.numeric`). The active threshold
    (``ACTIVE_RTOL``), the γ floor (the variant's), the oracle's exact-fit tolerance and the proofs' precisions and
    box radii (``certify.interval.LADDER``, ``RHO_MAX``) are always the suite's.
    rtol, atol: a stated number agrees with the recomputed one when ``|a − b| ≤ rtol·max(|a|, |b|) + atol``.
    mip_time_limit: the largest time limit a re-run MIP oracle gets (the report's own limit when smaller)."""

    kkt_tol: float | None = None
    hessian_tol: float | None = None
    rtol: float = AGREE_RTOL
    atol: float = AGREE_ATOL
    mip_time_limit: float | None = None

    def validate(self) -> "ReplaySettings":
        from vaetheory.oracle.answer import DEFAULT_MIP_TIME_LIMIT

        suite = _suite_defaults() | {"rtol": AGREE_RTOL, "atol": AGREE_ATOL, "mip_time_limit": DEFAULT_MIP_TIME_LIMIT}
        out = {}
        for f in fields(self):
            value, default = getattr(self, f.name), suite[f.name]
            if value is None:
                value = default
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise InputError(f"replay setting {f.name} must be a positive finite number, got {value!r}")
            if value > default:
                raise InputError(f"replay setting {f.name} = {value:g} would loosen the suite's {default:g}: "
                                 "replay settings may only be tightened")
            out[f.name] = float(value)
        return ReplaySettings(**out)


@dataclass(frozen=True)
class ReplayResult:
    """What a replay recomputed, scipy-style: the verdict and support of the stored end point, its refit residual,
    the oracle's optimal supports, its energy, the proof record it re-checked (or made), whether every stated claim
    agreed (`reproduced`) and, when not, the mismatches, each naming its field. `notes`: what was not compared and
    why (e.g. library versions differ, a proof made at replay). `settings`: the settings judged with."""

    path: Path
    variant: str
    stored_verdict: str
    verdict: str | None
    support: list[int]
    residual: float | None
    optimal_supports: list[list[int]]
    energy: float | None
    reproduced: bool
    mismatches: list[str]
    gamma: float | None = None
    limit: bool = False
    reason: str | None = None
    proof: dict | None = None  # the re-checked stored proof, or a fresh one for a minimum stored without one
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["path"] = str(self.path)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ReplayResult":
        return cls(**(data | {"path": Path(data["path"])}))


# Reading a report --------------------------------------------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _depth(raw: bytes) -> int:
    """Deepest nesting of [ and { outside strings (strings blanked first): a running count over the brackets only."""
    import numpy as np

    skeleton = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    brackets = skeleton[np.isin(skeleton, np.frombuffer(b"[]{}", dtype=np.uint8))]
    step = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(step.cumsum().max(initial=0))


#: Largest integer a report may hold (float64 represents every integer up to this exactly).
MAX_INT = 2**53


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_INT:
        raise ValueError(f"integer {text[:40]}{'...' if len(text) > 40 else ''} is larger than {MAX_INT}")
    return value


def _first_nonfinite(data) -> str | None:
    """Where `data` holds a non-finite float (JSON reads 1e999 as infinity), as a dotted path, or None. Lists are
    checked in bulk (a report's matrices hold most of its numbers)."""
    import numpy as np

    stack = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            types = set(map(type, node))
            if float in types and types <= _NUMBER_TYPES and not np.isfinite(np.array(node, dtype=float)).all():
                return where
            if float in types and not types <= _NUMBER_TYPES and not all(
                    math.isfinite(x) for x in node if type(x) is float):
                return where
            if types & {list, dict}:
                stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node) if isinstance(v, (list, dict)))
        elif type(node) is float and not math.isfinite(node):
            return where
    return None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a report may hold (JSON has no NaN or infinity)")


_VALIDATOR = None


def report_schema() -> dict:
    """The JSON Schema of reports (version 1), as shipped in the package."""
    return json.loads(SCHEMA_FILE.read_text())


def _validator():
    global _VALIDATOR
    if _VALIDATOR is None:
        from jsonschema import Draft202012Validator

        _VALIDATOR = Draft202012Validator(report_schema())
    return _VALIDATOR


def _short(value, width: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


#: The numeric blocks of a report (parent key, key, the schema definition they follow): checked by `_numeric_errors`
#: with plain loops, since a general validator spends seconds on a large Φ, then left out of the schema validation.
_NUMERIC_BLOCKS = (("problem", "Phi", "matrix"), ("problem", "X", "matrix"), ("problem", "Z", "matrix"),
                   ("end", "theta", "vector"), ("start", "theta", "vector"), ("end", "params", "params"),
                   ("start", "params", "params"))


_NUMBER_TYPES = frozenset((float, int))


def _is_number(x) -> bool:
    return type(x) in _NUMBER_TYPES


def _numbers(values: list) -> bool:
    """Every item of the list is a JSON number (bool is not: its type is checked exactly)."""
    return set(map(type, values)) <= _NUMBER_TYPES


def _nested_numbers(value, most: int) -> bool:
    if _is_number(value):
        return True
    return isinstance(value, list) and len(value) <= most and (
        _numbers(value) or all(_nested_numbers(v, most) for v in value))


def _numeric_errors(kind: str, value, defs: dict) -> str | None:
    """Why `value` is not a `kind` ("matrix", "vector", "params") of the schema's ``$defs``, or None."""
    if kind == "matrix":
        rows, cols = defs["matrix"], defs["matrix"]["items"]
        if not (isinstance(value, list) and rows["minItems"] <= len(value) <= rows["maxItems"]):
            return f"not a list of 1 to {rows['maxItems']} rows"
        for i, row in enumerate(value):
            if not (isinstance(row, list) and cols["minItems"] <= len(row) <= cols["maxItems"]
                    and _numbers(row)):
                return f"row {i} is not a list of 1 to {cols['maxItems']} numbers"
    elif kind == "vector":
        vec = defs["vector"]
        if not (isinstance(value, list) and vec["minItems"] <= len(value) <= vec["maxItems"]
                and _numbers(value)):
            return f"not a list of 1 to {vec['maxItems']} numbers"
    else:
        most = defs["nested_numbers"]["oneOf"][1]["maxItems"]
        if not (isinstance(value, dict) and len(value) <= defs["params"]["maxProperties"]):
            return f"not an object of at most {defs['params']['maxProperties']} parameters"
        for name, v in value.items():
            if not _nested_numbers(v, most):
                return f"parameter {name!r} is not a number or nested lists of numbers"
    return None


def schema_errors(data) -> list[str]:
    """One line per place where `data` breaks the report schema (empty when it conforms), at most 5. The numeric
    blocks (`_NUMERIC_BLOCKS`) are checked first by plain loops against the schema's own definitions (the same
    rules), the rest by the JSON Schema validator."""
    from jsonschema.exceptions import best_match

    defs = _validator().schema["$defs"]
    if isinstance(data, dict):
        stand_in = {"matrix": [[0.0]], "vector": [0.0], "params": {}}
        light = dict(data)
        for parent, key, kind in _NUMERIC_BLOCKS:
            block = light.get(parent)
            if not isinstance(block, dict) or block.get(key) is None:
                continue  # absent, null or not an object: the validator says what is wrong
            why = _numeric_errors(kind, block[key], defs)
            if why is not None:
                return [f"{parent}.{key}: {why}"]
            light[parent] = dict(light[parent]) | {key: stand_in[kind]}
        data = light
    errors = list(_validator().iter_errors(data))
    if not errors:
        return []
    out = []
    for err in [best_match(errors)] + [e for e in errors if e is not best_match(errors)][:4]:
        where = err.json_path.removeprefix("$.") if err.json_path != "$" else "the top level"
        if err.validator == "required":
            what = err.message.split(" is a required")[0] + " is missing"
        elif err.validator == "additionalProperties":
            what = "has a field the schema does not allow (" + err.message.split("(")[-1].rstrip(")") + ")"
        else:
            what = f"{_short(err.instance, 40)} fails {err.validator} {_short(err.validator_value, 60)}"
        out.append(f"{where}: {what}")
    return out


def read_report(path: str | os.PathLike) -> tuple[bytes, dict]:
    """(raw bytes, parsed report) of a report file, checked in order of cost: it is a regular file no larger than
    MAX_REPORT_BYTES, UTF-8, nested no deeper than MAX_DEPTH, JSON with finite numbers only, and conforms to the
    report schema. InputError (one line, naming the file) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such report file")
    size = path.stat().st_size
    if size > MAX_REPORT_BYTES:
        raise InputError(f"{path}: {size:,} bytes, larger than a report may be ({MAX_REPORT_BYTES:,})")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_REPORT_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON report ({type(exc).__name__}: {exc})") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise InputError(f"{path}: larger than a report may be ({MAX_REPORT_BYTES:,} bytes)")
    depth = _depth(raw)
    if depth > MAX_DEPTH:
        raise InputError(f"{path}: not a readable JSON report (nested {depth} deep; a report nests at most "
                         f"{MAX_DEPTH})")
    try:
        data = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not a readable JSON report ({' '.join(str(exc).split())[:200]})") from None
    where = _first_nonfinite(data)
    if where is not None:
        raise InputError(f"{path}: not a readable JSON report ({where or 'the top level'} holds a number out of the "
                         "float64 range)")
    if not isinstance(data, dict):
        raise InputError(f"{path}: a report must be a JSON object, got {type(data).__name__}")
    if data.get("schema") not in (None, SCHEMA_ID):
        raise InputError(f"{path}: report format {_short(data.get('schema'))} is not one this replay reads "
                         f"({SCHEMA_ID})")
    errors = schema_errors(data)
    if errors:
        raise InputError(f"{path}: not a valid {SCHEMA_ID} report: {errors[0]}"
                         + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    why = shape_errors(data)
    if why is not None:
        raise InputError(f"{path}: {why}")
    return raw, data


def shape_errors(data: dict) -> str | None:
    """What the schema cannot say about a report that conforms to it: Φ, X and Z are matrices (equal rows) of
    matching shapes — X with d rows, Z κ × n —, the problem is within replay's size limits, and every column index
    (supports, the witness, the proof's active set is a coordinate index and is left to the proof) is below κ.
    None when all hold."""
    prob = data["problem"]
    shapes = {}
    for key in ("Phi", "X", "Z"):
        rows = prob[key]
        if rows is None:
            continue
        widths = set(map(len, rows))
        if len(widths) != 1:
            return f"problem.{key} is not a matrix (rows of lengths {sorted(widths)[:4]})"
        shapes[key] = (len(rows), widths.pop())
    (d, kappa), (d_x, n) = shapes["Phi"], shapes["X"]
    if d_x != d:
        return f"problem.X has {d_x} rows, Phi has {d}"
    if "Z" in shapes and shapes["Z"] != (kappa, n):
        return f"problem.Z is {shapes['Z'][0]} x {shapes['Z'][1]}, not kappa x n = {kappa} x {n}"
    if d > MAX_D or kappa > MAX_KAPPA or n > MAX_N or d * max(kappa, n) > MAX_ENTRIES:
        return (f"problem of size d={d}, kappa={kappa}, n={n} exceeds what replay accepts (d <= {MAX_D}, "
                f"kappa <= {MAX_KAPPA}, n <= {MAX_N}, d*max(kappa, n) <= {MAX_ENTRIES:,})")
    oracle = data["oracle"]
    indexed = {"verdict.support": [data["verdict"]["support"]], "oracle.witness": [oracle.get("witness") or []],
               "oracle.supports": oracle.get("supports") or [], "oracle.optimal_supports":
               oracle.get("optimal_supports") or [], "start.support": [data["start"]["support"] or []]}
    for where, supports in indexed.items():
        for support in supports:
            if support and max(support) >= kappa:
                return f"{where} names column {max(support)}, but kappa = {kappa}"
    return None


def load_report(path: str | os.PathLike) -> dict:
    """Read and validate a report (`read_report`); InputError when it is missing, unreadable or malformed."""
    return read_report(path)[1]


def name_hash_mismatch(path: Path, raw: bytes) -> str | None:
    """When the file name carries a content hash (``<variant>-<12 hex>.json``, as `write_report` names reports),
    the mismatch when it is not the hash of these bytes; None otherwise (or when the name carries no hash)."""
    m = HASHED_NAME.match(path.name)
    if m is None:
        return None
    digest = hashlib.sha256(raw).hexdigest()[:12]
    if digest != m.group("digest"):
        return (f"file name: the name carries content hash {m.group('digest')} but the content hashes to {digest} "
                "(the file was edited after it was written)")
    return None


# Resolving the variant ---------------------------------------------------------------------------------------------

def builtin_variant(data: dict, path: Path):
    """The built-in variant a report names; InputError when it names anything else (replay never runs code a report
    names: the caller must pass the plug-in explicitly)."""
    from vaetheory.variants.builtin import BUILTINS

    name, spec = data["variant"]["name"], data["variant"]["spec"]
    if name in BUILTINS and spec is None:
        return BUILTINS[name]
    named = f"variant {name!r}" + ("" if spec is None else f" with import spec {spec!r}")
    raise InputError(f"{path}: the report names {named}, which is not a built-in; replay never runs code a report "
                     "names: pass the variant yourself (vaetheory replay REPORT --variant file.py:OBJ)")


def replay_report(path: str | os.PathLike, *, variant=None, settings: ReplaySettings | None = None,
                  timeout: float | None = None) -> ReplayResult:
    """Replay the report at `path` (module docstring; docs/replay.md).

    variant: None (the report must name a built-in, looked up by name), a spec string chosen by the caller (a
    built-in name, or a plug-in ``file.py:OBJ`` / ``module:OBJ`` run in a child process under `timeout` seconds,
    default `isolate.DEFAULT_PLUGIN_TIMEOUT`), or a `Variant` object (the caller's own code, run here).
    settings: tightened `ReplaySettings` (default: the suite's).
    Raises InputError for a malformed report or a report that names a non-built-in variant without `variant`,
    VariantError when a plug-in fails, times out or dies."""
    path = Path(path)
    raw, data = read_report(path)  # first: a malformed file is refused before torch is imported
    settings = (settings or ReplaySettings()).validate()
    if isinstance(variant, str):
        from vaetheory.variants.builtin import BUILTINS

        if variant.strip() not in BUILTINS:
            return _replay_isolated(path, variant, settings, timeout)
        variant = BUILTINS[variant.strip()]
    if variant is None:
        variant = builtin_variant(data, path)
    mismatches = [m for m in [name_hash_mismatch(path, raw)] if m]
    return _Replay(path, data, variant, settings, mismatches).run()


def _replay_isolated(path: Path, spec: str, settings: ReplaySettings, timeout: float | None) -> ReplayResult:
    """`replay_report` with the plug-in `spec` in a child process (`isolate.run_isolated`, task kind "replay")."""
    from vaetheory.core.errors import VariantError
    from vaetheory.report.isolate import DEFAULT_PLUGIN_TIMEOUT, run_isolated

    limit = DEFAULT_PLUGIN_TIMEOUT if timeout is None else timeout
    task = {"kind": "replay", "spec": spec, "args": {"path": str(path), "settings": asdict(settings)}}
    outcome = run_isolated(task, limit)
    for m in outcome.messages:
        if "result" in m:
            return ReplayResult.from_dict(m["result"])
        if "error" in m:
            if m.get("user_error"):
                raise VariantError(m["error"])
            raise VariantError(f"variant {spec!r}: {m['error']}")
    raise VariantError(f"variant {spec!r}: {outcome.error or 'no result'}")


def replay_in_child(spec: str, path: str, settings: dict) -> dict:
    """Child side of `_replay_isolated`: resolve the plug-in the caller named and replay in this process."""
    from vaetheory.variants import get_variant

    return replay_report(path, variant=get_variant(spec), settings=ReplaySettings(**settings)).to_dict()


# Recomputing and comparing -----------------------------------------------------------------------------------------

def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def same(a, b, rtol: float, atol: float) -> bool:
    """Stated `a` agrees with recomputed `b`: numbers within ``rtol·max(|a|, |b|) + atol`` (integers exactly),
    lists and dicts element by element, anything else equal (booleans are not numbers)."""
    if _number(a) and _number(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return abs(a - b) <= rtol * max(abs(a), abs(b)) + atol
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rtol, atol) for k in a)
    return type(a) is type(b) and a == b


def _jsonable(value):
    """Recomputed values as JSON would hold them (tuples → lists, numpy scalars → Python, non-finite → None)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o),
                                 allow_nan=True), parse_constant=lambda _: None)


#: Oracle fields that are not recomputed: wall-clock times.
_ORACLE_UNCOMPARED = {"seconds"}
#: Keys inside ``oracle.details`` that depend on the run rather than on the problem (how `auto` chose, the MIP's
#: attempts, limits and solver status, which candidate was offered).
_DETAILS_UNCOMPARED = {"auto", "attempts", "time_limit", "seconds", "candidate", "status", "mip_gap", "nodes"}
#: Proof fields that are not compared: a diagnostic ratio and the run's bookkeeping of a shared box or of a proof
#: made at replay.
_PROOF_EXTRA_UNCOMPARED = {"krawczyk_ratio", "shared_box", "source"}
#: What replay does not verify (docs/replay.md): run provenance that the file alone cannot show (seed, which restart,
#: the start, how many end points reached the support, library versions), illustration (the figure's data), prose
#: (the claim's wording, reasons: a reason's presence is compared, not its text), and the fields above.
UNVERIFIED_FIELDS: tuple[str, ...] = (
    ("seed", "restart", "start.kind", "start.support", "reached_by", "profile", "versions", "variant.claim.statement",
     "verdict.reason", "verdict.proof.reason")
    + tuple(f"oracle.{k}" for k in sorted(_ORACLE_UNCOMPARED))
    + tuple(f"oracle.details.{k}" for k in sorted(_DETAILS_UNCOMPARED))
    + tuple(f"verdict.proof.extra.{k}" for k in sorted(_PROOF_EXTRA_UNCOMPARED)))


class _Replay:
    """One replay: rebuilds problem, variant and objective, recomputes, compares (`run`)."""

    def __init__(self, path: Path, data: dict, variant, settings: ReplaySettings, mismatches: list[str]):
        self.path, self.data, self.variant, self.s = path, data, variant, settings
        self.mismatches, self.notes = mismatches, []

    # helpers
    def bad(self, message: str) -> None:
        raise InputError(f"{self.path}: {message}")

    def differ(self, field_name: str, stated, recomputed) -> None:
        self.mismatches.append(f"{field_name}: stated {_short(stated)}, recomputed {_short(recomputed)}")

    def compare(self, field_name: str, stated, recomputed) -> None:
        recomputed = _jsonable(recomputed)
        if not same(stated, recomputed, self.s.rtol, self.s.atol):
            self.differ(field_name, stated, recomputed)

    def compare_record(self, prefix: str, stated: dict, fresh: dict, skip=(), prose=()) -> None:
        """Every stated key of a record against the recomputed one; a stated key replay cannot recompute is a
        mismatch (it is a claim nobody checked). `prose` keys are compared for presence only."""
        fresh = _jsonable(fresh)
        for key, value in stated.items():
            if key in skip:
                continue
            if key not in fresh:
                self.mismatches.append(f"{prefix}.{key}: stated {_short(value)}, but this suite does not compute "
                                       "such a field (nothing can check it)")
            elif key in prose:
                if (value is None) != (fresh[key] is None):
                    self.differ(f"{prefix}.{key}", value, fresh[key])
            else:
                self.compare(f"{prefix}.{key}", value, fresh[key])

    def compare_basis(self, field_name: str, stated, fresh) -> None:
        """The oracle's basis line, as the method states it; a run's ``auto`` prefixes how it chose the method
        ("auto → enumerate (...). "), which depends on what the run offered it (e.g. an ℓ2,1 support)."""
        if not (isinstance(stated, str) and isinstance(fresh, str)
                and (stated == fresh or (stated.startswith("auto → ") and stated.endswith(". " + fresh)))):
            self.differ(field_name, stated, fresh)

    # stages
    def problem(self):
        import numpy as np

        from vaetheory.problems.problem import Problem

        prob = self.data["problem"]  # shapes and sizes were checked when the file was read (`shape_errors`)
        arrays = {k: np.asarray(prob[k], dtype=np.float64) for k in ("Phi", "X")}
        if prob["Z"] is not None:
            arrays["Z"] = np.asarray(prob["Z"], dtype=np.float64)
        try:
            problem = Problem.from_arrays(arrays | {"noise": np.float64(prob["noise"])})
        except InputError as exc:
            self.bad(f"problem: {exc}")
        if prob.get("provenance") is not None:  # a claim about Φ, believed only when drawing Φ again reproduces it
            try:
                problem = Problem.from_arrays(arrays | {"noise": np.float64(prob["noise"]),
                                                        "provenance": np.array(prob["provenance"])})
            except InputError as exc:
                self.mismatches.append(f"problem.provenance: {exc}")
        self.compare("problem.describe", prob["describe"], problem.describe())
        return problem

    def point(self, objective, key: str):
        import numpy as np

        block = self.data[key]
        theta = np.asarray(block["theta"], dtype=np.float64)
        if theta.shape != (objective.size,):
            self.bad(f"{key}.theta has {theta.size} coordinates; variant {self.variant.name!r} on this problem has "
                     f"{objective.size}")
        negative = np.flatnonzero(objective.layout.nonneg & (theta < 0))
        if negative.size:
            self.bad(f"{key}.theta[{negative[0]}] = {theta[negative[0]]:g} is negative, but that parameter is "
                     "non-negative: not a feasible point")
        params = {k: v[0].tolist() for k, v in objective.layout.unpack_numpy(theta[None]).items()}
        if set(block["params"]) != set(params):
            self.differ(f"{key}.params", sorted(block["params"]), sorted(params))
        else:
            for name, value in params.items():
                if not same(block["params"][name], value, 0.0, 0.0):
                    self.mismatches.append(f"{key}.params.{name}: not the named view of {key}.theta")
        return theta

    def gammas(self, problem):
        from vaetheory.core.limits import check_gamma

        d, v = self.data, self.variant
        try:
            check_gamma(d["point_gamma"], problem.Phi, problem.X, "point_gamma")
        except InputError as exc:
            self.bad(str(exc))
        mode = d["gamma_mode"]
        if mode == "learned":
            if not v.gamma.learnable:
                self.mismatches.append(f"gamma_mode: stated 'learned', but variant {v.name!r} does not learn gamma")
                return float(d["point_gamma"]), None
            return float(d["point_gamma"]), self.floor(float(v.gamma.floor))
        if d.get("gamma_floor") is not None:
            self.differ("gamma_floor", d["gamma_floor"], None)
        self.compare("gamma", d["gamma"], float(d["point_gamma"]))  # at fixed γ every point has the run's γ
        return float(d["point_gamma"]), None

    def floor(self, variant_floor: float) -> float:
        """The γ floor to certify a learned-γ point against: the variant's, or the lower floor the report states when
        it is one the suite follows points down to (``certify.limit.FOLLOW_FACTORS``: a point whose limit check failed
        at the variant's floor is followed below it, and the report holds where the following ended). A lower floor
        only removes a constraint, so a minimum there is a minimum at least as strict; `gamma_floor` itself is
        compared after judging."""
        from vaetheory.certify import limit

        stated = self.data.get("gamma_floor")
        for f in (variant_floor, *(variant_floor * k for k in getattr(limit, "FOLLOW_FACTORS", ()))):
            if _number(stated) and same(stated, f, self.s.rtol, 0.0):
                return f
        return variant_floor

    def oracle(self, problem):
        from vaetheory.core.errors import BudgetError
        from vaetheory.core.limits import check_oracle_size
        from vaetheory.oracle.answer import DEFAULT_MIP_TIME_LIMIT, ORACLE_METHODS, OracleNotApplicable
        from vaetheory.oracle.auto import run_oracle
        from vaetheory.report.counterexample import stored_oracle_method

        stored = self.data["oracle"]
        # a run whose own end points (or l21 solution) fit X with fewer rows than the oracle's k* demotes the answer
        # (`verdict.consistency`) and keeps the original in details.demoted_from: that is what is re-run
        demoted_from = (stored.get("details") or {}).get("demoted_from")
        source = demoted_from if isinstance(demoted_from, dict) else stored
        method = stored_oracle_method(source)
        if method not in ORACLE_METHODS or method == "auto":
            self.bad(f"oracle.method {method!r} is not an oracle method ({', '.join(ORACLE_METHODS[1:])})")
        kw = {}
        witness = source.get("witness")
        if witness:
            if method != "enumerate":
                # offered as the run's check offers its l21 support (so the oracle names its source as the run's
                # did); an offered support is used only when the oracle finds that it fits X
                kw["l21_support"] = witness
        if method == "mip":
            stated = (source.get("details") or {}).get("time_limit")
            limit = min(self.s.mip_time_limit, DEFAULT_MIP_TIME_LIMIT)
            kw["mip_time_limit"] = limit if not _number(stated) or stated <= 0 else min(float(stated), limit)
        check_oracle_size(method, problem.d, problem.kappa, problem.n)  # BudgetError before any work
        try:
            answer = run_oracle(problem, method, **kw)
        except (OracleNotApplicable, BudgetError) as exc:
            self.mismatches.append(f"oracle.method: the stated method {method!r} cannot decide this problem "
                                   f"({' '.join(str(exc).split())})")
            try:
                answer = run_oracle(problem, "auto", l21_support=kw.get("l21_support"))
            except (OracleNotApplicable, BudgetError) as exc2:
                self.bad(f"no oracle method decides this problem ({exc2})")
        if source is stored:
            self.compare_oracle(stored, answer, problem, method)
            return answer
        self.compare_oracle(demoted_from, answer, problem, method, prefix="oracle.details.demoted_from")
        return self.demotion(problem, stored, answer)

    def demotion(self, problem, stored: dict, original):
        """The demoted answer of a report whose oracle was contradicted, derived again (`check_oracle`) from the
        original answer and the stated witness, and compared with the stated record. The basis names where the run
        found the sparser fit (one of its end points), which the file does not hold: it is not compared."""
        import numpy as np

        from vaetheory.verdict.consistency import check_oracle

        witness = stored.get("witness") or None
        cons = check_oracle(problem, original, np.zeros((1, problem.kappa), dtype=bool), np.array([np.inf]),
                            l21_support=witness)
        if not cons.contradicted:
            self.mismatches.append(f"oracle.details.demoted_from: the stated witness {witness} does not contradict "
                                   f"the oracle's answer (k* = {original.k_star})")
            return original
        fresh = cons.oracle.record()
        self.compare_record("oracle", stored, fresh, skip=_ORACLE_UNCOMPARED | {"basis", "details"})
        self.compare_record("oracle.details", stored["details"], fresh["details"],
                            skip=_DETAILS_UNCOMPARED | {"demoted_from"})
        return cons.oracle

    def compare_oracle(self, stored: dict, answer, problem, method: str, prefix: str = "oracle") -> None:
        from vaetheory.oracle.exhaustive import fit_residual

        fresh = answer.record()
        legacy = stored.get("method") is None or stored.get("method") in ("rank-aware", "enumeration")
        certain_both = answer.k_star_certain and stored.get("k_star_certain", True)
        # the witness and every stated optimal support must fit X, with the stated residual
        witness = stored.get("witness")
        if witness:
            res = fit_residual(problem.Phi, problem.X, witness)
            if not res <= answer.rtol:
                self.mismatches.append(f"{prefix}.witness: {witness} does not fit X (residual {res:.3g} > "
                                       f"{answer.rtol:g})")
            if "witness_residual" in stored:
                self.compare(f"{prefix}.witness_residual", stored["witness_residual"], res)
        elif "witness_residual" in stored:
            self.compare(f"{prefix}.witness_residual", stored["witness_residual"], answer.witness_residual)
        for key in ("supports", "optimal_supports"):
            for s in stored.get(key) or []:
                res = fit_residual(problem.Phi, problem.X, s) if s else math.inf
                if not res <= answer.rtol:
                    self.mismatches.append(f"{prefix}.{key}: {s} does not fit X (residual {res:.3g})")
        if method == "mip" and not certain_both:
            # a MIP that did not prove optimality may stop at another incumbent: k* is only an upper bound, checked
            # through the witness above; a stated proof of optimality must be re-established
            if stored.get("k_star_certain") and not answer.k_star_certain:
                self.mismatches.append(f"{prefix}.k_star_certain: stated true, but the MIP did not prove optimality "
                                       "again within the time limit")
            for key in ("k", "k_star"):
                if key in stored and stored.get("witness") and stored[key] != len(stored["witness"]):
                    self.differ(f"{prefix}.{key}", stored[key], len(stored["witness"]))
            for key in ("method", "rtol"):
                if key in stored:
                    self.compare(f"{prefix}.{key}", stored[key], fresh[key])
            return
        skip = set(_ORACLE_UNCOMPARED) | {"details", "basis", "witness_residual"}
        if method == "mip":  # the MIP lists its witness only, and which exact fit it returns may vary
            skip |= {"witness", "supports", "optimal_supports"}
        if legacy:
            skip |= {"method", "n_subsets", "rank_X"}  # legacy keys; n_subsets/rank_X moved into details
            for key in ("n_subsets", "rank_X"):
                if key in stored and key in fresh["details"]:
                    self.compare(f"{prefix}.{key}", stored[key], fresh["details"][key])
        self.compare_record(prefix, stored, fresh, skip=skip)
        if "basis" in stored:
            self.compare_basis(f"{prefix}.basis", stored["basis"], fresh["basis"])
        details = stored.get("details")
        if isinstance(details, dict):
            self.compare_record(f"{prefix}.details", details, fresh["details"], skip=_DETAILS_UNCOMPARED)

    def run(self) -> ReplayResult:
        import numpy as np

        from vaetheory.search.multistart import ACTIVE_RTOL
        from vaetheory.search.objective import Objective
        from vaetheory.verdict.judge import judge_points, point_verdicts

        d, s = self.data, self.s
        if d["variant"]["name"] != self.variant.name:
            self.differ("variant.name", d["variant"]["name"], self.variant.name)
        problem = self.problem()
        try:
            objective = Objective(self.variant, problem)
        except (ValueError, TypeError) as exc:
            self.bad(f"variant {self.variant.name!r} cannot be built on this problem ({exc})")
        theta = self.point(objective, "end")
        self.point(objective, "start")
        gamma, floor = self.gammas(problem)
        tolerances = {"kkt_tol": s.kkt_tol, "hessian_tol": s.hessian_tol, "active_rtol": ACTIVE_RTOL}
        suite = _suite_defaults() | {"active_rtol": ACTIVE_RTOL}
        for key, mine in suite.items():  # the settings a run of this suite certifies with; replay judges with its own
            if not same(d["certificate"][key], mine, s.rtol, 0.0):
                self.mismatches.append(f"certificate.{key}: stated {d['certificate'][key]:g}, but this suite "
                                       f"certifies at {mine:g} (replay judged at {tolerances[key]:g})")
        answer = self.oracle(problem)
        gammas = np.array([gamma])
        judged = judge_points(objective, theta[None], gammas, answer, gamma_floor=floor, **tolerances)
        # as `run_check` goes on: a point followed below the floor is judged where the following ended, and a run
        # with proofs settles degenerate (and followed uncertified) points by their interval proofs
        at = judged.theta if getattr(judged, "theta", None) is not None else theta[None]
        gammas = judged.gamma if getattr(judged, "gamma", None) is not None else gammas
        settled = None
        if d["verdict"].get("proof") is not None:
            judged, settled = self.settle(objective, at, gammas, judged, answer)
        U = objective.representation(at, gammas)
        own = np.linalg.norm(problem.X[None] - problem.Phi[None] @ U, axis=(1, 2)) / np.linalg.norm(problem.X)
        stored_v = d["verdict"]
        start_kind = stored_v.get("start_kind", d["start"]["kind"])
        if start_kind != d["start"]["kind"]:
            self.differ("verdict.start_kind", start_kind, d["start"]["kind"])
        point = point_verdicts(judged, gammas, [d["start"]["kind"]], own)[0]
        if floor is not None:  # the floor the point was certified against: the variant's, or one it was followed to
            lower = getattr(point, "gamma_floor", None)
            self.compare("gamma_floor", d.get("gamma_floor"), floor if lower is None else lower)
        verdict = point.verdict
        if d["kind"] != verdict:
            self.differ("kind", d["kind"], verdict)
        fresh_v = point.to_dict()
        fresh_v.pop("proof", None)
        if "followed" in fresh_v and floor is not None and floor < self.variant.gamma.floor:
            fresh_v["followed"] = True  # certified at a floor below the variant's: the run followed it there
        self.compare_record("verdict", stored_v, fresh_v, skip={"proof"}, prose={"reason"})
        proof = self.proof(objective, theta, gamma, judged, answer, verdict, settled)
        self.claim(problem, answer, verdict, gamma, proof)
        versions = _versions()
        if d["versions"] != versions:
            self.notes.append(f"written with {_short(d['versions'], 200)}; replayed with {_short(versions, 200)}")
        self.notes.append("not verified (run provenance, illustration, prose): " + ", ".join(
            f for f in UNVERIFIED_FIELDS if f.split(".")[0] in d and not f.startswith("oracle.details.")))
        support = [int(j) for j in np.flatnonzero(judged.masks[0])]
        return ReplayResult(self.path, self.variant.name, str(d["kind"]), verdict, support,
                            float(judged.residuals[0]), [list(x) for x in answer.supports],
                            float(judged.certificate.energy[0]), not self.mismatches, self.mismatches, gamma,
                            bool(judged.limit[0]), judged.reasons[0], proof, self.notes,
                            asdict(s) | {"active_rtol": ACTIVE_RTOL})

    def settle(self, objective, theta, gammas, judged, answer):
        """`verdict.proofs.settle` on the point, as a run with proofs does: (judgement with the settled verdict,
        the run's proof record for the point). Without `settle` in the suite: the judgement as it is, no record."""
        from dataclasses import replace

        from vaetheory.verdict import proofs as P

        if not hasattr(P, "settle"):
            return judged, None
        learn = self.data["gamma_mode"] == "learned" and self.variant.gamma.learnable
        verdicts, reasons, proofs = P.settle(objective, theta, gammas, judged.verdicts, judged.reasons, judged.masks,
                                             judged.residuals, answer, learn_gamma=learn,
                                             gamma_floor=getattr(judged, "floor", None),
                                             active_rtol=judged.certificate.active_rtol,
                                             followed=getattr(judged, "followed", None))
        return replace(judged, verdicts=verdicts, reasons=reasons), proofs[0].to_dict()

    def proof(self, objective, theta, gamma: float, judged, answer, verdict: str, settled: dict | None = None
              ) -> dict | None:
        """Re-check a stated proof on its stated box with the suite's precisions (`certify.interval.reprove`) and
        compare the record; a stated record that is not ``proved`` is compared with the run's own proof of the point
        (`settled`, as `settle` makes it); a minimum stated without a proof is proved from scratch (shown, not
        compared)."""
        from vaetheory.certify.interval import LADDER, METHOD, reprove
        from vaetheory.certify.proof import Proof
        from vaetheory.verdict.judge import MINIMA
        from vaetheory.verdict.proofs import attach_proofs, k_star_rule, oracle_evidence

        stated = self.data["verdict"].get("proof")
        learn = self.data["gamma_mode"] == "learned" and self.variant.gamma.learnable
        floors = getattr(judged, "floor", None)  # the floor the judge certified against (it may follow below)
        floor = (self.variant.gamma.floor if learn else None) if floors is None else float(floors[0])
        support_size = int(judged.masks[0].sum())
        if stated is None or stated["status"] != "proved":
            if stated is None and verdict not in MINIMA:
                return None
            fresh = settled if stated is not None and settled is not None else attach_proofs(
                objective, theta[None], [gamma], [verdict], judged.masks, answer, learn_gamma=learn,
                gamma_floor=floor, active_rtol=judged.certificate.active_rtol)[0].to_dict()
            if stated is None:
                fresh["extra"] = dict(fresh.get("extra") or {}) | {
                    "source": "proved at replay (the report stores no proof)"}
            else:
                self.compare("verdict.proof.status", stated["status"], fresh["status"])
                self.compare("verdict.proof.method", stated["method"], fresh["method"])
            return fresh
        try:
            record = Proof.from_dict(stated)
        except (TypeError, ValueError) as exc:
            self.bad(f"verdict.proof: malformed proof record ({exc})")
        ladder = dict(LADDER)
        if record.method != METHOD:
            self.differ("verdict.proof.method", record.method, METHOD)
        if record.precision_bits not in ladder:
            self.mismatches.append(f"verdict.proof.precision_bits: {record.precision_bits} is not a precision this "
                                   f"suite proves at ({', '.join(str(b) for b in ladder)}); not re-checked")
            return Proof("not_proved", METHOD, "stated precision is not the suite's").to_dict()
        if record.box_radius != ladder[record.precision_bits]:
            self.mismatches.append(f"verdict.proof.box_radius: {record.box_radius!r} is not the suite's box radius "
                                   f"{ladder[record.precision_bits]:g} at {record.precision_bits} bits")
        again = reprove(objective, theta, gamma, record, learn_gamma=learn, gamma_floor=floor,
                        active_rtol=judged.certificate.active_rtol)
        again = k_star_rule(again, verdict, support_size, answer.k)
        if verdict == "bad_local_min":
            evidence = oracle_evidence(answer, objective.problem.Phi, objective.problem.X)
            again = again.with_status(again.status, again.reason, support_size=support_size, **evidence)
        out = again.to_dict()
        if not again.proved:
            self.mismatches.append(f"verdict.proof: the stated proof does not hold: {again.reason}")
            return out
        self.compare_record("verdict.proof", {k: v for k, v in stated.items() if k != "extra"},
                            {k: v for k, v in out.items() if k != "extra"}, prose={"reason"})
        extra = {k: v for k, v in (stated.get("extra") or {}).items() if k not in _PROOF_EXTRA_UNCOMPARED}
        self.compare_record("verdict.proof.extra", extra, out["extra"], skip={"oracle_basis"})
        if "oracle_basis" in extra:
            self.compare_basis("verdict.proof.extra.oracle_basis", extra["oracle_basis"],
                               out["extra"].get("oracle_basis"))
        return out

    def claim(self, problem, answer, verdict: str, gamma: float, proof: dict | None) -> None:
        """The claim judged, its conditions and the status this point supports; the theorem conditions."""
        from itertools import combinations

        from vaetheory.problems.conditions import check_conditions
        from vaetheory.verdict import claims as C
        from vaetheory.verdict.judge import MINIMA

        stated = self.data["variant"]["claim"]
        mode = self.data["gamma_mode"]
        claim = C.claim_for(self.variant, mode)
        self.compare("variant.claim.kind", stated["kind"], claim.kind)
        if stated["statement"] != claim.statement:  # prose, reworded between versions: kind and conditions decide
            self.notes.append(f"variant.claim.statement differs from this suite's wording: {claim.statement!r}")
        conditions = check_conditions(problem)
        self.compare_record("conditions", self.data["conditions"], conditions.to_dict())
        ctx_gamma = float(self.data["gamma"]) if mode == "fixed" else gamma
        ctx = C.ClaimContext(conditions, answer, ctx_gamma, mode)
        _, values = C.conditions_met(claim, ctx)
        self.compare("variant.claim.conditions", stated["conditions"], values)
        evidence = C.claim_evidence(self.variant) if hasattr(C, "claim_evidence") else None
        if "evidence" in stated:
            self.compare("variant.claim.evidence", stated["evidence"], evidence)
        # The run's status also counts its other end points, which the report does not hold: the stated status must
        # be one this point allows with some other points beside it (a proved bad minimum alone decides it).
        # proved: this point's proof as the run counted it — the stated proof, when replay re-proved it (a proof
        # made at replay for a report without one did not count in the run's status)
        stated_proof = self.data["verdict"].get("proof")
        proved = (stated_proof is not None and proof is not None and proof.get("status") == "proved"
                  and not (proof.get("extra") or {}).get("source"))
        others = [(v, p) for v in MINIMA for p in (False, True)]
        possible = set()
        for r in range(len(others) + 1):
            for extra in combinations(others, r):
                summary, proved_counts = {verdict: 1}, {verdict: int(proved)}
                for v, p in extra:
                    summary[v] = summary.get(v, 0) + 1
                    proved_counts[v] = proved_counts.get(v, 0) + int(p)
                args = () if evidence in (None, "float") else (proved_counts,)
                possible.add(C.claim_status(claim, ctx, summary, *args))
        if stated["status"] not in possible:
            self.mismatches.append(f"variant.claim.status: stated {stated['status']!r}, but this point "
                                   f"({verdict}{', proved' if proved else ''}) allows only {sorted(possible)}")


def _versions() -> dict:
    from vaetheory.report.counterexample import library_versions

    return library_versions()
