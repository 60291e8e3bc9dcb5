"""Oracle methods (docs/oracles.md): each agrees with exhaustive enumeration where both are certain; uniqueness
refuses when its bound fails; mip finds k*; none is uncertain; auto names its choice; verdicts against an uncertain
k* never call a point optimal; mutation tests (a wrong certain k*, a uniqueness oracle that ignores its bound) make
the agreement and verdict tests fail; the CLI's --oracle / --method."""
from __future__ import annotations

import contextlib
import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

import vaetheory.cli.commands  # noqa: F401  (registers the subcommands)
from vaetheory.cli import EXIT_OK, EXIT_USAGE, cli
from vaetheory.oracle.answer import OracleAnswer, OracleNotApplicable
from vaetheory.oracle.auto import run_oracle
from vaetheory.oracle.exhaustive import fit_residual, oracle_enumerate
from vaetheory.oracle.mip import oracle_mip
from vaetheory.oracle.planted import oracle_none
from vaetheory.oracle.uniqueness import oracle_uniqueness
from vaetheory.problems.conditions import check_conditions
from vaetheory.problems.generate import make_problem
from vaetheory.problems.problem import Problem
from vaetheory.variants import get_variant
from vaetheory.verdict.consistency import Consistency
from vaetheory.verdict.check import ProblemAnalysis, analyse_problem, run_check
from vaetheory.verdict.claims import ClaimContext, claim_status
from vaetheory.verdict.judge import classify

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

#: small problems inside the uniqueness bound (n = 1, r = 2: needs every 4 columns independent) and outside it
INSIDE = [make_problem(6, 12, 2, 1, "gaussian", seed=s) for s in range(3)] + [make_problem(6, 12, 2, 4, seed=0)]
OUTSIDE = make_problem(5, 10, 4, 1, "gaussian", seed=1)  # |S| = 4 needs spark >= 9 > d + 1


def agrees(answer: OracleAnswer, reference: OracleAnswer) -> bool:
    """The property under test: a certain answer has the reference's k*, a witness that is an optimal support of
    the reference, and (when it claims a complete list) exactly the reference's supports."""
    if not answer.k_star_certain:
        return answer.k_star >= reference.k_star  # an uncertain k_star is an upper bound
    ok = answer.k_star == reference.k_star and answer.witness in set(reference.supports)
    return ok and (not answer.supports_complete or set(answer.supports) == set(reference.supports))


@pytest.mark.parametrize("problem", INSIDE, ids=lambda p: p.describe())
def test_uniqueness_agrees_with_enumeration(problem):
    ref = oracle_enumerate(problem)
    ans = oracle_uniqueness(problem)
    assert ans.method == "uniqueness" and ans.k_star_certain and ans.supports_complete
    assert ans.assumption is None  # spark settled exactly (coherence bound or all 4-column sets), not by genericity
    assert agrees(ans, ref) and ref.unique
    assert ans.witness_residual == pytest.approx(fit_residual(problem.Phi, problem.X, ans.witness))


def test_uniqueness_by_genericity_says_so():
    p = INSIDE[0]
    ans = oracle_uniqueness(p, spark_budget=1)  # the 4-column sets are not tested: spark = d + 1 is assumed
    if "coherence" in ans.basis:
        pytest.skip("the coherence bound settles this problem without enumeration")
    assert ans.k_star_certain and "generic" in ans.assumption and "genericity" in ans.basis
    assert agrees(ans, oracle_enumerate(p))
    with pytest.raises(OracleNotApplicable, match="genericity is not assumed"):
        oracle_uniqueness(p, spark_budget=1, assume_generic=False)


def test_uniqueness_refuses_outside_the_bound():
    with pytest.raises(OracleNotApplicable, match="bound fails"):
        oracle_uniqueness(OUTSIDE)


def test_uniqueness_refuses_a_dependent_dictionary():
    """A repeated column makes spark(Φ) = 2: the bound fails for any support, whatever genericity says."""
    p = INSIDE[0]
    Phi = p.Phi.copy()
    Phi[:, 11] = Phi[:, 10]
    q = Problem(Phi=Phi, X=p.X, Z=p.Z if 11 not in p.support and 10 not in p.support else None)
    assert q.Z is not None
    with pytest.raises(OracleNotApplicable, match="bound fails"):
        oracle_uniqueness(q)


def test_uniqueness_refuses_noise_and_bad_candidates():
    noisy = make_problem(6, 12, 2, 1, "gaussian", seed=0, noise=1e-3)
    with pytest.raises(OracleNotApplicable, match="noiseless"):
        oracle_uniqueness(noisy)
    with pytest.raises(OracleNotApplicable, match="does not fit"):
        oracle_uniqueness(INSIDE[0], candidate=[0])


@pytest.mark.parametrize("problem", [INSIDE[0], OUTSIDE], ids=["inside", "outside"])
def test_mip_finds_k_star(problem):
    ref = oracle_enumerate(problem)
    ans = oracle_mip(problem, time_limit=20)
    assert ans.method == "mip" and ans.details["proven"] and not ans.details["bound_active"]
    assert ans.k_star_certain and not ans.supports_complete and "big-M" in ans.basis and "big_m" in ans.details
    assert agrees(ans, ref)
    assert ans.k_star == ref.k_star and ans.witness_residual <= ans.rtol


def test_mip_without_a_known_fit_still_finds_k_star():
    p = OUTSIDE
    bare = Problem(Phi=p.Phi, X=p.X)  # no planted Z: the MIP starts from nothing
    ans = oracle_mip(bare, time_limit=20)
    assert ans.k_star_certain and ans.k_star == oracle_enumerate(p).k_star


def test_none_is_uncertain():
    p = INSIDE[0]
    ans = oracle_none(p)
    assert ans.method == "none" and not ans.k_star_certain and ans.witness == p.support
    assert "not certified" in ans.basis and ans.k_star == len(p.support)
    assert not ans.is_optimal(p.support)  # nothing is *known* optimal
    with pytest.raises(OracleNotApplicable, match="no planted support"):
        oracle_none(Problem(Phi=p.Phi, X=p.X))


def test_auto_prefers_enumeration_then_uniqueness_then_mip():
    p = INSIDE[0]
    assert run_oracle(p).method == "enumerate"
    ans = run_oracle(p, budget=1)  # enumeration over budget: the bound holds
    assert ans.method == "uniqueness" and ans.basis.startswith("auto → uniqueness")
    assert "enumerate" in ans.details["auto"]["skipped"]
    ans = run_oracle(OUTSIDE, budget=1, mip_time_limit=20)  # the bound fails too
    assert ans.method == "mip" and set(ans.details["auto"]["skipped"]) == {"enumerate", "uniqueness"}
    assert ans.k_star == oracle_enumerate(OUTSIDE).k_star


def test_auto_skips_the_mip_above_its_reach_when_a_fit_is_known(monkeypatch):
    """Above MIP_AUTO_MAX_KAPPA columns auto does not spend the MIP's time limit: it returns the tightest uncertain
    answer and says why; with no exact fit known the MIP still runs (its incumbent is the only witness)."""
    import vaetheory.oracle.auto as auto

    calls = []
    real = auto.oracle_mip
    monkeypatch.setattr(auto, "oracle_mip", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(auto, "MIP_AUTO_MAX_KAPPA", OUTSIDE.kappa - 1)
    ans = run_oracle(OUTSIDE, budget=1, mip_time_limit=20)
    assert not calls and ans.method == "none" and not ans.k_star_certain
    assert ans.k_star == len(OUTSIDE.support)  # the planted support: an upper bound on k*
    assert "the MIP has not proven" in ans.details["auto"]["skipped"]["mip"] and "; mip: kappa = 10 > 9" in ans.basis
    bare = Problem(Phi=OUTSIDE.Phi, X=OUTSIDE.X)  # nothing known: the MIP is the only way to a witness
    ans = run_oracle(bare, budget=1, mip_time_limit=20)
    assert calls and ans.method == "mip"
    monkeypatch.setattr(auto, "MIP_AUTO_MAX_KAPPA", OUTSIDE.kappa)  # at the cap it runs
    assert run_oracle(OUTSIDE, budget=1, mip_time_limit=20).method == "mip"


def test_unknown_method_is_an_input_error():
    from vaetheory.core.errors import InputError

    with pytest.raises(InputError, match="oracle method must be one of"):
        run_oracle(INSIDE[0], "magic")
    with pytest.raises(InputError, match="oracle method must be one of"):
        analyse_problem(INSIDE[0], oracle="magic")


# verdicts against certain and uncertain k* ------------------------------------------------------------------------

class _Cert:
    """A certificate in which every point is a certified minimum."""

    def __init__(self, n):
        self.stationary = self.inactive_ok = self.second_order = self.strict = np.ones(n, dtype=bool)


def test_uncertain_k_star_gives_undecided_not_optimal():
    p = INSIDE[0]
    planted = np.zeros((3, p.kappa), dtype=bool)
    planted[0, list(p.support)] = True                      # the planted support, fits
    planted[1, list(p.support) + [j for j in range(p.kappa) if j not in p.support][:1]] = True  # one row more
    planted[2, [j for j in range(p.kappa) if j not in p.support][:2]] = True  # does not fit
    res = np.array([fit_residual(p.Phi, p.X, np.flatnonzero(m)) for m in planted])
    assert classify(_Cert(3), planted, res, oracle_enumerate(p)) == ["optimal", "bad_local_min", "bad_local_min"]
    # uncertain: the planted fit is undecided; a larger support or a non-fit is still proven non-optimal
    assert classify(_Cert(3), planted, res, oracle_none(p)) == ["undecided_min", "bad_local_min", "bad_local_min"]


def test_claim_needs_a_certified_optimum():
    p = INSIDE[0]
    variant = get_variant("vae-full")
    ctx = ClaimContext(check_conditions(p), oracle_none(p), 1e-4, "fixed")
    summary = {"optimal": 0, "bad_local_min": 0, "undecided_min": 3, "saddle": 0, "not_converged": 0}
    assert claim_status(variant.claim, ctx, summary) in ("undecided", "not_applicable")
    assert claim_status(variant.claim, ctx, summary) != "held"


@pytest.fixture(scope="module")
def c1_problem():
    return make_problem(6, 12, 2, 4, "orthogonal", seed=0)  # inside every condition of claim C1


def _honest_verdicts(problem, oracle, *, consistency: bool = True) -> bool:
    """The verdict property: vae-full on a C1 problem, started at the optimum and at random, is never judged to
    have a bad minimum, and every point called optimal has exactly k* rows."""
    analysis = ProblemAnalysis(oracle, None, check_conditions(problem))
    with _consistency(consistency):
        res = run_check(problem, get_variant("vae-full"), restarts=3, seed=0, analysis=analysis, prove=True)
    return res.summary["bad_local_min"] == 0 and res.claim_status == "held" and all(
        len(pt.support) == oracle_enumerate(problem).k_star for pt in res.points if pt.verdict == "optimal")


@contextlib.contextmanager
def _consistency(on: bool):
    """With `on` False, the run's consistency check is switched off (it never contradicts the oracle)."""
    import vaetheory.verdict.check as check_module

    original = check_module.check_oracle
    if not on:
        check_module.check_oracle = lambda problem, oracle, *a, **k: Consistency(False, oracle)
    try:
        yield
    finally:
        check_module.check_oracle = original


def test_verdicts_with_the_true_oracle(c1_problem):
    assert _honest_verdicts(c1_problem, run_oracle(c1_problem))


def test_mutation_wrong_certain_k_star_fails_the_verdict_test(c1_problem):
    """Mutant oracle: reports k* one too large, with a non-optimal witness, as certain and complete. Without the
    run's consistency check the verdicts are wrong; with it, the end points' exact fit at the true k* contradicts
    the mutant, which is demoted and replaced, and the verdicts are right again."""
    p = c1_problem
    true = run_oracle(p)
    extra = next(j for j in range(p.kappa) if j not in p.support)
    wrong = tuple(sorted(p.support + (extra,)))
    mutant = replace(true, k_star=true.k_star + 1, witness=wrong, optimal_supports=(wrong,))
    assert not _honest_verdicts(p, mutant, consistency=False)
    assert _honest_verdicts(p, mutant)


def test_mutation_uniqueness_ignoring_its_bound_fails_agreement():
    """Mutant uniqueness: certifies the planted support even outside the bound; enumeration disagrees there."""
    p = make_problem(4, 8, 4, 1, "gaussian", seed=0)  # |S| = d: many 4-subsets fit, the planted one is not unique
    ref = oracle_enumerate(p)
    res = fit_residual(p.Phi, p.X, p.support)
    mutant = OracleAnswer("uniqueness", len(p.support), True, p.support, res, "mutant", (p.support,), True, 1e-8)
    assert not agrees(mutant, ref)
    with pytest.raises(OracleNotApplicable):
        oracle_uniqueness(p)


# CLI -----------------------------------------------------------------------------------------------------------

def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("oracle") / "p.npz"
    INSIDE[0].save(path)
    return path


@pytest.mark.parametrize("method", ["auto", "enumerate", "uniqueness", "mip", "none"])
def test_cli_oracle_methods(npz, method):
    res = _run("oracle", str(npz), "--method", method, "--mip-time-limit", "20", "--json")
    assert res.exit_code == EXIT_OK, res.output
    out = json.loads(res.stdout)
    assert out["method"] == ("enumerate" if method == "auto" else method)
    assert out["k_star"] == 2 and out["k_star_certain"] is (method != "none") and out["basis"]


def test_cli_check_names_its_oracle(npz, tmp_path):
    res = _run("check", "--variant", "vae-diag", "--problem", str(npz), "--restarts", "2", "--oracle", "none",
               "--no-prove", "--out", str(tmp_path), "--json")
    assert res.exit_code in (EXIT_OK, 1), res.output
    out = json.loads(res.stdout)
    assert out["oracle"]["method"] == "none" and out["oracle"]["k_star_certain"] is False
    assert "basis" in out["oracle"] and out["summary"]["optimal"] == 0
    assert all(pt["oracle_method"] == "none" and pt["k_star_certain"] is False for pt in out["points"])
    res = _run("check", "--variant", "vae-diag", "--problem", str(npz), "--restarts", "2", "--no-prove",
               "--out", str(tmp_path))
    assert "oracle enumerate (k* = 2, certain)" in res.stdout


@pytest.mark.parametrize("args", [("check", "--variant", "vae-full", "--problem", "{npz}", "--oracle", "magic"),
                                  ("oracle", "{npz}", "--method", "magic"),
                                  ("check", "--oracle", "mip")])
def test_cli_bad_oracle_is_a_usage_error(npz, args):
    res = _run(*[a.format(npz=npz) for a in args])
    assert res.exit_code == EXIT_USAGE and res.stdout == "" and len(res.stderr.splitlines()) == 1
    assert res.stderr.startswith("vaetheory: error: ")


def test_cli_uniqueness_not_applicable_is_one_line(tmp_path):
    path = tmp_path / "out.npz"
    OUTSIDE.save(path)
    res = _run("oracle", str(path), "--method", "uniqueness")
    assert res.exit_code == EXIT_USAGE and "bound fails" in res.stderr and len(res.stderr.splitlines()) == 1


def test_replay_reruns_the_stored_oracle_method(tmp_path):
    """A report judged with the uniqueness oracle replays with it (enumeration is not needed), and a report whose
    oracle block predates the methods (method "rank-aware") replays by enumeration."""
    from vaetheory.report.counterexample import replay_report, write_check_reports

    problem = make_problem(6, 10, 2, 4, "orthogonal", seed=1)
    analysis = analyse_problem(problem, oracle="uniqueness")
    result = run_check(problem, get_variant("vae-diag"), restarts=4, seed=0, adversarial_fraction=1.0,
                       analysis=analysis, prove=False)
    assert result.bad_points and result.to_dict()["oracle"]["method"] == "uniqueness"
    path = write_check_reports(result, tmp_path, limit=1, plot=False)[0].json
    data = json.loads(path.read_text())
    assert data["oracle"]["method"] == "uniqueness" and data["oracle"]["k_star_certain"] is True
    again = replay_report(path)
    assert again.reproduced, again.mismatches
    legacy = {k: data["oracle"][k] for k in ("k", "supports", "rtol")} | {"method": "rank-aware"}
    old = tmp_path / "old.json"
    # as such a report held it: no oracle fields in the verdict either (replay compares those with the oracle block)
    verdict = {k: v for k, v in data["verdict"].items() if k not in ("oracle_method", "k_star_certain")}
    old.write_text(json.dumps(data | {"oracle": legacy, "verdict": verdict}))
    assert replay_report(old).reproduced
