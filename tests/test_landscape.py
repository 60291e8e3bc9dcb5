"""Complete landscapes (vaetheory.landscape, docs/landscape.md): the fixed-γ branch and bound against a brute-force
multistart, the γ → 0 limit decisions against independent float evaluations, mutations that must be caught, and the
CLI's input errors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pytest
from click.testing import CliRunner

from vaetheory.cli import cli, register_commands
from vaetheory.core.errors import InputError
from vaetheory.landscape import enclose, missing_minima, run_landscape
from vaetheory.landscape.limit import enumerate_limit
from vaetheory.problems.generate import make_problem
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant
from vaetheory.variants.builtin import CollapsedVAE
from vaetheory.verdict.check import run_check

VAE_FULL, VAE_DIAG = get_variant("vae-full"), get_variant("vae-diag")
GAMMA = 1e-2


def _brute_force(problem, variant, restarts=96):
    """Every basic-feasible start (adversarial_fraction) plus random ones, Newton-polished and certified."""
    return run_check(problem, variant, restarts=restarts, gamma=GAMMA, prove=False, adversarial_fraction=0.5)


@pytest.mark.parametrize("rows,n,seed", [("orthogonal", 2, 0), ("gaussian", 1, 2), ("orthogonal", 3, 1)])
def test_fixed_gamma_vae_full_complete_and_contains_every_multistart_minimum(rows, n, seed):
    problem = make_problem(2, 4, 1, n, rows, seed)
    result = run_landscape(problem, VAE_FULL, gamma=GAMMA)
    assert result.complete, result.unresolved
    assert result.minima and all(m.proof["status"] == "proved" for m in result.minima)
    assert all(m.point_proof["status"] == "proved" for m in result.minima)
    assert not result.bad_minima  # C1 holds on these problems
    check = _brute_force(problem, VAE_FULL)
    assert sum(p.verdict in ("optimal", "bad_local_min") for p in check.points) > 0
    assert missing_minima(result, check) == []
    json.dumps(result.to_dict(), allow_nan=False)


def test_fixed_gamma_vae_diag_lists_what_it_proves_and_says_what_is_left():
    problem = make_problem(2, 3, 1, 2, "orthogonal", 0)
    result = run_landscape(problem, VAE_DIAG, gamma=GAMMA, max_boxes_per_face=20)
    kinds = {tuple(m.support): m.verdict for m in result.minima}
    assert kinds.get((1,)) == "optimal"
    assert all(m.proof["status"] == "proved" for m in result.minima)
    # the face holding the bad minimum does not close in this budget: the result must say so, not claim completeness
    assert not result.complete and any(u.get("face") == [0, 2] for u in result.unresolved)
    check = _brute_force(problem, VAE_DIAG)
    missing = missing_minima(result, check)
    assert missing and all(m["in_unresolved_face"] for m in missing)


def test_fixed_gamma_vae_diag_complete_with_its_bad_minimum_and_saddle():
    """Mean-field at d = 2, κ = 3: the complete list has the optimum, one bad minimum (C2) and one saddle; the
    multistart finds nothing else."""
    problem = make_problem(2, 3, 1, 2, "orthogonal", 0)
    result = run_landscape(problem, VAE_DIAG, gamma=GAMMA)
    assert result.complete, result.unresolved
    assert sorted((tuple(m.support), m.verdict) for m in result.minima) == [((0, 2), "bad_local_min"),
                                                                              ((1,), "optimal")]
    assert all(m.point_proof["status"] == "proved" for m in result.minima)
    obj = Objective(VAE_DIAG, problem)
    for sd in result.saddles:  # independent float check: stationary on its face, a negative curvature there
        nu = np.asarray(sd.nu)[None]
        _, g, _ = obj.value_and_grad(nu, np.array([GAMMA]), with_gamma=False)
        H = obj.active_hessian(nu, np.array([GAMMA]), nu > 0)[0][0]
        assert np.abs(g[0, sd.support]).max() <= 1e-6 * max(1.0, np.abs(g).max())
        inactive = [j for j in range(3) if j not in sd.support]
        assert np.linalg.eigvalsh(H).min() < 0 and (g[0, inactive] >= 0).all()
    assert missing_minima(result, _brute_force(problem, VAE_DIAG)) == []


def test_landscape_minimum_is_a_minimum_of_the_energy():
    """Independent of the proofs: random feasible perturbations never lower the energy at a listed minimum."""
    problem = make_problem(2, 4, 1, 2, "orthogonal", 0)
    result = run_landscape(problem, VAE_FULL, gamma=GAMMA)
    obj = Objective(VAE_FULL, problem)
    rng = np.random.default_rng(0)
    for m in result.minima:
        nu = np.asarray(m.nu)
        pert = np.maximum(nu + 1e-4 * max(nu.max(), 1e-3) * rng.standard_normal((256, nu.size)), 0)
        E, _, _ = obj.value_and_grad(pert, np.full(256, GAMMA), with_gamma=False)
        assert E.min() >= m.energy - 1e-9 * abs(m.energy)


def _float_limit(problem, A):
    """dE/dγ(0⁺) and the inactive gradients at the limit point of support A, from the library's torch energy at a
    tiny γ (an evaluation independent of the ball-arithmetic formulas)."""
    W = np.linalg.solve(problem.Phi[:, A], problem.X)
    nu = np.zeros(problem.kappa)
    nu[list(A)] = (W**2).sum(1) / problem.n
    obj = Objective(VAE_FULL, problem)
    _, g, gg = obj.value_and_grad(nu[None], np.array([1e-11]))
    inactive = [j for j in range(problem.kappa) if j not in A]
    return float(gg[0]), g[0, inactive]


def test_limit_decisions_agree_with_float_evaluation_at_tiny_gamma():
    problem = make_problem(4, 8, 2, 1, "gaussian", 3)
    out = enumerate_limit(problem, rtol=1e-9)
    assert out["supports"] == 70 and not out["unresolved"]
    listed = {tuple(m["support"]) for m in out["minima"]}
    agree = checked = 0
    for A in combinations(range(8), 4):
        if set(problem.support) <= set(A):
            continue  # not basic with |A| = d: its limit point is the optimal support's
        gg, gin = _float_limit(problem, A)
        margin = min(gg, gin.min())
        if abs(margin) < 1e-3 * max(abs(gg), 1.0):
            continue  # too close to call in floats; the ball decision stands on its own
        checked += 1
        agree += (margin > 0) == (A in listed)
    assert checked > 40 and agree == checked


def _fast_path_disagreements(problem, prove):
    """Supports where `prove` (the fast path's one-quantity proof) says "not a limit minimum" for some witness while
    the full ball-arithmetic decision does not say not_min."""
    import flint

    from vaetheory.landscape.limit import decide_support

    old = flint.ctx.prec
    flint.ctx.prec = 128
    try:
        cols = [[flint.arb(float(v)) for v in problem.Phi[:, j]] for j in range(problem.kappa)]
        aX = flint.arb_mat(problem.X.tolist())
        bad = []
        for A in combinations(range(problem.kappa), problem.d):
            full = decide_support(flint, cols, aX, A, problem.kappa, problem.n)["status"]
            for w in [-1] + [j for j in range(problem.kappa) if j not in A]:
                if prove(flint, cols, aX, A, problem.n, w) and full != "not_min":
                    bad.append((A, w, full))
        return bad
    finally:
        flint.ctx.prec = old


def test_limit_fast_path_proves_only_what_the_full_decision_decides():
    """The limit mode's fast path proves one negative quantity per support; every such proof must agree with the
    full decision (all quantities), and a fast path with its sign flipped is caught."""
    from vaetheory.landscape.limit import prove_negative

    problem = make_problem(5, 10, 3, 1, "gaussian", 0)
    assert _fast_path_disagreements(problem, prove_negative) == []
    assert _fast_path_disagreements(problem, lambda *a: not prove_negative(*a))


def test_limit_mode_lists_bad_limit_minima_when_n_lt_r():
    problem = make_problem(6, 12, 3, 1, "gaussian", 0)
    result = run_landscape(problem, VAE_FULL, learn_gamma_limit=True)
    assert result.complete and result.mode == "limit"
    assert result.stats["supports_decided"] == 924
    assert result.bad_minima, "n = 1 < r: bad limit minima expected (docs/theory.md C6)"
    assert all(m.proof["status"] == "proved" and m.proof["min_inactive_grad_lower"] > 0 for m in result.bad_minima)
    opt = [m for m in result.minima if m.verdict == "optimal"]
    assert [m.support for m in opt] == [list(problem.support)]


def test_limit_mode_refuses_vae_diag_and_conflicting_arguments():
    problem = make_problem(3, 6, 2, 3, "orthogonal", 0)
    with pytest.raises(InputError, match="does not cover"):
        run_landscape(problem, VAE_DIAG, learn_gamma_limit=True)
    with pytest.raises(InputError, match="either"):
        run_landscape(problem, VAE_FULL, gamma=1e-2, learn_gamma_limit=True)
    with pytest.raises(InputError, match="not supported by landscape"):
        run_landscape(problem, get_variant("ae-l1"), gamma=1e-2)


# ------------------------------------------------------------------------------------------------ beyond the data's rank


def _rank_rule_direction(problem, nu, face, rho):
    """The direction δ of `fixed.no_local_min_by_rank`'s proof at the point ν (any point of the face, stationary or
    not): Pt_k = 0 for the top-ρ part x_k of XXᵀ, computed independently in floats."""
    Phi, X = problem.Phi, problem.X
    Sigma = GAMMA * np.eye(problem.d) + (Phi * nu) @ Phi.T
    w, V = np.linalg.eigh(np.linalg.inv(Sigma))
    half = (V * np.sqrt(w)) @ V.T
    u, sv, _ = np.linalg.svd(X)
    t = half @ (u[:, :rho] * sv[:rho])
    psi = half @ Phi[:, list(face)]
    L = np.concatenate([psi * (psi.T @ t[:, k]) for k in range(rho)], axis=0)
    delta = np.zeros(problem.kappa)
    delta[list(face)] = np.linalg.svd(L)[2][-1]
    return delta


@pytest.mark.parametrize("variant", [VAE_FULL, VAE_DIAG], ids=["vae-full", "vae-diag"])
@pytest.mark.parametrize("d,kappa,r,n,m", [(3, 6, 1, 2, 4), (3, 6, 1, 1, 5), (3, 6, 2, 3, 6), (4, 8, 1, 3, 5)])
def test_rank_rule_direction_has_negative_curvature_in_the_library_energy(variant, d, kappa, r, n, m):
    """The lemma behind the second-order rule, checked on the library's torch energy (not the proof's algebra): on a
    face with more columns than dρ − ρ(ρ−1)/2, every point has a direction of negative curvature inside the face."""
    problem = make_problem(d, kappa, r, n, "orthogonal", 0)
    rho = int(np.linalg.matrix_rank(problem.X, tol=1e-8 * np.abs(problem.X).max()))
    assert m > d * rho - rho * (rho - 1) // 2
    obj = Objective(variant, problem)
    rng = np.random.default_rng(1)
    for face in list(combinations(range(kappa), m))[:4]:
        for _ in range(5):
            nu = np.zeros(kappa)
            nu[list(face)] = 10 ** rng.uniform(-3, 1, m)
            delta = _rank_rule_direction(problem, nu, face, rho)
            h = 1e-6 * nu[list(face)].min() / np.abs(delta).max()
            pts = np.stack([nu + h * delta, nu - h * delta])
            _, g, _ = obj.value_and_grad(pts, np.full(2, GAMMA), with_gamma=False)
            curvature = float((g[0] - g[1]) @ delta) / (2 * h)
            assert curvature < 0, (variant.name, face, nu[list(face)], curvature)


def test_rank_rule_fires_only_beyond_the_bound_and_respects_its_margin():
    from vaetheory.landscape import fixed
    from vaetheory.landscape.enclose import FaceData

    problem = make_problem(3, 6, 2, 3, "orthogonal", 0)
    for cov, expect in (("full", "none"), ("diag", "none")):
        fd = FaceData(cov, problem.Phi, problem.X, GAMMA)
        lr = fixed.LowRankData(fd)
        assert lr.rho == 2 and lr.eps < 1e-10
        assert fixed.no_local_min_by_rank(fd, (0, 1, 2, 3, 4), lr) is None  # 5 = dρ − ρ(ρ−1)/2: not beyond
        assert fixed.no_local_min_by_rank(fd, tuple(range(6)), lr) == expect
        lr.eps = 1.0  # data far from rank ρ: the margin fails and the rule must not fire
        assert fixed.no_local_min_by_rank(fd, tuple(range(6)), lr) is None


@pytest.mark.parametrize("variant,rows,n,seed", [(VAE_FULL, "orthogonal", 2, 0), (VAE_DIAG, "orthogonal", 2, 0),
                                                 (VAE_DIAG, "gaussian", 1, 1)], ids=["full", "diag", "diag-gauss"])
def test_fixed_gamma_complete_at_d3_and_contains_every_multistart_minimum(variant, rows, n, seed):
    problem = make_problem(3, 6, 1, n, rows, seed)
    result = run_landscape(problem, variant, gamma=GAMMA, time_limit=120)
    assert result.complete, result.unresolved[:3]
    assert result.stats["discards"].get("second_order_rank", 0) >= 21  # every face of more than d = 3 columns
    assert all(m.proof["status"] == "proved" and m.point_proof["status"] == "proved" for m in result.minima)
    assert missing_minima(result, _brute_force(problem, variant, restarts=64)) == []
    if variant is VAE_DIAG and rows == "orthogonal":
        assert len(result.bad_minima) >= 3  # C2: mean-field keeps bad minima


def test_a_rank_rule_that_drops_faces_it_must_not_is_caught(monkeypatch):
    """Mutation: the rule fired on every face of two or more columns drops vae-diag's bad minima; the multistart
    cross-check names them, outside any unresolved face."""
    from vaetheory.landscape import fixed

    monkeypatch.setattr(fixed, "no_local_min_by_rank", lambda fd, face, lr: "none" if len(face) >= 2 else None)
    problem = make_problem(3, 6, 1, 2, "orthogonal", 0)
    result = run_landscape(problem, VAE_DIAG, gamma=GAMMA)
    missing = missing_minima(result, _brute_force(problem, VAE_DIAG, restarts=64))
    assert missing and not any(m["in_unresolved_face"] for m in missing)


# ------------------------------------------------------------------------------------------------ mutations


@dataclass(frozen=True)
class ScaledLogDetVAE(CollapsedVAE):
    """A broken energy: the log-det term weighted 0.8, while keeping vae-full's interval hook."""

    def energy(self, params, Phi, X, gamma):
        import torch

        nu = params["nu"]
        S = gamma * torch.eye(Phi.shape[0], dtype=Phi.dtype) + (Phi * nu) @ Phi.T
        return 0.8 * X.shape[1] * torch.logdet(S) + torch.trace(X.T @ torch.linalg.solve(S, X))

    def interval_derivatives(self, theta, Phi, X, gamma, active, with_gamma):
        return CollapsedVAE.interval_derivatives(self, theta, Phi, X, gamma, active, with_gamma)

    value_and_grad_batch = None
    hessian = None


def test_broken_energy_variant_is_never_given_a_complete_landscape():
    mutant = ScaledLogDetVAE("full", "vae-full-scaled", "deliberate bug", VAE_FULL.claim)
    problem = make_problem(2, 4, 1, 2, "orthogonal", 0)
    result = run_landscape(problem, mutant, gamma=GAMMA)
    assert not result.complete and "differs from the closed form" in result.unresolved[0]["why"]


def test_a_dropped_box_is_caught_by_the_multistart_cross_check(monkeypatch):
    problem = make_problem(2, 4, 1, 2, "orthogonal", 0)
    honest = enclose.sign_test

    def drops_the_optimal_face(fd, face, lo, hi):
        return enclose.SignTest(True, "active dropped: deliberate") if tuple(face) == (2,) else honest(fd, face, lo, hi)

    monkeypatch.setattr(enclose, "sign_test", drops_the_optimal_face)
    result = run_landscape(problem, VAE_FULL, gamma=GAMMA)
    missing = missing_minima(result, _brute_force(problem, VAE_FULL, restarts=32))
    assert missing and not any(m["in_unresolved_face"] for m in missing)


# ------------------------------------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def problem_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("landscape") / "p.npz"
    make_problem(2, 4, 1, 2, "orthogonal", 0).save(path)
    return str(path)


def _invoke(args):
    register_commands()
    return CliRunner().invoke(cli, args, standalone_mode=True)


@pytest.mark.parametrize("args,msg", [
    (["--learn-gamma"], "--learn-gamma needs --limit"),
    (["--limit"], "--learn-gamma needs --limit"),
    (["--gamma", "-1"], "Invalid value for '--gamma'"),
    (["--variant", "vae-diag", "--learn-gamma", "--limit"], "does not cover"),
    (["--variant", "ae-l21", "--gamma", "1e-2"], "not supported by landscape"),
])
def test_cli_bad_input_is_one_line_exit_2(problem_file, args, msg):
    res = _invoke(["landscape", problem_file, *args])
    assert res.exit_code == 2 and msg in res.output and "Traceback" not in res.output


def test_cli_json(problem_file):
    res = _invoke(["landscape", problem_file, "--gamma", "1e-2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["complete"] is True and data["minima"][0]["verdict"] == "optimal"


# ------------------------------------------------------------------------------------------------ P7's mutation tests


def _load_p7():
    import importlib.util
    import sys
    from pathlib import Path

    props = Path(__file__).resolve().parents[1] / "properties"
    if str(props) not in sys.path:
        sys.path.insert(0, str(props))
    spec = importlib.util.spec_from_file_location("vaetheory_p7_landscape", props / "test_p7_landscape.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_p7_fails_on_a_broken_energy():
    p7 = _load_p7()
    mutant = ScaledLogDetVAE("full", "vae-full-scaled", "deliberate bug", VAE_FULL.claim)
    problem = make_problem(2, 5, 1, 2, "orthogonal", 1)
    p7.assert_complete_without_bad_minima(problem)  # the honest energy passes on this problem
    with pytest.raises(AssertionError, match="landscape incomplete"):
        p7.assert_complete_without_bad_minima(problem, mutant)


def test_p7_fails_on_a_dropped_box(monkeypatch):
    p7 = _load_p7()
    problem = make_problem(2, 5, 1, 2, "orthogonal", 1)
    honest = enclose.sign_test
    optimal = tuple(problem.support)

    def drops_a_box(fd, face, lo, hi):
        return enclose.SignTest(True, "active dropped: deliberate") if tuple(face) == optimal else honest(fd, face, lo, hi)

    monkeypatch.setattr(enclose, "sign_test", drops_a_box)
    result = run_landscape(problem, VAE_FULL, gamma=GAMMA)
    with pytest.raises(AssertionError, match="check found minima the complete landscape lacks"):
        p7.assert_check_minima_listed(problem, result)
