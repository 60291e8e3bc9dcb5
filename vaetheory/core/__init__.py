"""Ground floor: errors, input validation, the variant protocol and small shared helpers.

Every stage imports from here; nothing here imports a stage (the protocol names `Problem` in annotations only).
"""
from vaetheory.core.errors import BudgetError, InputError, VaetheoryError, VariantError
from vaetheory.core.protocol import (CLAIM_KINDS, CONDITION_DESCRIPTIONS, Claim, GammaPolicy, ParamLayout, ParamSpec,
                                     Variant)

__all__ = ["BudgetError", "CLAIM_KINDS", "CONDITION_DESCRIPTIONS", "Claim", "GammaPolicy", "InputError", "ParamLayout",
           "ParamSpec", "VaetheoryError", "Variant", "VariantError"]
