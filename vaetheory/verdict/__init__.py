"""Stage 6, verdict: certified points compared with the oracle (`judge`), claims and their statuses (`claims`),
and `run_check`, which runs the pipeline below it for one problem and one variant (`check`)."""
from vaetheory.core.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "VERDICTS": "judge", "PointVerdict": "judge", "judge_points": "judge", "point_verdicts": "judge", "summarise": "judge",
    "CONDITIONS": "claims", "STATUSES": "claims", "claim_status": "claims", "claim_for": "claims",
    "attach_proofs": "proofs", "proof_summary": "proofs", "unproved_minima": "proofs", "PROVE_MAX_D": "proofs",
    "CheckResult": "check", "ProblemAnalysis": "check", "analyse_problem": "check", "run_check": "check",
})
