"""The verification report: a pydantic model whose JSON form is the tool's stable output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

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
    "ErrorCount",
    "Evidence",
    "FeatureReport",
    "ParseSummary",
    "Report",
    "RoleSpan",
    "SignalReport",
    "Standing",
]

SCHEMA_VERSION: Final = 2


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


class ErrorCount(Model):
    """Calls to one model in the window, and how many of them failed."""

    calls: int
    errors: int
    error_share: float | None


Standing = Literal["definite", "no_data", "too_few", "indistinct", "unmatched", "partial"]
"""Why a signal has its verdict: definite, no records, too few, roles indistinguishable in the
era, too many records matching no rule, or a partial or refused answer."""


class _Tallied(Model):
    """A verdict with the counts and evidence behind it (one signal's, or a feature's)."""

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
    by_prompt_version: dict[str, int] = Field(default_factory=dict)
    errors_by_model: dict[str, ErrorCount] = Field(default_factory=dict)
    seen: dict[RoleName, RoleSpan] = Field(default_factory=dict)
    complete: bool = True
    failed_indices: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    breakdown: list[Breakdown] = Field(default_factory=list)
    samples: list[Evidence] = Field(default_factory=list)
    resolutions: list[Resolution] = Field(default_factory=list)
    query: dict[str, Any] | None = None
    kql: str = ""
    kibana_url: str = ""

    @property
    def definite(self) -> bool:
        return self.verdict in DEFINITE_VERDICTS


class SignalReport(_Tallied):
    """What one kind of record says about a feature, counted on its own."""

    signal: str
    title: str
    standing: Standing

    def __repr__(self) -> str:
        share = "-" if self.failover_share is None else f"{self.failover_share:.0%}"
        return f"<SignalReport {self.signal} {self.verdict} failover {share} of {self.total}>"


class FeatureReport(_Tallied):
    """The answer for one feature (code completion or code generation).

    The verdict comes from the strongest signal that can tell (``decided_by``), and the
    counts at this level are that signal's, so no request is counted twice; ``signals`` holds
    every signal's own report, and ``agreement`` says whether the others agree.
    """

    feature: Feature
    decided_by: str | None = None
    agreement: Literal["single", "agree", "disagree", "none"] = "none"
    signals: dict[str, SignalReport] = Field(default_factory=dict)

    def __repr__(self) -> str:
        share = "-" if self.failover_share is None else f"{self.failover_share:.0%}"
        by = f" by {self.decided_by}" if self.decided_by else ""
        return f"<FeatureReport {self.feature} {self.verdict}{by} failover {share} of {self.total}>"

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
