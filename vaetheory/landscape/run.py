"""`run_landscape`: every local minimum of a collapsed VAE on one problem, proved, and the proof that there are no
others (docs/landscape.md)."""
from __future__ import annotations

import time

import numpy as np

from vaetheory.certify.interval import interval_hook, prove_point
from vaetheory.certify.proof import Proof
from vaetheory.core.errors import InputError
from vaetheory.core.protocol import Variant
from vaetheory.core.validation import check_positive
from vaetheory.landscape import fixed, limit
from vaetheory.landscape.enclose import FaceData
from vaetheory.landscape.result import LandscapePoint, LandscapeResult
from vaetheory.oracle.auto import run_oracle
from vaetheory.problems.problem import Problem
from vaetheory.search.objective import Objective
from vaetheory.verdict.judge import judge_points

COVARIANCES = ("full", "diag")
METHOD = "landscape-krawczyk-arb"
AGREE_RTOL = 1e-6  #: the variant's energy gradient must match the closed form it claims (relative)


def _covariance(variant: Variant) -> str:
    cov = getattr(variant, "covariance", None)
    if cov not in COVARIANCES or interval_hook(variant) is None:
        raise InputError(f"variant {variant.name!r} is not supported by landscape: it needs a collapsed VAE energy "
                         f"(covariance 'full' or 'diag') with its interval_derivatives hook")
    return cov


def energy_agrees(objective: Objective, covariance: str, gamma: float, rng: np.random.Generator) -> str | None:
    """None when the variant's energy gradient equals L_full/L_diag's closed form (THEORY §2) at a few random
    points; else what differs. The branch and bound reasons about that closed form, so a variant whose energy is
    something else must not be given its landscape."""
    p = objective.problem
    Phi, X, n = np.asarray(p.Phi), np.asarray(p.X), p.n
    nu = rng.exponential(size=(4, p.kappa)) * float(np.sum(X**2) / (n * p.d))
    nu[:, rng.integers(0, p.kappa, 4)] = 0.0
    g = np.full(4, gamma)
    _, grad, _ = objective.value_and_grad(nu, g, with_gamma=False)
    S = np.linalg.inv(gamma * np.eye(p.d)[None] + (Phi[None] * nu[:, None, :]) @ Phi.T[None])
    B = Phi.T[None] @ S @ X[None]
    M = (B**2).sum(-1)
    if covariance == "full":
        ref = n * np.einsum("dk,bde,ek->bk", Phi, S, Phi) - M
    else:
        c = (Phi**2).sum(0)
        ref = n * c / (gamma + nu * c) - M
    scale = np.abs(ref).max(axis=1, keepdims=True) + 1.0
    err = float((np.abs(grad - ref) / scale).max())
    if not err <= AGREE_RTOL:
        return f"the variant's energy gradient differs from the closed form of L_{covariance} by {err:.3g} (relative)"
    return None


def _problem_dict(problem: Problem) -> dict:
    return {"d": problem.d, "kappa": problem.kappa, "n": problem.n,
            "planted_support": None if problem.Z is None else list(problem.support)}


def _box_proof(root: fixed.FaceRoot, seconds: float) -> dict:
    face = list(root.face)
    return Proof("proved", METHOD, f"Krawczyk: exactly one stationary point of face {face} in the box; classified "
                 f"{root.kind}", active=tuple(face), gamma_role="fixed", precision_bits=None,
                 min_inactive_grad_lower=root.info.get("min_inactive_grad_lower"), seconds=seconds,
                 center=tuple(repr(float(v)) for v in root.nu[face]),
                 extra={"box_lo": root.lo[face].tolist(), "box_hi": root.hi[face].tolist(),
                        "krawczyk_ratio": root.info.get("krawczyk_ratio"),
                        "classified_on": root.info.get("classified_on")}).to_dict()


def run_landscape(problem: Problem, variant: Variant, *, gamma: float | None = None, learn_gamma_limit: bool = False,
                  time_limit: float | None = None, max_boxes_per_face: int | None = None, oracle: str = "auto",
                  progress=None) -> LandscapeResult:
    """Every local minimum of `variant` on `problem`, each proved, and whether that list is complete.

    Fixed γ (`gamma`; default: the variant's): interval branch and bound over every face of ν ≥ 0 (vae-full and
    vae-diag). `learn_gamma_limit`: the γ → 0 limit with γ learned, by deciding every basic feasible support
    (vae-full only; the theory behind it does not cover vae-diag, which is refused with an InputError).
    time_limit: seconds for the whole search; what is left is listed as unresolved and `complete` is False.
    max_boxes_per_face: box budget per face (None: unlimited). oracle: method for k* (`run_oracle`).
    progress: optional callable(step, total) for progress reporting.
    """
    t_start = time.perf_counter()
    cov = _covariance(variant)
    if learn_gamma_limit and gamma is not None:
        raise InputError("give either a fixed gamma or the learned-gamma limit, not both")
    if learn_gamma_limit and cov != "full":
        raise InputError(f"the gamma -> 0 limit mode covers vae-full only (limit minima at basic feasible "
                         f"solutions, Wipf & Rao 2007); variant {variant.name!r} has covariance {cov!r}, which that "
                         f"theory does not cover: use a fixed --gamma")
    if not learn_gamma_limit:
        gamma = check_positive(variant.gamma.default if gamma is None else gamma, "gamma")
    deadline = None if time_limit is None else t_start + float(check_positive(time_limit, "time_limit"))
    objective = Objective(variant, problem)
    bad = energy_agrees(objective, cov, gamma if gamma is not None else 1e-2, np.random.default_rng(0))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    answer = run_oracle(problem, oracle)
    timings["oracle"] = time.perf_counter() - t
    result = LandscapeResult(variant.name, "limit" if learn_gamma_limit else "fixed",
                             None if learn_gamma_limit else float(gamma), _problem_dict(problem), False,
                             oracle={"k": answer.k, "supports": [list(s) for s in answer.supports],
                                     "method": answer.method, "k_star_certain": answer.k_star_certain})
    if bad:
        result.unresolved.append({"why": bad})
        result.message = "not decided: " + bad
        result.timings = timings | {"total": time.perf_counter() - t_start}
        return result
    if learn_gamma_limit:
        _run_limit(problem, answer, result, deadline, progress, timings)
    else:
        _run_fixed(problem, objective, cov, float(gamma), answer, result, deadline, max_boxes_per_face, progress,
                   timings)
    result.complete = not result.unresolved
    nb = len(result.bad_minima)
    result.message = (f"complete: {len(result.minima)} local minima ({nb} bad), {len(result.saddles)} saddles"
                      if result.complete else f"incomplete: {len(result.unresolved)} unresolved item(s); "
                      f"{len(result.minima)} minima proved so far ({nb} bad)")
    result.timings = timings | {"total": time.perf_counter() - t_start}
    return result


#: Arb working precision of the branch and bound: at γ = 1e-6 the gradient is a difference of terms of size 1/γ²,
#: and 53 bits leave the enclosures too wide to decide the roots' boxes.
BITS = 128


def _run_fixed(problem, objective, cov, gamma, answer, result, deadline, max_boxes, progress, timings):
    import flint

    old = flint.ctx.prec
    flint.ctx.prec = BITS
    try:
        _run_fixed_at(problem, objective, cov, gamma, answer, result, deadline, max_boxes, progress, timings)
    finally:
        flint.ctx.prec = old
    result.stats["precision_bits"] = BITS


def _run_fixed_at(problem, objective, cov, gamma, answer, result, deadline, max_boxes, progress, timings):
    fd = FaceData(cov, np.asarray(problem.Phi, dtype=np.float64), np.asarray(problem.X, dtype=np.float64), gamma)
    hook = interval_hook(objective.variant)
    t = time.perf_counter()
    basic = fixed.BasicSolutions(fd)
    lowrank = fixed.LowRankData(fd)
    timings["basic_solutions"] = time.perf_counter() - t
    t = time.perf_counter()
    faces = list(fixed.all_faces(problem.kappa))
    roots, boxes, discards, face_stats = [], 0, {}, []
    for i, face in enumerate(faces):
        if deadline is not None and time.perf_counter() > deadline:
            result.unresolved.append({"why": f"time limit reached before {len(faces) - i} of {len(faces)} faces",
                                      "faces_left": len(faces) - i})
            break
        out = fixed.search_face(fd, hook, face, deadline=deadline, max_boxes=max_boxes, basic=basic,
                                lowrank=lowrank)
        boxes += out.boxes
        for k, v in out.discards.items():
            discards[k] = discards.get(k, 0) + v
        roots += out.roots
        result.unresolved += out.unresolved
        face_stats.append((len(face), out.boxes, out.seconds))
        if progress is not None:
            progress(i + 1, len(faces))
    timings["branch_and_bound"] = time.perf_counter() - t
    by_size: dict[int, dict] = {}
    for m, b, s in face_stats:
        e = by_size.setdefault(m, {"faces": 0, "boxes": 0, "seconds": 0.0})
        e["faces"] += 1
        e["boxes"] += b
        e["seconds"] += s
    result.stats = {"boxes": boxes, "faces": len(faces), "faces_searched": len(face_stats), "discards": discards,
                    "by_face_size": {str(k): v for k, v in sorted(by_size.items())}}
    for r in roots:
        if r.kind == "degenerate":
            result.unresolved.append({"face": list(r.face), "why": "a stationary point that could not be classified: "
                                      + str(r.info.get("why")), "nu": r.nu.tolist()})
        elif r.kind not in ("min", "saddle"):
            result.other_kkt[r.kind] = result.other_kkt.get(r.kind, 0) + 1
    t = time.perf_counter()
    mins = [r for r in roots if r.kind == "min"]
    saddles = [r for r in roots if r.kind == "saddle"]
    for group, dest in ((mins, result.minima), (saddles, result.saddles)):
        if not group:
            continue
        theta = np.stack([r.nu for r in group])
        g = np.full(len(group), gamma)
        E, _, _ = objective.value_and_grad(theta, g, with_gamma=False)
        verdicts = judge_points(objective, theta, g, answer).verdicts if dest is result.minima else [None] * len(group)
        for i, r in enumerate(group):
            pp = prove_point(objective, r.nu, gamma).to_dict() if dest is result.minima else None
            dest.append(LandscapePoint(r.kind, list(r.face), r.nu.tolist(), gamma, float(E[i]), verdicts[i],
                                       _box_proof(r, 0.0), pp))
    timings["judge"] = time.perf_counter() - t


def _run_limit(problem, answer, result, deadline, progress, timings):
    t = time.perf_counter()
    step = [0]

    def prog(k):
        step[0] += k
        if progress is not None:
            progress(step[0], limit.n_subsets(problem.kappa, problem.d))

    out = limit.enumerate_limit(problem, rtol=answer.rtol, deadline=deadline, progress=prog)
    timings["supports"] = time.perf_counter() - t
    result.stats = {"supports_decided": out["supports"], "supports_total": out["total"],
                    "decisions": out["counts"], "small_exact_fits": [list(s) for s in out["small"]]}
    result.unresolved += out["unresolved"]
    d = problem.d
    for s in out["small"]:
        nu = np.zeros(problem.kappa)
        if answer.is_optimal(s):
            W = np.linalg.lstsq(problem.Phi[:, list(s)], problem.X, rcond=None)[0]
            nu[list(s)] = (W**2).sum(1) / problem.n
            result.minima.append(LandscapePoint(
                "limit_min", list(s), nu.tolist(), 0.0, -np.inf, "optimal",
                Proof("proved", limit.METHOD, f"an optimal support with |A| = {len(s)} < d = {d}: the energy tends "
                      f"to -inf as gamma -> 0 (slope n(d - |A|) in log gamma), the global infimum",
                      active=tuple(s), gamma_role="floor").to_dict(),
                note="energy -> -inf as gamma -> 0"))
        else:
            result.unresolved.append({"support": list(s), "why": f"a non-optimal exact fit with |A| = {len(s)} < d: "
                                      "its energy also tends to -inf; the limit theory here does not decide it"})
    for rec in out["minima"]:
        A = rec["support"]
        nu = np.zeros(problem.kappa)
        nu[A] = rec["nu"]
        verdict = "optimal" if answer.is_optimal(A) else ("bad_local_min" if answer.k_star_certain or
                                                           len(A) > answer.k else "undecided_min")
        proof = Proof("proved", limit.METHOD, "ball arithmetic: dE/dgamma(0+) > 0 and every inactive gradient > 0 "
                      "at the limit point nu_a = |w_a|^2/n, W = Phi_A^-1 X (a limit local minimum with gamma at 0+)",
                      active=tuple(A), gamma_role="floor", precision_bits=128,
                      min_inactive_grad_lower=rec["min_inactive_grad_lower"],
                      extra={"dE_dgamma_lower": rec["dE_dgamma_lower"]}).to_dict()
        result.minima.append(LandscapePoint("limit_min", list(A), nu.tolist(), 0.0, rec.get("energy"), verdict,
                                            proof))
    result.other_kkt = {"not_limit_min": out["counts"].get("not_min", 0),
                        "degenerate_bfs": out["counts"].get("degenerate", 0),
                        "contains_smaller_exact_fit": out["counts"].get("contains_exact_fit", 0)}


def missing_minima(landscape: LandscapeResult, check) -> list[dict]:
    """Cross-check against the search: every minimum `check` (a `vaetheory.verdict.check.CheckResult` at the same
    fixed γ) certified (optimal, bad_local_min or undecided_min) that is not on the landscape's list. A minimum on
    a face the landscape left unresolved is reported with ``in_unresolved_face`` True (the list may legitimately
    lack it); any other missing one means the two methods disagree."""
    faces = {tuple(u["face"]) for u in landscape.unresolved if "face" in u}
    open_search = any("face" not in u for u in landscape.unresolved)
    out = []
    for i, p in enumerate(check.points):
        if p.verdict not in ("optimal", "bad_local_min", "undecided_min"):
            continue
        nu = check.search.theta[i]
        if landscape.locate(p.support, nu) is None:
            out.append({"index": i, "support": p.support, "verdict": p.verdict,
                        "in_unresolved_face": tuple(p.support) in faces or open_search})
    return out
