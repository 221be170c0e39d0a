"""Counts over time per feature and role, and the points where traffic switched.

Counting is server-side (a composite aggregation with a date-histogram source), so the
number of requests grows with time buckets and distinct field values, never with records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from failover_verify._es import item_error, missing_clusters
from failover_verify._exceptions import UsageError
from failover_verify._policy import Feature, Policy
from failover_verify._queries import GROUP_FIELDS
from failover_verify._registry import PromptRegistry
from failover_verify._report import RoleName, share
from failover_verify._summary import Classification, classify_values
from failover_verify._window import TimeWindow

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Switch", "Timeline", "TimelineBuilder", "TimelinePoint", "read_timeline_page"]

MAX_BUCKETS: Final = 10_000
State = Literal["primary", "failover", "mixed", "sparse", "empty"]


class TimelinePoint(BaseModel):
    """One time bucket of one feature."""

    model_config = ConfigDict(frozen=True)

    start: AwareDatetime
    total: int
    primary: int
    failover: int
    unclassified: int
    failover_share: float | None
    primary_share: float | None
    by_provider: dict[str, int]
    state: State


class Switch(BaseModel):
    """Where a feature's traffic settled on a different role."""

    model_config = ConfigDict(frozen=True)

    feature: Feature
    at: AwareDatetime
    from_role: Literal["primary", "failover"] | None
    to_role: Literal["primary", "failover"]


class Timeline(BaseModel):
    """Per-bucket counts for each feature over a window, with detected switches."""

    model_config = ConfigDict(frozen=True)

    window: TimeWindow
    interval_seconds: int
    threshold: float
    min_bucket_count: int
    features: dict[Feature, list[TimelinePoint]]
    switches: list[Switch]
    complete: bool = True
    problems: list[str] = []
    requests: int = 0

    def first_at(self, feature: Feature, role: Literal["primary", "failover"]) -> datetime | None:
        """The start of the first bucket whose share of ``role`` reached the threshold."""
        for point in self.features.get(feature, []):
            if point.state == role:
                return point.start
        return None

    def to_pandas(self) -> pd.DataFrame:
        """One row per feature and bucket (needs the ``notebook`` extra)."""
        from failover_verify._notebook import timeline_frame  # noqa: PLC0415

        return timeline_frame(self)

    def plot(self, **options: Any) -> Figure:
        """Failover share over time per feature, with the threshold and switches marked."""
        from failover_verify._notebook import plot_timeline  # noqa: PLC0415

        return plot_timeline(self, **options)

    def _repr_html_(self) -> str:
        from failover_verify._notebook import timeline_html  # noqa: PLC0415

        return timeline_html(self)


@dataclass
class _Bucket:
    roles: Counter[RoleName] = field(default_factory=Counter)
    providers: Counter[str] = field(default_factory=Counter)


@dataclass
class TimelineBuilder:
    """Accumulates (bucket start, grouped values, count) rows into a :class:`Timeline`."""

    window: TimeWindow
    interval: timedelta
    policy: Policy
    registry: PromptRegistry
    threshold: float
    min_bucket_count: int
    features: Sequence[Feature]
    _buckets: dict[Feature, dict[datetime, _Bucket]] = field(default_factory=dict)
    _cache: dict[tuple[Feature, tuple[str | None, ...]], Classification] = field(
        default_factory=dict
    )
    problems: list[str] = field(default_factory=list)
    complete: bool = True

    def __post_init__(self) -> None:
        seconds = self.interval.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise UsageError("the timeline interval must be a whole number of seconds, at least 1s")
        count = self.window.duration / self.interval
        if count > MAX_BUCKETS:
            raise UsageError(
                f"a {self.window.duration} window in {self.interval} buckets makes "
                f"{count:.0f} buckets; at most {MAX_BUCKETS} are allowed: choose a larger interval"
            )
        self._buckets = {feature: {} for feature in self.features}

    @property
    def interval_seconds(self) -> int:
        return int(self.interval.total_seconds())

    def bucket_of(self, moment: datetime) -> datetime:
        # Elasticsearch aligns fixed intervals to the epoch; so do we, for identical buckets.
        epoch = int(moment.timestamp()) // self.interval_seconds * self.interval_seconds
        return datetime.fromtimestamp(epoch, UTC)

    def add(
        self, feature: Feature, start: datetime, values: Mapping[str, str | None], count: int
    ) -> None:
        key = (feature, tuple(values.values()))
        found = self._cache.get(key)
        if found is None:
            found = classify_values(feature, values, self.policy, self.registry)
            self._cache[key] = found
        bucket = self._buckets[feature].setdefault(start, _Bucket())
        bucket.roles[found.role] += count
        bucket.providers[found.provider] += count

    def build(self, requests: int = 0) -> Timeline:
        features = {feature: self._points(feature) for feature in self.features}
        return Timeline(
            window=self.window,
            interval_seconds=self.interval_seconds,
            threshold=self.threshold,
            min_bucket_count=self.min_bucket_count,
            features=features,
            switches=[
                switch
                for feature in self.features
                for switch in _switches(feature, features[feature])
            ],
            complete=self.complete,
            problems=self.problems,
            requests=requests,
        )

    def _points(self, feature: Feature) -> list[TimelinePoint]:
        points = []
        start = self.bucket_of(self.window.start)
        while start < self.window.end:
            bucket = self._buckets[feature].get(start, _Bucket())
            total = sum(bucket.roles.values())
            primary, failover = bucket.roles["primary"], bucket.roles["failover"]
            points.append(
                TimelinePoint(
                    start=start,
                    total=total,
                    primary=primary,
                    failover=failover,
                    unclassified=bucket.roles["unclassified"],
                    failover_share=share(failover, total),
                    primary_share=share(primary, total),
                    by_provider=dict(bucket.providers.most_common()),
                    state=self._state(total, primary, failover),
                )
            )
            start += self.interval
        return points

    def _state(self, total: int, primary: int, failover: int) -> State:
        if total == 0:
            return "empty"
        if total < self.min_bucket_count:
            return "sparse"
        if failover / total >= self.threshold:
            return "failover"
        if primary / total >= self.threshold:
            return "primary"
        return "mixed"


def _switches(feature: Feature, points: Iterable[TimelinePoint]) -> list[Switch]:
    switches: list[Switch] = []
    settled: Literal["primary", "failover"] | None = None
    for point in points:
        if point.state not in ("primary", "failover"):
            continue
        state: Literal["primary", "failover"] = point.state
        if settled is not None and state != settled:
            switches.append(
                Switch(feature=feature, at=point.start, from_role=settled, to_role=state)
            )
        settled = state
    return switches


def read_timeline_page(
    builder: TimelineBuilder, feature: Feature, response: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Add one composite page to the builder; returns the key to continue after, if any."""
    error = item_error(response)
    if error is not None:
        builder.complete = False
        builder.problems.append(f"Elasticsearch refused the {feature} timeline search: {error}")
        return None
    shards = response.get("_shards") or {}
    if response.get("timed_out") or int(shards.get("failed", 0)):
        builder.complete = False
        builder.problems.append(f"the {feature} timeline is partial (timed out or failed shards)")
    clusters = missing_clusters(response)
    if clusters is not None:
        builder.complete = False
        builder.problems.append(f"the {feature} timeline is partial: {clusters}")
    groups = (response.get("aggregations") or {}).get("groups") or {}
    buckets = groups.get("buckets") or []
    names = list(GROUP_FIELDS[feature])
    for bucket in buckets:
        key = bucket.get("key") or {}
        start = datetime.fromtimestamp(int(key.get("bucket", 0)) / 1000, UTC)
        values = {name: (None if key.get(name) is None else str(key.get(name))) for name in names}
        builder.add(feature, start, values, int(bucket.get("doc_count", 0)))
    after = groups.get("after_key")
    if not buckets or after is None:
        return None
    return dict(after)
