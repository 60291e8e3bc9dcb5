"""Sound verdicts: the constructions a skeptical reviewer used to get false or unsupported verdicts out of the suite,
each built here, each with the check that the old behaviour (switched back on where it is a switch) fails.

1. ν = 0 with γ learned: every block is zero, so the scale-free inactive test had nothing to scale by and passed
   gradients of any sign; the point was reported ``bad_local_min``.
2. A column appended to a generic Φ (x/‖x‖, or an exact combination of planted columns): the uniqueness oracle
   assumed genericity for any Φ and answered the planted k* "certainly".
3. Twin columns: vae-full's optimum split across them lies on a flat valley; it was reported a strict bad minimum.
4. Claims counted float verdicts even where interval proofs exist.
5. Interior minima of vae-diag below the γ floor were reported ``not_converged``.
"""
from __future__ import annotations

import numpy as np
import pytest

from vaetheory.oracle.auto import run_oracle
from vaetheory.oracle.uniqueness import oracle_uniqueness
from vaetheory.problems.conditions import check_conditions
from vaetheory.problems.generate import make_problem
from vaetheory.problems.problem import Problem
from vaetheory.search.multistart import projected_newton
from vaetheory.search.objective import Objective
from vaetheory.variants import get_variant
from vaetheory.verdict.check import ProblemAnalysis, run_check
from vaetheory.verdict.claims import ClaimContext, claim_status
from vaetheory.verdict.consistency import check_oracle
from vaetheory.verdict.judge import judge_points
from vaetheory.verdict.proofs import settle


# 1. the empty-support point -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["vae-full", "vae-diag"])
def test_zero_point_with_learned_gamma_is_not_a_minimum(name):
    p = make_problem(10, 25, 4, 12, "gaussian", seed=7)
    variant = get_variant(name)
    obj = Objective(variant, p)
    theta = np.zeros((1, obj.size))
    # the γ that makes ν = 0 stationary in γ: E = ‖X‖²/γ + n d log γ (+ const) for both variants at ν = 0
    gamma = np.array([float(np.sum(p.X ** 2)) / (p.n * p.d)])
    oracle = run_oracle(p)
    judged = judge_points(obj, theta, gamma, oracle, gamma_floor=variant.gamma.floor)
    assert judged.certificate.min_inactive_grad[0] < 0  # growing some ν_j lowers E
    assert judged.verdicts[0] == "saddle", judged.reasons[0]
    assert "inactive gradient" in judged.reasons[0]


def test_zero_point_mutation_old_scale_floor_passes_it(monkeypatch):
    """Mutation: the old scale (1e-300 for an all-zero block) makes the zero point pass as a minimum."""
    import vaetheory.certify.numeric as numeric

    p = make_problem(10, 25, 4, 12, "gaussian", seed=7)
    variant = get_variant("vae-full")
    obj = Objective(variant, p)
    gamma = np.array([float(np.sum(p.X ** 2)) / (p.n * p.d)])
    monkeypatch.setattr(numeric, "DEGENERATE_SCALE", 1e-300)
    judged = judge_points(obj, np.zeros((1, obj.size)), gamma, run_oracle(p), gamma_floor=variant.gamma.floor)
    assert judged.verdicts[0] != "saddle"  # the old code's blind spot: the test here can fail


def test_empty_support_is_never_a_minimum_verdict():
    """An exactly-stationary point with every column off is degenerate_min (not judged), never optimal or bad:
    vae-full at fixed γ so large that every inactive gradient n c_j/γ − ‖φ_jᵀX‖²/γ² is positive."""
    p = make_problem(6, 12, 2, 4, "orthogonal", seed=0)
    obj = Objective(get_variant("vae-full"), p)
    corr = np.sum((p.Phi.T @ p.X) ** 2, axis=1) / (p.n * np.sum(p.Phi ** 2, axis=0))
    judged = judge_points(obj, np.zeros((1, obj.size)), np.array([10 * corr.max()]), run_oracle(p))
    assert judged.certificate.certified[0]
    assert judged.verdicts[0] == "degenerate_min" and "empty support" in judged.reasons[0]


# 2. oracle honesty -------------------------------------------------------------------------------------------------

def _appended(column_of):
    base = make_problem(30, 60, 8, 1, "gaussian", seed=11)
    col = column_of(base)
    Phi = np.column_stack([base.Phi, col])
    Z = np.vstack([base.Z, np.zeros((1, base.n))])
    return base, Problem(Phi=Phi, X=base.X, Z=Z)  # a user's Φ: no provenance


def test_appended_data_column_gives_k_star_one():
    base, p = _appended(lambda b: b.X[:, 0] / np.linalg.norm(b.X))
    ans = run_oracle(p)
    assert ans.k_star_certain and ans.k_star == 1 and ans.witness == (60,), ans.basis
    # the generated problem itself: k* = 8, certain by genericity of a Φ the suite drew
    ref = run_oracle(base)
    assert ref.k_star == 8 and ref.k_star_certain and "vaetheory" in (ref.assumption or "")


def test_combination_column_is_not_certain():
    base, p = _appended(lambda b: b.Phi[:, list(b.support[:5])] @ np.array([0.7, -0.4, 0.5, 0.3, -0.6]))
    uni = oracle_uniqueness(p)
    assert not uni.k_star_certain and "ASSUMED" in uni.assumption  # old code: k* = 8, certain
    ans = run_oracle(p, mip_time_limit=5)
    assert not (ans.k_star == 8 and ans.k_star_certain), ans.basis


def test_file_provenance_must_reproduce_phi(tmp_path):
    from vaetheory.core.errors import InputError

    p = make_problem(6, 12, 2, 3, "gaussian", seed=5)
    p.save(tmp_path / "p.npz")
    assert Problem.load(tmp_path / "p.npz").provenance["verified"]
    arrays = dict(np.load(tmp_path / "p.npz"))
    arrays["Phi"] = arrays["Phi"].copy()
    arrays["Phi"][0, 0] += 1e-9
    np.savez(tmp_path / "q.npz", **arrays)
    with pytest.raises(InputError, match="does not reproduce Phi"):
        Problem.load(tmp_path / "q.npz")
    del arrays["provenance"]
    np.savez(tmp_path / "r.npz", **arrays)
    assert Problem.load(tmp_path / "r.npz").provenance is None


def test_sparser_end_point_demotes_a_certain_oracle():
    """Consistency: an exact fit sparser than a "certain" k* demotes it (here: re-decided by enumeration)."""
    base, p = _appended(lambda b: 1e-3 * b.X[:, 0] / np.linalg.norm(b.X))
    wrong = oracle_uniqueness(base)  # k* = 8 "certain" for the base problem, applied to the appended one
    masks = np.zeros((2, p.kappa), dtype=bool)
    masks[0, list(base.support)] = True
    masks[1, 60] = True
    res = np.array([0.0, 0.0])
    c = check_oracle(p, wrong, masks, res)
    assert c.contradicted and c.oracle.k_star == 1 and c.support == (60,)
    assert "end point 1" in c.note


def test_check_never_calls_the_sparsest_fit_bad():
    """The reviewer's run: the appended column scaled by 1e-3; the one-column support must not be bad."""
    _, p = _appended(lambda b: 1e-3 * b.X[:, 0] / np.linalg.norm(b.X))
    res = run_check(p, get_variant("vae-full"), restarts=8, seed=0, gamma=1e-6)
    assert res.analysis.oracle.k_star == 1
    for pt in res.points:
        if pt.support == [60]:
            assert pt.verdict == "optimal", pt


# 3. flat valleys ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def twin():
    """vae-full's optimum on a problem with a duplicated planted column, its weight split across the twins."""
    base = make_problem(10, 25, 5, 20, "orthogonal", seed=3)
    j = base.support[0]
    p = Problem(Phi=np.column_stack([base.Phi, base.Phi[:, j]]), X=base.X,
                Z=np.vstack([base.Z, np.zeros((1, base.n))]))
    variant = get_variant("vae-full")
    obj = Objective(variant, p)
    theta = np.zeros((1, obj.size))
    theta[0, list(base.support)] = 1.0
    theta, _ = projected_newton(obj, theta, np.array([1e-6]), max_iter=100)
    theta[0, 25] = theta[0, j] = theta[0, j] / 2  # same energy: ν_j φφᵀ is all that matters
    return p, obj, theta, j


def test_split_twin_optimum_is_degenerate(twin):
    p, obj, theta, j = twin
    oracle = run_oracle(p)
    judged = judge_points(obj, theta, np.array([1e-6]), oracle)
    assert judged.verdicts[0] == "degenerate_min", (judged.verdicts, judged.reasons)
    assert f"{j}~25" in judged.reasons[0] and "connected to the optimal support" in judged.reasons[0]
    # the interval prover refuses it too: it stays degenerate
    verdicts, _, proofs = settle(obj, theta, np.array([1e-6]), judged.verdicts, judged.reasons, judged.masks,
                                 judged.residuals, oracle)
    assert verdicts == ["degenerate_min"] and not proofs[0].proved


def test_split_twin_mutation_semidefinite_counts_as_strict(twin, monkeypatch):
    """Mutation: with strictness = semidefiniteness (the old rule) the flat point is a 'bad' minimum."""
    from vaetheory.certify.numeric import Certificate

    p, obj, theta, _ = twin
    monkeypatch.setattr(Certificate, "strict", property(lambda self: self.second_order))
    judged = judge_points(obj, theta, np.array([1e-6]), run_oracle(p))
    assert judged.verdicts[0] == "bad_local_min"


# 4. claims count proved points -------------------------------------------------------------------------------------

def test_claim_status_counts_proved_points():
    p = make_problem(6, 12, 2, 4, "orthogonal", seed=0)
    variant = get_variant("vae-full")
    ctx = ClaimContext(check_conditions(p), run_oracle(p), 1e-4, "fixed")
    summary = {"optimal": 3, "bad_local_min": 1}
    assert claim_status(variant.claim, ctx, summary) == "refuted"  # float evidence (no proofs asked for)
    assert claim_status(variant.claim, ctx, summary, {"optimal": 3, "bad_local_min": 0}) == "refuted_unproved"
    assert claim_status(variant.claim, ctx, summary, {"optimal": 3, "bad_local_min": 1}) == "refuted"
    assert claim_status(variant.claim, ctx, {"optimal": 3}, {"optimal": 0}) == "held_unproved"
    diag = get_variant("vae-diag")
    assert claim_status(diag.claim, ctx, summary, {"bad_local_min": 0}) == "confirmed_unproved"


def test_run_without_proofs_does_not_claim_held():
    p = make_problem(6, 12, 2, 4, "orthogonal", seed=0)
    analysis = ProblemAnalysis(run_oracle(p), None, check_conditions(p))
    res = run_check(p, get_variant("vae-full"), restarts=3, seed=0, analysis=analysis, prove=False)
    assert res.claim_evidence == "proved" and res.claim_status == "held_unproved"
    res = run_check(p, get_variant("vae-full"), restarts=3, seed=0, analysis=analysis, prove=True)
    assert res.claim_status == "held"
    assert run_check(p, get_variant("ae-l1"), restarts=2, seed=0, analysis=analysis).claim_evidence == "float"


# 5. below the γ floor ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def below_floor():
    p = make_problem(10, 25, 5, 20, "orthogonal", 1003)
    return p, run_check(p, get_variant("vae-diag"), restarts=16, seed=0, learn_gamma=True)


def test_interior_minima_below_the_floor_are_followed_and_proved(below_floor):
    p, res = below_floor
    floor = get_variant("vae-diag").gamma.floor
    followed = [pt for pt in res.points if pt.followed]
    assert followed, "this instance has end points whose limit check fails at the floor"
    below = [pt for pt in followed if pt.gamma < floor and not pt.limit]
    assert below and all(pt.verdict == "bad_local_min" and pt.proof["status"] == "proved" for pt in below)
    assert all(pt.gamma > pt.gamma_floor for pt in below)
    assert not [pt for pt in res.points if pt.verdict == "not_converged" and "limit" in (pt.reason or "")]


def test_below_floor_mutation_no_following_leaves_them_not_converged(below_floor):
    p, res = below_floor
    variant = get_variant("vae-diag")
    obj = Objective(variant, p)
    idx = [i for i, pt in enumerate(res.points) if pt.followed]
    # the search's own end points of those restarts sit at the floor: re-run the search to get them back
    from vaetheory.search.multistart import make_starts, minimise

    rng = np.random.default_rng(0)
    starts = make_starts(obj, 16, rng, variant.gamma.default, optimal_supports=res.analysis.oracle.supports,
                         l21_support=res.analysis.relaxation.support, learn_gamma=True)
    search = minimise(obj, starts, variant.gamma.default, learn_gamma=True, maxiter=3000)
    judged = judge_points(obj, search.theta[idx], search.gamma[idx], res.analysis.oracle,
                          gamma_floor=variant.gamma.floor, follow=False)
    assert all(v == "not_converged" for v in judged.verdicts), judged.verdicts


def test_ill_conditioned_interior_point_below_the_floor_is_settled_by_proof():
    """Gaussian rows, seed 1012: one restart ends at an inexact fit whose γ ≈ 1.1e-8 sits just above a lower floor;
    the joint Hessian's relative eigenvalues are ~1e-15, so the float certificate cannot settle it, and the
    interval proof does: a proved strict (bad) minimum. Mutation: without the proof step it stays not_converged."""
    p = make_problem(10, 25, 4, 12, "gaussian", 1012)
    res = run_check(p, get_variant("vae-diag"), restarts=16, seed=0, learn_gamma=True)
    assert res.summary["not_converged"] == 0
    settled = [pt for pt in res.points if pt.followed and "inconclusive" in (pt.reason or "")]
    assert settled and all(pt.verdict == "bad_local_min" and pt.proof["status"] == "proved" for pt in settled)
    # the same points without `followed` passed to settle (the step switched off)
    obj = Objective(get_variant("vae-diag"), p)
    judged = judge_points(obj, res.search.theta, res.search.gamma, res.analysis.oracle,
                          gamma_floor=np.array([pt.gamma_floor for pt in res.points]), follow=False)
    idx = [i for i, pt in enumerate(res.points) if pt in settled]
    verdicts, _, _ = settle(obj, res.search.theta[idx], res.search.gamma[idx], [judged.verdicts[i] for i in idx],
                            [judged.reasons[i] for i in idx], judged.masks[idx], judged.residuals[idx],
                            res.analysis.oracle, learn_gamma=True, gamma_floor=judged.floor[idx])
    assert all(v == "not_converged" for v in verdicts)
