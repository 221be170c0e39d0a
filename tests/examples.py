"""How many inputs the property tests generate, per Hypothesis profile.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) is derandomized, so a CI failure reproduces
exactly, and generates four times the examples of a developer's run: more than 10,000 inputs
across the property tests. The default ``dev`` profile keeps local runs quick and random.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import settings

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(PROFILE)
_SCALE: Final = 4 if PROFILE == "ci" else 1


def examples(count: int) -> int:
    """``count`` examples in a developer's run, scaled up under the CI profile."""
    return count * _SCALE
