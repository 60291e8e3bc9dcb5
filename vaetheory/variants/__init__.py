"""Theory variants: the protocol, the built-ins, and lookup by name (see `registry`)."""
from .protocol import CLAIM_KINDS, Claim, GammaPolicy, ParamLayout, ParamSpec, Variant
from .registry import available_variants, describe_variant, get_variant

__all__ = ["CLAIM_KINDS", "Claim", "GammaPolicy", "ParamLayout", "ParamSpec", "Variant", "available_variants",
           "check_variant", "describe_variant", "get_variant", "validate_variant"]


def __getattr__(name):  # the checker imports the search machinery: load it only when asked for
    if name in ("check_variant", "validate_variant"):
        from . import checker
        return getattr(checker, name)
    raise AttributeError(name)
