"""How many inputs the property tests generate, per Hypothesis profile.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) is derandomized, so a CI failure reproduces
exactly, and generates four times the examples of a developer's run: more than 10,000 inputs
across the property tests. The default ``dev`` profile keeps local runs quick and random.
``mutation`` (set by ``scripts/mutants``) is derandomized with a quarter of the developer's
count and keeps no example database, so a mutant is killed or survives the same way each run.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
# mutmut runs pytest many times in one process and slows every call down with its
# trampolines: the same test then runs from several executors, and generation looks slow.
settings.register_profile(
    "mutation",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow],
)
settings.load_profile(PROFILE)
# The mutation check runs each surviving mutant against every test that reaches it; a quarter of
# the examples keeps that within an hour while the unit tests do the killing.
_SCALE: Final = {"ci": 4.0, "mutation": 0.25}.get(PROFILE, 1.0)


def suppressed(*checks: HealthCheck) -> list[HealthCheck]:
    """``checks`` and the health checks the profile suppresses, for a test's own settings
    (whose list would otherwise replace the profile's)."""
    profile = settings.get_profile(PROFILE).suppress_health_check
    return sorted({*profile, *checks}, key=lambda check: check.value)


def examples(count: int) -> int:
    """``count`` examples in a developer's run, scaled up under the CI profile."""
    return max(1, round(count * _SCALE))
