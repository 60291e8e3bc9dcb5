"""Theory variants: the protocol, the built-ins, and lookup by name (see `registry`)."""
from .protocol import CLAIM_KINDS, Claim, GammaPolicy, ParamLayout, ParamSpec, Variant
from .registry import available_variants, get_variant

__all__ = ["CLAIM_KINDS", "Claim", "GammaPolicy", "ParamLayout", "ParamSpec", "Variant", "available_variants",
           "get_variant"]
