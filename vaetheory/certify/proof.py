"""One result type for every kind of per-point proof (`interval` today; a γ → 0 limit certificate can use it too).

A `Proof` says whether a statement about ONE end point was proved, by which method, and with which numbers. It is
JSON-ready (`to_dict` / `from_dict`), so reports carry it and replay can re-check it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

ProofStatus = Literal["proved", "not_proved", "not_applicable"]
PROOF_STATUSES: tuple[str, ...] = ("proved", "not_proved", "not_applicable")


@dataclass(frozen=True)
class Proof:
    """Outcome of a proof attempt for one point.

    status: ``proved`` (every hypothesis of the method's theorem was verified rigorously), ``not_proved`` (some
    check failed or could not be completed; `reason` says which) or ``not_applicable`` (the method does not apply to
    this point or variant; `reason` says why).
    method: e.g. ``"krawczyk-arb"``. box_radius: relative radius of the proved box around `center`.
    precision_bits: working precision. min_eig_lower: rigorous lower bound of the smallest eigenvalue of the
    restricted Hessian over the box. min_inactive_grad_lower: rigorous lower bound of the smallest inactive
    gradient over the box (+inf → None when nothing is inactive).
    center: the box centre as decimal strings (flat active coordinates, then γ when it is a coordinate);
    active: flat indices of the active coordinates; gamma_role: ``fixed`` (γ a constant), ``free`` (γ a
    coordinate, learned, above its floor) or ``floor`` (γ at its floor, a bound constraint whose gradient must be
    > 0); point_offset: largest relative distance of the reported float64 point from the box centre.
    extra: method-specific evidence (e.g. the oracle's k* and witness beside a bad minimum).
    """

    status: ProofStatus
    method: str
    reason: str = ""
    box_radius: float | None = None
    precision_bits: int | None = None
    min_eig_lower: float | None = None
    min_inactive_grad_lower: float | None = None
    center: tuple[str, ...] | None = None
    active: tuple[int, ...] | None = None
    gamma_role: str | None = None
    point_offset: float | None = None
    seconds: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def with_status(self, status: ProofStatus, reason: str, **extra) -> "Proof":
        """A copy with another status and reason (and `extra` merged in)."""
        d = asdict(self)
        d.update(status=status, reason=reason, extra=self.extra | extra)
        d["center"] = self.center
        d["active"] = self.active
        return Proof(**d)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["seconds"]  # a timing: would make same-seed reports differ
        for k, v in out.items():  # JSON has no infinity/NaN
            if isinstance(v, float) and not math.isfinite(v):
                out[k] = None
        out["center"] = None if self.center is None else list(self.center)
        out["active"] = None if self.active is None else list(self.active)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Proof":
        known = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        if known.get("center") is not None:
            known["center"] = tuple(str(x) for x in known["center"])
        if known.get("active") is not None:
            known["active"] = tuple(int(x) for x in known["active"])
        known["extra"] = dict(known.get("extra") or {})
        if known.get("status") not in PROOF_STATUSES:
            raise ValueError(f"proof status must be one of {PROOF_STATUSES}, got {known.get('status')!r}")
        return cls(**known)


def not_applicable(method: str, reason: str) -> Proof:
    return Proof("not_applicable", method, reason)
