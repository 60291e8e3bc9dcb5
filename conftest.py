"""Root pytest configuration: the ``--vaetheory-profile`` option (ci, dev, deep) for the property tests.

The option sets $VAETHEORY_PROFILE before test modules are imported, then the matching Hypothesis profile is loaded
(`vaetheory.problems.profiles.load_profile`), so a property module reads the same profile as the main job would.
"""
from __future__ import annotations

import os
import signal

import pytest

from vaetheory.core.errors import InputError
from vaetheory.problems.profiles import ENV_VAR, load_profile


def pytest_addoption(parser) -> None:
    try:
        parser.addoption("--vaetheory-profile", default=None,
                         help="vaetheory run profile: ci (default), dev or deep; overrides $VAETHEORY_PROFILE.")
    except ValueError:  # already registered (e.g. by an installed plugin)
        pass


def pytest_configure(config) -> None:
    # A shell without job control starts background commands with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler, in this process or in the interpreters the tests start. The Ctrl-C tests need
    # it, wherever the suite is launched from.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    name = config.getoption("--vaetheory-profile", default=None)
    try:
        load_profile(name)
    except InputError as exc:  # an unknown profile name: a usage error, not an internal one
        raise pytest.UsageError(str(exc)) from None
    if name:
        os.environ[ENV_VAR] = name
