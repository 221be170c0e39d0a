"""Verification of records already in hand (exported hits), with the same signals and policy.

Records are parsed one by one, picked by the same signal definitions the queries compile, and
grouped the way the server's aggregations group them, so the summary and verdict rules are
exactly those of a verification against a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from failover_verify import _fields as f
from failover_verify._exceptions import UsageError
from failover_verify._gateway import GatewayFacts
from failover_verify._kibana import DEFAULT_KIBANA_URL, link_target
from failover_verify._policy import Policy
from failover_verify._queries import DEFAULT_INDEX
from failover_verify._records import ParseProblem, Record, parse_hit
from failover_verify._registry import PromptRegistry
from failover_verify._report import ParseSummary, Report, SignalReport
from failover_verify._signals import Signal
from failover_verify._source import RecordsFile
from failover_verify._summary import (
    DEFAULT_MIN_BUCKET_COUNT,
    DEFAULT_MIN_COUNT,
    DEFAULT_THRESHOLD,
    Group,
    Judge,
    Tally,
    TimelineBuilder,
    check_thresholds,
)
from failover_verify._timeline import Timeline
from failover_verify._types import FEATURES, Feature
from failover_verify._verify import (
    DEFAULT_TIME_FIELD,
    check_features,
    chosen_signals,
    gateway_facts,
)
from failover_verify._window import TimeWindow, parse_duration, parse_window

__all__ = ["timeline_hits", "verify_hits"]

MAX_PARSE_EXAMPLES: Final = 10
_TIME_ATTRIBUTES: Final = {
    f.INGEST_TIME: "ingest_time",
    f.LOG_TIME: "log_time",
    f.EVENT_TIME: "event_time",
}


@dataclass(frozen=True, slots=True)
class _Row:
    moment: datetime
    # The hit, or its JSON text when read on the fast path: decoded only if shown as evidence.
    hit: Mapping[str, Any] | bytes
    record: Record


@dataclass
class _Collected:
    """Records read from hits, sorted into the signals that pick them."""

    signals: tuple[Signal, ...]
    problems: list[ParseProblem] = field(default_factory=list)
    untimed: int = 0
    rows: dict[str, list[_Row]] = field(default_factory=dict)

    def times(self) -> list[datetime]:
        return [row.moment for rows in self.rows.values() for row in rows]

    def notes(self) -> list[str]:
        if not self.untimed:
            return []
        return [f"{self.untimed} records had no value in the time field and were left out"]

    def inside(self, signal: Signal, window: TimeWindow) -> Iterable[_Row]:
        return (row for row in self.rows[signal.id] if window.start <= row.moment < window.end)

    def groups(self, signal: Signal, window: TimeWindow) -> tuple[list[Group], Tally]:
        grouped: dict[tuple[str | None, ...], Group] = {}
        samples: dict[tuple[str | None, ...], Mapping[str, Any] | bytes] = {}
        for row in self.inside(signal, window):
            values = signal.values_of(row.record)
            key = tuple(values.values())
            group = grouped.get(key)
            moment = row.moment
            if group is None:
                grouped[key] = Group(values, 1, moment, moment, None, moment)
                samples[key] = row.hit
                continue
            group.count += 1
            group.first_seen = min(group.first_seen or moment, moment)
            if group.last_seen is None or moment >= group.last_seen:
                group.last_seen = moment
                group.sample_time = moment
                samples[key] = row.hit
        for key, group in grouped.items():
            sample = samples[key]
            group.sample = json.loads(sample) if isinstance(sample, bytes) else sample
        groups = list(grouped.values())
        tally = Tally(total=sum(group.count for group in groups))
        outside = len(self.rows[signal.id]) - tally.total
        if outside:
            tally.notes.append(
                f"{outside} {signal.feature} records outside the window were left out"
            )
        return groups, tally


Hits = Iterable[Mapping[str, Any] | ParseProblem]


def _parsed(hits: Hits) -> Iterator[tuple[Record | ParseProblem, Mapping[str, Any] | bytes]]:
    """Each record or problem among the hits, with its hit."""
    if isinstance(hits, RecordsFile) and not hits.started:
        yield from hits.parsed()
        return
    for hit in hits:
        parsed = hit if isinstance(hit, ParseProblem) else parse_hit(hit)
        if parsed is not None:
            yield parsed, ({} if isinstance(hit, ParseProblem) else hit)


def _collect(hits: Hits, signals: tuple[Signal, ...], policy: Policy, attribute: str) -> _Collected:
    collected = _Collected(signals, rows={signal.id: [] for signal in signals})
    settings = [(signal, policy.settings_for(signal)) for signal in signals]
    for parsed, hit in _parsed(hits):
        if isinstance(parsed, ParseProblem):
            collected.problems.append(parsed)
            continue
        picked = [signal for signal, chosen in settings if signal.picks(parsed, chosen)]
        if not picked:
            continue
        moment = getattr(parsed, attribute)
        if moment is None:
            collected.untimed += 1
            continue
        for signal in picked:
            collected.rows[signal.id].append(_Row(moment, hit, parsed))
    return collected


def _time_attribute(time_field: str) -> str:
    attribute = _TIME_ATTRIBUTES.get(time_field)
    if attribute is None:
        raise UsageError(
            f"records read from a file can be windowed by {', '.join(_TIME_ATTRIBUTES)}, "
            f"not time_field={time_field!r}"
        )
    return attribute


def _window(
    collected: _Collected,
    since: str | datetime | None,
    until: str | datetime | None,
    now: datetime | None,
) -> TimeWindow:
    if since is not None:
        return parse_window(since, until, now=now)
    times = collected.times()
    if not times:
        raise UsageError("the records hold no timed completion or generation record; give since=")
    start = min(times)
    if until is not None:
        return parse_window(start, until, now=now)
    # The window is half-open, so end just after the last record to include it.
    return TimeWindow(
        start=start,
        end=max(times) + timedelta(milliseconds=1),
        notes=("the window is the span of the records",),
    )


def _read(
    hits: Hits,
    *,
    features: Sequence[str],
    time_field: str,
    policy: Policy,
    since: str | datetime | None,
    until: str | datetime | None,
    now: datetime | None,
) -> tuple[tuple[Signal, ...], _Collected, TimeWindow]:
    """Parse and sort records in hand, and settle the window: what both offline paths share."""
    signals = chosen_signals(check_features(features))
    collected = _collect(hits, signals, policy, _time_attribute(time_field))
    return signals, collected, _window(collected, since, until, now)


def verify_hits(
    hits: Hits,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    source: str = "records",
    index: str = DEFAULT_INDEX,
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
    gateway: GatewayFacts | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_count: int = DEFAULT_MIN_COUNT,
    kibana_url: str = DEFAULT_KIBANA_URL,
    data_view: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Verify records already in hand (exported hits), with the same parsing and policy.

    Without ``since``, the window is the span of the records' times. Unreadable hits are
    counted in ``parse_problems``; they never stop the run.
    """
    check_thresholds(threshold, min_count)
    policy = policy or Policy.default()
    signals, collected, window = _read(
        hits,
        features=features,
        time_field=time_field,
        policy=policy,
        since=since,
        until=until,
        now=now,
    )
    facts = gateway_facts(gateway, registry)
    judge = Judge(
        policy=policy,
        gateway=facts,
        threshold=threshold,
        min_count=min_count,
        kibana_url=kibana_url,
        data_view=link_target(kibana_url=kibana_url, index=index, data_view=data_view).data_view,
        index=index,
        time_field=time_field,
    )
    by_feature: dict[Feature, list[SignalReport]] = {}
    for signal in signals:
        groups, tally = collected.groups(signal, window)
        by_feature.setdefault(signal.feature, []).append(
            judge.signal_report(signal, groups, tally, window, None)
        )
    reports = {
        feature: judge.feature_report(feature, items, window)
        for feature, items in by_feature.items()
    }
    return Report(
        generated_at=datetime.now(UTC),
        source=source,
        index=index,
        time_field=time_field,
        window=window,
        threshold=threshold,
        min_count=min_count,
        policy=policy.source,
        registry=facts.description,
        requests=0,
        features=reports,
        parse_problems=ParseSummary(
            count=len(collected.problems), examples=collected.problems[:MAX_PARSE_EXAMPLES]
        ),
        notes=list(window.notes) + collected.notes(),
    )


def timeline_hits(
    hits: Hits,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    interval: str | timedelta = "1m",
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
    gateway: GatewayFacts | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_bucket_count: int = DEFAULT_MIN_BUCKET_COUNT,
    now: datetime | None = None,
) -> Timeline:
    """The same timeline as :func:`failover_verify.timeline`, from records in hand."""
    check_thresholds(threshold, DEFAULT_MIN_COUNT)
    policy = policy or Policy.default()
    signals, collected, window = _read(
        hits,
        features=features,
        time_field=time_field,
        policy=policy,
        since=since,
        until=until,
        now=now,
    )
    builder = TimelineBuilder(
        window=window,
        interval=parse_duration(interval, what="interval"),
        policy=policy,
        gateway=gateway_facts(gateway, registry),
        threshold=threshold,
        min_bucket_count=min_bucket_count,
        signals=signals,
    )
    for signal in signals:
        for row in collected.inside(signal, window):
            builder.add(signal, builder.bucket_of(row.moment), signal.values_of(row.record), 1)
    return builder.build()
