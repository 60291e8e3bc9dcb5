"""Stage 1, problems: the validated `Problem` (with .npz I/O), seeded generators, the condition report (spark, URP,
coherence, uniqueness bound) and the Hypothesis strategies and run profiles built on them."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Problem": "problem",
    "make_problem": "generate", "ROW_KINDS": "generate",
    "ConditionReport": "conditions", "check_conditions": "conditions",
})
