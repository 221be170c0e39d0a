"""Expectations: which verdicts count as OK for a feature, and why.

``--expect primary`` expects one verdict of every feature. The incident flags can expect a
different verdict per feature, or, during a partial rollout, accept any definite verdict:
an :class:`Expectation` per feature says which, and where that came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, cast

from failover_verify._exceptions import UsageError
from failover_verify._model import Model
from failover_verify._types import Feature, Role

if TYPE_CHECKING:
    from failover_verify._report import Report

__all__ = ["Expect", "Expectation", "contradicted", "describe_expect", "expectations_for"]

_EITHER: Final = ("failover", "mixed", "primary")


class Expectation(Model):
    """The verdicts that mean OK for one feature, with a label and the reason for them."""

    allows_verdicts: tuple[str, ...]
    label: str
    because: str | None = None

    @classmethod
    def verdict(cls, verdict: Role, *, because: str | None = None) -> Expectation:
        """Exactly one verdict is OK (what ``--expect primary|failover`` means)."""
        if verdict not in ("primary", "failover"):
            raise UsageError(f"verdict= must be 'primary' or 'failover', not {verdict!r}")
        return cls(allows_verdicts=(verdict,), label=verdict, because=because)

    @classmethod
    def partial(cls, *, because: str | None = None) -> Expectation:
        """A partial rollout: traffic may be on either side or split, so any definite verdict."""
        return cls(allows_verdicts=_EITHER, label="mixed or either", because=because)

    def allows(self, verdict: str) -> bool:
        """Whether ``verdict`` is OK; ``no_data`` and ``inconclusive`` never are."""
        return verdict in self.allows_verdicts

    @property
    def single(self) -> Role | None:
        """The one expected verdict, or None when several are allowed."""
        if self.allows_verdicts == ("primary",):
            return "primary"
        if self.allows_verdicts == ("failover",):
            return "failover"
        return None


Expect = Role | Mapping[Feature, Expectation] | Mapping[str, Expectation]
"""What a report is judged against: one verdict for all features, or one Expectation each."""


def expectations_for(expect: Expect, features: Iterable[str]) -> dict[str, Expectation]:
    """An Expectation per feature; raises :class:`UsageError` if one is missing."""
    names = list(features)
    if isinstance(expect, str):
        single = Expectation.verdict(expect)
        return dict.fromkeys(names, single)
    by_name = cast("Mapping[str, Expectation]", expect)
    missing = [name for name in names if name not in by_name]
    if missing:
        raise UsageError(
            f"expect= has no Expectation for {', '.join(missing)}; give one for every feature "
            "in the report"
        )
    return {name: by_name[name] for name in names}


def contradicted(report: Report, expect: Expect) -> bool:
    """Some feature has a definite verdict that its expectation does not allow."""
    wanted = expectations_for(expect, report.features)
    return any(
        feature.definite and not wanted[name].allows(feature.verdict)
        for name, feature in report.features.items()
    )


def describe_expect(expect: Expect) -> str:
    """``failover``, or ``completion failover, generation mixed or either`` per feature."""
    if isinstance(expect, str):
        return expect
    return ", ".join(f"{name} {expectation.label}" for name, expectation in expect.items())
