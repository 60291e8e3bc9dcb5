"""Counterexample reports: JSON (everything needed to replay) + Markdown summary + PNG energy profile; and replay.

A report captures one ``bad_local_min`` point of a `CheckResult`: the problem arrays, the variant (name and import
spec), γ and its mode, the start and end points (flat θ and named parameters), the certificate evidence, the oracle
answer, the seed and the library versions. `replay_report` recomputes the verdict from the file alone.

Files are written atomically (temp file + ``os.replace``) under names ``<variant>-<hash of content>.{json,md,png}``,
so a report is never overwritten: writing the same counterexample twice finds the existing file.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from vaetheory.verdict.check import CheckResult
from vaetheory.core.errors import InputError, VaetheoryError
from vaetheory.search.objective import Objective
from vaetheory.oracle.exhaustive import sparsest_supports
from vaetheory.problems.problem import Problem
from vaetheory.search.multistart import Starts, minimise
from vaetheory.variants import get_variant
from vaetheory.variants.builtin import BUILTINS
from vaetheory.core.protocol import Variant
from vaetheory.verdict.judge import judge_points

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


def _atomic_write(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temp file + os.replace; an existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; reports are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
                    "claim": {"kind": result.variant.claim.kind, "statement": result.variant.claim.statement,
                              "conditions": result.claim_conditions, "status": result.claim_status}},
        "problem": {"Phi": p.Phi.tolist(), "X": p.X.tolist(), "Z": None if p.Z is None else p.Z.tolist(),
                    "noise": p.noise, "describe": p.describe()},
        "gamma": result.gamma,
        "gamma_mode": result.gamma_mode,
        "point_gamma": float(result.search.gamma[index]),
        "seed": result.seed,
        "restart": index,
        "start": {"kind": starts.kinds[index],
                  "support": None if starts.supports[index] is None else list(starts.supports[index]),
                  "theta": starts.theta[index].tolist(), "params": _params(objective, starts.theta[index])},
        "end": {"theta": result.search.theta[index].tolist(), "params": _params(objective, result.search.theta[index])},
        "verdict": point.to_dict(),
        "certificate": {"kkt_tol": result.certificate.kkt_tol, "hessian_tol": result.certificate.hessian_tol,
                        "active_rtol": result.certificate.active_rtol},
        "oracle": result.analysis.oracle.to_dict(),
        "conditions": result.analysis.conditions.to_dict(),
        "versions": library_versions(),
    }


@dataclass(frozen=True)
class ReportPaths:
    json: Path
    markdown: Path
    png: Path | None


def _markdown(data: dict, json_name: str, png_name: str | None) -> str:
    v, o = data["verdict"], data["oracle"]
    opt_energy = data.get("profile", {}).get("optimal_energy")
    lines = [
        f"# {data['kind']}: {data['variant']['name']} on {data['problem']['describe']}",
        "",
        f"- claim ({data['variant']['claim']['kind']}): {data['variant']['claim']['statement']} — status "
        f"**{data['variant']['claim']['status']}**",
        f"- gamma = {data['point_gamma']:g} ({data['gamma_mode']}), seed {data['seed']}, restart {data['restart']} "
        f"(start: {data['start']['kind']})",
        f"- end point support ({len(v['support'])} rows): {v['support']}; optimal supports (k* = {o['k']}): "
        f"{o['supports']}",
        f"- energy {v['energy']:.6g}" + ("" if opt_energy is None else f" vs {opt_energy:.6g} at an optimal point"),
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
        lines += ["", f"![energy along the segment to an optimal point]({png_name})"]
    return "\n".join(lines) + "\n"


def _optimal_point(objective: Objective, mask: np.ndarray, gamma: float) -> np.ndarray:
    """A minimised point of the variant started from the least-squares fit on the optimal support `mask`."""
    init = objective.variant.init_from_support(objective.problem, mask[None], gamma)
    theta0 = objective.layout.pack(init, 1)
    support = tuple(int(j) for j in np.flatnonzero(mask))
    found = minimise(objective, Starts(theta0, ("optimal",), (support,)), gamma, maxiter=2000)
    return found.theta[0]


def _segment_energies(objective: Objective, a: np.ndarray, b: np.ndarray, gamma: float, steps: int = 101
                      ) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 1.0, steps)
    pts = (1 - t)[:, None] * a[None] + t[:, None] * b[None]
    try:
        E, _, _ = objective.value_and_grad(pts, np.full(steps, gamma))
    except (FloatingPointError, VaetheoryError):
        E = np.full(steps, np.nan)
    return t, E


def _finite_list(a: np.ndarray) -> list[float | None]:
    """JSON has no NaN/inf: non-finite energies (a failed Cholesky along the segment) become null."""
    return [float(x) if np.isfinite(x) else None for x in a]


def energy_profiles(data: dict, problem: Problem, variant: Variant, cache: dict | None = None) -> dict:
    """Energies along the straight segment from the bad point to an optimal point, for the variant (its parameter
    space) and for vae-full (ν-space, both ends built by init_from_support and the optimal end minimised).

    cache: optional dict reused across the reports of one run, so each optimal end point is minimised once."""
    cache = {} if cache is None else cache
    gamma = float(data["point_gamma"])
    mask = np.zeros(problem.kappa, dtype=bool)
    mask[list(data["oracle"]["supports"][0])] = True
    objective = Objective(variant, problem)
    bad = np.asarray(data["end"]["theta"], dtype=np.float64)
    key = ("variant", gamma)
    if key not in cache:
        cache[key] = _optimal_point(objective, mask, gamma)
    opt = cache[key]
    t, E = _segment_energies(objective, bad, opt, gamma)
    full = BUILTINS["vae-full"]
    fobj = Objective(full, problem)
    bad_mask = np.zeros(problem.kappa, dtype=bool)
    bad_mask[data["verdict"]["support"]] = True
    nu_bad = fobj.layout.pack(full.init_from_support(problem, bad_mask[None], gamma), 1)[0]
    if ("builtin vae-full", gamma) not in cache:
        cache[("builtin vae-full", gamma)] = _optimal_point(fobj, mask, gamma)
    nu_opt = cache[("builtin vae-full", gamma)]
    _, F = _segment_energies(fobj, nu_bad, nu_opt, gamma)
    return {"t": t.tolist(), "variant_energy": _finite_list(E), "vae_full_energy": _finite_list(F),
            "optimal_energy": float(E[-1]) if np.isfinite(E[-1]) else None,
            "optimal_support": list(data["oracle"]["supports"][0])}


def _plot(profile: dict, title: str, variant_name: str) -> bytes:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, name in ((axes[0], "variant_energy", variant_name), (axes[1], "vae_full_energy", "vae-full (ν)")):
        ax.plot(profile["t"], profile[key])
        ax.set_xlabel("t (0 = bad point, 1 = optimal point)")
        ax.set_ylabel("energy")
        ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_report(data: dict, out_dir: str | os.PathLike = DEFAULT_OUT, *, problem: Problem | None = None,
                 variant: Variant | None = None, plot: bool = True, cache: dict | None = None) -> ReportPaths:
    """Write one report (JSON, Markdown and, with `plot`, the PNG energy profile) under `out_dir`."""
    out = Path(out_dir)
    if plot and problem is not None and variant is not None and data["oracle"]["supports"]:
        data = data | {"profile": energy_profiles(data, problem, variant, cache)}
    body = json.dumps(data, indent=1, allow_nan=False, sort_keys=True).encode()
    stem = f"{_safe(data['variant']['name'])}-{hashlib.sha256(body).hexdigest()[:12]}"
    png = None
    if "profile" in data:
        png = _atomic_write(out / f"{stem}.png",
                            _plot(data["profile"], f"{data['kind']}: {data['problem']['describe']}",
                                  data["variant"]["name"]))
    json_path = _atomic_write(out / f"{stem}.json", body)
    md = _atomic_write(out / f"{stem}.md", _markdown(data, json_path.name, None if png is None else png.name).encode())
    return ReportPaths(json_path, md, png)


def write_check_reports(result: CheckResult, out_dir: str | os.PathLike = DEFAULT_OUT, *, spec: str | None = None,
                        plot: bool = True, limit: int | None = None) -> list[ReportPaths]:
    """A report for every ``bad_local_min`` point of `result` (the first `limit` ones when given)."""
    indices = result.bad_points[:limit] if limit is not None else result.bad_points
    cache: dict = {}
    return [write_report(point_report(result, i, spec=spec), out_dir, problem=result.problem,
                         variant=result.variant, plot=plot, cache=cache) for i in indices]


def append_finding(line: str, out_dir: str | os.PathLike = DEFAULT_OUT) -> Path:
    """Add one line to ``<out_dir>/FINDINGS.md`` (rewritten atomically; the line is not repeated if present)."""
    path = Path(out_dir) / FINDINGS_FILE
    old = path.read_text() if path.exists() else "# Findings\n\n"
    entry = f"- {line.strip()}\n"
    if entry in old:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(old + entry)
    os.replace(tmp, path)
    return path


# Replay -------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplayResult:
    """What a replay recomputed: the verdict and support of the stored end point, its refit residual, the oracle's
    optimal supports, and whether all of that matches the file (`reproduced`), with the mismatches listed."""

    path: Path
    variant: str
    stored_verdict: str
    verdict: str
    support: list[int]
    residual: float
    optimal_supports: list[list[int]]
    energy: float
    reproduced: bool
    mismatches: list[str]
    proof: dict | None = None  # the re-checked interval proof (None when the report stores none)


def load_report(path: str | os.PathLike) -> dict:
    """Read a report JSON; InputError when it is missing, unreadable or lacks a required field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such report file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a report must be a JSON object")
    missing = [k for k in ("variant", "problem", "end", "point_gamma", "verdict", "certificate", "oracle")
               if k not in data]
    if missing:
        raise InputError(f"{path}: report lacks field(s) {', '.join(missing)}")
    return data


def replay_report(path: str | os.PathLike, *, variant: Variant | None = None) -> ReplayResult:
    """Rebuild problem, variant and objective from the report alone; certify the stored end point at the stored γ;
    recompute its support, refit residual and the oracle; compare with the stored verdict and support.

    variant: use this object instead of resolving the stored name/spec (for variants defined in a test)."""
    data = load_report(path)
    try:
        prob = data["problem"]
        problem = Problem.from_arrays({k: np.asarray(prob[k], dtype=np.float64) for k in ("Phi", "X")}
                                      | ({"Z": np.asarray(prob["Z"], dtype=np.float64)} if prob.get("Z") else {})
                                      | {"noise": np.float64(prob.get("noise", 0.0))})
        if variant is None:
            variant = get_variant(data["variant"].get("spec") or data["variant"]["name"])
        objective = Objective(variant, problem)
        theta = np.asarray(data["end"]["theta"], dtype=np.float64)[None]
        if theta.shape[1] != objective.size:
            raise InputError(f"{path}: end point has {theta.shape[1]} coordinates, variant expects {objective.size}")
        gamma = float(data["point_gamma"])
        tol = data["certificate"]
        tolerances = {k: tol[k] for k in ("kkt_tol", "hessian_tol", "active_rtol")}
        floor = variant.gamma.floor if data.get("gamma_mode") == "learned" else None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, VaetheoryError):
            raise
        raise InputError(f"{path}: malformed report ({type(exc).__name__}: {exc})") from None
    oracle = sparsest_supports(problem)
    judged = judge_points(objective, theta, np.array([gamma]), oracle, gamma_floor=floor, **tolerances)
    cert, masks, verdict = judged.certificate, judged.masks, judged.verdicts[0]
    residual = float(judged.residuals[0])
    support = [int(j) for j in np.flatnonzero(masks[0])]
    stored = data["verdict"]
    mismatches = []
    if verdict != data.get("kind", stored.get("verdict")):
        mismatches.append(f"verdict {verdict} != stored {data.get('kind')}")
    if support != list(stored.get("support", [])):
        mismatches.append(f"support {support} != stored {stored.get('support')}")
    if [list(s) for s in oracle.supports] != [list(s) for s in data["oracle"]["supports"]]:
        mismatches.append(f"optimal supports {[list(s) for s in oracle.supports]} != stored "
                          f"{data['oracle']['supports']}")
    proof = None
    if stored.get("proof") is not None:
        proof = _replay_proof(objective, theta[0], gamma, stored["proof"], floor, tolerances["active_rtol"],
                              verdict, support, oracle.k, mismatches)
    return ReplayResult(Path(path), variant.name, str(data.get("kind")), verdict, support, residual,
                        [list(s) for s in oracle.supports], float(cert.energy[0]), not mismatches, mismatches, proof)


def _replay_proof(objective, theta, gamma, stored: dict, floor, active_rtol, verdict, support, k, mismatches
                  ) -> dict:
    """Re-check a stored ``proved`` interval proof on its stored box (certify.interval.reprove); any other stored
    status is kept as it is. Appends to `mismatches` when a stored proof does not hold any more."""
    from vaetheory.certify.interval import reprove
    from vaetheory.certify.proof import Proof

    try:
        record = Proof.from_dict(stored)
    except (TypeError, ValueError) as exc:
        raise InputError(f"malformed proof record ({exc})") from None
    if record.status != "proved":
        return record.to_dict()
    again = reprove(objective, theta, gamma, record, learn_gamma=floor is not None, gamma_floor=floor,
                    active_rtol=active_rtol)
    if again.proved and verdict == "bad_local_min" and not len(support) > k:
        again = again.with_status("not_proved", f"support size {len(support)} does not exceed k* = {k}")
    if not again.proved:
        mismatches.append(f"stored proof does not hold: {again.reason}")
    return again.to_dict()
