"""From grouped counts to reports and timelines: classification, tallies, evidence, verdicts.

Both ways of reading records end here: Elasticsearch aggregation buckets (the normal way)
and records read one by one from an exported file. Each yields :class:`Group` values (or
per-bucket counts), so both apply exactly the same policy and verdict rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from failover_verify import _fields as f
from failover_verify._exceptions import UsageError
from failover_verify._gateway import GatewayFacts
from failover_verify._kibana import discover_url
from failover_verify._policy import Policy
from failover_verify._queries import DEFAULT_INDEX, esql, evidence_fields, kql
from failover_verify._registry import Resolution
from failover_verify._report import (
    Breakdown,
    ErrorCount,
    Evidence,
    FeatureReport,
    RoleSpan,
    SignalReport,
    Standing,
)
from failover_verify._signals import Knowledge, Signal, signals_for
from failover_verify._timeline import Switch, Timeline, TimelinePoint
from failover_verify._types import (
    DEFINITE_VERDICTS,
    NONE_KEY,
    Feature,
    Role,
    RoleName,
    State,
    Verdict,
)
from failover_verify._window import TimeWindow

__all__ = [
    "DEFAULT_MIN_BUCKET_COUNT",
    "DEFAULT_MIN_COUNT",
    "DEFAULT_THRESHOLD",
    "Group",
    "Judge",
    "Tally",
    "TimelineBuilder",
    "check_thresholds",
    "combine",
    "decide",
]

DEFAULT_THRESHOLD: Final = 0.95
DEFAULT_MIN_COUNT: Final = 20
DEFAULT_MIN_BUCKET_COUNT: Final = 5
SAMPLES_PER_ROLE: Final = 3
MAX_BUCKETS: Final = 10_000


def check_thresholds(threshold: float, min_count: int) -> None:
    """Refuse a threshold or minimum count that would let a verdict mean nothing."""
    if not 0.5 < threshold <= 1:
        raise UsageError(f"threshold= must be above 0.5 and at most 1, not {threshold}")
    if min_count < 1:
        raise UsageError(f"the minimum count (min_count=) must be at least 1, not {min_count}")


@dataclass
class Group:
    """Records of one signal that share their grouped field values."""

    values: dict[str, str | None]
    count: int
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample: Mapping[str, Any] | None = None
    sample_time: datetime | None = None


@dataclass
class Tally:
    """What summarizing needs besides the groups: totals and the state of the request."""

    total: int
    complete: bool = True
    failed_indices: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Classification:
    """How the policy sees one combination of grouped field values."""

    role: RoleName
    rule: str
    provider: str
    model: str
    resolution: Resolution | None
    indistinct: bool = False


def classify(
    signal: Signal,
    values: Mapping[str, str | None],
    policy: Policy,
    gateway: GatewayFacts,
    at: datetime | None,
) -> Classification:
    knowledge = Knowledge(gateway, policy.settings_for(signal))
    facts = signal.facts(values, knowledge, at)
    rule = policy.classify(signal.feature, facts.conditions)
    if rule is None:
        why = "no policy rule matches"
        if facts.why_unmatched:
            why = f"{why}; {facts.why_unmatched}"
        return Classification(
            "unclassified", why, facts.provider, facts.model, facts.resolution, facts.indistinct
        )
    return Classification(
        rule.role, rule.note or rule.describe(), facts.provider, facts.model, facts.resolution
    )


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


@dataclass(frozen=True)
class _Classified:
    group: Group
    found: Classification


@dataclass(frozen=True)
class Judge:
    """Everything that turns each signal's grouped counts into reports, and those into verdicts."""

    policy: Policy
    gateway: GatewayFacts
    threshold: float
    min_count: int
    kibana_url: str
    data_view: str | None
    """The data view links open; None: the links use ES|QL over ``index``."""
    index: str = DEFAULT_INDEX
    time_field: str = "@timestamp"

    def kql(self, signal: Signal) -> str:
        return kql(signal.conditions(self.policy.settings_for(signal)))

    def discover_url(self, signal: Signal, window: TimeWindow) -> str:
        conditions = signal.conditions(self.policy.settings_for(signal))
        return discover_url(
            kibana_url=self.kibana_url,
            data_view=self.data_view,
            kql=kql(conditions),
            esql=""
            if self.data_view
            else esql(conditions, index=self.index, time_field=self.time_field, window=window),
            window=window,
            columns=signal.discover_columns,
        )

    def signal_report(
        self,
        signal: Signal,
        groups: Iterable[Group],
        tally: Tally,
        window: TimeWindow,
        query: dict[str, Any] | None,
    ) -> SignalReport:
        """One signal's records, classified and counted on their own."""
        classified = [
            _Classified(
                group,
                classify(
                    signal,
                    group.values,
                    self.policy,
                    self.gateway,
                    group.last_seen or window.end,
                ),
            )
            for group in groups
        ]
        counts: Counter[RoleName] = Counter()
        by_provider: Counter[str] = Counter()
        by_model: Counter[str] = Counter()
        extra: dict[str, Counter[str]] = {name: Counter() for name in signal.counted_by}
        spans: dict[RoleName, RoleSpan] = {}
        indistinct = 0
        for item in classified:
            group = item.group
            counts[item.found.role] += group.count
            by_provider[item.found.provider] += group.count
            by_model[item.found.model] += group.count
            indistinct += group.count if item.found.indistinct else 0
            for name, source in signal.counted_by.items():
                extra[name][group.values.get(source) or NONE_KEY] += group.count
            span = spans.get(item.found.role, RoleSpan())
            spans[item.found.role] = RoleSpan(
                first=earliest(span.first, group.first_seen),
                last=latest(span.last, group.last_seen),
            )
        notes = list(tally.notes)
        grouped = sum(counts.values())
        if grouped < tally.total:
            # Buckets are capped; records past the cap cannot be classified, so say so.
            missing = tally.total - grouped
            counts["unclassified"] += missing
            notes.append(f"{missing} records were not broken down (too many distinct field values)")
        verdict, reason = decide(
            total=tally.total,
            primary=counts["primary"],
            failover=counts["failover"],
            unclassified=counts["unclassified"],
            complete=tally.complete,
            blockers=tally.blockers,
            threshold=self.threshold,
            min_count=self.min_count,
        )
        standing = _standing(verdict, tally, counts, indistinct, self.min_count)
        if standing == "indistinct":
            reason = next(item.found.rule for item in classified if item.found.indistinct)
        ordered = sorted(classified, key=lambda item: (-item.group.count, str(item.group.values)))
        return SignalReport(
            signal=signal.key,
            title=signal.title,
            standing=standing,
            verdict=verdict,
            reason=reason,
            total=tally.total,
            primary=counts["primary"],
            failover=counts["failover"],
            unclassified=counts["unclassified"],
            failover_share=share(counts["failover"], tally.total),
            primary_share=share(counts["primary"], tally.total),
            by_provider=dict(by_provider.most_common()),
            by_model=dict(by_model.most_common()),
            by_prompt_version=dict(extra.get("by_prompt_version", Counter()).most_common()),
            errors_by_model=_errors_by_model(signal, ordered),
            seen=spans,
            complete=tally.complete,
            failed_indices=tally.failed_indices,
            problems=tally.blockers,
            notes=notes,
            breakdown=[
                Breakdown(
                    values=item.group.values,
                    count=item.group.count,
                    role=item.found.role,
                    rule=item.found.rule,
                    first_seen=item.group.first_seen,
                    last_seen=item.group.last_seen,
                    resolution=item.found.resolution,
                )
                for item in ordered
            ],
            samples=_samples(signal, ordered),
            resolutions=_distinct_resolutions(ordered),
            query=query,
            kql=self.kql(signal),
            kibana_url=self.discover_url(signal, window),
        )

    def feature_report(
        self, feature: Feature, reports: Sequence[SignalReport], window: TimeWindow
    ) -> FeatureReport:
        """Combine a feature's signals (strongest first) into one verdict, counting no request
        twice: the strongest signal that can tell decides, and the others must not contradict
        it."""
        verdict, reason, decider, agreement = combine(reports)
        shown = decider or next((item for item in reports if item.total), reports[0])
        notes = self.same_model_notes(feature, window)
        errors = next((item.errors_by_model for item in reports if item.errors_by_model), {})
        fields = shown.model_dump(
            exclude={
                "signal",
                "title",
                "standing",
                "verdict",
                "reason",
                "notes",
                "problems",
                "complete",
                "failed_indices",
                "errors_by_model",
            }
        )
        # Whatever kept any signal from being read in full concerns the feature.
        problems = list(dict.fromkeys(problem for item in reports for problem in item.problems))
        failed = sorted({index for item in reports for index in item.failed_indices})
        return FeatureReport(
            feature=feature,
            verdict=verdict,
            reason=reason,
            decided_by=decider.signal if decider else None,
            agreement=agreement,
            signals={item.signal: item for item in reports},
            notes=list(dict.fromkeys([*shown.notes, *notes])),
            problems=problems,
            complete=all(item.complete for item in reports),
            failed_indices=failed,
            errors_by_model=errors,
            **fields,
        )

    def same_model_notes(self, feature: Feature, window: TimeWindow) -> list[str]:
        """Say when, in the facts at the window's end, failover and primary share a provider."""
        notes = []
        for signal in signals_for(feature):
            settings = self.policy.settings_for(signal)
            if "versions" not in signal.settings or not signal.counted_by:
                continue
            sides: dict[RoleName, tuple[str, Resolution]] = {}
            for version in settings["versions"]:
                values = {"prompt_id": settings["prompt_ids"][0], "prompt_version": version}
                found = classify(signal, values, self.policy, self.gateway, window.end)
                if found.resolution is not None and found.role not in sides:
                    sides[found.role] = (version, found.resolution)
            if "failover" not in sides or "primary" not in sides:
                continue
            (up, failover), (down, primary) = sides["failover"], sides["primary"]
            if not failover.provider or failover.provider != primary.provider:
                continue
            era = failover.era or "the bundled facts"
            how = (
                f"{up} -> {failover.model} and {down} -> {primary.model} both run on "
                f"{failover.provider}"
            )
            if failover.model == primary.model:
                notes.append(
                    f"in {era}, the {feature} failover changes neither the provider nor the "
                    f"model: {how}; served records cannot tell the sides apart"
                )
            else:
                notes.append(
                    f"in {era}, the {feature} failover does not move traffic off "
                    f"{failover.provider}: {how}; it changes the model only"
                )
        return notes


def combine(
    reports: Sequence[SignalReport],
) -> tuple[Verdict, str, SignalReport | None, Literal["single", "agree", "disagree", "none"]]:
    """The feature's verdict from its signals, strongest first.

    A partial answer from any signal makes the feature inconclusive. Otherwise the strongest
    signal with a definite verdict decides, unless a stronger signal had records that match
    no policy rule (which could be the traffic in question) or a weaker one contradicts it.
    Signals with no records, too few, or whose roles cannot be told apart in their era are
    passed over, and the notes say so.
    """
    partial = [item for item in reports if item.standing == "partial"]
    if partial:
        # A problem every signal shares (a pattern matching nothing) is said once, plainly.
        if len({item.reason for item in reports}) == 1 and len(partial) == len(reports):
            return "inconclusive", partial[0].reason, None, "none"
        return "inconclusive", f"{partial[0].signal} records: {partial[0].reason}", None, "none"
    definite = [item for item in reports if item.definite]
    if not definite:
        undecided = [item for item in reports if item.standing != "no_data"]
        if not undecided:
            return "no_data", "no matching records in the window", None, "none"
        first = min(undecided, key=lambda item: _PASSED_OVER.index(item.standing))
        return "inconclusive", f"{first.signal} records: {first.reason}", None, "none"
    decider = definite[0]
    for item in reports[: reports.index(decider)]:
        if item.standing == "unmatched":
            why = (
                f"{item.signal} records: {item.reason}; the {decider.signal} records alone "
                "cannot settle it"
            )
            return "inconclusive", why, None, "none"
    others = [item for item in definite[1:] if item.verdict != decider.verdict]
    if others:
        views = "; ".join(
            f"{item.signal} says {item.verdict} ({item.reason})" for item in [decider, *others]
        )
        return "inconclusive", f"the signals disagree: {views}", None, "disagree"
    agreement: Literal["single", "agree"] = "agree" if len(definite) > 1 else "single"
    backed = [item.signal for item in definite[1:]]
    also = f"; {' and '.join(backed)} records agree" if backed else ""
    return decider.verdict, f"{decider.signal} records: {decider.reason}{also}", decider, agreement


# Which undecided signal explains a feature that no signal could decide, most telling first.
_PASSED_OVER: Final = ("unmatched", "too_few", "indistinct", "definite", "no_data", "partial")


def _standing(
    verdict: Verdict, tally: Tally, counts: Counter[RoleName], indistinct: int, min_count: int
) -> Standing:
    if tally.blockers or not tally.complete:
        return "partial"
    if verdict in DEFINITE_VERDICTS:
        return "definite"
    if tally.total == 0:
        return "no_data"
    if tally.total < min_count:
        return "too_few"
    if indistinct and indistinct >= counts["unclassified"]:
        return "indistinct"
    return "unmatched"


def _errors_by_model(signal: Signal, ordered: list[_Classified]) -> dict[str, ErrorCount]:
    if signal.error_field is None:
        return {}
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for item in ordered:
        model = item.group.values.get("model_name") or item.found.model
        calls[model] += item.group.count
        if item.group.values.get(signal.error_field) == "yes":
            errors[model] += item.group.count
    return {
        model: ErrorCount(
            calls=count, errors=errors[model], error_share=share(errors[model], count)
        )
        for model, count in calls.most_common()
    }


def _samples(signal: Signal, ordered: list[_Classified]) -> list[Evidence]:
    taken: Counter[RoleName] = Counter()
    samples = []
    for item in ordered:
        hit = item.group.sample
        if hit is None or taken[item.found.role] >= SAMPLES_PER_ROLE:
            continue
        taken[item.found.role] += 1
        samples.append(_evidence(signal, hit, item.found.role, item.group.sample_time))
    return samples


def _evidence(
    signal: Signal, hit: Mapping[str, Any], role: RoleName, time: datetime | None
) -> Evidence:
    try:
        # A field given twice with different values is left out of the evidence.
        flat = f.flatten_hit(hit, conflicts=set())
    except f.FieldConflictError:
        flat = {}
    fields: dict[str, str | int | float | bool | None] = {}
    for path in evidence_fields(signal):
        if path in flat:
            value = flat[path]
            fields[path] = (
                value
                if isinstance(value, str | int | float | bool) or value is None
                else str(value)
            )
    index, doc_id = hit.get("_index"), hit.get("_id")
    return Evidence(
        index=index if isinstance(index, str) else None,
        id=doc_id if isinstance(doc_id, str) else None,
        time=time,
        role=role,
        fields=fields,
    )


def _distinct_resolutions(ordered: list[_Classified]) -> list[Resolution]:
    seen: dict[tuple[str | None, ...], Resolution] = {}
    for item in ordered:
        resolution = item.found.resolution
        if resolution is None:
            continue
        key = (
            resolution.prompt_id,
            resolution.requested_version,
            resolution.provider,
            resolution.model,
            resolution.source,
        )
        seen.setdefault(key, resolution)
    return list(seen.values())


@dataclass
class _Bucket:
    roles: Counter[RoleName] = field(default_factory=Counter)
    providers: Counter[str] = field(default_factory=Counter)
    errors: int = 0


@dataclass
class TimelineBuilder:
    """Accumulates (signal, bucket start, grouped values, count) rows into a :class:`Timeline`.

    Each feature's points come from its strongest signal with records in the window (so no
    request is counted twice); calls and errors come from its signal that records errors.
    """

    window: TimeWindow
    interval: timedelta
    policy: Policy
    gateway: GatewayFacts
    threshold: float
    min_bucket_count: int
    signals: Sequence[Signal]
    _buckets: dict[str, dict[datetime, _Bucket]] = field(default_factory=dict)
    _cache: dict[tuple[str, datetime, tuple[str | None, ...]], Classification] = field(
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
        self._buckets = {signal.id: {} for signal in self.signals}

    @property
    def interval_seconds(self) -> int:
        return int(self.interval.total_seconds())

    def bucket_of(self, moment: datetime) -> datetime:
        # Elasticsearch aligns fixed intervals to the epoch; so do we, for identical buckets.
        epoch = int(moment.timestamp()) // self.interval_seconds * self.interval_seconds
        return datetime.fromtimestamp(epoch, UTC)

    def add(
        self, signal: Signal, start: datetime, values: Mapping[str, str | None], count: int
    ) -> None:
        key = (signal.id, start, tuple(values.values()))
        found = self._cache.get(key)
        if found is None:
            found = classify(signal, values, self.policy, self.gateway, start)
            self._cache[key] = found
        bucket = self._buckets[signal.id].setdefault(start, _Bucket())
        bucket.roles[found.role] += count
        bucket.providers[found.provider] += count
        if signal.error_field is not None and values.get(signal.error_field) == "yes":
            bucket.errors += count

    def fail(self, problem: str) -> None:
        """Mark the timeline incomplete, with the reason."""
        self.complete = False
        self.problems.append(problem)

    def build(self, requests: int = 0) -> Timeline:
        features: dict[Feature, list[TimelinePoint]] = {}
        chosen: dict[Feature, str] = {}
        for signal in self.signals:
            if signal.feature in chosen:
                continue
            rest = [item for item in self.signals if item.feature == signal.feature]
            used = next((item for item in rest if self._buckets[item.id]), rest[-1])
            served = next(
                (item for item in rest if item.error_field and self._buckets[item.id]), None
            )
            chosen[signal.feature] = used.key
            features[signal.feature] = self._points(used, served)
        return Timeline(
            window=self.window,
            interval_seconds=self.interval_seconds,
            threshold=self.threshold,
            min_bucket_count=self.min_bucket_count,
            features=features,
            signals=chosen,
            switches=[
                switch
                for feature, points in features.items()
                for switch in _switches(feature, points)
            ],
            complete=self.complete,
            problems=self.problems,
            requests=requests,
        )

    def _points(self, signal: Signal, served: Signal | None) -> list[TimelinePoint]:
        points = []
        start = self.bucket_of(self.window.start)
        buckets = self._buckets[signal.id]
        calls = self._buckets[served.id] if served is not None else None
        while start < self.window.end:
            bucket = buckets.get(start, _Bucket())
            total = sum(bucket.roles.values())
            primary, failover = bucket.roles["primary"], bucket.roles["failover"]
            served_calls = served_errors = None
            if calls is not None:
                other = calls.get(start, _Bucket())
                served_calls, served_errors = sum(other.roles.values()), other.errors
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
                    calls=served_calls,
                    errors=served_errors,
                    error_share=share(served_errors or 0, served_calls or 0)
                    if served_calls
                    else None,
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
    settled: Role | None = None
    for point in points:
        if point.state not in ("primary", "failover"):
            continue
        state: Role = point.state
        if settled is not None and state != settled:
            switches.append(
                Switch(feature=feature, at=point.start, from_role=settled, to_role=state)
            )
        settled = state
    return switches
