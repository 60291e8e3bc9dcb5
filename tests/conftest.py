"""Shared small fixtures for the unit tests: tiny problems (d ≤ 8, κ ≤ 16), immutable so session-scoped."""
from __future__ import annotations

import pytest

# pytester's in-process runs (tests/test_plugin.py) restore sys.modules when they end, and an extension module first
# imported inside one cannot be initialised a second time: numpy's refuse ("cannot load module more than once per
# process"), torch's crashed the interpreter. Whatever such a run needs is imported here, before any of them.
import matplotlib  # noqa: E402,F401
import numpy.linalg  # noqa: E402,F401
import numpy.random  # noqa: E402,F401
import scipy.optimize  # noqa: E402,F401
import torch  # noqa: E402,F401
import torch._dynamo  # noqa: E402,F401  (the plug-in checker's torch.func transforms load it)
import torch.func  # noqa: E402,F401

from vaetheory.problems.generate import make_problem
from vaetheory.problems.problem import Problem


@pytest.fixture(scope="session")
def easy_problem() -> Problem:
    """d=6, κ=12, r=2, n=4, orthogonal rows: inside every condition of claim C1, rank-aware oracle applies."""
    return make_problem(6, 12, 2, 4, "orthogonal", seed=0)


@pytest.fixture(scope="session")
def single_response_problem() -> Problem:
    """d=5, κ=10, r=2, n=1: rank(X) = 1 < k*, so the oracle has to enumerate."""
    return make_problem(5, 10, 2, 1, "gaussian", seed=3)
