"""The verification report: a pydantic model whose JSON form is the tool's stable output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from pydantic import AwareDatetime, Field

from failover_verify._expectation import Expect, expectations_for
from failover_verify._model import Model
from failover_verify._records import ParseProblem
from failover_verify._registry import Resolution
from failover_verify._types import DEFINITE_VERDICTS, Feature, Role, RoleName, Verdict
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
]

SCHEMA_VERSION: Final = 1


class RoleSpan(Model):
    """When records of one role were first and last seen in the window."""

    first: AwareDatetime | None = None
    last: AwareDatetime | None = None


class Breakdown(Model):
    """Records sharing the same grouped field values, and how the policy classified them."""

    values: dict[str, str | None]
    count: int
    role: RoleName
    rule: str | None = Field(description="the policy rule that decided, or why none did")
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None
    resolution: Resolution | None = None


class Evidence(Model):
    """One sample record: where it is, when, how it was classified, and its telling fields."""

    index: str | None
    id: str | None
    time: AwareDatetime | None
    role: RoleName
    fields: dict[str, str | int | float | bool | None]


class ParseSummary(Model):
    """Hits that could not be read as records (only when records are read one by one)."""

    count: int = 0
    examples: list[ParseProblem] = Field(default_factory=list)


class FeatureReport(Model):
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

    def __repr__(self) -> str:
        share = "-" if self.failover_share is None else f"{self.failover_share:.0%}"
        return f"<FeatureReport {self.feature} {self.verdict} failover {share} of {self.total}>"

    def __str__(self) -> str:
        from failover_verify._render import plain_feature  # noqa: PLC0415

        return plain_feature(self)


class Report(Model):
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

    def to_json_dict(self, *, expect: Role | None = None) -> dict[str, Any]:
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

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{name} {item.verdict}" for name, item in self.features.items())
        return f"<Report {self.window.describe()}: {verdicts}>"

    def __str__(self) -> str:
        from failover_verify._render import plain_report  # noqa: PLC0415

        return plain_report(self)
