"""The package layout: one folder per pipeline stage, and no import from a lower stage to a higher one.

Stages, lowest first (README "Architecture"): core → problems → variants → search → certify → oracle → verdict →
report → sweep; the CLI, the pytest plugin and the package root sit above all of them. An import inside an
``if TYPE_CHECKING:`` block is an annotation, not a dependency, and is skipped.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import vaetheory

ROOT = Path(vaetheory.__file__).parent
STAGES = ("core", "problems", "variants", "search", "certify", "oracle", "verdict", "landscape", "report", "sweep")
TOP = 10**6  # cli, pytest_plugin, __init__, __main__


def rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in STAGES:
        return TOP
    return STAGES.index(parts[1])


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def runtime_imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file outside TYPE_CHECKING blocks, lazy ones included."""
    tree = ast.parse(path.read_text(), str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            # "from vaetheory.x import y" may import submodule y: rank it too
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names
                    if (root.parent / mod.replace(".", "/") / a.name).exists()
                    or (root.parent / (mod.replace(".", "/") + f"/{a.name}.py")).exists()]
    return [(line, m) for line, m in out if m == "vaetheory" or m.startswith("vaetheory.")]


def upward_imports(root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        here = module_name(path, root)
        for line, target in runtime_imports(path, root):
            if rank(target) > rank(here):
                bad.append(f"{path.relative_to(root.parent)}:{line}: {here} imports {target}")
    return bad


def test_every_stage_is_a_package():
    for stage in STAGES:
        assert (ROOT / stage / "__init__.py").is_file(), f"stage {stage!r} is not a package"
    flat = sorted(p.name for p in ROOT.glob("*.py") if p.name not in {"__init__.py", "__main__.py", "pytest_plugin.py"})
    assert flat == [], f"modules outside the stage packages: {flat}"


def test_no_import_runs_from_a_lower_stage_to_a_higher_one():
    assert upward_imports() == []


def test_the_protocol_imports_nothing_of_ours_but_the_ground_floor():
    deps = {m for _, m in runtime_imports(ROOT / "core" / "protocol.py")}
    assert all(m.startswith("vaetheory.core") for m in deps), deps


def test_the_layout_check_catches_an_upward_import(tmp_path):
    """Mutation: a search module that imports the verdict stage must be reported."""
    pkg = tmp_path / "vaetheory"
    (pkg / "search").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "search" / "__init__.py").write_text("")
    (pkg / "search" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vaetheory.report import x\n"
        "def f():\n    from vaetheory.verdict.check import run_check\n")
    found = upward_imports(pkg)
    assert len(found) == 1 and "vaetheory.verdict.check" in found[0]


def test_sweep_is_the_top_stage_and_only_the_cli_imports_it():
    assert STAGES[-1] == "sweep"
    users = sorted({module_name(path) for path in ROOT.rglob("*.py")
                    for _, target in runtime_imports(path)
                    if target.startswith("vaetheory.sweep") and not module_name(path).startswith("vaetheory.sweep")})
    assert users and all(u.startswith("vaetheory.cli") for u in users), users


@pytest.mark.parametrize("package", ["vaetheory", *(f"vaetheory.{s}" for s in STAGES)])
def test_every_public_name_resolves(package):
    mod = importlib.import_module(package)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{package}.{name}"
