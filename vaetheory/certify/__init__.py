"""Stage 4, certify: is an end point a local minimum? `numeric` is the floating-point KKT and Hessian screen;
`interval` proves a strict local minimum in ball arithmetic (Krawczyk), with `proof.Proof` the one per-point result
type of every proof kind; `plugin_check` validates a third-party variant before a search runs it (it runs the search
machinery, hence here)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Certificate": "numeric", "certify": "numeric", "KKT_TOL": "numeric", "HESSIAN_TOL": "numeric",
    "LimitCheck": "limit", "confirm_limit": "limit",
    "Proof": "proof", "PROOF_STATUSES": "proof",
    "prove_point": "interval", "prove_points": "interval", "reprove": "interval", "interval_hook": "interval",
    "check_variant": "plugin_check", "validate_variant": "plugin_check",
})
