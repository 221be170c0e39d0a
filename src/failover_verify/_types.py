"""The small vocabularies every module shares: features, roles, verdicts, timeline states."""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "DEFINITE_VERDICTS",
    "FEATURES",
    "NONE_KEY",
    "UNRESOLVED_KEY",
    "Feature",
    "Role",
    "RoleName",
    "State",
    "Verdict",
]

Feature = Literal["completion", "generation"]
FEATURES: Final[tuple[Feature, ...]] = ("completion", "generation")

Role = Literal["primary", "failover"]
"""What a policy rule can give a record: the primary or the failover provider."""

RoleName = Literal["primary", "failover", "unclassified"]
"""How a record was counted: a role, or unclassified when no rule matched."""

Verdict = Literal["primary", "failover", "mixed", "no_data", "inconclusive"]
DEFINITE_VERDICTS: Final[frozenset[Verdict]] = frozenset({"primary", "failover", "mixed"})

State = Literal["primary", "failover", "mixed", "sparse", "empty"]
"""What one timeline bucket shows; ``sparse`` has too few records to tell."""

# How counts show a value that is missing, or a prompt version that did not resolve.
NONE_KEY: Final = "(none)"
UNRESOLVED_KEY: Final = "(unresolved)"
