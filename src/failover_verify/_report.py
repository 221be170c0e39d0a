"""The verification report: a pydantic model whose JSON form is the tool's stable output."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from failover_verify._expectation import Expect, expectations_for
from failover_verify._policy import Feature
from failover_verify._records import ParseProblem
from failover_verify._registry import Resolution
from failover_verify._window import TimeWindow

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Breakdown",
    "Evidence",
    "FeatureReport",
    "ParseSummary",
    "Report",
    "RoleSpan",
    "Verdict",
    "decide",
]

Verdict = Literal["primary", "failover", "mixed", "no_data", "inconclusive"]
RoleName = Literal["primary", "failover", "unclassified"]
DEFINITE_VERDICTS: Final = frozenset({"primary", "failover", "mixed"})
NONE_KEY: Final = "(none)"
UNRESOLVED_KEY: Final = "(unresolved)"
SCHEMA_VERSION: Final = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class RoleSpan(_Model):
    """When records of one role were first and last seen in the window."""

    first: AwareDatetime | None = None
    last: AwareDatetime | None = None


class Breakdown(_Model):
    """Records sharing the same grouped field values, and how the policy classified them."""

    values: dict[str, str | None]
    count: int
    role: RoleName
    rule: str | None = Field(description="the policy rule that decided, or why none did")
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None
    resolution: Resolution | None = None


class Evidence(_Model):
    """One sample record: where it is, when, how it was classified, and its telling fields."""

    index: str | None
    id: str | None
    time: AwareDatetime | None
    role: RoleName
    fields: dict[str, str | int | float | bool | None]


class ParseSummary(_Model):
    """Hits that could not be read as records (only when records are read one by one)."""

    count: int = 0
    examples: list[ParseProblem] = Field(default_factory=list)


class FeatureReport(_Model):
    """The answer for one feature (code completion or code generation)."""

    feature: Feature
    verdict: Verdict
    reason: str
    total: int
    primary: int
    failover: int
    unclassified: int
    failover_share: float | None
    primary_share: float | None
    by_provider: dict[str, int]
    by_model: dict[str, int]
    by_prompt_version: dict[str, int]
    seen: dict[RoleName, RoleSpan]
    complete: bool
    failed_indices: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    breakdown: list[Breakdown] = Field(default_factory=list)
    samples: list[Evidence] = Field(default_factory=list)
    resolutions: list[Resolution] = Field(default_factory=list)
    query: dict[str, Any] | None = None
    kql: str
    kibana_url: str

    @property
    def definite(self) -> bool:
        return self.verdict in DEFINITE_VERDICTS


class Report(_Model):
    """Verdicts for each requested feature over one window, with the evidence behind them."""

    schema_version: int = SCHEMA_VERSION
    generated_at: AwareDatetime
    source: str
    index: str
    time_field: str
    window: TimeWindow
    threshold: float
    min_count: int
    policy: str
    registry: str
    requests: int = Field(description="requests sent to Elasticsearch for this report")
    features: dict[Feature, FeatureReport]
    parse_problems: ParseSummary = Field(default_factory=ParseSummary)
    notes: list[str] = Field(default_factory=list)

    @property
    def definite(self) -> bool:
        """Every feature has a definite verdict (primary, failover or mixed)."""
        return all(feature.definite for feature in self.features.values())

    def meets(self, expect: Expect) -> bool | None:
        """True if every feature's verdict is as expected; None if some cannot be told.

        ``expect`` is one verdict (``"primary"`` or ``"failover"``) for every feature, or a
        mapping of feature to :class:`~failover_verify.Expectation` (as the incident flags give).
        """
        if not self.definite:
            return None
        if isinstance(expect, str):
            return all(feature.verdict == expect for feature in self.features.values())
        wanted = expectations_for(expect, self.features)
        return all(wanted[name].allows(feature.verdict) for name, feature in self.features.items())

    def to_json_dict(
        self, *, expect: Literal["primary", "failover"] | None = None
    ) -> dict[str, Any]:
        """The documented JSON form: the report plus ``ok`` and ``expect`` at top level."""
        data = self.model_dump(mode="json", by_alias=True)
        data["ok"] = None if expect is None else self.meets(expect)
        data["expect"] = expect
        return data

    def to_pandas(self) -> pd.DataFrame:
        """One row per feature: verdict, counts, shares, first and last seen per role.

        Needs the ``notebook`` extra.
        """
        from failover_verify._notebook import report_frame  # noqa: PLC0415

        return report_frame(self)

    def breakdown_frame(self) -> pd.DataFrame:
        """One row per breakdown entry, with the rule and what it resolved to.

        Needs the ``notebook`` extra.
        """
        from failover_verify._notebook import report_breakdown_frame  # noqa: PLC0415

        return report_breakdown_frame(self)

    def _repr_html_(self) -> str:
        from failover_verify._notebook import report_html  # noqa: PLC0415

        return report_html(self)


def decide(
    *,
    total: int,
    primary: int,
    failover: int,
    unclassified: int,
    complete: bool,
    blockers: list[str],
    threshold: float,
    min_count: int,
) -> tuple[Verdict, str]:
    """Turn counts into a verdict, preferring "cannot tell" to a wrong answer."""
    if blockers:
        return "inconclusive", blockers[0]
    if not complete:
        return "inconclusive", "Elasticsearch returned partial results, so the counts may be wrong"
    if total == 0:
        return "no_data", "no matching records in the window"
    if total < min_count:
        return (
            "inconclusive",
            f"only {total} records in the window; at least {min_count} are needed",
        )
    if failover / total >= threshold:
        return (
            "failover",
            f"{_pct(failover, total)} of {total} records are on the failover provider",
        )
    if primary / total >= threshold:
        return "primary", f"{_pct(primary, total)} of {total} records are on the primary provider"
    if unclassified / total > 1 - threshold:
        unmatched = (
            f"{_pct(unclassified, total)} of {total} records match no policy rule; "
            "see the breakdown, and extend the policy if they are expected"
        )
        return "inconclusive", unmatched
    split = (
        f"{_pct(failover, total)} failover and {_pct(primary, total)} primary of {total} records; "
        f"neither reaches {threshold:.0%}"
    )
    return "mixed", split


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}"


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 6)


def latest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def earliest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None
