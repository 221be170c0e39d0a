"""Verification: count a window's records per feature and decide primary or failover."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import elasticsearch

from failover_verify import _fields as f
from failover_verify._es import Reader, item_error, missing_clusters
from failover_verify._exceptions import UsageError
from failover_verify._kibana import DEFAULT_KIBANA_URL, discover_url
from failover_verify._mapping import FieldPlan, plan_fields
from failover_verify._policy import FEATURES, Feature, Policy
from failover_verify._queries import (
    DEFAULT_INDEX,
    GROUP_FIELDS,
    REQUIRED_GROUP_FIELDS,
    all_field_names,
    feature_conditions,
    feature_search,
    kql,
    timeline_search,
    usable_group_fields,
)
from failover_verify._records import CompletionRecord, ParseProblem, RegistryRecord, parse_hit
from failover_verify._registry import PromptRegistry
from failover_verify._report import FeatureReport, ParseSummary, Report
from failover_verify._summary import Group, Tally, summarize
from failover_verify._timeline import Timeline, TimelineBuilder, read_timeline_page
from failover_verify._window import TimeWindow, parse_duration, parse_window

__all__ = ["DEFAULT_TIME_FIELD", "Verifier", "timeline", "timeline_hits", "verify", "verify_hits"]

DEFAULT_TIME_FIELD: Final = "@timestamp"
DEFAULT_THRESHOLD: Final = 0.95
DEFAULT_MIN_COUNT: Final = 20
DEFAULT_MIN_BUCKET_COUNT: Final = 5
MAX_PARSE_EXAMPLES: Final = 10
_OFFLINE_TIME_FIELDS: Final = {f.INGEST_TIME: "ingest_time", f.EVENT_TIME: "event_time"}
DISCOVER_COLUMNS: Final[dict[Feature, list[str]]] = {
    "completion": [f.MODEL_PROVIDER, f.MODEL_NAME, f.CORRELATION_ID],
    "generation": [f.PROMPT_ID, f.PROMPT_VERSION, f.MODEL_CLASS_PROVIDER, f.MODEL_IDENTIFIER],
}


def check_features(features: Sequence[str]) -> tuple[Feature, ...]:
    chosen: list[Feature] = []
    for name in features:
        if name not in FEATURES:
            raise UsageError(f"unknown feature {name!r}; choose from {', '.join(FEATURES)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise UsageError(f"choose at least one feature from {', '.join(FEATURES)}")
    return tuple(chosen)


def _check_thresholds(threshold: float, min_count: int) -> None:
    if not 0.5 < threshold <= 1:
        raise UsageError(f"the threshold must be above 0.5 and at most 1, not {threshold}")
    if min_count < 1:
        raise UsageError(f"the minimum count must be at least 1, not {min_count}")


def _pattern_hint(index: str) -> str:
    if "gprod" in index:
        return f"; the current runbook spells it gprd: try --index {index.replace('gprod', 'gprd')}"
    if "gprd" in index:
        return f"; older runbooks spell it gprod: try --index {index.replace('gprd', 'gprod')}"
    return ""


@dataclass(frozen=True)
class Judge:
    """Everything that turns grouped counts into a feature report, shared by both paths."""

    policy: Policy
    registry: PromptRegistry
    threshold: float
    min_count: int
    kibana_url: str
    data_view: str

    def report(
        self,
        feature: Feature,
        groups: list[Group],
        tally: Tally,
        window: TimeWindow,
        query: dict[str, Any] | None,
    ) -> FeatureReport:
        expression = kql(feature_conditions(feature, self.policy))
        return summarize(
            feature,
            groups,
            tally,
            policy=self.policy,
            registry=self.registry,
            threshold=self.threshold,
            min_count=self.min_count,
            query=query,
            kql=expression,
            kibana_url=discover_url(
                kibana_url=self.kibana_url,
                data_view=self.data_view,
                kql=expression,
                window=window,
                columns=DISCOVER_COLUMNS[feature],
            ),
        )


class Verifier:
    """Verifies windows against one cluster; keeps the field plan between calls (for watch)."""

    def __init__(
        self,
        client: elasticsearch.Elasticsearch,
        *,
        index: str = DEFAULT_INDEX,
        time_field: str = DEFAULT_TIME_FIELD,
        policy: Policy | None = None,
        registry: PromptRegistry | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        min_count: int = DEFAULT_MIN_COUNT,
        kibana_url: str = DEFAULT_KIBANA_URL,
        data_view: str | None = None,
        retries: int = 2,
    ) -> None:
        _check_thresholds(threshold, min_count)
        if not index.strip():
            raise UsageError("the index pattern is empty")
        self.reader = Reader(client, retries=retries)
        self.index = index
        self.time_field = time_field
        self.judge = Judge(
            policy=policy or Policy.default(),
            registry=registry or PromptRegistry.bundled(),
            threshold=threshold,
            min_count=min_count,
            kibana_url=kibana_url,
            data_view=data_view or index,
        )
        self._plan: FieldPlan | None = None

    def field_plan(self, *, refresh: bool = False) -> FieldPlan:
        """Which fields to use, from the field-capabilities API (one request, then cached)."""
        if self._plan is None or refresh:
            response = self.reader.field_caps(self.index, [self.time_field, *all_field_names()])
            self._plan = plan_fields(
                response, index=self.index, time_field=self.time_field, names=all_field_names()
            )
        return self._plan

    def verify(
        self, window: TimeWindow, features: Sequence[str] = FEATURES, *, refresh_plan: bool = False
    ) -> Report:
        chosen = check_features(features)
        requests_before = self.reader.requests
        plan = self.field_plan(refresh=refresh_plan or self._plan_is_empty())
        blockers, notes = self.preflight(plan, chosen)
        runnable = [feature for feature in chosen if not blockers[feature]]
        policy = self.judge.policy
        searches = {feature: feature_search(feature, plan, window, policy) for feature in chosen}
        bodies = {feature: searches[feature].to_dict() for feature in chosen}
        responses: dict[Feature, dict[str, Any]] = {}
        if runnable:
            items = self.reader.msearch(self.index, [bodies[feature] for feature in runnable])
            responses = dict(zip(runnable, items, strict=True))
        reports = {}
        for feature in chosen:
            groups, tally = _read_response(responses.get(feature), feature)
            tally.blockers = blockers[feature] + tally.blockers
            tally.notes = notes[feature] + tally.notes
            reports[feature] = self.judge.report(feature, groups, tally, window, bodies[feature])
        return Report(
            generated_at=datetime.now(UTC),
            source=f"elasticsearch {self.reader.target}",
            index=self.index,
            time_field=self.time_field,
            window=window,
            threshold=self.judge.threshold,
            min_count=self.judge.min_count,
            policy=policy.source,
            registry=self.judge.registry.description,
            requests=self.reader.requests - requests_before,
            features=reports,
            notes=list(window.notes),
        )

    def timeline(
        self,
        window: TimeWindow,
        *,
        interval: str | timedelta = "1m",
        features: Sequence[str] = FEATURES,
        min_bucket_count: int = DEFAULT_MIN_BUCKET_COUNT,
    ) -> Timeline:
        """Counts per time bucket, role and provider, with the switch points detected."""
        chosen = check_features(features)
        builder = self._timeline_builder(window, interval, chosen, min_bucket_count)
        requests_before = self.reader.requests
        plan = self.field_plan(refresh=self._plan_is_empty())
        blockers, _ = self.preflight(plan, chosen)
        for feature in chosen:
            if blockers[feature]:
                builder.complete = False
                builder.problems.extend(f"{feature}: {problem}" for problem in blockers[feature])
                continue
            after: dict[str, Any] | None = None
            while True:
                search = timeline_search(
                    feature,
                    plan,
                    window,
                    self.judge.policy,
                    interval_seconds=builder.interval_seconds,
                    after=after,
                )
                response = self.reader.search(self.index, search.to_dict())
                after = read_timeline_page(builder, feature, response)
                if after is None:
                    break
        return builder.build(requests=self.reader.requests - requests_before)

    def _timeline_builder(
        self,
        window: TimeWindow,
        interval: str | timedelta,
        features: Sequence[Feature],
        min_bucket_count: int,
    ) -> TimelineBuilder:
        return TimelineBuilder(
            window=window,
            interval=parse_duration(interval, what="interval"),
            policy=self.judge.policy,
            registry=self.judge.registry,
            threshold=self.judge.threshold,
            min_bucket_count=min_bucket_count,
            features=features,
        )

    def _plan_is_empty(self) -> bool:
        # A pattern that matched nothing may match by now (new daily index): ask again.
        return self._plan is not None and not self._plan.indices

    def preflight(
        self, plan: FieldPlan, features: Sequence[Feature]
    ) -> tuple[dict[Feature, list[str]], dict[Feature, list[str]]]:
        shared: list[str] = []
        if not plan.indices:
            shared.append(
                f"the index pattern {self.index!r} matches no index{_pattern_hint(self.index)}"
            )
        else:
            if plan.time_problem:
                shared.append(plan.time_problem)
            message = plan.choice(f.MESSAGE)
            if not message.mapped:
                shared.append(
                    f"{f.MESSAGE} is not mapped in any index matching {self.index!r}; "
                    f"these are not AI gateway logs{_pattern_hint(self.index)}"
                )
        blockers: dict[Feature, list[str]] = {}
        notes: dict[Feature, list[str]] = {}
        for feature in features:
            blockers[feature] = list(shared)
            notes[feature] = []
            if shared:
                continue
            if plan.choice(f.MESSAGE).exact_field is None:
                notes[feature].append(
                    f"{f.MESSAGE} has no keyword form; records are matched by phrase, "
                    "which can include longer messages that contain it"
                )
            usable = usable_group_fields(feature, plan)
            for name, field in GROUP_FIELDS[feature].items():
                choice = plan.choice(field)
                if name in usable:
                    if not choice.mapped and name in REQUIRED_GROUP_FIELDS[feature]:
                        notes[feature].append(
                            f"{field} is not mapped in any matching index, so every record "
                            "counts as having none"
                        )
                    continue
                problem = choice.problem or f"{field} cannot be counted"
                if name in REQUIRED_GROUP_FIELDS[feature]:
                    blockers[feature].append(problem)
                else:
                    notes[feature].append(f"{problem} (not broken down by it)")
        return blockers, notes


def _read_response(
    response: Mapping[str, Any] | None, feature: Feature
) -> tuple[list[Group], Tally]:
    if response is None:
        return [], Tally(total=0, complete=False)
    error = item_error(response)
    if error is not None:
        return [], Tally(
            total=0,
            complete=False,
            blockers=[f"Elasticsearch refused the {feature} search: {error}"],
        )
    shards = response.get("_shards") or {}
    failures = shards.get("failures") or []
    failed_indices = sorted({str(item.get("index")) for item in failures if item.get("index")})
    tally = Tally(total=int(((response.get("hits") or {}).get("total") or {}).get("value", 0)))
    if response.get("timed_out"):
        tally.complete = False
        tally.blockers.append("the search timed out on the server; the counts are partial")
    if int(shards.get("failed", 0)):
        tally.complete = False
        reasons = sorted({_failure_reason(item) for item in failures})
        where = f" in {_failed_shards(failures)}" if failed_indices else ""
        tally.blockers.append(
            f"{shards.get('failed')} of {shards.get('total')} shards failed{where}: "
            + "; ".join(reasons)
        )
    clusters = missing_clusters(response)
    if clusters is not None:
        tally.complete = False
        tally.blockers.append(f"{clusters}; the counts lack their records")
    tally.failed_indices = failed_indices
    buckets = (((response.get("aggregations") or {}).get("groups") or {}).get("buckets")) or []
    names = list(GROUP_FIELDS[feature])
    groups = [_group_from_bucket(bucket, names) for bucket in buckets]
    return groups, tally


def _failure_reason(failure: Mapping[str, Any]) -> str:
    reason = failure.get("reason") or {}
    if isinstance(reason, Mapping):
        # A shard lost with its node fails with a type and no reason at all.
        detail = reason.get("reason")
        kind = str(reason.get("type", "error"))
        return f"{kind}: {str(detail)[:200]}" if detail else kind
    return str(reason)[:200]


def _failed_shards(failures: Iterable[Mapping[str, Any]]) -> str:
    """``index (shard 1, 2)`` for each index with failed shards, as the failures name them."""
    shards: dict[str, set[str]] = {}
    for item in failures:
        if item.get("index"):
            numbers = shards.setdefault(str(item["index"]), set())
            if item.get("shard") is not None:
                numbers.add(str(item["shard"]))
    return ", ".join(
        f"{index} (shard {', '.join(sorted(numbers, key=lambda n: (len(n), n)))})"
        if numbers
        else index
        for index, numbers in sorted(shards.items())
    )


def _group_from_bucket(bucket: Mapping[str, Any], names: list[str]) -> Group:
    key = bucket.get("key") or {}
    values = {name: (None if key.get(name) is None else str(key.get(name))) for name in names}
    hits = ((bucket.get("latest") or {}).get("hits") or {}).get("hits") or []
    seen = bucket.get("seen") or {}
    last_seen = _epoch_ms(seen.get("max"))
    return Group(
        values=values,
        count=int(bucket.get("doc_count", 0)),
        first_seen=_epoch_ms(seen.get("min")),
        last_seen=last_seen,
        sample=hits[0] if hits else None,
        sample_time=last_seen,
    )


def _epoch_ms(value: object) -> datetime | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def verify(
    client: elasticsearch.Elasticsearch,
    *,
    since: str | datetime,
    until: str | datetime | None = None,
    index: str = DEFAULT_INDEX,
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_count: int = DEFAULT_MIN_COUNT,
    kibana_url: str = DEFAULT_KIBANA_URL,
    data_view: str | None = None,
    retries: int = 2,
    now: datetime | None = None,
) -> Report:
    """Verify which provider served Code Suggestions in a window.

    ``since``/``until`` take the CLI's strings (``"15m"``, ``"now-2h"``, ISO 8601) or
    datetimes. Two requests are sent whatever the number of records: one for the field
    mappings and one ``msearch`` whose aggregations count every feature at once.
    """
    window = parse_window(since, until, now=now)
    verifier = Verifier(
        client,
        index=index,
        time_field=time_field,
        policy=policy,
        registry=registry,
        threshold=threshold,
        min_count=min_count,
        kibana_url=kibana_url,
        data_view=data_view,
        retries=retries,
    )
    return verifier.verify(window, features)


def verify_hits(
    hits: Iterable[Mapping[str, Any] | ParseProblem],
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    source: str = "records",
    index: str = DEFAULT_INDEX,
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
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
    _check_thresholds(threshold, min_count)
    chosen, policy, collected, window = _read_offline(
        hits,
        features=features,
        time_field=time_field,
        policy=policy,
        since=since,
        until=until,
        now=now,
    )
    registry = registry or PromptRegistry.bundled()
    judge = Judge(
        policy=policy,
        registry=registry,
        threshold=threshold,
        min_count=min_count,
        kibana_url=kibana_url,
        data_view=data_view or index,
    )
    reports = {}
    for feature in chosen:
        groups, tally = collected.groups(feature, window)
        reports[feature] = judge.report(feature, groups, tally, window, None)
    return Report(
        generated_at=datetime.now(UTC),
        source=source,
        index=index,
        time_field=time_field,
        window=window,
        threshold=threshold,
        min_count=min_count,
        policy=policy.source,
        registry=registry.description,
        requests=0,
        features=reports,
        parse_problems=ParseSummary(
            count=len(collected.problems), examples=collected.problems[:MAX_PARSE_EXAMPLES]
        ),
        notes=list(window.notes) + collected.notes(),
    )


def _read_offline(
    hits: Iterable[Mapping[str, Any] | ParseProblem],
    *,
    features: Sequence[str],
    time_field: str,
    policy: Policy | None,
    since: str | datetime | None,
    until: str | datetime | None,
    now: datetime | None,
) -> tuple[tuple[Feature, ...], Policy, _Collected, TimeWindow]:
    """Parse and sort records in hand, and settle the window: what both offline paths share."""
    chosen = check_features(features)
    attribute = _offline_time_attribute(time_field)
    policy = policy or Policy.default()
    collected = _collect(hits, policy, attribute)
    return chosen, policy, collected, _offline_window(collected, since, until, now)


def _offline_time_attribute(time_field: str) -> str:
    attribute = _OFFLINE_TIME_FIELDS.get(time_field)
    if attribute is None:
        raise UsageError(
            f"records read from a file can be windowed by {' or '.join(_OFFLINE_TIME_FIELDS)}, "
            f"not {time_field}"
        )
    return attribute


class _Collected:
    """Records read from hits, grouped the way the aggregation groups them."""

    def __init__(self) -> None:
        self.problems: list[ParseProblem] = []
        self.untimed = 0
        self.records: dict[
            Feature, list[tuple[datetime, Mapping[str, Any], CompletionRecord | RegistryRecord]]
        ] = {
            "completion": [],
            "generation": [],
        }

    def times(self) -> list[datetime]:
        return [moment for rows in self.records.values() for moment, _, _ in rows]

    def notes(self) -> list[str]:
        if not self.untimed:
            return []
        return [f"{self.untimed} records had no value in the time field and were left out"]

    def groups(self, feature: Feature, window: TimeWindow) -> tuple[list[Group], Tally]:
        grouped: dict[tuple[str | None, ...], Group] = {}
        names = list(GROUP_FIELDS[feature])
        outside = 0
        for moment, hit, record in self.records[feature]:
            if not window.start <= moment < window.end:
                outside += 1
                continue
            values = {name: getattr(record, name) for name in names}
            key = tuple(values.values())
            group = grouped.get(key)
            if group is None:
                grouped[key] = Group(values, 1, moment, moment, hit, moment)
                continue
            group.count += 1
            group.first_seen = min(group.first_seen or moment, moment)
            if group.last_seen is None or moment >= group.last_seen:
                group.last_seen = moment
                group.sample, group.sample_time = hit, moment
        groups = list(grouped.values())
        tally = Tally(total=sum(group.count for group in groups))
        if outside:
            tally.notes.append(f"{outside} {feature} records outside the window were left out")
        return groups, tally


def _collect(
    hits: Iterable[Mapping[str, Any] | ParseProblem], policy: Policy, attribute: str
) -> _Collected:
    collected = _Collected()
    for hit in hits:
        if isinstance(hit, ParseProblem):
            collected.problems.append(hit)
            continue
        parsed = parse_hit(hit)
        if parsed is None:
            continue
        if isinstance(parsed, ParseProblem):
            collected.problems.append(parsed)
            continue
        if isinstance(parsed, RegistryRecord):
            if not policy.is_generation_prompt(parsed.prompt_id):
                continue
            feature: Feature = "generation"
        else:
            feature = "completion"
        moment = getattr(parsed, attribute)
        if moment is None:
            collected.untimed += 1
            continue
        collected.records[feature].append((moment, hit, parsed))
    return collected


def _offline_window(
    collected: _Collected,
    since: str | datetime | None,
    until: str | datetime | None,
    now: datetime | None,
) -> TimeWindow:
    if since is not None:
        return parse_window(since, until, now=now)
    times = collected.times()
    if not times:
        raise UsageError("the records hold no timed completion or generation record; give --since")
    start = min(times)
    end = max(times)
    if until is not None:
        return parse_window(start, until, now=now)
    # The window is half-open, so end just after the last record to include it.
    return TimeWindow(
        start=start,
        end=end + timedelta(milliseconds=1),
        notes=("the window is the span of the records",),
    )


def timeline(
    client: elasticsearch.Elasticsearch,
    *,
    since: str | datetime,
    until: str | datetime | None = None,
    interval: str | timedelta = "1m",
    index: str = DEFAULT_INDEX,
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_bucket_count: int = DEFAULT_MIN_BUCKET_COUNT,
    retries: int = 2,
    now: datetime | None = None,
) -> Timeline:
    """Counts per ``interval`` bucket, by role and provider, for each feature in a window."""
    verifier = Verifier(
        client,
        index=index,
        time_field=time_field,
        policy=policy,
        registry=registry,
        threshold=threshold,
        retries=retries,
    )
    window = parse_window(since, until, now=now)
    return verifier.timeline(
        window, interval=interval, features=features, min_bucket_count=min_bucket_count
    )


def timeline_hits(
    hits: Iterable[Mapping[str, Any] | ParseProblem],
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    interval: str | timedelta = "1m",
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    min_bucket_count: int = DEFAULT_MIN_BUCKET_COUNT,
    now: datetime | None = None,
) -> Timeline:
    """The same timeline from records in hand (for example the bundled fixtures)."""
    _check_thresholds(threshold, DEFAULT_MIN_COUNT)
    chosen, policy, collected, window = _read_offline(
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
        registry=registry or PromptRegistry.bundled(),
        threshold=threshold,
        min_bucket_count=min_bucket_count,
        features=chosen,
    )
    for feature in chosen:
        names = list(GROUP_FIELDS[feature])
        for moment, _hit, record in collected.records[feature]:
            if window.start <= moment < window.end:
                values = {name: getattr(record, name) for name in names}
                builder.add(feature, builder.bucket_of(moment), values, 1)
    return builder.build()
