"""Shared CLI helpers: loading and screening problems, option checks, printing JSON, progress bars."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import click

from vaetheory.core.errors import InputError
from vaetheory.core.validation import MAX_NPZ_BYTES
from vaetheory.problems.problem import Problem


def load_problem(path: str, *, scale: float = 1.0) -> Problem:
    """Load a problem file, its members' declared sizes screened first (MAX_NPZ_BYTES times `scale`)."""
    return Problem.load(path, max_bytes=int(MAX_NPZ_BYTES * scale))


def screen_problem(path: str, *, scale: float = 1.0, oracle: str | None = None, restarts: int | None = None,
                   gamma: float | None = None, relax: bool = False, conditions: bool = False) -> Problem:
    """Load a problem and refuse, before any work, what the run could not do with it (`vaetheory.core.limits`):
    a size over the oracle method's or the relaxation's limit, restarts over the memory, a γ float64 cannot
    evaluate the energies at; with `conditions` (a check), κ over the condition report's limit. Every refusal names
    the limit and the flag that raises it."""
    from vaetheory.core import limits

    p = load_problem(path, scale=scale)
    if oracle is not None:
        limits.check_oracle_size(oracle, p.d, p.kappa, p.n, scale=scale)
    if conditions:
        limits.check_conditions_size(p.kappa, scale=scale)
    if relax:
        limits.check_relax_size(p.kappa, p.n, scale=scale)
    if restarts is not None:
        limits.check_restarts(restarts, p.d, p.kappa, p.n, scale=scale)
    if gamma is not None:
        limits.check_gamma(gamma, p.Phi, p.X, "--gamma")
    return p


def writable_folder(path: str, flag: str = "--out") -> Path:
    """Refuse, before any work and without creating anything, an output folder that cannot be written: the path or
    its nearest existing ancestor must be a folder this process may write into."""
    folder = Path(path)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # a dangling link: mkdir would fail on it
            raise InputError(f"{flag} {path}: {probe} is a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{flag} {path}: {probe} exists and is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == folder else f" (nor can {folder} be created in {probe})"
        raise InputError(f"{flag} {path}: {probe} is not writable{where}")
    return folder


def emit_json(obj) -> None:
    """Print `obj` as JSON on stdout (the only thing --json prints there)."""
    click.echo(json.dumps(obj, indent=2, allow_nan=False))


def positive_float(ctx, param, value):
    """click callback: a finite number > 0 (nan, inf, 0 and negatives are refused: a time limit of nan or inf would
    be no limit at all, a γ of inf no energy)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a finite number > 0, got {value}")
    return value


def finite_float(ctx, param, value):
    """click callback: a finite number (nan and inf are refused)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a finite number, got {value}")
    return value


#: ``--limit-scale``: one factor for every resource limit of `screen_problem` (and the problem file's size).
limit_scale_option = click.option(
    "--limit-scale", type=float, default=1.0, show_default=True, callback=positive_float,
    help="Multiply every size limit (problem file bytes, problem size for the oracle method and the relaxation, "
         "restarts against memory; docs/hostile.md) by this factor.")


def progress_enabled(json_mode: bool) -> bool:
    """Progress bars go to stderr, only when it is a terminal and stdout is not reserved for JSON."""
    return not json_mode and sys.stderr.isatty()


def require(cond: bool, message: str) -> None:
    if not cond:
        raise InputError(message)
