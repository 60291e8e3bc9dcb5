"""Shared CLI helpers: loading problems, printing JSON, progress bars."""
from __future__ import annotations

import json
import sys

import click

from vaetheory.core.errors import InputError
from vaetheory.problems.problem import Problem


def load_problem(path: str) -> Problem:
    return Problem.load(path)


def emit_json(obj) -> None:
    """Print `obj` as JSON on stdout (the only thing --json prints there)."""
    click.echo(json.dumps(obj, indent=2, allow_nan=False))


def positive_float(ctx, param, value):
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be > 0, got {value}")
    return value


def progress_enabled(json_mode: bool) -> bool:
    """Progress bars go to stderr, only when it is a terminal and stdout is not reserved for JSON."""
    return not json_mode and sys.stderr.isatty()


def require(cond: bool, message: str) -> None:
    if not cond:
        raise InputError(message)
