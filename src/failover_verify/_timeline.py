"""Counts over time per feature and role, and the points where traffic switched: the models.

Timelines are built in ``_summary.py`` from counts read on the server (``_verify.py``) or from
records in hand (``_offline.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, Field

from failover_verify._model import Model
from failover_verify._types import Feature, Role, State
from failover_verify._window import TimeWindow

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Switch", "Timeline", "TimelinePoint"]


class TimelinePoint(Model):
    """One time bucket of one feature."""

    start: AwareDatetime
    total: int
    primary: int
    failover: int
    unclassified: int
    failover_share: float | None
    primary_share: float | None
    by_provider: dict[str, int]
    state: State
    calls: int | None = None
    """Calls to a model in the bucket, from served records, when the feature has them."""
    errors: int | None = None
    """Of those calls, the ones that failed."""
    error_share: float | None = None


class Switch(Model):
    """Where a feature's traffic settled on a different role."""

    feature: Feature
    at: AwareDatetime
    from_role: Role | None
    to_role: Role


class Timeline(Model):
    """Per-bucket counts for each feature over a window, with detected switches."""

    window: TimeWindow
    interval_seconds: int
    threshold: float
    min_bucket_count: int
    features: dict[Feature, list[TimelinePoint]]
    signals: dict[Feature, str] = Field(default_factory=dict)
    """Which signal each feature's counts come from: its strongest with records."""
    switches: list[Switch]
    complete: bool = True
    problems: list[str] = Field(default_factory=list)
    requests: int = 0

    def first_at(self, feature: Feature, role: Role) -> datetime | None:
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

    def __repr__(self) -> str:
        state = "" if self.complete else ", partial"
        if not self.switches:
            happened = "no switch"
        else:
            last = max(self.switches, key=lambda switch: switch.at)
            count = len(self.switches)
            happened = (
                f"{count} switch{'es' if count > 1 else ''} (last: {last.feature} to "
                f"{last.to_role} at {last.at:%H:%M:%SZ})"
            )
        return (
            f"<Timeline {self.window.describe()} every {self.interval_seconds}s{state}: {happened}>"
        )
