"""Complete landscapes (docs/landscape.md): every local minimum of a collapsed VAE on one small problem, each
proved, and a proof that there are no others — at a fixed γ (interval branch and bound over the faces of ν ≥ 0) or
in the γ → 0 limit with γ learned (every basic feasible support decided in ball arithmetic).

This stage sits above certify, oracle and verdict; nothing below it imports it."""
from vaetheory.landscape.result import LandscapePoint, LandscapeResult
from vaetheory.landscape.run import missing_minima, run_landscape

__all__ = ["LandscapePoint", "LandscapeResult", "missing_minima", "run_landscape"]
