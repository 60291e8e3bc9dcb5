"""Sweep specifications: a TOML file naming a grid of problems and what to run on each cell (docs/sweeps.md).

::

    [sweep]
    name = "tiny"
    problems = 3                 # problems (seeds) per grid cell
    restarts = 8
    variants = ["vae-full", "vae-diag"]
    gamma = ["fixed:1e-6", "learned"]
    oracle = "auto"              # auto | enumerate | uniqueness | mip | none
    [grid]
    d = [8]
    kappa = [16]
    r = [2, 3]
    n = [5]
    rows = ["orthogonal"]

`load_spec` parses (``tomllib``) and validates; every problem is one `InputError` with one exact line naming the
key (``spec.toml: [sweep] restarts must be an integer >= 1, got 0``). Unknown keys are errors, so a misspelt key
is never silently ignored.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vaetheory.core.errors import InputError, VaetheoryError
from vaetheory.problems.generate import ROW_KINDS

ORACLES = ("auto", "enumerate", "uniqueness", "mip", "none")
GRID_AXES = ("d", "kappa", "r", "n", "rows", "noise")  # in this order in every cell and row
REQUIRED_AXES = ("d", "kappa", "r", "n")


@dataclass(frozen=True)
class GammaMode:
    """One γ mode: ``fixed`` (the variant's default γ), ``fixed:G``, ``learned`` (start at the variant's default,
    learn down to its floor) or ``learned:G`` (start at G). `text` is the spelling used in rows and file names."""

    learned: bool
    value: float | None
    text: str

    @classmethod
    def parse(cls, text: str, where: str) -> "GammaMode":
        if not isinstance(text, str):
            raise InputError(f"{where} entries must be strings like 'fixed', 'fixed:1e-6', 'learned' or "
                             f"'learned:1e-2'; got {text!r}")
        kind, sep, value = text.partition(":")
        if kind not in ("fixed", "learned") or (sep and not value):
            raise InputError(f"{where} entry {text!r} is not 'fixed', 'fixed:G', 'learned' or 'learned:G'")
        g = None
        if sep:
            try:
                g = float(value)
            except ValueError:
                raise InputError(f"{where} entry {text!r}: {value!r} is not a number") from None
            if not (math.isfinite(g) and g > 0):
                raise InputError(f"{where} entry {text!r}: gamma must be finite and > 0")
        return cls(kind == "learned", g, text)


@dataclass(frozen=True)
class Cell:
    """One grid cell: a problem family (d, κ, r, n, row structure, noise)."""

    d: int
    kappa: int
    r: int
    n: int
    rows: str
    noise: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def label(self) -> str:
        out = f"d{self.d}-k{self.kappa}-r{self.r}-n{self.n}-{self.rows}"
        return out + (f"-noise{self.noise:g}" if self.noise else "")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. `cells()` lists the grid (cartesian product, axes in `GRID_AXES` order) and `tasks()`
    every (cell, problem index) pair with its deterministic problem seed and task id."""

    name: str
    problems: int
    restarts: int
    variants: tuple[str, ...]
    gamma: tuple[GammaMode, ...]
    oracle: str
    grid: dict[str, tuple]
    seed: int = 0
    prove: bool | None = False
    relax: bool | None = None
    budget: int | None = None
    mip_time_limit: float = 60.0
    maxiter: int | None = None
    reports: int = 3
    report_plots: bool = False
    timeout: float | None = field(default=None, compare=False)
    adversarial: float | None = None
    continuation: bool | None = None
    skip_infeasible: bool = False
    source: str | None = field(default=None, compare=False)

    def identity(self) -> dict:
        """Everything that determines the results (the name included; not the file's comments or key order, nor
        the time limit: a task that timed out is an error row, not another result)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("source", "timeout")}
        out["gamma"] = [g.text for g in self.gamma]
        out["variants"] = list(self.variants)
        out["grid"] = {k: list(v) for k, v in self.grid.items()}
        return out

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()

    def start_mix(self, cell: Cell) -> tuple[float, bool, bool]:
        """(adversarial fraction, continuation, relax) for `cell`: the spec's values, or where a key is "auto"
        (the default) the default for the cell's size. Up to d = LARGE_D (the main job's sizes): adversarial
        starts (non-optimal BFS and ℓ2,1 fits) on a quarter of the restarts and no continuation, as
        `vaetheory check` does. Above: no adversarial starts (each costs a search from d active coordinates, and
        drawing the BFS supports d×d rank tests; bench/product_path.py), and γ-continuation for every random start
        when r > CONTINUATION_AUTO_MIN_RATIO · d, where random starts stall on large supports. The ℓ2,1
        relaxation runs only when adversarial starts use its support (rows report nothing else of it)."""
        large = cell.d > LARGE_D
        adv = self.adversarial
        if adv is None:
            adv = 0.0 if large else ADVERSARIAL_AUTO
        cont = self.continuation
        if cont is None:
            cont = large and cell.r > CONTINUATION_AUTO_MIN_RATIO * cell.d
        relax = self.relax if self.relax is not None else adv > 0
        return float(adv), bool(cont), bool(relax)

    def anneal_fraction(self, cell: Cell) -> float:
        """With γ learned and continuation off, the share of the restarts that are γ-continuation starts: `run_check`'s
        default (a quarter) up to d = LARGE_D or when the spec sets ``continuation``; above LARGE_D with
        ``continuation = "auto"`` none, so that the auto mix there is the same in both γ modes (every random start
        a continuation start when r > CONTINUATION_AUTO_MIN_RATIO · d, else none). At d = 100, κ = 200, r = 20 the
        quarter's 2 continuation starts of 8 cost as much as the 8 random starts' fixed-point stage, and every
        restart ends at the same point (bench/product_path.py)."""
        return 0.0 if self.continuation is None and cell.d > LARGE_D else ANNEAL_AUTO

    def cells(self) -> list[Cell]:
        """The grid's cells; with ``skip_infeasible``, without those no problem can be drawn for (orthogonal rows
        need n ≥ r), so that one spec can hold n ≥ r and n < r."""
        values = [self.grid[a] for a in GRID_AXES]
        cells = [Cell(*combo) for combo in itertools.product(*values)]
        if self.skip_infeasible:
            cells = [c for c in cells if feasible(c)]
        return cells

    def varying_axes(self) -> list[str]:
        return [a for a in GRID_AXES if len(self.grid[a]) > 1]

    def tasks(self) -> list["TaskKey"]:
        return [TaskKey.make(self, cell, i) for cell in self.cells() for i in range(self.problems)]

    @property
    def n_end_points(self) -> int:
        return len(self.cells()) * self.problems * len(self.variants) * len(self.gamma) * self.restarts


@dataclass(frozen=True)
class TaskKey:
    """One task: problem `index` of `cell`. problem_seed: derived from the spec's seed, the cell and the index by
    SHA-256 (so adding a cell or a variant never changes another cell's problems); task_id: SHA-256 of the spec's
    identity, the cell and the index (names the task's result file)."""

    cell: Cell
    index: int
    problem_seed: int
    task_id: str

    @classmethod
    def make(cls, spec: SweepSpec, cell: Cell, index: int) -> "TaskKey":
        seed_text = json.dumps({"seed": spec.seed, "cell": cell.to_dict(), "index": index}, sort_keys=True)
        problem_seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big") >> 1  # 63 bits
        id_text = json.dumps({"spec": spec.digest(), "cell": cell.to_dict(), "index": index}, sort_keys=True)
        task_id = f"{cell.label()}-p{index}-{hashlib.sha256(id_text.encode()).hexdigest()[:12]}"
        return cls(cell, index, problem_seed, task_id)


def feasible(cell) -> bool:
    """Whether a problem can be drawn for `cell` (orthogonal nonzero rows of Z* need n ≥ r)."""
    return not (cell.rows == "orthogonal" and cell.r > cell.n)


_SWEEP_KEYS = {"name", "problems", "restarts", "variants", "gamma", "oracle", "seed", "prove", "relax", "budget",
               "mip_time_limit", "maxiter", "reports", "report_plots", "timeout", "adversarial", "continuation",
               "skip_infeasible"}
#: The start mix's "auto" defaults (`SweepSpec.start_mix`).
ADVERSARIAL_AUTO = 0.25
ANNEAL_AUTO = 0.25  # run_check's default share of continuation starts with γ learned
LARGE_D = 50
CONTINUATION_AUTO_MIN_RATIO = 0.25
_SWEEP_REQUIRED = ("name", "problems", "restarts", "variants", "gamma")


def _int(value, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{where} must be an integer >= {low}, got {value!r}")
    return value


def _bool(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{where} must be true or false, got {value!r}")
    return value


def _bool_or_auto(value, where: str) -> bool | None:
    """True, False, or None for "auto"."""
    if value == "auto":
        return None
    if not isinstance(value, bool):
        raise InputError(f"{where} must be true, false or \"auto\", got {value!r}")
    return value


def _list(value, where: str) -> list:
    if not isinstance(value, list):
        raise InputError(f"{where} must be a list, got {value!r}")
    if not value:
        raise InputError(f"{where} must not be empty")
    if len(set(map(repr, value))) != len(value):
        raise InputError(f"{where} has repeated entries: {value!r}")
    return value


def _known_variant(name, where: str, need_learned: bool) -> str:
    """A built-in is described (cheap: no torch); a plug-in (``module:object``, ``file.py:object`` or an entry
    point) is only named here and never imported: the driver must not run its code. Whether it loads, and whether
    it supports a learned γ, is found out in its isolated child inside each task, where a failure is an error row."""
    from vaetheory.variants.registry import BUILTINS, _entry_point_variants, describe_variant, is_import_spec

    if not isinstance(name, str):
        raise InputError(f"{where} entries must be strings, got {name!r}")
    if name not in BUILTINS:
        if is_import_spec(name) or name in _entry_point_variants():
            return name
        raise InputError(f"{where}: unknown variant {name!r} (a built-in or entry-point name, 'module.path:object' "
                         f"or 'path/to/file.py:object')")
    try:
        info = describe_variant(name)
    except VaetheoryError as exc:
        raise InputError(f"{where}: {exc}") from None
    if need_learned and not info["gamma"]["learnable"]:
        raise InputError(f"{where}: variant {name!r} does not support a learned gamma (drop it or the 'learned' "
                         f"gamma mode)")
    return name


def parse_spec(data: dict, source: str = "spec") -> SweepSpec:
    """Validate a parsed TOML document (see the module docstring); `source` prefixes every error message."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: not a TOML table")
    unknown = sorted(set(data) - {"sweep", "grid"})
    if unknown:
        raise InputError(f"{source}: unknown table(s) {', '.join(map(repr, unknown))} (expected [sweep] and [grid])")
    for table in ("sweep", "grid"):
        if not isinstance(data.get(table), dict):
            raise InputError(f"{source}: missing [{table}] table")
    sw, gr = data["sweep"], data["grid"]
    unknown = sorted(set(sw) - _SWEEP_KEYS)
    if unknown:
        raise InputError(f"{source}: unknown key(s) in [sweep]: {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(sorted(_SWEEP_KEYS))})")
    unknown = sorted(set(gr) - set(GRID_AXES))
    if unknown:
        raise InputError(f"{source}: unknown key(s) in [grid]: {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(GRID_AXES)})")
    for key in _SWEEP_REQUIRED:
        if key not in sw:
            raise InputError(f"{source}: [sweep] {key} is required")
    for key in REQUIRED_AXES:
        if key not in gr:
            raise InputError(f"{source}: [grid] {key} is required")

    name = sw["name"]
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"{source}: [sweep] name must be a non-empty string of letters, digits, '-', '_' or '.', "
                         f"got {name!r}")
    problems = _int(sw["problems"], f"{source}: [sweep] problems", 1)
    restarts = _int(sw["restarts"], f"{source}: [sweep] restarts", 1)
    gamma = tuple(GammaMode.parse(g, f"{source}: [sweep] gamma") for g in _list(sw["gamma"], f"{source}: [sweep] gamma"))
    if len({(g.learned, g.value) for g in gamma}) != len(gamma):
        raise InputError(f"{source}: [sweep] gamma has repeated modes: {[g.text for g in gamma]!r}")
    need_learned = any(g.learned for g in gamma)
    skip = _bool(sw.get("skip_infeasible", False), f"{source}: [sweep] skip_infeasible")
    variants = tuple(_known_variant(v, f"{source}: [sweep] variants", need_learned and not skip)
                     for v in _list(sw["variants"], f"{source}: [sweep] variants"))
    oracle = sw.get("oracle", "auto")
    if oracle not in ORACLES:
        raise InputError(f"{source}: [sweep] oracle must be one of {', '.join(ORACLES)}; got {oracle!r}")
    seed = _int(sw.get("seed", 0), f"{source}: [sweep] seed", 0)
    prove = sw.get("prove", False)
    if prove == "auto":
        prove = None
    elif not isinstance(prove, bool):
        raise InputError(f"{source}: [sweep] prove must be true, false or \"auto\", got {prove!r}")
    relax = _bool_or_auto(sw.get("relax", "auto"), f"{source}: [sweep] relax")
    adversarial = sw.get("adversarial", "auto")
    if adversarial == "auto":
        adversarial = None
    elif isinstance(adversarial, bool) or not isinstance(adversarial, (int, float)) or not 0 <= adversarial < 1:
        raise InputError(f"{source}: [sweep] adversarial must be \"auto\" or a fraction of the restarts in [0, 1), "
                         f"got {adversarial!r}")
    continuation = _bool_or_auto(sw.get("continuation", "auto"), f"{source}: [sweep] continuation")
    budget = sw.get("budget")
    budget = None if budget is None else _int(budget, f"{source}: [sweep] budget", 1)
    mip = sw.get("mip_time_limit", 60.0)
    if isinstance(mip, bool) or not isinstance(mip, (int, float)) or not (math.isfinite(mip) and mip > 0):
        raise InputError(f"{source}: [sweep] mip_time_limit must be a number > 0 (seconds), got {mip!r}")
    maxiter = sw.get("maxiter")
    maxiter = None if maxiter is None else _int(maxiter, f"{source}: [sweep] maxiter", 1)
    reports = _int(sw.get("reports", 3), f"{source}: [sweep] reports", 0)
    plots = _bool(sw.get("report_plots", False), f"{source}: [sweep] report_plots")
    timeout = sw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not (math.isfinite(timeout) and timeout > 0)):
        raise InputError(f"{source}: [sweep] timeout must be a number of seconds > 0, got {timeout!r}")

    grid: dict[str, tuple] = {}
    for axis in ("d", "kappa", "r", "n"):
        values = _list(gr[axis], f"{source}: [grid] {axis}")
        grid[axis] = tuple(_int(v, f"{source}: [grid] {axis} entries", 1) for v in values)
    rows = _list(gr.get("rows", ["orthogonal"]), f"{source}: [grid] rows")
    for v in rows:
        if v not in ROW_KINDS:
            raise InputError(f"{source}: [grid] rows entries must be one of {', '.join(ROW_KINDS)}; got {v!r}")
    grid["rows"] = tuple(rows)
    noise = _list(gr.get("noise", [0.0]), f"{source}: [grid] noise")
    for v in noise:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
            raise InputError(f"{source}: [grid] noise entries must be numbers >= 0, got {v!r}")
    grid["noise"] = tuple(float(v) for v in noise)
    if min(grid["r"]) > max(grid["kappa"]) or any(r > k for r in grid["r"] for k in grid["kappa"]):
        bad = [(r, k) for r in grid["r"] for k in grid["kappa"] if r > k][0]
        raise InputError(f"{source}: [grid] r = {bad[0]} exceeds kappa = {bad[1]} (every r must be <= every kappa)")
    if skip and not any(max(grid["n"]) >= r or rows != "orthogonal" for r in grid["r"] for rows in grid["rows"]):
        raise InputError(f"{source}: [grid] no cell can be drawn: orthogonal rows need n >= r")
    if not skip and "orthogonal" in grid["rows"] and max(grid["r"]) > min(grid["n"]):
        raise InputError(f"{source}: [grid] rows = \"orthogonal\" needs n >= r (orthogonal nonzero rows of Z*); "
                         f"r = {max(grid['r'])} > n = {min(grid['n'])} (or set skip_infeasible = true to skip such "
                         "cells)")
    return SweepSpec(name=name, problems=problems, restarts=restarts, variants=variants, gamma=gamma, oracle=oracle,
                     grid=grid, seed=seed, prove=prove, relax=relax, budget=budget, mip_time_limit=float(mip),
                     maxiter=maxiter, reports=reports, report_plots=plots, source=source,
                     timeout=None if timeout is None else float(timeout),
                     adversarial=None if adversarial is None else float(adversarial), continuation=continuation,
                     skip_infeasible=skip)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a TOML sweep spec (InputError with one exact line on any problem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return spec_from_text(text, str(path))


def spec_from_text(text: str, source: str = "spec") -> SweepSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    return parse_spec(data, source)
