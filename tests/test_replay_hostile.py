"""Replay as an independent verifier (issue 20, docs/replay.md): edited copies of a genuine proved report never
replay as "reproduced", a report never makes replay run code, malformed files are refused in one line (exit 2), and
the report schema agrees with the suite.

The genuine report is a vae-diag ``bad_local_min`` at γ = 1e-6 with a proved interval proof, written by a check.
Each tampering below is one a skeptical reviewer tried; before issue 20 every one of them replayed as "reproduced"
(or ran the named file, hung, or printed a traceback)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vaetheory.cli import cli
from vaetheory.cli import commands, replay_cmd  # noqa: F401  (registers the subcommands)
from vaetheory.core.errors import InputError
from vaetheory.problems.generate import make_problem
from vaetheory.report import replay_report
from vaetheory.report.counterexample import write_check_reports
from vaetheory.variants import get_variant
from vaetheory.verdict.check import run_check

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "reports" / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> Path:
    """A genuine report: vae-diag at γ = 1e-6, d=6, κ=12, a bad local minimum with a proved interval proof."""
    problem = make_problem(6, 12, 2, 6, "orthogonal", seed=1)
    result = run_check(problem, get_variant("vae-diag"), restarts=4, seed=0, gamma=1e-6, adversarial_fraction=0.5)
    assert result.bad_points, result.summary
    path = write_check_reports(result, tmp_path_factory.mktemp("genuine"), limit=1, plot=False)[0].json
    data = json.loads(path.read_text())
    assert data["kind"] == "bad_local_min" and data["verdict"]["proof"]["status"] == "proved"
    return path


def _edit(genuine: Path, tmp_path: Path, edit, name: str = "edited.json") -> Path:
    data = json.loads(genuine.read_text())
    edit(data)
    out = tmp_path / name
    out.write_text(json.dumps(data))
    return out


def _replay_cli(path: Path, *args) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["replay", str(path), *args])
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout, res.stderr


def _refused(path: Path, *args, field: str) -> str:
    """Replay exits 2 with one line on stderr naming `field`, no traceback."""
    code, _, err = _replay_cli(path, *args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and field in err, err
    return err


def _not_reproduced(path: Path, field: str) -> None:
    """Replay exits 1 and a mismatch names `field`."""
    code, out, err = _replay_cli(path, "--json")
    assert code == 1, (code, out, err)
    body = json.loads(out)
    assert not body["reproduced"] and any(m.startswith(field) for m in body["mismatches"]), body["mismatches"]


def test_the_genuine_report_and_the_curated_ones_replay(genuine):
    for path in [genuine, *EXAMPLES]:
        code, out, err = _replay_cli(path, "--json")
        assert code == 0, (path, out, err)


# Tampering with the point and with the settings ------------------------------------------------------------------

def _move_point(d, factor=1.01):
    th = np.asarray(d["end"]["theta"])
    th = th * factor
    d["end"]["theta"] = th.tolist()
    d["end"]["params"]["nu"] = th.tolist()


def test_a_moved_point_with_huge_tolerances_and_no_proof_is_refused(genuine, tmp_path):
    """The point moved by 1 %, the certificate's tolerances set to 1e300, the proof removed: absurd settings."""
    def edit(d):
        _move_point(d)
        d["certificate"]["kkt_tol"] = d["certificate"]["hessian_tol"] = 1e300
        d["verdict"]["proof"] = None
    _refused(_edit(genuine, tmp_path, edit), field="certificate")


def test_a_moved_point_with_loose_tolerances_is_judged_with_the_suites_own(genuine, tmp_path):
    """Tolerances the schema allows but looser than the suite's: replay judges with its own, so the moved point is no
    longer a minimum, and the stated tolerances are named."""
    def edit(d):
        _move_point(d)
        d["certificate"]["kkt_tol"] = d["certificate"]["hessian_tol"] = 0.9
        d["verdict"]["proof"] = None
    path = _edit(genuine, tmp_path, edit)
    _not_reproduced(path, "kind")
    _not_reproduced(path, "certificate.kkt_tol")


@pytest.mark.parametrize("field,value", [
    ("energy", -1000.0), ("energy", "x1.001"), ("residual", 0.5), ("min_hessian_eig", -5.0), ("verdict", "optimal"),
    ("kkt_active", 0.3), ("support", [0, 1])])
def test_a_stated_verdict_number_that_is_false_is_named(genuine, tmp_path, field, value):
    def edit(d):
        v = d["verdict"]
        v[field] = v[field] * 1.001 if value == "x1.001" else value
    _not_reproduced(_edit(genuine, tmp_path, edit), f"verdict.{field}")


@pytest.mark.parametrize("key", ["k", "k_star"])
@pytest.mark.parametrize("delta", [-1, 1, 5])
def test_a_false_k_star_is_named(genuine, tmp_path, key, delta):
    def edit(d):
        d["oracle"][key] += delta
    _not_reproduced(_edit(genuine, tmp_path, edit), f"oracle.{key}")


def test_false_proof_numbers_are_named(genuine, tmp_path):
    def edit(d):
        d["verdict"]["proof"]["min_eig_lower"] = -1.0
    _not_reproduced(_edit(genuine, tmp_path, edit), "verdict.proof.min_eig_lower")

    def edit_k(d):
        d["verdict"]["proof"]["extra"]["k_star"] = 7
    _not_reproduced(_edit(genuine, tmp_path, edit_k), "verdict.proof.extra.k_star")


@pytest.mark.parametrize("status", ["refuted", "not_confirmed", "held", "confirmed_unproved"])
def test_a_false_claim_status_is_named(genuine, tmp_path, status):
    def edit(d):
        d["variant"]["claim"]["status"] = status
    _not_reproduced(_edit(genuine, tmp_path, edit), "variant.claim.status")


def test_a_false_oracle_witness_is_named(genuine, tmp_path):
    def edit(d):
        d["oracle"]["witness"] = [0, 1]
    _not_reproduced(_edit(genuine, tmp_path, edit), "oracle.witness")


def test_an_edited_file_under_its_hashed_name_is_named(genuine, tmp_path):
    """Reports are named by the hash of their bytes: the same bytes replay, edited ones under that name do not."""
    same = tmp_path / genuine.name
    same.write_bytes(genuine.read_bytes())
    assert _replay_cli(same)[0] == 0
    data = json.loads(genuine.read_text())
    data["seed"] += 1  # not a claim: only the name tells
    same.write_text(json.dumps(data, indent=1, sort_keys=True))
    _not_reproduced(same, "file name")


def test_a_point_followed_below_the_floor_replays_and_a_false_provenance_is_named(tmp_path):
    """Learned γ: a point whose limit check failed at the variant's floor is followed below it and reported where the
    following ended, at a lower floor (`certify.limit.FOLLOW_FACTORS`); replay certifies it at that floor. The
    problem's provenance (how vaetheory drew Φ, which makes the conditions and the uniqueness oracle assume it
    generic) is believed only when drawing Φ again reproduces it."""
    problem = make_problem(10, 25, 5, 20, "orthogonal", 1003)  # tests/test_sound_verdicts.py: followed points
    result = run_check(problem, get_variant("vae-diag"), restarts=16, seed=0, learn_gamma=True)
    paths = [p.json for p in write_check_reports(result, tmp_path / "r", plot=False)]
    followed = [p for p in paths if json.loads(p.read_text())["verdict"].get("followed")]
    assert followed, "this instance has a followed bad minimum"
    for path in paths:
        res = replay_report(path)
        assert res.reproduced, (path.name, res.mismatches)
    data = json.loads(followed[0].read_text())
    assert data["gamma_floor"] < get_variant("vae-diag").gamma.floor and data["problem"]["provenance"]

    def other_seed(d):
        prov = json.loads(d["problem"]["provenance"])
        d["problem"]["provenance"] = json.dumps(prov | {"seed": prov["seed"] + 1}, sort_keys=True)
    _not_reproduced(_edit(followed[0], tmp_path, other_seed), "problem.provenance")

    def floor_not_the_suites(d):
        d["gamma_floor"] = d["gamma_floor"] * 3
    _not_reproduced(_edit(followed[0], tmp_path, floor_not_the_suites), "gamma_floor")


def test_a_report_whose_oracle_was_demoted_replays(tmp_path, monkeypatch):
    """Consistency (`verdict.consistency`): a run whose end point fits X with fewer rows than the oracle's "certain"
    k* re-decides the oracle and keeps the original answer in ``oracle.details.demoted_from``. Replay re-runs the
    original method and derives the demotion again from the stated witness. The wrong oracle is emulated as in
    tests/test_sound_verdicts.py: the uniqueness answer of the problem before a column fitting X was appended."""
    from vaetheory.oracle import auto
    from vaetheory.oracle.uniqueness import oracle_uniqueness
    from vaetheory.problems.conditions import check_conditions
    from vaetheory.problems.problem import Problem
    from vaetheory.verdict.check import ProblemAnalysis

    base = make_problem(30, 60, 8, 1, "gaussian", seed=11)
    p = Problem(Phi=np.column_stack([base.Phi, 1e-3 * base.X[:, 0] / np.linalg.norm(base.X)]), X=base.X,
                Z=np.vstack([base.Z, np.zeros((1, base.n))]))
    wrong = oracle_uniqueness(base)
    result = run_check(p, get_variant("ae-l1"), restarts=8, seed=0, adversarial_fraction=1.0,
                       analysis=ProblemAnalysis(wrong, None, check_conditions(p)))
    assert result.consistency is not None and result.consistency.contradicted and result.bad_points
    path = write_check_reports(result, tmp_path / "r", limit=1, plot=False)[0].json
    assert "demoted_from" in json.loads(path.read_text())["oracle"]["details"]
    real = auto.run_oracle
    monkeypatch.setattr(auto, "run_oracle",
                        lambda problem, method="auto", **kw: wrong if method == "uniqueness" else real(problem, method,
                                                                                                         **kw))
    res = replay_report(path)
    assert res.reproduced, res.mismatches

    def no_contradiction(d):  # the planted support fits X but is not sparser than the original k*
        d["oracle"]["witness"] = sorted(int(j) for j in base.support)
    _not_reproduced(_edit(path, tmp_path, no_contradiction), "oracle.details.demoted_from")


# A report never chooses code ---------------------------------------------------------------------------------------

EVIL = """from pathlib import Path
Path(__file__).with_name("MARKER").write_text("the report ran this file")
from vaetheory.variants.builtin import VAE_DIAG as VARIANT
"""


def test_a_spec_in_the_report_is_never_imported(genuine, tmp_path, monkeypatch):
    (tmp_path / "evil.py").write_text(EVIL)
    monkeypatch.chdir(tmp_path)

    def edit(d):
        d["variant"]["spec"] = "evil.py:VARIANT"
    _refused(_edit(genuine, tmp_path, edit), field="never runs code a report names")

    def rename(d):
        d["variant"]["spec"] = "evil.py:VARIANT"
        d["variant"]["name"] = "evil"
    renamed = _edit(genuine, tmp_path, rename, "renamed.json")
    _refused(renamed, field="--variant")
    from vaetheory.report.counterexample import redraw_png  # drawing a report again follows the same rule

    with pytest.raises(InputError, match="never runs code a report names"):
        redraw_png(renamed)
    assert not (tmp_path / "MARKER").exists()
    assert "evil" not in sys.modules


def test_a_plugin_named_by_the_user_runs_in_a_child_under_a_time_limit(genuine, tmp_path):
    """--variant names a plug-in: it is imported in a child process, never here, and stopped at --timeout."""
    hanging = str(ROOT / "tests" / "data" / "hanging_variant.py") + ":VARIANT"
    err = _refused(genuine, "--variant", hanging, "--timeout", "3", field="timed out")
    assert "hanging_variant" not in " ".join(sys.modules)
    assert err.startswith("vaetheory: error:")


def test_settings_may_only_be_tightened(genuine):
    _refused(genuine, "--kkt-tol", "1e-3", field="kkt_tol")
    _refused(genuine, "--hessian-tol", "1", field="hessian_tol")
    code, out, _ = _replay_cli(genuine, "--kkt-tol", "1e-8", "--json")
    assert json.loads(out)["settings"]["kkt_tol"] == 1e-8 and code in (0, 1)


# Malformed files: exit 2, one line, before any work ----------------------------------------------------------------

@pytest.mark.parametrize("case", ["energy_text", "verdict_null", "theta_null", "theta_nan", "theta_negative",
                                  "theta_infinite", "proof_radius", "tolerance_text", "top_list", "unknown_field",
                                  "too_many_columns", "huge_integer"])
def test_malformed_reports_are_refused_in_one_line(genuine, tmp_path, case):
    text = genuine.read_text()
    data = json.loads(text)
    if case == "energy_text":
        data["verdict"]["energy"] = "abc"
    elif case == "verdict_null":
        data["verdict"] = None
    elif case == "theta_null":
        data["end"]["theta"] = None
    elif case == "theta_negative":
        data["end"]["theta"][int(np.argmax(data["end"]["theta"]))] *= -1
    elif case == "proof_radius":
        data["verdict"]["proof"]["box_radius"] = 1e300
    elif case == "tolerance_text":
        data["certificate"]["active_rtol"] = "1e-6"
    elif case == "top_list":
        data = [data]
    elif case == "unknown_field":
        data["run_this"] = "evil.py"
    elif case == "huge_integer":  # a JSON integer is exact in Python; float64 would overflow on it
        data["verdict"]["energy"] = 10**400
    elif case == "too_many_columns":  # refused before the problem is built (the Hessian would be κ×κ)
        from vaetheory.report.replay import MAX_KAPPA

        data["problem"] |= {"Phi": [[1.0] * (MAX_KAPPA + 1)], "X": [[1.0]], "Z": None}
    body = json.dumps(data)
    if case in ("theta_nan", "theta_infinite"):  # the end point's first coordinate (end comes before start)
        body = re.sub(r'"theta": \[[^,\]]+', '"theta": [' + ("NaN" if case == "theta_nan" else "1e999"), body, count=1)
        assert json.loads(body, parse_constant=lambda c: c)["end"]["theta"][0] in ("NaN", float("inf"))
    path = tmp_path / "bad.json"
    path.write_text(body)
    _refused(path, field=str(path))


def _cli_subprocess(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "vaetheory", "replay", str(path)], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("case", ["precision", "deep", "huge"])
def test_hostile_files_are_refused_by_the_real_cli(genuine, tmp_path, case):
    """In a real process (a hang fails the test through the subprocess time limit instead of hanging it): a proof
    precision of 10^7 bits (replay used to hang at 1.4 GB), nesting 100,000 deep (a traceback), a file over the
    size limit."""
    path = tmp_path / "hostile.json"
    if case == "precision":
        path.write_text(genuine.read_text().replace('"precision_bits": 256', '"precision_bits": 10000000'))
        assert "10000000" in path.read_text()
    elif case == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        from vaetheory.report.replay import MAX_REPORT_BYTES

        path.write_text(" " * (MAX_REPORT_BYTES + 1))
    res = _cli_subprocess(path)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr, res.stderr


def test_load_report_names_the_depth(tmp_path):
    from vaetheory.report.replay import load_report

    path = tmp_path / "deep.json"
    path.write_text('{"a": ' * 50 + "1" + "}" * 50)
    with pytest.raises(InputError, match="nested 50 deep"):
        load_report(path)


# The schema --------------------------------------------------------------------------------------------------------

def _schema() -> dict:
    """The schema as an installed package finds it (package data, not the source tree)."""
    text = resources.files("vaetheory.report").joinpath("schema/report-v1.schema.json").read_text()
    return json.loads(text)


def test_the_schema_is_valid_and_genuine_reports_conform(genuine):
    from jsonschema import Draft202012Validator

    schema = _schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for path in [genuine, *EXAMPLES]:
        errors = [e.message[:200] for e in validator.iter_errors(json.loads(path.read_text()))]
        assert not errors, (path, errors)


def test_the_schema_agrees_with_the_suites_names():
    """The enumerations of the schema are generated from the code: a verdict, claim status, proof status or claim
    kind added to the suite must be added to the schema (and the format version given a thought)."""
    from vaetheory.certify.proof import PROOF_STATUSES
    from vaetheory.core.protocol import CLAIM_KINDS
    from vaetheory.report.counterexample import SCHEMA
    from vaetheory.report.replay import SCHEMA_ID
    from vaetheory.verdict.claims import STATUSES
    from vaetheory.verdict.judge import VERDICTS

    schema = _schema()
    defs = schema["$defs"]
    assert defs["verdict_name"]["enum"] == list(VERDICTS)
    assert defs["claim_status"]["enum"] == list(STATUSES)
    assert defs["proof"]["properties"]["status"]["enum"] == list(PROOF_STATUSES)
    assert schema["properties"]["variant"]["properties"]["claim"]["properties"]["kind"]["enum"] == list(CLAIM_KINDS)
    assert schema["properties"]["schema"]["const"] == SCHEMA == SCHEMA_ID


def test_the_schema_knows_every_field_a_report_is_written_with(genuine):
    """Every top-level, verdict and oracle field of a freshly written report is described in the schema (the open
    records, verdict and oracle, would otherwise accept a renamed field without a type)."""
    schema, data = _schema(), json.loads(genuine.read_text())
    props = schema["properties"]
    assert set(data) <= set(props)
    assert set(data["verdict"]) <= set(props["verdict"]["properties"]), set(data["verdict"]) - set(
        props["verdict"]["properties"])
    assert set(data["oracle"]) <= set(props["oracle"]["properties"])


@pytest.mark.parametrize("edit", ["bool", "text", "null_entry", "empty_row", "ragged", "nested", "params_text",
                                  "params_deep", "none"])
def test_the_fast_check_of_numeric_blocks_agrees_with_the_schema(genuine, edit):
    """Large numeric blocks (Φ, X, Z, θ, params) are checked by plain loops, not by the JSON Schema validator (which
    takes seconds on a large Φ): both must accept and refuse the same reports."""
    from jsonschema import Draft202012Validator

    from vaetheory.report.replay import schema_errors

    data = json.loads(genuine.read_text())
    phi, nu = data["problem"]["Phi"], data["end"]["params"]["nu"]
    change = {"bool": lambda: phi[0].__setitem__(0, True), "text": lambda: phi[1].__setitem__(2, "1.0"),
              "null_entry": lambda: data["end"]["theta"].__setitem__(0, None), "empty_row": lambda: phi.append([]),
              "ragged": lambda: phi[0].append(1.0), "nested": lambda: data["problem"]["X"].__setitem__(0, [[1.0]]),
              "params_text": lambda: nu.__setitem__(0, "x"), "params_deep": lambda: nu.__setitem__(0, [[[0.5]]]),
              "none": lambda: None}
    change[edit]()
    by_schema = not Draft202012Validator(_schema()).is_valid(data)
    assert bool(schema_errors(data)) == by_schema, (edit, schema_errors(data))


# Property: no single-field edit replays as reproduced unless it leaves every claim true ----------------------------

def _leaves(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, prefix + (k,))
    elif isinstance(node, list) and node:
        for i, v in enumerate(node):
            yield from _leaves(v, prefix + (i,))
    else:
        yield prefix


def _unverified(path: tuple) -> bool:
    """A field docs/replay.md lists as not verified (run provenance, illustration, prose)."""
    from vaetheory.report.replay import UNVERIFIED_FIELDS

    dotted = ".".join(str(p) for p in path if not isinstance(p, int))
    return any(dotted == f or dotted.startswith(f + ".") for f in UNVERIFIED_FIELDS)


#: The report's inputs (what the claims are about); every other field states a claim.
INPUTS = ("problem", "end", "point_gamma", "gamma", "gamma_mode")
EDITS = ["times 1.1", "times 0.5", "times -1", "times 1000", "plus 1", "minus 1", "null", "text", "true", "list",
         "append"]


def _apply(value, how: str):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if how.startswith(("times", "plus", "minus")):
        if not number:
            return None if value is not None else 1.0
        f = float(how.split()[1])
        out = value * f if how.startswith("times") else value + (f if how.startswith("plus") else -f)
        return int(out) if isinstance(value, int) and out == int(out) else out
    return {"null": None, "text": "tampered", "true": True, "list": [1]}.get(how, (value + "x") if isinstance(
        value, str) else [value])


def _within_tolerance(old, new) -> bool:
    """The edited number agrees with the genuine one within replay's documented tolerance (the claim stays true)."""
    num = (int, float)
    if isinstance(old, num) and isinstance(new, num) and not isinstance(old, bool) and not isinstance(new, bool):
        return abs(new - old) <= 1e-6 * max(abs(old), abs(new)) + 1e-10
    return old == new and type(old) is type(new)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.filter_too_much])
@given(data=st.data())
@pytest.mark.parametrize("which", ["genuine", "curated learned-gamma"])
def test_single_field_edits_never_replay_as_reproduced(genuine, tmp_path, data, which):
    """On the genuine fixed-γ report (a stored proof) and on the curated learned-γ one (no stored proof, a γ floor,
    the learned-γ claim)."""
    source = genuine if which == "genuine" else ROOT / "reports" / "examples" / "vae-diag-483024f7e1ce.json"
    report = json.loads(source.read_text())
    leaves = [p for p in _leaves(report) if not _unverified(p)]
    path = data.draw(st.sampled_from(leaves), label="field")
    how = data.draw(st.sampled_from(EDITS), label="edit")
    node = report
    for key in path[:-1]:
        node = node[key]
    old = node[path[-1]] if path else report
    new = _apply(old, how)
    assume(not _within_tolerance(old, new))
    node[path[-1]] = new
    out = tmp_path / "edit.json"
    out.write_text(json.dumps(report))
    try:
        result = replay_report(out)
    except InputError:
        return  # refused as malformed: exit 2
    where = f"edit {how} of {'.'.join(map(str, path))}: {old!r} -> {new!r} replayed"
    if path[0] not in INPUTS:
        assert not result.reproduced, where  # a stated claim was changed: it is false now
    elif result.reproduced:
        # an input was changed (e.g. a column of Phi outside the support, which the energy does not see): allowed
        # only when every stated claim is still true of the edited inputs — the recomputed values are the stated ones
        v = report["verdict"]
        assert result.verdict == v["verdict"] and result.support == v["support"], where
        assert result.energy == pytest.approx(v["energy"], rel=1e-6) and result.proof["status"] == "proved", where
        assert result.optimal_supports == report["oracle"]["supports"], where
