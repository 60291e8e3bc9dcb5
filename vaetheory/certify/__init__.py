"""Stage 4, certify: is an end point a local minimum? `numeric` is the floating-point KKT and Hessian screen;
`plugin_check` validates a third-party variant before a search runs it (it runs the search machinery, hence here)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Certificate": "numeric", "certify": "numeric", "KKT_TOL": "numeric", "HESSIAN_TOL": "numeric",
    "LimitCheck": "limit", "confirm_limit": "limit",
    "check_variant": "plugin_check", "validate_variant": "plugin_check",
})
