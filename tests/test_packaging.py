"""What the package declares and what the test environment runs on (issue 13, "CI proves both").

* the library requires torch as a version RANGE (a library must not force its user's torch), and the installed
  torch satisfies it;
* the environment the tests run in holds a CPU build of torch and no nvidia-* (CUDA) packages: the README's install
  commands put the CPU wheel in first, so the range never pulls a CUDA build.
"""
from __future__ import annotations

import tomllib
from importlib.metadata import distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _torch_requirement() -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    found = [Requirement(d) for d in deps if Requirement(d).name == "torch"]
    assert len(found) == 1, deps
    return found[0]


def test_torch_is_required_as_a_range_that_the_installed_torch_meets():
    req = _torch_requirement()
    ops = {s.operator for s in req.specifier}
    assert "==" not in ops and "===" not in ops and "~=" not in ops, f"torch is pinned: {req}"
    assert ops & {">=", ">"} and ops & {"<", "<="}, f"torch needs a lower and an upper bound: {req}"
    assert req.specifier.contains(Version(version("torch")).base_version), (req, version("torch"))


def test_installed_torch_is_a_cpu_build_without_nvidia_packages():
    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
    names = sorted({(d.metadata["Name"] or "").lower() for d in distributions()})
    assert not [n for n in names if n.startswith("nvidia-")], [n for n in names if n.startswith("nvidia-")]


def test_package_version_matches_the_changelog():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    changelog = (PYPROJECT.parent / "CHANGELOG.md").read_text()
    assert f"## {project['version']}" in changelog
