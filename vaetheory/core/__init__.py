"""Ground floor: errors, input validation, the variant protocol and small shared helpers.

Every stage imports from here; nothing here imports a stage (the protocol names `Problem` in annotations only).
Names are resolved on first use (`vaetheory.core.lazy`), so importing a submodule stays cheap.
"""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "BudgetError": "errors", "InputError": "errors", "VaetheoryError": "errors", "VariantError": "errors",
    "CLAIM_KINDS": "protocol", "CONDITION_DESCRIPTIONS": "protocol", "Claim": "protocol", "GammaPolicy": "protocol",
    "ParamLayout": "protocol", "ParamSpec": "protocol", "Variant": "protocol",
})
