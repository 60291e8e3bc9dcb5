"""Stage 5, oracle: ground truth for P0. `exhaustive` enumerates supports in batches (with the rank-aware
shortcut); `relax` solves the convex ℓ2,1 relaxation with cvxpy (imported only when asked for)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "OracleResult": "exhaustive", "sparsest_supports": "exhaustive", "fit_residual": "exhaustive",
    "DEFAULT_BUDGET": "exhaustive",
    "RelaxationResult": "relax", "l21_relaxation": "relax",
})
