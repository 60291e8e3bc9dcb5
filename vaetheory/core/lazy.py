"""Lazy re-exports for package ``__init__`` modules.

Every stage package names its public API in its ``__init__``; importing the names eagerly would make
``import vaetheory`` (and so ``vaetheory --help``) pay for torch, scipy.optimize, cvxpy and matplotlib. A package
instead declares ``{public name: submodule}`` and this module's `attach` resolves a name on first access (PEP 562).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def attach(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """(``__getattr__``, ``__dir__``, ``__all__``) for `package`, whose public names live in the given submodules
    (relative module names, e.g. ``{"run_check": "check"}``)."""
    exports = dict(exports)

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__, sorted(exports)
