"""CLI: the generate → oracle → relax → check pipeline with pure-JSON output, and exit code 2 with a one-line
message (no traceback) on every user error."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import vaetheory.cli.commands  # noqa: F401  (registers the subcommands)
from vaetheory.cli import EXIT_OK, EXIT_USAGE, cli
from vaetheory.problems.problem import Problem

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

TINY = ["--d", "6", "--kappa", "12", "--r", "2", "--n", "4", "--seed", "0"]


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "p.npz"
    res = _run("generate", *TINY, "-o", str(path))
    assert res.exit_code == EXIT_OK, res.output
    return path


@pytest.fixture(scope="module")
def single_response_npz(tmp_path_factory):
    """n = 1, r = 2: the oracle must enumerate C(12, 2) = 66 subsets, so --budget 1 fails."""
    path = tmp_path_factory.mktemp("cli") / "q.npz"
    res = _run("generate", "--d", "5", "--kappa", "12", "--r", "2", "--n", "1", "--rows", "gaussian", "-o", str(path))
    assert res.exit_code == EXIT_OK, res.output
    return path


def _assert_one_line_error(res, *fragments: str) -> None:
    assert res.exit_code == EXIT_USAGE, (res.exit_code, res.output, res.exception)
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("vaetheory: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_generate_writes_the_problem(tiny_npz):
    p = Problem.load(tiny_npz)
    assert (p.d, p.kappa, p.n, len(p.support)) == (6, 12, 4, 2)
    res = _run("generate", *TINY, "-o", str(tiny_npz.with_name("again.npz")))
    assert res.stdout == ""  # the summary goes to stderr
    assert "wrote" in res.stderr and f"support={list(p.support)}" in res.stderr
    np.testing.assert_array_equal(Problem.load(tiny_npz.with_name("again.npz")).X, p.X)  # same seed, same problem


def test_pipeline_with_json(tiny_npz):
    p = Problem.load(tiny_npz)

    res = _run("oracle", str(tiny_npz), "--json")
    assert res.exit_code == EXIT_OK, res.output
    oracle = json.loads(res.stdout)  # the whole of stdout is one JSON document
    assert oracle["k_star"] == 2 and oracle["optimal_supports"] == [list(p.support)]
    assert "k" not in oracle and "supports" not in oracle  # one key per quantity
    assert oracle["method"] == "enumerate" and oracle["details"]["search"] == "rank-aware"
    assert oracle["k_star_certain"] is True and oracle["basis"].startswith("auto → enumerate")

    res = _run("relax", str(tiny_npz), "--json")
    assert res.exit_code == EXIT_OK, res.output
    relax = json.loads(res.stdout)
    assert relax["gap"] == len(relax["support"]) - oracle["k_star"]
    assert relax["optimal"] == (relax["support"] in oracle["optimal_supports"])

    res = _run("check", "--variant", "vae-full", "--problem", str(tiny_npz), "--restarts", "4", "--json")
    check = json.loads(res.stdout)
    assert res.exit_code == (1 if check["claim"]["status"] == "refuted" else EXIT_OK)
    assert check["variant"] == "vae-full" and check["restarts"] == 4
    assert sum(check["summary"].values()) == 4 == len(check["points"])
    assert check["optimal"] == {"k": 2, "supports": oracle["optimal_supports"], "method": "rank-aware"}
    assert check["oracle"]["method"] == "enumerate" and check["oracle"]["k_star_certain"] is True
    assert {"basis", "witness", "witness_residual", "k_star"} <= set(check["oracle"])
    assert all(pt["oracle_method"] == "enumerate" and pt["k_star_certain"] for pt in check["points"])
    assert check["problem"]["planted_support"] == list(p.support)


def test_human_readable_output(tiny_npz):
    res = _run("oracle", str(tiny_npz))
    assert res.exit_code == EXIT_OK and res.stdout.startswith("k* = 2 (enumerate, certain")
    res = _run("relax", str(tiny_npz))
    assert res.exit_code == EXIT_OK and res.stdout.startswith("l21 support")
    res = _run("check", "--variant", "vae-diag", "--problem", str(tiny_npz), "--restarts", "2")
    assert res.exit_code == EXIT_OK and res.stdout.startswith("vae-diag on d=6 kappa=12 n=4 r=2")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    _assert_one_line_error(_run("oracle", str(path)), f"{path}: no such file")
    _assert_one_line_error(_run("check", "--variant", "vae-full", "--problem", str(path)), "no such file")


def test_unreadable_file(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"\x00\x01 definitely not an npz")
    _assert_one_line_error(_run("oracle", str(path), "--json"), str(path), "not a readable .npz file")
    _assert_one_line_error(_run("relax", str(path)), "not a readable .npz file")


def test_object_arrays_are_refused(tmp_path, tiny_npz):
    p = Problem.load(tiny_npz)
    path = tmp_path / "obj.npz"
    np.savez(path, Phi=np.array([p.Phi, None], dtype=object), X=p.X)
    _assert_one_line_error(_run("oracle", str(path)), "array 'Phi' holds Python objects")


def test_npy_file_is_a_usage_error(tmp_path, tiny_npz):
    path = tmp_path / "p.npy"
    np.save(path, Problem.load(tiny_npz).X)
    _assert_one_line_error(_run("oracle", str(path)), "not a readable .npz file")


def test_non_finite_arrays(tmp_path, tiny_npz):
    p = Problem.load(tiny_npz)
    X = np.array(p.X)
    X[2, 1] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, Phi=p.Phi, X=X, Z=p.Z)
    _assert_one_line_error(_run("oracle", str(path)), "X contains 1 non-finite value(s), first at [2, 1]: nan")


def test_missing_key(tmp_path, tiny_npz):
    path = tmp_path / "nox.npz"
    np.savez(path, Phi=Problem.load(tiny_npz).Phi)
    _assert_one_line_error(_run("oracle", str(path)), "missing required array(s): X")


def test_x_outside_range(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "out.npz"
    np.savez(path, Phi=rng.standard_normal((6, 3)), X=rng.standard_normal((6, 2)))
    _assert_one_line_error(_run("relax", str(path)), "X is not in range(Phi)")


def test_unknown_variant(tiny_npz):
    _assert_one_line_error(_run("check", "--variant", "vae-nope", "--problem", str(tiny_npz)),
                           "unknown variant 'vae-nope'", "vae-full")


@pytest.mark.parametrize("command", ["oracle", "relax"])
def test_oracle_over_budget(single_response_npz, command):
    _assert_one_line_error(_run(command, str(single_response_npz), "--budget", "1", "--json", "--method",
                                "enumerate"), "over the budget of 1")


def test_check_over_budget(single_response_npz):
    _assert_one_line_error(_run("check", "--variant", "vae-full", "--problem", str(single_response_npz),
                                "--budget", "1", "--oracle", "enumerate"), "over the budget of 1")


def test_generate_bad_arguments(tmp_path):
    out = tmp_path / "bad.npz"
    _assert_one_line_error(_run("generate", "--d", "4", "--kappa", "3", "--r", "5", "--n", "2", "-o", str(out)),
                           "r must be in [1, 3], got 5")
    _assert_one_line_error(_run("generate", "--d", "4", "--kappa", "8", "--r", "3", "--n", "2", "-o", str(out)),
                           "orthogonal rows need n >= r")
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("args", [
    ["check", "--variant", "vae-full", "--problem", "PROBLEM", "--gamma", "0"],
    ["check", "--variant", "vae-full", "--problem", "PROBLEM", "--restarts", "0"],
    ["check", "--variant", "vae-full", "--problem", "PROBLEM", "--seed", "-1"],
    ["check", "--variant", "vae-full", "--problem", "PROBLEM", "--timeout", "0"],
    ["generate", "--d", "3", "--kappa", "6", "--r", "1", "--n", "1", "--seed", "-1", "-o", "x.npz"],
    ["oracle", "PROBLEM", "--budget", "0"],
    ["generate", "--d", "0", "--kappa", "3", "--r", "1", "--n", "1", "-o", "x.npz"],
])
def test_click_usage_errors_exit_2(tiny_npz, args):
    """Click's usage errors are one line too (before: click's multi-line usage block; `--seed -1` a traceback)."""
    res = _run(*[str(tiny_npz) if a == "PROBLEM" else a for a in args])
    _assert_one_line_error(res, "Invalid value for", "--help')")


def test_unknown_option_and_command_are_one_line():
    _assert_one_line_error(_run("check", "--bogus"), "No such option '--bogus'")
    _assert_one_line_error(_run("frobnicate"), "No such command 'frobnicate'")


def test_complex_problem_file_is_an_input_error(tmp_path, tiny_npz):
    """Before: Φ was cast to real with a ComplexWarning and the check ran (exit 0)."""
    p = Problem.load(tiny_npz)
    path = tmp_path / "complex.npz"
    np.savez(path, Phi=p.Phi + 1j * p.Phi, X=p.X)
    _assert_one_line_error(_run("check", "--variant", "vae-full", "--problem", str(path)), "Phi is complex-valued")
    assert not (tmp_path / "reports").exists()


def test_version_and_python_dash_m():
    import subprocess
    import sys

    import vaetheory

    res = _run("--version")
    assert res.exit_code == EXIT_OK and res.stdout.strip() == f"vaetheory {vaetheory.__version__}"
    done = subprocess.run([sys.executable, "-m", "vaetheory", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"vaetheory {vaetheory.__version__}", done.stderr


def test_help_for_every_command():
    res = _run("--help")
    assert res.exit_code == EXIT_OK and "Usage:" in res.stdout
    assert set(cli.commands) >= {"generate", "oracle", "relax", "check"}
    for name in cli.commands:
        res = _run(name, "--help")
        assert res.exit_code == EXIT_OK, (name, res.output)
        assert res.stdout.startswith(f"Usage: cli {name} ")
        assert (cli.commands[name].help or "").split("\n")[0][:30] in res.stdout
        assert "Examples:\n    vaetheory " + name in res.stdout, (name, res.stdout)  # every command shows one
        res = _run(name, "-h")
        assert res.exit_code == EXIT_OK, name


def test_continuation_starts_every_random_restart_with_a_gamma_continuation(tiny_npz, tmp_path):
    res = CliRunner().invoke(cli, ["check", "--variant", "vae-full", "--problem", str(tiny_npz), "--restarts", "3",
                                   "--continuation", "--no-prove", "--json", "--out", str(tmp_path)])
    assert res.exit_code == EXIT_OK, res.output
    kinds = [p["start_kind"] for p in json.loads(res.stdout)["points"]]
    assert "anneal" in kinds and "random" not in kinds, kinds


def test_continuation_needs_a_problem():
    res = CliRunner().invoke(cli, ["check", "--continuation"])
    assert res.exit_code == EXIT_USAGE and "--continuation need" in res.output
