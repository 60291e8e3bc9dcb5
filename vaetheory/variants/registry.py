"""Finding variants from a *spec*, listing them and describing them.

A spec is one of:

* a built-in name (``vae-full``, ``vae-diag``, ``ae-l1``, ``ae-l21``, ``ae-log``);
* the name of an entry point an installed package registers under the group ``vaetheory.variants``
  (``[project.entry-points."vaetheory.variants"] my-vae = "my_pkg.variants:MY_VAE"``);
* ``module.path:object`` — import the module, take the (dotted) attribute;
* ``path/to/file.py:object`` — execute that file as a module (it need not be importable or installed).

The object must be a variant *instance* (see `vaetheory.core.protocol`); whether it is a well-formed one is
the business of `vaetheory.certify.plugin_check`. Every failure to find or import a variant is a one-line VariantError.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vaetheory.core.errors import VariantError
from vaetheory.variants.builtin import BUILTINS
from vaetheory.core.protocol import CONDITION_DESCRIPTIONS, Variant

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "vaetheory.variants"
_ATTRIBUTE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class VariantOrigin:
    """Where a variant came from: kind is "builtin", "entry point" or "import path"; source says exactly what
    (the entry point's target and distribution, or the spec that was imported)."""

    kind: str
    source: str


def one_line(exc: BaseException, limit: int = 240) -> str:
    """`exc` as "Type: message" on one line of at most about `limit` characters (imported code can raise
    anything, with any layout and length: torch's vmap errors run to several sentences)."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    kind = type(exc).__name__.lstrip("_")  # torch raises private classes such as _LinAlgError
    return f"{kind}: {text}" if text else kind


def entry_points(group: str) -> list[EntryPoint]:
    """`importlib.metadata.entry_points` of `group`, imported here and not with this module: about 25 ms of every
    `vaetheory --help`."""
    from importlib.metadata import entry_points as installed

    return list(installed(group=group))


def _entry_point_variants() -> dict[str, EntryPoint]:
    """Entry points of the group by name, minus names a built-in already owns (built-ins cannot be shadowed)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTINS}


def available_variants() -> list[str]:
    """Names of every known variant: built-ins first, then those registered by installed packages (sorted)."""
    return list(BUILTINS) + sorted(_entry_point_variants())


def is_import_spec(spec: str) -> bool:
    """True for ``module:object`` and ``file.py:object`` specs (names never contain a colon)."""
    return ":" in spec


def _load_entry_point(ep: EntryPoint) -> tuple[object, VariantOrigin]:
    dist = f" ({ep.dist.name} {ep.dist.version})" if getattr(ep, "dist", None) is not None else ""
    origin = VariantOrigin("entry point", f"{ep.value}{dist}")
    try:
        obj = ep.load()
    except Exception as exc:  # a plug-in's import can fail in any way; report it in one line
        raise VariantError(f"variant {ep.name!r}: entry point {ep.value} failed to load: {one_line(exc)}") from None
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name != ep.name:
        raise VariantError(f"variant {ep.name!r}: entry point {ep.value} loads a variant named {name!r}; "
                           "the entry-point name and the variant's name must match")
    return obj, origin


def _module_from_file(path_text: str) -> object:
    """Execute a .py file as a fresh module, once per file version (path and modification time)."""
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise VariantError(f"variant file {path_text!r}: no such file")
    path = path.resolve()
    key = hashlib.sha1(f"{path}:{path.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_vaetheory_variant_{stem}_{key}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise VariantError(f"variant file {path_text!r}: not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up while it executes
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise VariantError(f"variant file {path_text!r}: import failed: {one_line(exc)}") from None
    return module


def _load_import_spec(spec: str) -> tuple[object, VariantOrigin]:
    where, _, attribute = spec.rpartition(":")
    if not where or not _ATTRIBUTE_PATH.match(attribute):
        raise VariantError(f"variant spec {spec!r}: expected 'module.path:object' or 'path/to/file.py:object'")
    if where.endswith(".py") or "/" in where or "\\" in where:
        module = _module_from_file(where)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise VariantError(f"variant spec {spec!r}: cannot import module {where!r}: {one_line(exc)}") from None
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise VariantError(f"variant spec {spec!r}: {where!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        raise VariantError(f"variant spec {spec!r}: {attribute!r} is a class; point the spec at an instance "
                           f"(e.g. VARIANT = {obj.__name__}(...))")
    return obj, VariantOrigin("import path", spec)


def resolve_variant(spec: str) -> tuple[Variant, VariantOrigin]:
    """The variant a spec names and where it came from; VariantError (one line) when it cannot be found."""
    if not isinstance(spec, str) or not spec.strip():
        raise VariantError(f"variant spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec in BUILTINS:
        return BUILTINS[spec], VariantOrigin("builtin", "vaetheory.variants.builtin")
    if is_import_spec(spec):
        return _load_import_spec(spec)
    eps = _entry_point_variants()
    if spec in eps:
        return _load_entry_point(eps[spec])
    raise VariantError(f"unknown variant {spec!r}; available: {', '.join(available_variants())} "
                       "(or give 'module.path:object' or 'path/to/file.py:object')")


def get_variant(spec: str) -> Variant:
    """The variant a spec names (built-in, entry point, ``module:object`` or ``file.py:object``)."""
    return resolve_variant(spec)[0]


def describe_variant(spec: str) -> dict:
    """JSON-ready description: name, description, claim (kind, statement, each condition with its meaning from
    `CONDITION_DESCRIPTIONS`), gamma policy and origin. VariantError if the variant lacks these attributes."""

    variant, origin = resolve_variant(spec)
    try:
        claim, gamma = variant.claim, variant.gamma
        conditions = [{"name": c, "description": CONDITION_DESCRIPTIONS[c] if c in CONDITION_DESCRIPTIONS else "unknown condition"}
                      for c in claim.conditions]
        def _claim(c):
            return {"kind": c.kind, "statement": c.statement,
                    "conditions": [{"name": x, "description": CONDITION_DESCRIPTIONS.get(x, "unknown condition")}
                                   for x in c.conditions]}

        learned = getattr(variant, "learned_gamma_claim", None)  # optional: the claim judged with gamma learned
        return {
            "name": variant.name,
            "description": variant.description,
            "claim": {"kind": claim.kind, "statement": claim.statement, "conditions": conditions},
            "learned_gamma_claim": None if learned is None else _claim(learned),
            "gamma": {"default": gamma.default, "learnable": gamma.learnable, "floor": gamma.floor},
            "origin": {"kind": origin.kind, "source": origin.source},
        }
    except (AttributeError, TypeError) as exc:
        raise VariantError(f"variant {spec!r} cannot be described: {one_line(exc)}") from None
