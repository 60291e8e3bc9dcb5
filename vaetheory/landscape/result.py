"""Result objects of `run_landscape` (scipy-style: attributes, `to_dict` for ``--json``)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


def _json_float(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


@dataclass
class LandscapePoint:
    """One KKT point (fixed γ) or limit point (γ → 0) of the landscape.

    kind: ``min`` (strict local minimum, proved), ``saddle`` (KKT point with a proved direction of negative
    curvature) or, in the limit mode, ``limit_min``. support: the active columns. nu: the point over all κ columns
    (float64, the centre of its proof). gamma: its γ (0.0 for a γ → 0 limit point). energy: the energy there (the
    limit value for a limit point; -inf, reported as null, on an optimal support in the limit). verdict: judged
    against the oracle (`vaetheory.verdict.judge`); None for saddles. proof: the landscape's own proof record
    (`vaetheory.certify.proof.Proof.to_dict`); point_proof: for fixed-γ minima, the standard point proof
    (`vaetheory.certify.interval.prove_point`) that replay re-checks."""

    kind: str
    support: list[int]
    nu: list[float]
    gamma: float
    energy: float | None
    verdict: str | None = None
    proof: dict | None = None
    point_proof: dict | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "support": self.support, "nu": self.nu, "gamma": self.gamma,
                "energy": _json_float(self.energy), "verdict": self.verdict, "proof": self.proof,
                "point_proof": self.point_proof, "note": self.note}


@dataclass
class LandscapeResult:
    """Everything `run_landscape` established about one problem and one variant.

    complete: True only when nothing is left unresolved (then `minima` lists every local minimum, each proved;
    for the limit mode: every limit local minimum at a basic feasible solution). mode: ``fixed`` or ``limit``.
    minima, saddles: `LandscapePoint` lists. other_kkt: count of further stationary points by kind (e.g. points
    stationary on a face but not KKT). unresolved: what could not be decided, each with ``why``. stats: boxes,
    faces, supports, discards. timings: seconds per phase."""

    variant: str
    mode: str
    gamma: float | None
    problem: dict
    complete: bool
    minima: list[LandscapePoint] = field(default_factory=list)
    saddles: list[LandscapePoint] = field(default_factory=list)
    other_kkt: dict = field(default_factory=dict)
    unresolved: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    oracle: dict | None = None
    message: str = ""

    @property
    def bad_minima(self) -> list[LandscapePoint]:
        return [p for p in self.minima if p.verdict == "bad_local_min"]

    def locate(self, support, nu, *, rtol: float = 1e-4) -> LandscapePoint | None:
        """The listed minimum with this support whose ν lies within `rtol` (relative to its largest entry) of `nu`,
        or None: how another method's minimum is checked against the list."""
        support = sorted(int(j) for j in support)
        for p in self.minima:
            ref = [float(v) for v in p.nu]
            scale = max(max(ref), 1e-300)
            if p.support == support and max(abs(a - b) for a, b in zip(ref, nu)) <= rtol * scale:
                return p
        return None

    def summary(self) -> dict:
        verdicts: dict[str, int] = {}
        for p in self.minima:
            verdicts[str(p.verdict)] = verdicts.get(str(p.verdict), 0) + 1
        return {"minima": len(self.minima), "saddles": len(self.saddles), "unresolved": len(self.unresolved),
                "verdicts": verdicts}

    def to_dict(self) -> dict:
        return {"variant": self.variant, "mode": self.mode, "gamma": self.gamma, "problem": self.problem,
                "complete": self.complete, "message": self.message, "summary": self.summary(),
                "minima": [p.to_dict() for p in self.minima], "saddles": [p.to_dict() for p in self.saddles],
                "other_kkt": self.other_kkt, "unresolved": self.unresolved, "stats": self.stats,
                "oracle": self.oracle, "timings": self.timings}
