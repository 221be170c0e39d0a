"""Verification against a cluster: count a window's records per signal and decide per feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import elasticsearch

from failover_verify import _fields as f
from failover_verify._answers import groups_of, read_answer, scan_composite, tally_of, timeline_rows
from failover_verify._es import Reader
from failover_verify._exceptions import AccessDenied, UsageError
from failover_verify._gateway import GatewayFacts
from failover_verify._ingest import (
    SETTLED_AFTER,
    IngestDelay,
    assumed_delay,
    latest,
    local_targets,
    read_refresh_intervals,
    searchable_window,
)
from failover_verify._kibana import DEFAULT_KIBANA_URL, link_target
from failover_verify._mapping import FieldPlan, plan_fields
from failover_verify._policy import Policy
from failover_verify._queries import (
    DEFAULT_INDEX,
    TIMELINE_PAGE_SIZE,
    all_field_names,
    signal_search,
    timeline_search,
    usable_group_fields,
)
from failover_verify._registry import PromptRegistry
from failover_verify._report import Report, SignalReport
from failover_verify._signals import SIGNALS, Signal
from failover_verify._slices import SliceCache, count_with_slices
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
from failover_verify._window import TimeWindow, parse_duration, parse_window

__all__ = [
    "DEFAULT_TIME_FIELD",
    "Since",
    "Verifier",
    "check_features",
    "chosen_signals",
    "gateway_facts",
    "timeline",
    "verify",
    "window_of",
]

DEFAULT_TIME_FIELD: Final = "@timestamp"
Since = str | datetime | TimeWindow


def check_features(features: Sequence[str]) -> tuple[Feature, ...]:
    """The features asked for, in order and without repeats; refuses unknown names."""
    chosen: list[Feature] = []
    for name in features:
        if name not in FEATURES:
            raise UsageError(
                f"unknown feature {name!r} in features=; choose from {', '.join(FEATURES)}"
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise UsageError(f"features= is empty; choose at least one of {', '.join(FEATURES)}")
    return tuple(chosen)


def chosen_signals(features: Sequence[Feature]) -> tuple[Signal, ...]:
    return tuple(signal for signal in SIGNALS if signal.feature in features)


def gateway_facts(gateway: GatewayFacts | None, registry: PromptRegistry | None) -> GatewayFacts:
    """The facts to judge by: those given, else the bundled ones over ``registry``'s
    definitions (the bundled snapshot when none)."""
    if gateway is not None:
        return gateway
    return GatewayFacts.bundled(definitions=registry or PromptRegistry.bundled())


def _pattern_hint(index: str) -> str:
    if "gprod" in index and "gprd" in index:
        return ""
    if "gprod" in index:
        return f"; the current runbook spells it gprd: try index={index.replace('gprod', 'gprd')!r}"
    if "gprd" in index:
        return f"; older runbooks spell it gprod: try index={index.replace('gprd', 'gprod')!r}"
    return ""


def window_of(since: Since, until: str | datetime | None, now: datetime | None) -> TimeWindow:
    """The window from ``since``/``until`` as the public functions take them."""
    if isinstance(since, TimeWindow):
        if until is not None:
            raise UsageError("give until= only with since=, not with a TimeWindow")
        return since
    return parse_window(since, until, now=now)


class Verifier:
    """Verifies windows against one cluster, keeping the field plan between calls (for polling).

    >>> verifier = fv.Verifier(client, index="pubsub-mlops-inf-gprd-*")
    >>> verifier.verify("15m").features["completion"].verdict
    'failover'
    """

    def __init__(
        self,
        client: elasticsearch.Elasticsearch,
        *,
        index: str = DEFAULT_INDEX,
        time_field: str = DEFAULT_TIME_FIELD,
        policy: Policy | None = None,
        registry: PromptRegistry | None = None,
        gateway: GatewayFacts | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        min_count: int = DEFAULT_MIN_COUNT,
        kibana_url: str = DEFAULT_KIBANA_URL,
        data_view: str | None = None,
        retries: int = 2,
        reuse: bool = False,
        settle: timedelta | None = None,
    ) -> None:
        check_thresholds(threshold, min_count)
        if not index.strip():
            raise UsageError(
                "index= is empty; give an index pattern such as pubsub-mlops-inf-gprd-*"
            )
        self.reader = Reader(client, retries=retries)
        self.index = index
        self.time_field = time_field
        self.judge = Judge(
            policy=policy or Policy.default(),
            gateway=gateway_facts(gateway, registry),
            threshold=threshold,
            min_count=min_count,
            kibana_url=kibana_url,
            data_view=link_target(
                kibana_url=kibana_url, index=index, data_view=data_view
            ).data_view,
            index=index,
            time_field=time_field,
        )
        self._plan: FieldPlan | None = None
        cache = SliceCache(settle)  # validates settle= whether or not it is used
        self.slices: SliceCache | None = cache if reuse else None
        """The settled slices kept for the next verification (``None`` when not reusing)."""
        self._delay: IngestDelay | None = None

    def __repr__(self) -> str:
        return f"<Verifier {self.index} on {self.reader.target}>"

    def field_plan(self, *, refresh: bool = False) -> FieldPlan:
        """Which fields to use, from the field-capabilities API (one request, then cached)."""
        if self._plan is None or refresh:
            response = self.reader.field_caps(self.index, [self.time_field, *all_field_names()])
            self._plan = plan_fields(
                response, index=self.index, time_field=self.time_field, names=all_field_names()
            )
            # The matched indices may have changed: their settings are read again when needed.
            self._delay = None
        return self._plan

    def ingest_delay(self) -> IngestDelay:
        """How long after its time a record is surely searchable: the longest
        ``refresh_interval`` of the matched indices plus a margin (one settings request the
        first time, then kept with the field plan)."""
        return self._ingest_delay(self._plan or self.field_plan())

    def _ingest_delay(self, plan: FieldPlan) -> IngestDelay:
        if self._delay is None:
            targets = local_targets(self.index)
            try:
                settings = (
                    self.reader.refresh_intervals(targets) if plan.indices and targets else {}
                )
            except AccessDenied:
                # Reading settings takes view_index_metadata (or monitor), which a user who may
                # search the logs can lack: verify as well, assuming the longest known delay.
                self._delay = assumed_delay(
                    self.index, "the credentials may not read the index settings"
                )
            else:
                self._delay = read_refresh_intervals(settings, index=self.index)
        return self._delay

    def latest_window(self, length: str | timedelta, *, now: datetime | None = None) -> TimeWindow:
        """The latest window of ``length`` whose records are surely searchable at ``now``:
        it ends the ingest delay before now (for polling: ``verify(latest_window("5m"))``)."""
        current = (now or datetime.now(UTC)).astimezone(UTC)
        duration = parse_duration(length, what="window")
        return latest(duration, now=current, delay=self.ingest_delay())

    def _searchable(
        self, window: TimeWindow, until: str | datetime | None, now: datetime, plan: FieldPlan
    ) -> TimeWindow:
        if window.end <= now - SETTLED_AFTER:
            return window
        # until="now" asks for the whole window, tail and all; any other end near now is cut.
        keep_tail = isinstance(until, str) and until.strip().lower() == "now"
        return searchable_window(
            window, now=now, delay=self._ingest_delay(plan), keep_tail=keep_tail
        )

    def verify(
        self,
        since: Since = "15m",
        until: str | datetime | None = None,
        *,
        features: Sequence[str] = FEATURES,
        now: datetime | None = None,
        refresh_plan: bool = False,
    ) -> Report:
        """Verify which provider served each feature in a window.

        ``since``/``until`` take what :func:`failover_verify.verify` takes (``"15m"``,
        ``"now-2h"``, ISO 8601, datetimes), or ``since`` may be a :class:`TimeWindow`. One
        ``msearch`` counts every feature; the field plan is read once and kept (a pattern that
        matched nothing is asked again), unless ``refresh_plan``.

        A window that ends within the ingest delay of ``now`` (the indices' refresh interval
        plus a margin) ends where records are surely searchable, and its notes say so;
        ``until="now"`` keeps the whole window, with a note that its tail may be incomplete.
        """
        current = (now or datetime.now(UTC)).astimezone(UTC)
        window = window_of(since, until, current)
        chosen = check_features(features)
        signals = chosen_signals(chosen)
        requests_before = self.reader.requests
        plan = self.field_plan(refresh=refresh_plan or self._plan_is_empty())
        window = self._searchable(window, until, current, plan)
        blockers, notes = self.preflight(plan, signals)
        policy = self.judge.policy
        bodies = {
            signal.id: signal_search(signal, plan, window, policy).to_dict() for signal in signals
        }
        runnable = [signal for signal in signals if not blockers[signal.id]]
        counted = self._count(plan, runnable, bodies, window, current)
        by_feature: dict[Feature, list[SignalReport]] = {}
        for signal in signals:
            groups, tally = counted.get(signal.id, ([], tally_of(None, signal.id)))
            tally.blockers = blockers[signal.id] + tally.blockers
            tally.notes = notes[signal.id] + tally.notes
            by_feature.setdefault(signal.feature, []).append(
                self.judge.signal_report(signal, groups, tally, window, bodies[signal.id])
            )
        reports = {
            feature: self.judge.feature_report(feature, items, window)
            for feature, items in by_feature.items()
        }
        return Report(
            generated_at=datetime.now(UTC),
            source=f"elasticsearch {self.reader.target}",
            index=self.index,
            time_field=self.time_field,
            window=window,
            threshold=self.judge.threshold,
            min_count=self.judge.min_count,
            policy=policy.source,
            registry=self.judge.gateway.description,
            requests=self.reader.requests - requests_before,
            features=reports,
            notes=list(window.notes),
        )

    def _count(
        self,
        plan: FieldPlan,
        signals: Sequence[Signal],
        bodies: dict[str, dict[str, Any]],
        window: TimeWindow,
        now: datetime,
    ) -> dict[str, tuple[list[Group], Tally]]:
        """Each signal's groups and tally: from kept slices and what is new, or in one go."""
        if not signals:
            return {}
        if self.slices is not None:
            # A slice that may still receive records is never kept: not before the indices'
            # ingest delay has passed either, when it is known (read for any recent window).
            return count_with_slices(
                self.reader,
                plan,
                self.judge.policy,
                signals,
                window,
                now=now,
                cache=self.slices,
                ingest_delay=self._delay.lag if self._delay is not None else timedelta(0),
            )
        items = self.reader.msearch(self.index, [bodies[signal.id] for signal in signals])
        counted = {}
        for signal, item in zip(signals, items, strict=True):
            answer = read_answer(item)
            counted[signal.id] = (
                groups_of(answer, list(signal.group_fields)),
                tally_of(answer, signal.id),
            )
        return counted

    def timeline(
        self,
        since: Since = "1h",
        until: str | datetime | None = None,
        *,
        interval: str | timedelta = "1m",
        features: Sequence[str] = FEATURES,
        min_bucket_count: int = DEFAULT_MIN_BUCKET_COUNT,
        now: datetime | None = None,
    ) -> Timeline:
        """Counts per time bucket, role and provider, with the switch points detected.

        The window ends where records are surely searchable, as :meth:`verify`'s does.
        """
        current = (now or datetime.now(UTC)).astimezone(UTC)
        window = window_of(since, until, current)
        signals = chosen_signals(check_features(features))
        builder = TimelineBuilder(
            window=window,
            interval=parse_duration(interval, what="interval"),
            policy=self.judge.policy,
            gateway=self.judge.gateway,
            threshold=self.judge.threshold,
            min_bucket_count=min_bucket_count,
            signals=signals,
        )
        requests_before = self.reader.requests
        plan = self.field_plan(refresh=self._plan_is_empty())
        # Only ever shorter, so the bucket count checked above still holds.
        window = builder.window = self._searchable(window, until, current, plan)
        blockers, _ = self.preflight(plan, signals)
        for signal in signals:
            if blockers[signal.id]:
                for problem in blockers[signal.id]:
                    builder.fail(f"{signal.feature}: {problem}")
                continue
            names = list(signal.group_fields)

            def body(after: dict[str, Any] | None, signal: Signal = signal) -> dict[str, Any]:
                search = timeline_search(
                    signal,
                    plan,
                    window,
                    self.judge.policy,
                    interval_seconds=builder.interval_seconds,
                    after=after,
                )
                return search.to_dict()

            for answer in scan_composite(self.reader, self.index, body, TIMELINE_PAGE_SIZE):
                if answer.refused is not None:
                    builder.fail(
                        f"Elasticsearch refused the {signal.feature} timeline search: "
                        f"{answer.refused}"
                    )
                for problem in answer.problems:
                    builder.fail(f"the {signal.feature} timeline is partial: {problem}")
                for start, values, count in timeline_rows(answer, names):
                    builder.add(signal, start, values, count)
        return builder.build(requests=self.reader.requests - requests_before)

    def _plan_is_empty(self) -> bool:
        # A pattern that matched nothing may match by now (new daily index): ask again.
        return self._plan is not None and not self._plan.indices

    def preflight(
        self, plan: FieldPlan, signals: Sequence[Signal]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Per signal id: what stops its search (blockers), and what limits it (notes)."""
        shared: list[str] = []
        if not plan.indices:
            shared.append(
                f"the index pattern {self.index!r} matches no index{_pattern_hint(self.index)}"
            )
        else:
            if plan.time_problem:
                shared.append(plan.time_problem)
            if not plan.choice(f.MESSAGE).mapped:
                shared.append(
                    f"{f.MESSAGE} is not mapped in any index matching {self.index!r}; "
                    f"these are not AI gateway logs{_pattern_hint(self.index)}"
                )
        blockers: dict[str, list[str]] = {}
        notes: dict[str, list[str]] = {}
        for signal in signals:
            blockers[signal.id] = list(shared)
            notes[signal.id] = []
            if shared:
                continue
            if plan.choice(f.MESSAGE).exact_field is None:
                notes[signal.id].append(
                    f"{f.MESSAGE} has no keyword form; records are matched by phrase, "
                    "which can include longer messages that contain it"
                )
            usable = usable_group_fields(signal, plan)
            for name, path in signal.group_fields.items():
                choice = plan.choice(path)
                if name in usable:
                    if not choice.mapped and name in signal.required:
                        notes[signal.id].append(
                            f"{path} is not mapped in any matching index, so every record "
                            "counts as having none"
                        )
                    continue
                problem = choice.problem or f"{path} cannot be counted"
                if name in signal.required:
                    blockers[signal.id].append(problem)
                else:
                    notes[signal.id].append(f"{problem} (not broken down by it)")
        return blockers, notes


def verify(
    client: elasticsearch.Elasticsearch,
    *,
    since: Since,
    until: str | datetime | None = None,
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
    retries: int = 2,
    now: datetime | None = None,
) -> Report:
    """Verify which provider served Code Suggestions in a window.

    ``since``/``until`` take the CLI's strings (``"15m"``, ``"now-2h"``, ISO 8601) or
    datetimes. Two requests are sent whatever the number of records: one for the field
    mappings and one ``msearch`` whose aggregations count every feature at once; a window that
    ended less than an hour ago adds one for the indices' refresh intervals.
    """
    verifier = Verifier(
        client,
        index=index,
        time_field=time_field,
        policy=policy,
        registry=registry,
        gateway=gateway,
        threshold=threshold,
        min_count=min_count,
        kibana_url=kibana_url,
        data_view=data_view,
        retries=retries,
        reuse=False,
    )
    return verifier.verify(since, until, features=features, now=now)


def timeline(
    client: elasticsearch.Elasticsearch,
    *,
    since: Since,
    until: str | datetime | None = None,
    interval: str | timedelta = "1m",
    index: str = DEFAULT_INDEX,
    time_field: str = DEFAULT_TIME_FIELD,
    features: Sequence[str] = FEATURES,
    policy: Policy | None = None,
    registry: PromptRegistry | None = None,
    gateway: GatewayFacts | None = None,
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
        gateway=gateway,
        threshold=threshold,
        retries=retries,
    )
    return verifier.timeline(
        since,
        until,
        interval=interval,
        features=features,
        min_bucket_count=min_bucket_count,
        now=now,
    )
