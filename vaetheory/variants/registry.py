"""Finding variants: built-ins by name, installed packages through the entry-point group ``vaetheory.variants``."""
from __future__ import annotations

from importlib.metadata import entry_points

from ..errors import VariantError
from .builtin import BUILTINS
from .protocol import Variant

ENTRY_POINT_GROUP = "vaetheory.variants"


def _entry_point_variants() -> dict[str, object]:
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in BUILTINS:
            found[ep.name] = ep
    return found


def available_variants() -> list[str]:
    """Names of every known variant: built-ins first, then those registered by installed packages."""
    return list(BUILTINS) + sorted(_entry_point_variants())


def get_variant(name: str) -> Variant:
    """The variant called `name` (built-in or registered by an installed package); VariantError if unknown."""
    if name in BUILTINS:
        return BUILTINS[name]
    eps = _entry_point_variants()
    if name in eps:
        try:
            return eps[name].load()
        except Exception as exc:  # a plug-in's import can fail in any way; report it in one line
            raise VariantError(f"variant {name!r}: entry point {eps[name].value} failed to load: {exc}") from None
    raise VariantError(f"unknown variant {name!r}; available: {', '.join(available_variants())}")
