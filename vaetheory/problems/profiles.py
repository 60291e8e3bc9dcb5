"""Run profiles: how hard the property tests and the main job work (``ci``, ``dev``, ``deep``).

A profile fixes the Hypothesis settings of ``properties/`` (examples per property, deadline, derandomisation) and,
for the main job (`vaetheory.report.mainjob`), which problems are generated and how many restarts each variant gets. The
active profile comes from an explicit name, else the environment variable ``VAETHEORY_PROFILE``, else ``ci``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings

from vaetheory.core.errors import InputError
from vaetheory.problems.generate import make_problem
from vaetheory.problems.problem import Problem

ENV_VAR = "VAETHEORY_PROFILE"
DEFAULT_PROFILE = "ci"


@dataclass(frozen=True)
class ProblemSpec:
    """A generated problem of the main job: sizes, row structure, seed and optional target coherence."""

    name: str
    d: int
    kappa: int
    r: int
    n: int
    rows: str = "orthogonal"
    seed: int = 0
    coherence: float | None = None

    def build(self) -> Problem:
        return make_problem(self.d, self.kappa, self.r, self.n, self.rows, self.seed, coherence=self.coherence)


@dataclass(frozen=True)
class Profile:
    """How much work one run does.

    max_examples: Hypothesis examples per property (the expensive properties use ``max(1, max_examples // 2)``).
    restarts: starts per variant and problem (VAE / ℓ2,1 variants); ae_restarts: the same for the AE variants, which
    have κ + 2κn parameters and are the slow ones. problems: what the main job runs on.
    """

    name: str
    max_examples: int
    restarts: int
    ae_restarts: int
    problems: tuple[ProblemSpec, ...]
    use_target: bool
    description: str

    def restarts_for(self, variant_name: str) -> int:
        return self.ae_restarts if variant_name in ("ae-l1", "ae-log") else self.restarts


_SMALL = ProblemSpec("ortho-d8-k16", 8, 16, 3, 6, "orthogonal", 0)
_GAUSS = ProblemSpec("gauss-d8-k16", 8, 16, 3, 6, "gaussian", 1)

PROFILES: dict[str, Profile] = {
    "ci": Profile("ci", 3, 8, 4, (_SMALL, _GAUSS, ProblemSpec("ortho-d9-k18", 9, 18, 4, 8, "orthogonal", 2)),
                  False, "fits the CI budget: few examples, derandomised"),
    "dev": Profile("dev", 10, 16, 8,
                   (_SMALL, _GAUSS, ProblemSpec("ortho-d12-k24", 12, 24, 4, 10, "orthogonal", 2),
                    ProblemSpec("coherent-d8-k16", 8, 16, 3, 6, "orthogonal", 3, coherence=0.8)),
                   True, "local development: more examples, random seeds"),
    "deep": Profile("deep", 100, 32, 16,
                    (_SMALL, _GAUSS, ProblemSpec("ortho-d20-k40", 20, 40, 5, 20, "orthogonal", 0),
                     ProblemSpec("coherent-d8-k16", 8, 16, 3, 6, "orthogonal", 3, coherence=0.8),
                     ProblemSpec("nltr-d8-k16", 8, 16, 4, 2, "gaussian", 4)),
                    True, "long runs: many examples, hypothesis.target() steering counterexample search"),
}

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.function_scoped_fixture]


def _hypothesis_settings(profile: Profile) -> settings:
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
    if profile.use_target:
        phases.insert(3, Phase.target)
    if profile.name == "ci":
        # derandomised and without an example database: the same examples on every CI run
        return settings(max_examples=profile.max_examples, deadline=None, derandomize=True, database=None,
                        suppress_health_check=_HEALTH, phases=phases, print_blob=True)
    return settings(max_examples=profile.max_examples, deadline=None, suppress_health_check=_HEALTH,
                    phases=phases, print_blob=True)


def register_hypothesis_profiles() -> None:
    """Register every profile with Hypothesis under its own name (``settings.load_profile(name)`` then works)."""
    for name, profile in PROFILES.items():
        settings.register_profile(name, _hypothesis_settings(profile))


def active_profile_name(explicit: str | None = None) -> str:
    """The explicit name, else $VAETHEORY_PROFILE, else ``ci``; InputError for an unknown name."""
    name = explicit or os.environ.get(ENV_VAR) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise InputError(f"unknown profile {name!r} (from {'argument' if explicit else ENV_VAR}); "
                         f"available: {', '.join(PROFILES)}")
    return name


def get_profile(name: str | None = None) -> Profile:
    """The `Profile` called `name` (resolved by `active_profile_name`)."""
    return PROFILES[active_profile_name(name)]


def load_profile(name: str | None = None) -> Profile:
    """Register the Hypothesis profiles, load the active one into Hypothesis, and return it."""
    profile = get_profile(name)
    register_hypothesis_profiles()
    settings.load_profile(profile.name)
    return profile
