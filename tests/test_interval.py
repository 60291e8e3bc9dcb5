"""Interval proofs (docs/proofs.md): the Arb closed forms against autograd, proofs of genuine minima (fixed and
learned γ), the four mutations that must come out not_proved, replay of a proved report and of edited ones, and
``check --require-proof``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize as so
import torch
from click.testing import CliRunner

from vaetheory.certify.interval import AGREE_RTOL, interval_hook, prove_point
from vaetheory.certify.proof import Proof
from vaetheory.cli import cli
from vaetheory.cli import commands, replay_cmd  # noqa: F401  (registers the subcommands)
from vaetheory.problems.generate import make_problem
from vaetheory.problems.problem import Problem
from vaetheory.report.counterexample import replay_report, write_check_reports
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant
from vaetheory.variants.builtin import VAE_DIAG, CollapsedVAE
from vaetheory.variants.interval_forms import collapsed_interval_derivatives
from vaetheory.verdict.check import run_check

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def small():
    """d=6, κ=12, r=2, n=6, orthogonal rows: non-optimal BFS exist (k* = 2 < d)."""
    return make_problem(6, 12, 2, 6, "orthogonal", seed=1)


@pytest.fixture(scope="module")
def diag_check(small):
    """vae-diag at γ = 1e-6 from non-optimal BFS starts (bad minima) and random starts."""
    return run_check(small, get_variant("vae-diag"), restarts=4, seed=0, gamma=1e-6, adversarial_fraction=0.5)


@pytest.fixture(scope="module")
def full_check(small):
    return run_check(small, get_variant("vae-full"), restarts=3, seed=0, gamma=1e-6)


@pytest.mark.parametrize("name,with_gamma", [("vae-full", True), ("vae-diag", True), ("ae-l21", False)])
def test_interval_derivatives_match_autograd(small, name, with_gamma):
    """The Arb closed forms (gradient incl. γ, Hessian over active ν and γ) equal torch autograd on the energy, and
    their balls are tight at 200 bits."""
    import flint

    variant = get_variant(name)
    rng = np.random.default_rng(0)
    nu = rng.exponential(size=small.kappa)
    nu[[1, 4, 7]] = 0.0
    act = [j for j in range(small.kappa) if nu[j] > 0]
    g0 = 3e-2
    Phi, X = torch.tensor(small.Phi), torch.tensor(small.X)
    th = torch.tensor(nu, requires_grad=True)
    gm = torch.tensor(g0, dtype=torch.float64, requires_grad=True)
    energy = lambda t, g: variant.energy({"nu": t}, Phi, X, g)  # noqa: E731
    gth, ggm = torch.autograd.grad(energy(th, gm), (th, gm))
    H = torch.autograd.functional.hessian(energy, (th, gm))
    old = flint.ctx.prec
    flint.ctx.prec = 200
    try:
        G, Hi = variant.interval_derivatives([flint.arb(x) for x in nu], flint.arb_mat(small.Phi.tolist()),
                                             flint.arb_mat(small.X.tolist()), flint.arb(g0), act, with_gamma)
        assert all(x.rad() < 1e-40 for x in G)
        g_ball = np.array([float(x.mid()) for x in G])
        H_ball = np.array([[float(Hi[i, j].mid()) for j in range(Hi.ncols())] for i in range(Hi.nrows())])
    finally:
        flint.ctx.prec = old
    ref = np.concatenate([gth.numpy(), [ggm.item()]]) if with_gamma else gth.numpy()
    Href = H[0][0].numpy()[np.ix_(act, act)]
    if with_gamma:
        Href = np.block([[Href, H[0][1].numpy()[act][:, None]],
                         [H[1][0].numpy()[act][None], H[1][1].numpy().reshape(1, 1)]])
    np.testing.assert_allclose(g_ball, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    np.testing.assert_allclose(H_ball, Href, rtol=1e-9, atol=1e-9 * np.abs(Href).max())


def test_bad_minima_and_optimal_points_are_proved(diag_check, full_check):
    """Fixed γ = 1e-6: every bad_local_min of vae-diag and every optimal point of vae-full is proved, with the
    oracle's evidence beside the bad ones and the summary counting proofs per verdict."""
    assert diag_check.summary["bad_local_min"] > 0
    for p in diag_check.points:
        if p.verdict == "bad_local_min":
            pr = p.proof
            assert pr["status"] == "proved", pr["reason"]
            assert pr["min_eig_lower"] > 0 and pr["min_inactive_grad_lower"] > 0
            assert pr["point_offset"] <= AGREE_RTOL and pr["box_radius"] <= 1e-20
            assert pr["extra"]["support_size"] > pr["extra"]["k_star"] == diag_check.analysis.oracle.k
            assert pr["extra"]["witness_residual"] < 1e-10
    assert diag_check.proofs["bad_local_min"]["proved"] == diag_check.summary["bad_local_min"]
    assert full_check.summary["optimal"] == 3
    assert all(p.proof["status"] == "proved" for p in full_check.points)
    assert full_check.to_dict()["proofs"]["optimal"]["proved"] == 3


def test_learned_gamma_interior_minimum_is_proved():
    """THEORY.md C6(c): an interior strict local minimum of L_diag over (ν_A, γ), constructed by
    tests/data/learned_gamma_interior_min.json's recipe, is proved with γ as a free coordinate, also after a
    1e-10 relative perturbation of the float point (the proof refines it); 1e-3 is too far to be that minimum."""
    data = json.loads((DATA / "learned_gamma_interior_min.json").read_text())
    spec = data["problem"]
    problem = make_problem(spec["d"], spec["kappa"], spec["r"], spec["n"], spec["rows"], spec["seed"])
    obj = Objective(VAE_DIAG, problem)
    nu, gamma = np.array(data["nu"]), data["gamma"]
    pr = prove_point(obj, nu, gamma, learn_gamma=True)
    assert pr.status == "proved", pr.reason
    assert pr.gamma_role == "free" and len(pr.center) == int((nu > 0).sum()) + 1
    assert gamma > VAE_DIAG.gamma.floor and pr.min_eig_lower > 0 and pr.min_inactive_grad_lower > 0
    assert prove_point(obj, nu * (1 + 1e-10), gamma * (1 - 1e-10), learn_gamma=True).proved
    far = prove_point(obj, nu, gamma * (1 + 1e-3), learn_gamma=True)
    assert far.status == "not_proved"
    # at fixed γ the same point is a minimum over ν_A too (a weaker statement), proved as well
    assert prove_point(obj, nu, gamma).proved


# Mutations: each must come out not_proved ----------------------------------------------------------------------

def _minimise_on_face(obj, theta, gamma, fixed_zero, maxiter=5000):
    """L-BFGS-B on the variant's energy with the coordinates `fixed_zero` held at 0, from `theta`."""
    bounds = [(0.0, 0.0) if j in fixed_zero else (0.0, None) for j in range(obj.size)]

    def f(x):
        E, g, _ = obj.value_and_grad(x[None], np.array([gamma]))
        return E[0], g[0]

    r = so.minimize(f, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                    options={"maxiter": maxiter, "ftol": 1e-16, "gtol": 1e-13})
    return r.x


def test_mutation_saddle_is_not_proved(small, full_check):
    """Take vae-full's optimal point, switch off one optimal coordinate and minimise on that face: a stationary
    point of the face whose inactive gradient is negative (growing the removed ν lowers the energy)."""
    obj = Objective(full_check.variant, small)
    theta = full_check.search.theta[0].copy()
    j = full_check.points[0].support[0]
    theta[j] = 0.0
    x = _minimise_on_face(obj, theta, 1e-6, {j}, maxiter=300)
    _, g, _ = obj.value_and_grad(x[None], np.array([1e-6]))
    assert g[0, j] < 0  # a saddle indeed
    pr = prove_point(obj, x, 1e-6)
    assert pr.status == "not_proved" and "inactive gradient" in pr.reason


def test_mutation_shifted_point_is_not_proved(diag_check, small):
    """A bad minimum moved 1e-2 (relative) along one coordinate: a minimum is still proved nearby, but not at the
    reported point."""
    i = diag_check.bad_points[0]
    obj = Objective(diag_check.variant, small)
    theta = diag_check.search.theta[i].copy()
    j = int(np.argmax(theta))
    theta[j] *= 1 + 1e-2
    pr = prove_point(obj, theta, 1e-6)
    assert pr.status == "not_proved" and "agreement tolerance" in pr.reason


def test_mutation_psd_singular_hessian_is_not_proved(small):
    """Duplicate an optimal column of Φ and split its ν between the two copies: the energy depends on their sum
    only, so the restricted Hessian is PSD with a null direction (the minimum is not strict)."""
    Phi = small.Phi.copy()
    s = list(small.support)
    Phi[:, -1] = Phi[:, s[0]]
    problem = Problem(Phi=Phi, X=small.X, Z=None, noise=0.0)
    obj = Objective(get_variant("vae-full"), problem)
    mask = np.zeros(problem.kappa, dtype=bool)
    mask[s] = True
    theta = obj.layout.pack(obj.variant.init_from_support(problem, mask[None], 1e-6), 1)[0]
    theta[-1] = theta[s[0]] / 2
    theta[s[0]] /= 2
    off = set(range(problem.kappa)) - set(s) - {problem.kappa - 1}
    x = _minimise_on_face(obj, theta, 1e-6, off)
    H, _, valid = obj.active_hessian(x[None], np.array([1e-6]), (x > 1e-6 * x.max())[None])
    ev = np.linalg.eigvalsh(H[0][np.ix_(valid[0], valid[0])])
    assert abs(ev[0]) < 1e-6 * ev[-1]  # singular (PSD up to rounding)
    pr = prove_point(obj, x, 1e-6)
    assert pr.status == "not_proved", pr.reason


@dataclass(frozen=True)
class WrongGradientVAE(CollapsedVAE):
    """vae-diag's energy with an interval hook whose gradient in the first active coordinate is shifted by
    1e-3 |E| / ν_j: a plausible-looking gradient (the Hessian is right) whose zero is elsewhere."""

    def interval_derivatives(self, theta, Phi, X, gamma, active, with_gamma):
        g, H = collapsed_interval_derivatives(theta, Phi, X, gamma, active, with_gamma, self.covariance)
        j = active[0]
        g = list(g)
        g[j] = g[j] + 1e-3 * 1e3 / theta[j].mid()
        return g, H


def test_mutation_wrong_gradient_is_not_proved(diag_check, small):
    wrong = WrongGradientVAE("diag", "wrong-grad", "vae-diag with a wrong interval gradient", VAE_DIAG.claim)
    assert interval_hook(wrong) is not None
    i = diag_check.bad_points[0]
    pr = prove_point(Objective(wrong, small), diag_check.search.theta[i], 1e-6)
    assert pr.status == "not_proved" and "disagrees" in pr.reason
    # the right hook proves the same point
    assert prove_point(Objective(VAE_DIAG, small), diag_check.search.theta[i], 1e-6).proved


@dataclass(frozen=True)
class WrongInactiveGradientVAE(CollapsedVAE):
    """vae-diag's energy with an interval hook whose first inactive gradient is 1 % too large: still > 0, so only
    the hook-vs-autograd test can catch it (the agreement is measured relative to each gradient's own size)."""

    def interval_derivatives(self, theta, Phi, X, gamma, active, with_gamma):
        g, H = collapsed_interval_derivatives(theta, Phi, X, gamma, active, with_gamma, self.covariance)
        j = next(k for k in range(len(theta)) if k not in set(active))
        g = list(g)
        g[j] = g[j] * 1.01
        return g, H


def test_mutation_wrong_inactive_gradient_is_not_proved(diag_check, small):
    wrong = WrongInactiveGradientVAE("diag", "wrong-inactive", "vae-diag, one inactive gradient 1 % off",
                                     VAE_DIAG.claim)
    i = diag_check.bad_points[0]
    pr = prove_point(Objective(wrong, small), diag_check.search.theta[i], 1e-6)
    assert pr.status == "not_proved" and "disagrees" in pr.reason


def test_variant_without_hook_is_not_applicable(small):
    @dataclass(frozen=True)
    class OwnEnergy(CollapsedVAE):  # overrides the energy: the inherited hook belongs to another energy
        def energy(self, params, Phi, X, gamma):
            return super().energy(params, Phi, X, gamma) + 0.0

    v = OwnEnergy("diag", "own", "own energy", VAE_DIAG.claim)
    pr = prove_point(Objective(v, small), np.ones(small.kappa), 1e-4)
    assert pr.status == "not_applicable" and "interval_derivatives" in pr.reason
    assert Proof.from_dict(pr.to_dict()) == pr


# Replay ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report_path(diag_check, tmp_path_factory):
    out = tmp_path_factory.mktemp("proof-reports")
    return write_check_reports(diag_check, out, limit=1, plot=False)[0].json


def _edited(path: Path, tmp: Path, edit) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    new = tmp / "edited.json"
    new.write_text(json.dumps(data))
    return new


def test_replay_reproves_the_stored_box(report_path):
    res = replay_report(report_path)
    assert res.reproduced, res.mismatches
    assert res.proof["status"] == "proved"


def test_replay_fails_on_a_moved_point(report_path, tmp_path):
    """Moved by 1e-9 relative: far outside the 1e-24 box and farther than the recorded offset."""
    def move(d):
        th = d["end"]["theta"]
        j = int(np.argmax(th))
        th[j] *= 1 + 1e-9
    res = replay_report(_edited(report_path, tmp_path, move))
    assert not res.reproduced and res.proof["status"] == "not_proved"
    assert any("moved" in m for m in res.mismatches)


def test_replay_fails_on_an_edited_proof(report_path, tmp_path):
    """Another centre (digit changed) or a box claimed much wider than the one proved: the stored box fails."""
    def shift_centre(d):
        c = d["verdict"]["proof"]["center"]
        c[0] = str(float(c[0]) * (1 + 1e-12))
    res = replay_report(_edited(report_path, tmp_path, shift_centre))
    assert not res.reproduced and res.proof["status"] == "not_proved"

    def widen(d):
        d["verdict"]["proof"]["box_radius"] = 1e-5
    res = replay_report(_edited(report_path, tmp_path, widen))
    assert not res.reproduced and res.proof["status"] == "not_proved"


def test_require_proof_exit_codes(small, tmp_path):
    path = tmp_path / "p.npz"
    small.save(path)
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", "--variant", "vae-full", "--problem", str(path), "--restarts", "2",
                             "--gamma", "1e-6", "--out", str(tmp_path / "r"), "--require-proof", "--json"])
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout)
    assert body["proofs"]["optimal"]["proved"] == body["summary"]["optimal"] == 2
    # a plug-in variant without the hook: its minima are not_applicable, so --require-proof fails
    plug = tmp_path / "plug.py"
    plug.write_text("from dataclasses import dataclass\n"
                    "from vaetheory.variants.builtin import CollapsedVAE, VAE_FULL\n"
                    "@dataclass(frozen=True)\n"
                    "class Plain(CollapsedVAE):\n"
                    "    def energy(self, params, Phi, X, gamma):\n"
                    "        return super().energy(params, Phi, X, gamma)\n"
                    "VARIANT = Plain('full', 'plain-full', 'vae-full without the hook', VAE_FULL.claim)\n")
    bad = runner.invoke(cli, ["check", "--variant", f"{plug}:VARIANT", "--problem", str(path), "--restarts", "2",
                              "--gamma", "1e-6", "--out", str(tmp_path / "r2"), "--require-proof"])
    assert bad.exit_code == 1, bad.output


def test_end_points_at_one_minimum_share_its_proved_box(full_check, small):
    """Restarts that reach the same minimum get one proof: the second record is the first's box with its own
    point_offset, and it re-proves on its own (reprove); a point moved off the box gets no shared proof."""
    from vaetheory.certify.interval import prove_points, reprove, reuse_proof

    obj = Objective(get_variant("vae-full"), small)
    theta = full_check.search.theta[:1]
    jitter = theta * (1 + 1e-9 * np.random.default_rng(0).standard_normal(theta.shape))
    pair = np.concatenate([theta, jitter])
    first, second = prove_points(obj, pair, np.full(2, 1e-6))
    assert first.proved and second.proved
    assert second.extra.get("shared_box") and not first.extra.get("shared_box")
    assert second.center == first.center and second.point_offset != first.point_offset
    assert reprove(obj, jitter[0], 1e-6, second).proved
    moved = theta[0] * (1 + 10 * AGREE_RTOL * (theta[0] > 0))
    assert reuse_proof(obj, first, moved, 1e-6) is None
