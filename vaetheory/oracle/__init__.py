"""Stage 5, oracle: ground truth for P0 (docs/oracles.md). One module per method, one result type (`OracleAnswer`):
`exhaustive` (``enumerate``: batched enumeration with the rank-aware shortcut), `uniqueness` (the MMV uniqueness
bound), `mip` (big-M mixed-integer program, cvxpy + HiGHS), `planted` (``none``: the planted support, uncertified),
`auto` (`run_oracle`: any method by name, ``auto`` picks the cheapest certain one); `relax` solves the convex ℓ2,1
relaxation with cvxpy (imported only when asked for)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "OracleResult": "exhaustive", "sparsest_supports": "exhaustive", "fit_residual": "exhaustive",
    "DEFAULT_BUDGET": "exhaustive", "oracle_enumerate": "exhaustive",
    "OracleAnswer": "answer", "OracleNotApplicable": "answer", "ORACLE_METHODS": "answer",
    "DEFAULT_MIP_TIME_LIMIT": "answer",
    "oracle_uniqueness": "uniqueness", "oracle_mip": "mip", "oracle_none": "planted", "run_oracle": "auto",
    "RelaxationResult": "relax", "l21_relaxation": "relax",
})
