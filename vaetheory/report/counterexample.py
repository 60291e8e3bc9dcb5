"""Counterexample reports: JSON (everything needed to replay) + Markdown summary + PNG energy profile.

A report captures one ``bad_local_min`` point of a `CheckResult`: the problem arrays, the variant (name and import
spec), γ and its mode, the start and end points (flat θ and named parameters), the certificate evidence, the oracle
answer, the seed and the library versions. `vaetheory.report.replay` recomputes the verdict from the file alone.

Files are written atomically and as a group (``vaetheory.core.files``: an interrupt leaves all of a report's files or
none) under names ``<variant>-<hash of content>.{json,md,png}``, so a report is never overwritten: writing the same
counterexample twice (in one run or in two runs sharing a folder) finds the existing file. A run writes one report
per distinct (support, verdict) of its bad end points, with the number of end points that reached it.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from vaetheory.verdict.check import CheckResult
from vaetheory.core.errors import VaetheoryError
from vaetheory.core.files import write_atomic, write_group
from vaetheory.search.objective import Objective
from vaetheory.problems.problem import Problem
from vaetheory.problems.provenance import provenance_text
from vaetheory.search.multistart import Starts, minimise
from vaetheory.variants.builtin import BUILTINS
from vaetheory.core.protocol import Variant

SCHEMA = "vaetheory.report/1"
DEFAULT_OUT = "reports"
FINDINGS_FILE = "FINDINGS.md"


def library_versions() -> dict[str, str]:
    """Versions of vaetheory, torch, numpy, scipy and Python (what a replay should match)."""
    out = {}
    for pkg in ("vaetheory", "torch", "numpy", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    out["python"] = platform.python_version()
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "variant"


def _params(objective: Objective, theta: np.ndarray) -> dict[str, list]:
    return {k: v[0].tolist() for k, v in objective.layout.unpack_numpy(theta[None]).items()}


def variant_spec(variant: Variant, spec: str | None = None) -> str | None:
    """The import spec to store: None for a built-in, else the given spec or ``module:qualname`` of the object."""
    if BUILTINS.get(variant.name) is variant:
        return None
    if spec:
        return spec
    module = getattr(type(variant), "__module__", None)
    return None if module is None else f"{module}:{variant.name}"


def point_report(result: CheckResult, index: int, *, spec: str | None = None) -> dict:
    """The JSON-ready report of point `index` of `result` (normally a ``bad_local_min`` one)."""
    objective = Objective(result.variant, result.problem)
    p = result.problem
    point = result.points[index]
    starts = result.search.starts
    return {
        "schema": SCHEMA,
        "kind": point.verdict,
        "variant": {"name": result.variant.name, "spec": variant_spec(result.variant, spec),
                    "claim": {"kind": result.claim.kind, "statement": result.claim.statement,
                              "conditions": result.claim_conditions, "status": result.claim_status}},
        "problem": {"Phi": p.Phi.tolist(), "X": p.X.tolist(), "Z": None if p.Z is None else p.Z.tolist(),
                    "noise": p.noise, "describe": p.describe(),
                    # how vaetheory drew Φ (replay believes it only when drawing again gives this Φ): the conditions
                    # and the uniqueness oracle assume a drawn Φ generic
                    "provenance": provenance_text(p.provenance) if p.provenance and p.provenance.get("seed")
                    is not None else None},
        "gamma": result.gamma,
        "gamma_mode": result.gamma_mode,
        "point_gamma": float(result.search.gamma[index]),
        # the floor this point was certified against: the variant's, or a lower one it was followed to
        "gamma_floor": (point.gamma_floor if point.gamma_floor is not None else result.variant.gamma.floor)
        if result.gamma_mode == "learned" else None,
        "seed": result.seed,
        "restart": index,
        "start": {"kind": starts.kinds[index],
                  "support": None if starts.supports[index] is None else list(starts.supports[index]),
                  "theta": starts.theta[index].tolist(), "params": _params(objective, starts.theta[index])},
        "end": {"theta": result.search.theta[index].tolist(), "params": _params(objective, result.search.theta[index])},
        "verdict": point.to_dict(),
        "certificate": {"kkt_tol": result.certificate.kkt_tol, "hessian_tol": result.certificate.hessian_tol,
                        "active_rtol": result.certificate.active_rtol},
        # no wall-clock time in a report: its content (and so its name) depends on the run's inputs only
        "oracle": oracle_record(result.analysis.oracle),
        "conditions": result.analysis.conditions.to_dict(),
        "versions": library_versions(),
    }


def oracle_record(answer) -> dict:
    """The oracle evidence a report stores (docs/oracles.md): method, k*, whether certain, basis, assumption, witness
    and its residual, the optimal supports (also under the legacy keys ``k``/``supports``) and the method's details,
    without wall-clock times."""
    return answer.record()


#: ``oracle.method`` values of reports written before the oracle methods existed (all were enumerations).
_LEGACY_ENUMERATION = ("rank-aware", "enumeration")


def stored_oracle_method(oracle: dict) -> str:
    """The oracle method a report was judged with ("enumerate" for reports older than the oracle methods)."""
    method = oracle.get("method")
    return "enumerate" if method is None or method in _LEGACY_ENUMERATION else str(method)


@dataclass(frozen=True)
class ReportPaths:
    json: Path
    markdown: Path
    png: Path | None


def _markdown(data: dict, json_name: str, png_name: str | None) -> str:
    v, o = data["verdict"], data["oracle"]
    profile = data.get("profile", {})
    ref = profile.get("reference")
    barrier = profile.get("barrier")
    reached = data.get("reached_by")
    supports, k = _oracle_supports(o), _oracle_k(o)
    lines = [
        f"# {data['kind']}: {data['variant']['name']} on {data['problem']['describe']}",
        "",
        f"- {problem_text(data)}",
        f"- claim ({data['variant']['claim']['kind']}): {data['variant']['claim']['statement']} — status "
        f"**{data['variant']['claim']['status']}**",
        f"- gamma = {data['point_gamma']:g} ({data['gamma_mode']}"
        + (f", floor {data['gamma_floor']:g}, {'gamma -> 0 limit verdict' if v.get('limit') else 'interior in gamma'}"
           if data.get("gamma_floor") else "")
        + f"), seed {data['seed']}, restart {data['restart']} (start: {data['start']['kind']})",
    ]
    if reached:
        lines.append(f"- {reached['count']} of {reached['of']} end points of the run reached this support with this "
                     f"verdict (restarts {reached['restarts']}); this report holds the first of them")
    certain = o.get("k_star_certain", True)
    lines += [
        f"- end point support ({len(v['support'])} rows): {v['support']}; "
        + (f"optimal supports (k* = {k}): {supports}" if certain
           else f"best known support (k* <= {k}, not certain): {supports}"),
        f"- oracle: {stored_oracle_method(o)}"
        + (f" — {o['basis']}" if o.get("basis") else " (exhaustive enumeration)")
        + (f"; assumption: {o['assumption']}" if o.get("assumption") else "")
        + ("" if o.get("witness") is None else f"; witness {o['witness']} with least-squares residual "
           f"{o['witness_residual']:.2g}"),
    ]
    if ref is None and profile.get("optimal_energy") is not None:  # reports written before `reference` existed
        ref = {"kind": "optimal_minimum", "energy": profile["optimal_energy"], "support": supports[0]}
    energy = f"- energy {v['energy']:.6g}"
    if ref is not None and ref.get("kind") == "optimal_minimum" and ref.get("energy") is not None:
        lines.append(energy + f" vs {ref['energy']:.6g} at an optimal minimum (support {ref['support']})")
    elif ref is not None and ref.get("energy") is not None:
        lines.append(energy + f" vs {ref['energy']:.6g} at the sparsest solution's least-squares fit (support "
                     f"{ref['support']}), which is not a minimum of this variant: minimising from it reaches "
                     + ("no finite energy" if ref.get("minimised_energy") is None
                        else f"{ref['minimised_energy']:.6g}")
                     + ", no lower than this point's: there is no other minimum to compare with (a convex variant "
                     "has a single minimum) and no barrier between this point and the sparsest solution; the point "
                     "is bad because its support is not the sparsest")
    else:
        lines.append(energy)
    if barrier and barrier.get("status") in ("barrier", None) and barrier.get("height"):
        lines.append(f"- energy barrier on the straight segment to the reference point: height "
                     f"{barrier['height']:.3g} at t = {barrier['t_peak']:.3g}")
    elif barrier:
        from vaetheory.report.figure import barrier_text

        lines.append(f"- straight segment to the reference point: {barrier_text(barrier)} (differences below "
                     f"{barrier.get('rounding') or 0:.1g} are rounding)")
    lines += [
        f"- refit residual {v['residual']:.3g}; KKT active {v['kkt_active']:.3g}, inactive min "
        f"{v['kkt_inactive'] if v['kkt_inactive'] is None else format(v['kkt_inactive'], '.3g')}; smallest "
        f"relative active Hessian eigenvalue {v['min_hessian_eig_rel']:.3g}",
    ]
    pr = v.get("proof")
    if pr is not None:
        lines.append(f"- interval proof ({pr['method']}): **{pr['status']}** — {pr['reason']}"
                     + ("" if pr.get("box_radius") is None else f" (box radius {pr['box_radius']:.1g} relative, "
                        f"{pr['precision_bits']} bits)"))
    lines += [
        "",
        f"Replay: `vaetheory replay {json_name}`",
    ]
    if png_name:
        lines += ["", f"![the energy on the segment and on a plane through this point and its reference point, and "
                      f"the latent scales of both]({png_name})"]
    return "\n".join(lines) + "\n"


def _optimal_point(objective: Objective, mask: np.ndarray, gamma: float) -> np.ndarray:
    """A minimised point of the variant started from the least-squares fit on the optimal support `mask`."""
    init = objective.variant.init_from_support(objective.problem, mask[None], gamma)
    theta0 = objective.layout.pack(init, 1)
    support = tuple(int(j) for j in np.flatnonzero(mask))
    found = minimise(objective, Starts(theta0, ("optimal",), (support,)), gamma, maxiter=2000)
    return found.theta[0]


#: Points per batched energy evaluation when drawing (bounded memory for variants with many parameters).
_PLOT_CHUNK = 512


def batch_energies(objective: Objective, points: np.ndarray, gamma: float) -> np.ndarray:
    """Energies at many points (B, P), evaluated in batches by the objective; a point where the energy cannot be
    evaluated (e.g. a failed Cholesky) gets NaN, found by bisecting a failing batch (never one call per point
    unless every point fails)."""
    points = np.asarray(points, dtype=np.float64)
    out = np.full(len(points), np.nan)

    def run(lo: int, hi: int) -> None:
        try:
            E, _, _ = objective.value_and_grad(points[lo:hi], np.full(hi - lo, gamma))
            out[lo:hi] = E
        except (FloatingPointError, VaetheoryError):
            if hi - lo > 1:
                mid = (lo + hi) // 2
                run(lo, mid)
                run(mid, hi)

    for lo in range(0, len(points), _PLOT_CHUNK):
        run(lo, min(lo + _PLOT_CHUNK, len(points)))
    return np.where(np.isfinite(out), out, np.nan)


def _segment_energies(objective: Objective, a: np.ndarray, b: np.ndarray, gamma: float, steps: int = 101,
                      t_max: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, t_max, steps)
    pts = (1 - t)[:, None] * a[None] + t[:, None] * b[None]
    return t, batch_energies(objective, pts, gamma)


#: Energy differences within this fraction of max(|E(point)|, 1) are rounding, not landscape: never a barrier.
ROUNDING_RTOL = 1e-12


def rounding_level(energy: float) -> float:
    """The energy difference below which two energies near `energy` are equal to rounding (`ROUNDING_RTOL`)."""
    return ROUNDING_RTOL * max(abs(float(energy)), 1.0) if np.isfinite(energy) else 0.0


def barrier_on_segment(objective: Objective, a: np.ndarray, b: np.ndarray, gamma: float, steps: int = 201,
                       zooms: int = 8) -> dict:
    """The energy barrier on the straight segment from the reported point `a` to the reference point `b`.

    Differences |E(t) − E(a)| at rounding level (`rounding_level`) count as zero. The window starts as the whole
    segment; while the energy first falls below E(a) within the first 10% of the window, the window shrinks to twice
    that crossing (so the barrier is resolved by many samples). Returns the window's t and E(t) − E(a), `rounding`
    (the level used), `t_cross` (where the energy first falls below E(a); None when it never does) and `status`:
    ``barrier`` (it rises above E(a) before falling below it: `height` is the rise, peaking at `t_peak`), ``falls``
    (it falls below E(a) without rising first) or ``no_crossing`` (it never falls below E(a): whatever it rises to
    is no barrier, e.g. the reported point is the variant's only minimum). `height` is None unless ``barrier``."""
    t_max = 1.0
    for _ in range(zooms + 1):
        t, E = _segment_energies(objective, a, b, gamma, steps, t_max)
        tol = rounding_level(E[0])
        rel = E - E[0]
        rel = np.where(np.abs(rel) <= tol, 0.0, rel)
        below = np.flatnonzero(rel[1:] < 0) + 1
        if below.size == 0 or below[0] >= steps // 10 or not np.isfinite(E[0]):
            break
        t_max = 2 * t[below[0]]
    cross = int(below[0]) if below.size else len(t)
    head = rel[:cross]
    peak = int(np.nanargmax(head)) if np.isfinite(head).any() else 0
    rise = float(head[peak]) if np.isfinite(head[peak]) else 0.0
    status = "no_crossing" if cross == len(t) else ("barrier" if rise > 0 else "falls")
    return {"t": t, "rel": rel, "height": rise if status == "barrier" else None,
            "t_peak": float(t[peak]) if status == "barrier" else 0.0,
            "t_cross": float(t[cross]) if cross < len(t) else None, "status": status, "rounding": tol}


def _third_direction(layout, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Direction v for the plane a + s(b − a) + t v, s, t ∈ [0, 1]: v = max(b − a, 0) on non-negative coordinates
    (every point of the square stays feasible: the third corner is max(a, b)), b − a elsewhere; when that is
    parallel to b − a, a fixed pseudo-random non-negative direction of the same length."""
    u = b - a
    v = np.where(layout.nonneg, np.maximum(u, 0.0), 0.0)
    cos = abs(u @ v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-300)
    if np.linalg.norm(v) == 0 or cos > 0.99:
        v = np.random.default_rng(0).random(u.size) * np.linalg.norm(u) / np.sqrt(u.size)
    return v


def energy_plane(objective: Objective, a: np.ndarray, b: np.ndarray, gamma: float, steps: int = 41) -> dict:
    """Energies on the square a + s(b − a) + t v, s, t ∈ [0, 1] (`_third_direction`) on a grid that is quadratically
    denser near a, in batched evaluations."""
    v = _third_direction(objective.layout, a, b)
    s = np.linspace(0.0, 1.0, steps) ** 2  # dense near the bad point (s = t = 0), where the barrier is
    S, T = np.meshgrid(s, s, indexing="xy")
    pts = a[None] + S.reshape(-1, 1) * (b - a)[None] + T.reshape(-1, 1) * v[None]
    return {"s": s, "t": s, "E": batch_energies(objective, pts, gamma).reshape(S.shape)}


def _finite_list(a: np.ndarray) -> list[float | None]:
    """JSON has no NaN/inf: non-finite energies (a failed Cholesky along the segment) become null."""
    return [float(x) if np.isfinite(x) else None for x in a]


def _oracle_k(oracle: dict):
    """k* of a stored oracle record (the current key, else the legacy one)."""
    return oracle.get("k_star", oracle.get("k"))


def _oracle_supports(oracle: dict) -> list[list[int]]:
    """The optimal (or best known) supports of a stored oracle record (the current key, else the legacy one)."""
    supports = oracle.get("optimal_supports", oracle.get("supports"))
    return [list(x) for x in supports or []]


@dataclass(frozen=True)
class Reference:
    """The point a report compares its point with (`reference_point`).

    kind: ``optimal_minimum`` (the variant minimised from the least-squares fit on an optimal support reached a
    lower energy than the reported point) or ``sparsest_fit`` (it did not: the reference is that fit itself, the
    sparsest solution's point, which is then no minimum of the variant — e.g. a convex variant whose only minimum is
    the reported point); support: the optimal support used; energy: E at the reference; minimised_energy: what
    minimising from the fit reached."""

    theta: np.ndarray
    kind: str
    support: list[int]
    energy: float
    minimised_energy: float

    @property
    def label(self) -> str:
        return "optimal minimum" if self.kind == "optimal_minimum" else "sparsest solution (least-squares fit)"

    def record(self) -> dict:
        f = lambda x: float(x) if np.isfinite(x) else None  # noqa: E731  (JSON has no NaN)
        return {"kind": self.kind, "support": self.support, "energy": f(self.energy),
                "minimised_energy": f(self.minimised_energy)}


def _end_points(data: dict, problem: Problem, variant: Variant, cache: dict) -> tuple[Objective, np.ndarray,
                                                                                       Reference, float]:
    """Objective, reported end point, its `Reference` (the minimised point cached per γ for the run) and γ."""
    gamma = float(data["point_gamma"])
    support = _oracle_supports(data["oracle"])[0]
    mask = np.zeros(problem.kappa, dtype=bool)
    mask[support] = True
    objective = Objective(variant, problem)
    bad = np.asarray(data["end"]["theta"], dtype=np.float64)
    key = ("variant", gamma)
    if key not in cache:
        fit = objective.layout.pack(variant.init_from_support(problem, mask[None], gamma), 1)[0]
        opt = _optimal_point(objective, mask, gamma)
        cache[key] = (fit, opt, batch_energies(objective, np.stack([fit, opt]), gamma))
    fit, opt, (e_fit, e_opt) = cache[key]
    e_bad = float(batch_energies(objective, bad[None], gamma)[0])
    if np.isfinite(e_opt) and (not np.isfinite(e_bad) or e_opt < e_bad - rounding_level(e_bad)):
        ref = Reference(opt, "optimal_minimum", support, float(e_opt), float(e_opt))
    else:  # no lower minimum from the sparsest fit: never compare the point with itself
        ref = Reference(fit, "sparsest_fit", support, float(e_fit), float(e_opt))
    return objective, bad, ref, gamma


def energy_profiles(data: dict, problem: Problem, variant: Variant, cache: dict | None = None) -> dict:
    """Energies along the straight segment from the reported point to its reference point (`Reference`), for the
    variant (its parameter space) and for vae-full (ν-space, both ends built by init_from_support and the optimal
    end minimised), the barrier on the variant's segment (`barrier_on_segment`) and the reference it was measured
    against.

    cache: optional dict reused across the reports of one run, so each optimal end point is minimised once."""
    cache = {} if cache is None else cache
    objective, bad, ref, gamma = _end_points(data, problem, variant, cache)
    mask = np.zeros(problem.kappa, dtype=bool)
    mask[ref.support] = True
    t, E = _segment_energies(objective, bad, ref.theta, gamma)
    barrier = barrier_on_segment(objective, bad, ref.theta, gamma)
    cache[("barrier", gamma, bad.tobytes())] = barrier
    full = BUILTINS["vae-full"]
    fobj = Objective(full, problem)
    bad_mask = np.zeros(problem.kappa, dtype=bool)
    bad_mask[data["verdict"]["support"]] = True
    nu_bad = fobj.layout.pack(full.init_from_support(problem, bad_mask[None], gamma), 1)[0]
    if ("builtin vae-full", gamma) not in cache:
        cache[("builtin vae-full", gamma)] = _optimal_point(fobj, mask, gamma)
    nu_opt = cache[("builtin vae-full", gamma)]
    _, F = _segment_energies(fobj, nu_bad, nu_opt, gamma)
    out = {"t": t.tolist(), "variant_energy": _finite_list(E), "vae_full_energy": _finite_list(F),
           "optimal_energy": ref.energy if ref.kind == "optimal_minimum" and np.isfinite(ref.energy) else None,
           "optimal_support": ref.support, "reference": ref.record(),
           "barrier": {k: barrier[k] for k in ("height", "t_peak", "t_cross", "status", "rounding")}}
    if data.get("gamma_mode") == "learned":
        out["gamma_profile"] = gamma_profile(objective, bad, gamma)
    return out


def gamma_profile(objective: Objective, theta: np.ndarray, gamma: float, span: float = 2.0, steps: int = 81) -> dict:
    """The energy along γ through the point (θ fixed), on γ × 10^[−span, span] (log-spaced): with γ learned, an
    interior minimum sits at the bottom of this profile; a γ → 0 limit point shows the slope n(d − |A|) in log γ."""
    g = gamma * np.logspace(-span, span, steps)
    try:
        E, _, _ = objective.value_and_grad(np.repeat(theta[None], steps, axis=0), g)
    except (FloatingPointError, VaetheoryError):
        E = np.full(steps, np.nan)
    return {"gamma": g.tolist(), "energy": _finite_list(E), "point_gamma": gamma}


def problem_text(data: dict) -> str:
    """The problem's size and where it came from (profile problem and seed, or file), for figure and Markdown."""
    prob = data["problem"]
    size = ", ".join(t.replace("kappa=", "κ=").replace("=", " = ") for t in prob["describe"].split()
                     if t != "noise=0")
    origin = data.get("profile", {}).get("origin") or {}
    where = f" {origin['name']}" if origin.get("name") else (f" {origin['file']}" if origin.get("file") else "")
    if "seed" in origin:
        rows = f"{origin['rows']} rows, " if origin.get("rows") else ""
        return f"problem{where}: {size} ({rows}problem seed {origin['seed']})"
    if where:
        return f"problem{where}: {size}"
    return f"problem: {size} (generator seed not recorded)"


def k_star_text(oracle: dict) -> str:
    """k* with its method and certainty, e.g. ``k* = 3 (enumerate, certain)``."""
    certain = oracle.get("k_star_certain", True)
    return (f"k* {'=' if certain else '≤'} {_oracle_k(oracle)} ({stored_oracle_method(oracle)}, "
            f"{'certain' if certain else 'not certain'})")


def proof_text(verdict: dict) -> str:
    """The interval proof's status in words (``proof: proved``, ``proof: n/a (...)``, ``proof: not attempted``)."""
    pr = verdict.get("proof")
    if pr is None:
        return "proof: not attempted"
    if pr["status"] == "not_applicable":
        return "proof: n/a (no interval proof for this variant)"
    return f"proof: {pr['status'].replace('_', ' ')}"


def _figure_notes(data: dict, ref: Reference, energy: float, barrier: dict) -> tuple[str, ...]:
    """The text panel of a fixed-γ figure: the two points, the barrier statement, the claim."""
    import textwrap

    from vaetheory.report.figure import barrier_text

    v = data["verdict"]
    lines = [f"this point: {data['kind']}, {len(v['support'])} active rows {v['support']}, energy {energy:.6g}",
             f"reference ({ref.label}): support {ref.support}, energy {ref.energy:.6g}"]
    if ref.kind == "sparsest_fit":
        lines.append(f"minimising from the sparsest fit reaches energy {ref.minimised_energy:.6g}, no lower than "
                     "this point's: no other minimum to compare with (a convex variant has a single minimum), and "
                     "no barrier between this point and the sparsest solution")
    lines += [barrier_text(barrier), f"claim ({data['variant']['claim']['kind']}): "
              f"{data['variant']['claim']['status']}",
              f"run seed {data['seed']}, restart {data['restart']} (start: {data['start']['kind']})"]
    reached = data.get("reached_by")
    if reached:
        lines.append(f"{reached['count']} of {reached['of']} end points reached this support")
    return tuple(w for line in lines for w in textwrap.wrap(line, 62, subsequent_indent="   "))


def render_png(data: dict, problem: Problem, variant: Variant, cache: dict | None = None) -> bytes:
    """The report's figure (`vaetheory.report.figure.ReportFigure`): the energy on the segment from the reported
    point to its reference point (`Reference`: an optimal minimum, or the sparsest solution's fit when no lower
    minimum exists), the energy on the plane through both and max(both) (`energy_plane`), the latent scales (ν
    for the VAEs) of both as bars over the κ columns, and the energy along γ (learned γ) or the report's numbers;
    the problem's size and seed, k* and the proof status in its header. Every energy is evaluated in batches by the
    objective. With a `cache` shared by the reports of one run, the figure itself is built once and each report
    redraws only its data."""
    from vaetheory.report.figure import FigureData, ReportFigure

    cache = {} if cache is None else cache
    objective, bad, ref, gamma = _end_points(data, problem, variant, cache)
    barrier = cache.get(("barrier", gamma, bad.tobytes())) or barrier_on_segment(objective, bad, ref.theta, gamma)
    t, E = _segment_energies(objective, bad, ref.theta, gamma)
    rel = E - E[0]
    rel = np.where(np.abs(rel) <= barrier["rounding"], 0.0, rel)
    gp = data.get("profile", {}).get("gamma_profile")
    scale_label = "latent scale ν_j" if objective.layout.names == ("nu",) else "latent scale of column j"
    key = ("figure", problem.kappa, scale_label, bool(gp))
    if key not in cache:
        cache[key] = ReportFigure(problem.kappa, scale_label, with_gamma=bool(gp))
    title = (f"{data['kind']}: {data['variant']['name']}, γ = {gamma:.3g} ({data['gamma_mode']}"
             + (", γ → 0 limit" if data["verdict"].get("limit") else "") + ")")
    facts = " · ".join([problem_text(data), k_star_text(data["oracle"]),
                        f"this point: {len(data['verdict']['support'])} rows, {proof_text(data['verdict'])}"])
    return cache[key].draw(FigureData(
        segment={"t": t, "rel": rel}, barrier=barrier, scales=objective.latent_scales(np.stack([bad, ref.theta])),
        plane=energy_plane(objective, bad, ref.theta, gamma), bad_support=list(data["verdict"]["support"]),
        opt_support=list(ref.support), ref_label=ref.label, gamma_profile=gp, gamma_floor=data.get("gamma_floor"),
        title=title, facts=facts, notes=_figure_notes(data, ref, float(E[0]), barrier)))


def write_report(data: dict, out_dir: str | os.PathLike = DEFAULT_OUT, *, problem: Problem | None = None,
                 variant: Variant | None = None, plot: bool = True, cache: dict | None = None) -> ReportPaths:
    """Write one report (JSON, Markdown and, with `plot`, the PNG) under `out_dir`, as one group: an interrupt
    leaves either all of its files or none (`vaetheory.core.files.write_group`). Names are
    ``<variant>-<hash of the JSON>``: the same counterexample written twice (by one run or two) is one report."""
    out = Path(out_dir)
    cache = {} if cache is None else cache
    drawable = (plot and problem is not None and variant is not None
                and bool(_oracle_supports(data["oracle"])))
    if drawable:
        data = data | {"profile": data.get("profile", {}) | energy_profiles(data, problem, variant, cache)}
    body = json.dumps(data, indent=1, allow_nan=False, sort_keys=True).encode()
    stem = f"{_safe(data['variant']['name'])}-{hashlib.sha256(body).hexdigest()[:12]}"
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    png_path = out / f"{stem}.png" if drawable else None
    if json_path.exists() and md_path.exists() and (png_path is None or png_path.exists()):
        return ReportPaths(json_path, md_path, png_path)  # already written (same content, same name)
    files = {json_path: body,
             md_path: _markdown(data, json_path.name, None if png_path is None else png_path.name).encode()}
    if png_path is not None:
        files[png_path] = render_png(data, problem, variant, cache)
    write_group(files, keep_existing=True)
    return ReportPaths(json_path, md_path, png_path)


def redraw_png(path: str | os.PathLike, *, variant: Variant | None = None) -> Path:
    """Draw the PNG of an existing report again from its JSON alone (the JSON is not touched)."""
    from vaetheory.report.replay import load_report

    data = load_report(path)
    prob = data["problem"]
    problem = Problem.from_arrays({k: np.asarray(prob[k], dtype=np.float64) for k in ("Phi", "X")}
                                  | ({"Z": np.asarray(prob["Z"], dtype=np.float64)} if prob.get("Z") else {})
                                  | {"noise": np.float64(prob.get("noise", 0.0))})
    if variant is None:  # a built-in by name only: a report never chooses code (docs/replay.md)
        from vaetheory.report.replay import builtin_variant

        variant = builtin_variant(data, path)
    png = Path(path).with_suffix(".png")
    write_group({png: render_png(data, problem, variant)})
    return png


def distinct_bad_points(result: CheckResult) -> list[list[int]]:
    """The ``bad_local_min`` end points of `result` grouped by support: one list of restart indices per distinct
    (support, verdict), in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for i in result.bad_points:
        groups.setdefault((tuple(result.points[i].support), result.points[i].verdict), []).append(i)
    return list(groups.values())


def write_check_reports(result: CheckResult, out_dir: str | os.PathLike = DEFAULT_OUT, *, spec: str | None = None,
                        plot: bool = True, limit: int | None = None, origin: dict | None = None
                        ) -> list[ReportPaths]:
    """One report per distinct (support, verdict) among the ``bad_local_min`` points of `result` (the first `limit`
    of them when given), for the first end point that reached it, with the count and restarts of all that did.

    origin: where the problem came from, stored as ``profile.origin`` and shown on the figure: ``{"name", "rows",
    "seed", "generator"}`` of a generated problem, or ``{"file": name}`` (with the generator seed when the file's
    provenance was verified)."""
    groups = distinct_bad_points(result)
    groups = groups[:limit] if limit is not None else groups
    cache: dict = {}
    out = []
    for members in groups:
        data = point_report(result, members[0], spec=spec)
        data["reached_by"] = {"count": len(members), "restarts": members, "of": len(result.points)}
        prov = getattr(result.problem, "provenance", None) or {}
        if origin and "seed" not in origin and prov.get("seed") is not None:  # a file's verified generator seed
            origin = dict(origin) | {"seed": prov["seed"]}
        if origin:  # illustration, like the rest of `profile`: replay does not use it
            data["profile"] = {"origin": dict(origin)}
        out.append(write_report(data, out_dir, problem=result.problem, variant=result.variant, plot=plot,
                                cache=cache))
    return out


def append_finding(line: str, out_dir: str | os.PathLike = DEFAULT_OUT) -> Path:
    """Add one line to ``<out_dir>/FINDINGS.md`` (rewritten atomically; the line is not repeated if present)."""
    path = Path(out_dir) / FINDINGS_FILE
    old = path.read_text() if path.exists() else "# Findings\n\n"
    entry = f"- {line.strip()}\n"
    if entry in old:
        return path
    return write_atomic(path, old + entry)


def __getattr__(name: str):
    """The replay moved to `vaetheory.report.replay`; imports of it from here keep working."""
    if name in ("ReplayResult", "load_report", "replay_report"):
        from vaetheory.report import replay
        return getattr(replay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
