"""Startup stays cheap: `vaetheory --help`, describing a built-in and input errors import none of torch, cvxpy,
scipy.optimize or matplotlib (they cost seconds; `bench/startup.py` measures the wall clock, never asserted here).
Before: the command modules imported all four at import time (about 4 s for every input error)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "cvxpy", "scipy.optimize", "matplotlib")
PROBE = """
import sys
sys.argv = ["vaetheory"] + sys.argv[1:]
from vaetheory.cli import main
try:
    main()
finally:
    print("HEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def _heavy_modules_after(*args: str, cwd: Path) -> tuple[int, str, list[str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)
    lines = done.stderr.splitlines()
    heavy = lines[-1].removeprefix("HEAVY=")
    return done.returncode, "\n".join(lines[:-1]), [m for m in heavy.split(",") if m]


@pytest.fixture(scope="module")
def complex_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "complex.npz"
    np.savez(path, Phi=np.ones((3, 5)) * (1 + 1j), X=np.ones((3, 2)))
    return path


@pytest.mark.parametrize("args, code", [
    (["--help"], 0),
    (["check", "--help"], 0),
    (["variants", "vae-full", "vae-diag"], 0),
    (["check", "--seed", "-1"], 2),
    (["check", "--variant", "vae-full", "--problem", "missing.npz"], 2),
    (["check", "--variant", "no-such-variant", "--problem", "COMPLEX"], 2),
    (["check", "--variant", "vae-full", "--problem", "COMPLEX"], 2),
    (["oracle", "COMPLEX"], 2),
])
def test_help_and_input_errors_do_not_import_the_heavy_stack(args, code, complex_npz, tmp_path):
    args = [str(complex_npz) if a == "COMPLEX" else a for a in args]
    rc, stderr, heavy = _heavy_modules_after(*args, cwd=tmp_path)
    assert rc == code, stderr
    assert heavy == [], f"{' '.join(args)} imported {heavy}"
    if code == 2:
        assert len(stderr.splitlines()) == 1 and stderr.startswith("vaetheory: error: "), stderr


def test_a_check_without_the_relaxation_never_imports_cvxpy(tmp_path):
    """cvxpy (about a second to import) is loaded only when the ℓ2,1 relaxation is solved."""
    code = """
import sys
from vaetheory import make_problem, run_check, get_variant
from vaetheory.verdict.check import analyse_problem
p = make_problem(5, 8, 2, 3, seed=0)
run_check(p, get_variant("vae-full"), restarts=2, analysis=analyse_problem(p, relax=False))
print("cvxpy" in sys.modules, "matplotlib" in sys.modules)
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_the_search_and_its_hessian_products_import_no_tracing_machinery(tmp_path):
    """Hessian-vector products (the truncated-Newton steps), γ curvature and the split-sign Hessian go through reverse
    mode on the closed-form hooks: nothing imports torch._dynamo, torch.fx's symbolic shapes or sympy (forward mode,
    torch.func's first use and autograd.grad with grad_outputs did: 0.5-2.7 s of a check)."""
    code = """
import sys
import numpy as np
from vaetheory import make_problem, get_variant
from vaetheory.search.objective import Objective
from vaetheory.search.multistart import gamma_derivatives
for name in ("ae-log", "vae-full"):
    p = make_problem(5, 8, 2, 3, seed=0)
    o = Objective(get_variant(name), p)
    th = o.layout.pack(o.variant.init_random(p, np.random.default_rng(0), 2), 2)
    g = np.full(2, o.variant.gamma.default)
    o.hvp(th, g, np.ones_like(th))
    o.active_hessian(th, g, np.ones_like(th, dtype=bool))
    gamma_derivatives(o, th, g)
print(",".join(m for m in ("torch._dynamo", "torch.fx.experimental.symbolic_shapes", "sympy") if m in sys.modules))
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported {done.stdout.strip()}"
