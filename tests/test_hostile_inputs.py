"""Hostile sizes and values (issue 23): each ends in exit 2 with one line, before any expensive work.

* .npz members are screened by their declared sizes whatever their names (a member without the .npy suffix used
  to be loaded whole: a 2.4 MB file inflated to 2.5 GB), and the screen decompresses nothing;
* problem sizes over what the chosen oracle method can do, restarts over the memory, a γ float64 cannot evaluate
  the energy at, and nan/inf time limits are refused up front, naming the limit and the flag that raises it;
* an --out that cannot be written is refused before the search; file-system, memory and float64 failures that
  reach the command line are one line and exit 2 (they were tracebacks with exit 1, which reads "refuted").

The inflating archives are made on the fly and small: the limit is lowered with --limit-scale instead.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vaetheory.cli.commands  # noqa: F401  (registers the subcommands)
from vaetheory.cli import EXIT_USAGE, cli
from vaetheory.core import limits
from vaetheory.core.errors import BudgetError, InputError
from vaetheory.core.validation import MAX_NPZ_BYTES, screen_npz
from vaetheory.problems.generate import make_problem
from vaetheory.problems.problem import Problem

MIB = 2**20


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "p.npz"
    make_problem(6, 10, 2, 4, "orthogonal", seed=1).save(path)
    return path


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _inflating(path: Path, members: dict[str, bytes]) -> Path:
    """An .npz (deflated) of `members` {name in the archive: bytes}, written to `path`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _one_line_exit_2(res) -> str:
    assert res.exit_code == EXIT_USAGE, (res.exit_code, res.output, res.exception)
    assert res.stdout == "" and "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vaetheory: error: "), res.stderr
    return lines[0]


def _check(*args: str):
    return CliRunner().invoke(cli, ["check", *args])


def _valid_members(p: Problem) -> dict[str, bytes]:
    return {"Phi.npy": _npy(np.asarray(p.Phi)), "X.npy": _npy(np.asarray(p.X))}


@pytest.mark.parametrize("name", ["junk", "Phi", "notes.txt"])
def test_a_member_without_the_npy_suffix_counts_by_its_declared_size(tiny, tmp_path, name):
    """Before: only members named *.npy were screened; 'junk' was read whole, and 'Phi' (an .npy without the suffix)
    was checked only after it was loaded."""
    p = Problem.load(tiny)
    members = _valid_members(p)
    if name == "Phi":
        members.pop("Phi.npy")
        members["Phi"] = _npy(np.zeros((8, MIB // 8 * 8 // 8)))  # 8 MiB of zeros: deflates to a few kB
    else:
        members[name] = bytes(8 * MIB)
    path = _inflating(tmp_path / "bomb.npz", members)
    assert path.stat().st_size < 200_000
    line = _one_line_exit_2(_check("--variant", "vae-full", "--problem", str(path), "--limit-scale", "0.004",
                                   "--out", str(tmp_path / "out")))
    assert f"member {name!r} declares" in line and f"{int(MAX_NPZ_BYTES * 0.004):,} bytes" in line
    assert "--limit-scale" in line and not (tmp_path / "out").exists()


def test_the_screen_decompresses_nothing(tiny, tmp_path, monkeypatch):
    members = _valid_members(Problem.load(tiny)) | {"junk": bytes(4 * MIB), "big.npy": _npy(np.zeros(MIB // 2))}
    path = _inflating(tmp_path / "many.npz", members)
    read = []
    original = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        data = original(self, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    declared = screen_npz(path)
    assert declared["junk"] == 4 * MIB and declared["big"] == MIB // 2 * 8
    assert sum(read) < 4096  # the headers only
    with pytest.raises(InputError, match="over the limit of 1,000,000 bytes"):
        screen_npz(path, max_bytes=1_000_000)


def test_only_the_problem_arrays_are_loaded(tiny, tmp_path):
    path = _inflating(tmp_path / "extra.npz", _valid_members(Problem.load(tiny)) | {"junk": bytes(MIB)})
    assert Problem.load(path).kappa == 10  # an unknown member under the limit is screened, never loaded


def test_too_many_members_are_refused(tiny, tmp_path):
    path = _inflating(tmp_path / "members.npz", _valid_members(Problem.load(tiny))
                      | {f"m{i}": b"" for i in range(100)})
    with pytest.raises(InputError, match="holds 102 members"):
        Problem.load(path)


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    """d = 3, κ = 10,001, n = 1: over the Gram-based oracles' κ limit (10,000), small on disk."""
    path = tmp_path_factory.mktemp("wide") / "wide.npz"
    make_problem(3, limits.GRAM_MAX_KAPPA + 1, 1, 1, "gaussian", seed=0).save(path)
    return path


@pytest.mark.parametrize("method", ["auto", "enumerate", "uniqueness"])
def test_kappa_over_the_gram_limit_is_refused_naming_it(wide, method):
    """Before: `oracle` on d = 10, κ = 10^6 ran on past 120 s at 7.9 GB."""
    line = _one_line_exit_2(CliRunner().invoke(cli, ["oracle", str(wide), "--method", method]))
    assert f"oracle {method}: kappa = 10,001 is over the limit of 10,000" in line
    assert "--limit-scale 1.1" in line and "--method none" in line


def test_the_limit_scale_raises_the_limit():
    limits.check_oracle_size("enumerate", 3, 20_000, 1, scale=2)
    with pytest.raises(BudgetError, match="limit of 20,000"):
        limits.check_oracle_size("enumerate", 3, 20_001, 1, scale=2)
    with pytest.raises(BudgetError, match=r"kappa\*n = 10,005 is over the limit of 10,000"):
        limits.check_oracle_size("mip", 3, 2001, 5)
    limits.check_oracle_size("none", 3, 10**6, 5)  # the planted support: no size limit


def test_mip_over_its_size_is_refused_before_building(tmp_path):
    """Before: --mip-time-limit did not bound model building (κ = 10^5: 23.5 s at a 5 s limit)."""
    path = tmp_path / "mip.npz"
    make_problem(3, 2001, 1, 5, "gaussian", seed=0).save(path)
    line = _one_line_exit_2(CliRunner().invoke(cli, ["oracle", str(path), "--method", "mip"]))
    assert "oracle mip: kappa*n = 10,005 is over the limit of 10,000" in line


def test_restarts_over_the_memory_are_refused(tiny, tmp_path):
    """Before: --restarts 10**9 died in a MemoryError traceback (exit 1); 10**6 ran on at 4 GB."""
    line = _one_line_exit_2(_check("--variant", "vae-full", "--problem", str(tiny), "--restarts", "1000000000",
                                   "--out", str(tmp_path / "out")))
    assert "--restarts 1,000,000,000 would need about" in line and "use at most" in line and "--limit-scale" in line
    limits.check_restarts(1000, 6, 10, 4, memory=2**30)
    most = int(limits.MEMORY_FRACTION * 2**30 // limits.restart_bytes(6, 10, 4))
    limits.check_restarts(most, 6, 10, 4, memory=2**30)
    with pytest.raises(BudgetError, match=f"use at most {most:,} restarts"):
        limits.check_restarts(most + 1, 6, 10, 4, memory=2**30)


@pytest.mark.parametrize("gamma,where", [("1e-320", "below"), ("1e-30", "below"), ("1e300", "above")])
def test_gamma_outside_float64s_range_is_refused(tiny, tmp_path, gamma, where):
    """Before: --gamma 1e-320 (and anything below about 1e-16 here) was a FloatingPointError traceback, exit 1."""
    line = _one_line_exit_2(_check("--variant", "vae-full", "--problem", str(tiny), "--gamma", gamma,
                                   "--out", str(tmp_path / "out")))
    assert line.startswith(f"vaetheory: error: --gamma = ") and f" is {where} " in line


def test_gamma_inside_the_range_is_accepted(tiny):
    p = Problem.load(tiny)
    assert limits.check_gamma(1e-12, p.Phi, p.X) == 1e-12


@pytest.mark.parametrize("args", [
    ["check", "--variant", "vae-full", "--problem", "{p}", "--timeout", "nan"],
    ["check", "--variant", "vae-full", "--problem", "{p}", "--timeout", "inf"],
    ["check", "--variant", "vae-full", "--problem", "{p}", "--mip-time-limit", "nan"],
    ["check", "--variant", "vae-full", "--problem", "{p}", "--gamma", "inf"],
    ["oracle", "{p}", "--mip-time-limit", "nan"],
    ["oracle", "{p}", "--limit-scale", "nan"],
    ["generate", "--d", "3", "--kappa", "4", "--r", "1", "--n", "1", "--noise", "nan", "-o", "x.npz"],
])
def test_nan_and_inf_limits_are_refused(tiny, args):
    """Before: --timeout nan (and --mip-time-limit nan) was accepted and meant no limit."""
    line = _one_line_exit_2(CliRunner().invoke(cli, [a.replace("{p}", str(tiny)) for a in args]))
    assert "must be a finite number" in line


def test_an_out_that_cannot_be_written_is_refused_before_the_search(tiny, tmp_path, monkeypatch):
    """Before: a read-only --out gave a PermissionError traceback after the whole search."""
    from vaetheory.report import mainjob

    def never(*args, **kwargs):
        raise AssertionError("the search ran")

    monkeypatch.setattr(mainjob, "check_problem_file", never)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line_exit_2(_check("--variant", "vae-full", "--problem", str(tiny), "--out", str(blocker / "o")))
    assert line == f"vaetheory: error: --out {blocker / 'o'}: {blocker} exists and is not a folder"


@pytest.mark.parametrize("exc,text", [
    (PermissionError(13, "Permission denied", "/somewhere/report.json"), "/somewhere/report.json: Permission denied"),
    (MemoryError(), "out of memory"),
    (FloatingPointError("energy evaluation failed: cholesky"), "numerical failure: energy evaluation failed"),
])
def test_system_failures_reaching_the_command_line_are_one_line(tiny, tmp_path, monkeypatch, exc, text):
    from vaetheory.report import mainjob

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(mainjob, "check_problem_file", fail)
    line = _one_line_exit_2(_check("--variant", "vae-full", "--problem", str(tiny), "--out", str(tmp_path / "o")))
    assert text in line


def test_check_refuses_kappa_over_the_condition_reports_limit_whatever_the_oracle(wide, tmp_path):
    """The condition report computes the mutual coherence from the κ×κ Gram matrix even with --oracle none."""
    line = _one_line_exit_2(_check("--variant", "vae-full", "--problem", str(wide), "--oracle", "none",
                                   "--out", str(tmp_path / "out")))
    assert "check: kappa = 10,001 is over the limit of 10,000" in line and "--limit-scale 1.1" in line


def test_a_sweep_cell_over_a_limit_is_refused_before_the_cluster_starts(tmp_path):
    import vaetheory.cli.sweep_cmd  # noqa: F401  (registers the sweep commands)

    spec = tmp_path / "big.toml"
    spec.write_text('[sweep]\nname = "big"\nproblems = 1\nrestarts = 2\nvariants = ["vae-diag"]\n'
                    'gamma = ["fixed"]\n[grid]\nd = [3]\nkappa = [10, 20000]\nr = [1]\nn = [1]\n')
    res = CliRunner().invoke(cli, ["sweep", "run", str(spec), "--out", str(tmp_path / "out")])
    line = _one_line_exit_2(res)
    assert "grid cell d3-k20000-r1-n1-orthogonal: oracle auto: kappa = 20,000 is over the limit" in line
    assert not (tmp_path / "out").exists()


def test_generate_refuses_a_problem_over_the_file_limit(tmp_path):
    """Before: `generate --d 100000 --kappa 1000000` tried to allocate 800 GB."""
    line = _one_line_exit_2(CliRunner().invoke(cli, ["generate", "--d", "100000", "--kappa", "1000000", "--r", "1",
                                                     "--n", "1", "-o", str(tmp_path / "p.npz")]))
    assert "generate: d = 100,000, kappa = 1,000,000, n = 1" in line and "--limit-scale 745.1" in line
    assert not (tmp_path / "p.npz").exists()
