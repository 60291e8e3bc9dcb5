"""Stage 3, search: the batched objective (values, gradients, Hessian blocks over all restarts at once) and the
multi-start minimiser (staged L-BFGS: one joint L-BFGS-B run for small points, independent batched rows for large
ones; then a batched saddle-free projected Newton phase)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Objective": "objective",
    "Starts": "multistart", "SearchResult": "multistart", "make_starts": "multistart", "minimise": "multistart",
    "nonoptimal_bfs_masks": "multistart", "active_mask": "multistart", "ACTIVE_RTOL": "multistart",
})
