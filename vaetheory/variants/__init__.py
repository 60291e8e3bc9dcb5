"""Stage 2, variants: the energies (torch), the built-in variants and lookup by name, entry point or file.

The protocol itself (`Variant`, `ParamSpec`, `Claim`, …) lives on the ground floor, `vaetheory.core.protocol`; it is
re-exported here because a plug-in author looks for it beside the variants. The import checker that validates a
plug-in runs the search and certificate, so it sits above them: `vaetheory.certify.plugin_check`.
"""
from vaetheory.core.protocol import CLAIM_KINDS, Claim, GammaPolicy, ParamLayout, ParamSpec, Variant
from vaetheory.variants.registry import available_variants, describe_variant, get_variant

__all__ = ["CLAIM_KINDS", "Claim", "GammaPolicy", "ParamLayout", "ParamSpec", "Variant", "available_variants",
           "describe_variant", "get_variant"]
