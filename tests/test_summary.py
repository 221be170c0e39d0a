from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from failover_verify import UsageError
from failover_verify._gateway import GatewayFacts
from failover_verify._policy import Policy
from failover_verify._report import ErrorCount, Evidence, RoleSpan, SignalReport
from failover_verify._signals import SIGNALS, Signal
from failover_verify._summary import (
    Group,
    Judge,
    Tally,
    TimelineBuilder,
    check_thresholds,
    combine,
    decide,
)
from failover_verify._timeline import Switch, TimelinePoint
from failover_verify._window import TimeWindow

POLICY = Policy.default()
GATEWAY = GatewayFacts.bundled()
COMPLETION_SERVED, COMPLETION_REGISTRY, COMPLETION_INPUT, GENERATION_SERVED, _ = SIGNALS
# Served completion records in 2026-11: Claude is the failover (on vertex_ai), Codestral the
# primary (on fireworks_ai), per the bundled facts and the default policy.
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CLAUDE, CODESTRAL = "claude-sonnet-4-6", "codestral-2508"


def _decide(
    primary: int = 0, failover: int = 0, unclassified: int = 0, **kwargs: object
) -> tuple[str, str]:
    options: dict[str, object] = {
        "complete": True,
        "blockers": [],
        "threshold": 0.95,
        "min_count": 20,
    }
    options.update(kwargs)
    return decide(
        total=primary + failover + unclassified,
        primary=primary,
        failover=failover,
        unclassified=unclassified,
        **options,  # type: ignore[arg-type]
    )


class TestCheckThresholds:
    @pytest.mark.parametrize(("threshold", "min_count"), [(0.500001, 1), (1, 1), (0.95, 20)])
    def test_meaningful_settings_pass(self, threshold: float, min_count: int) -> None:
        """A threshold above 0.5 up to 1 and a minimum count of at least 1 are accepted."""
        check_thresholds(threshold, min_count)

    @pytest.mark.parametrize("threshold", [0.5, 0.4, 1.0001, 2])
    def test_threshold_out_of_range(self, threshold: float) -> None:
        """A threshold of 0.5 or less, or above 1, is refused, naming the allowed range."""
        with pytest.raises(UsageError) as caught:
            check_thresholds(threshold, 20)
        assert str(caught.value) == (f"threshold= must be above 0.5 and at most 1, not {threshold}")

    @pytest.mark.parametrize("min_count", [0, -1])
    def test_min_count_below_one(self, min_count: int) -> None:
        """A minimum count below 1 is refused, naming the parameter."""
        with pytest.raises(UsageError) as caught:
            check_thresholds(0.95, min_count)
        assert str(caught.value) == (
            f"the minimum count (min_count=) must be at least 1, not {min_count}"
        )


class TestDecide:
    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [
            ((100, 0, 0), "primary"),
            ((0, 100, 0), "failover"),
            ((5, 95, 0), "failover"),
            ((6, 94, 0), "mixed"),
            ((50, 50, 0), "mixed"),
            ((95, 0, 5), "primary"),
            ((0, 94, 6), "inconclusive"),
            ((40, 40, 20), "inconclusive"),
            ((0, 0, 0), "no_data"),
            ((0, 19, 0), "inconclusive"),
            ((0, 20, 0), "failover"),
        ],
    )
    def test_verdicts(self, counts: tuple[int, int, int], verdict: str) -> None:
        """Shares against the threshold and the minimum count decide the verdict."""
        assert _decide(*counts)[0] == verdict

    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [
            # failover share against the default 0.95, both sides
            ((5, 95, 0), "failover"),
            ((6, 94, 0), "mixed"),
            # primary share, both sides
            ((95, 5, 0), "primary"),
            ((94, 6, 0), "mixed"),
            # unclassified share: at most 1 - threshold is tolerated, more is inconclusive
            ((0, 95, 5), "failover"),
            ((95, 0, 5), "primary"),
            ((94, 0, 6), "inconclusive"),
            ((47, 47, 6), "inconclusive"),
            ((48, 47, 5), "mixed"),
        ],
    )
    def test_default_threshold_edges(self, counts: tuple[int, int, int], verdict: str) -> None:
        """Each edge of the default threshold, at and just past it."""
        assert _decide(*counts)[0] == verdict

    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [
            ((20, 80, 0), "failover"),
            ((21, 79, 0), "mixed"),
            ((80, 20, 0), "primary"),
            ((79, 21, 0), "mixed"),
            ((0, 80, 20), "failover"),
            ((0, 79, 21), "inconclusive"),
        ],
    )
    def test_custom_threshold_edges(self, counts: tuple[int, int, int], verdict: str) -> None:
        """A threshold of 0.8 moves every edge: shares, and the unclassified tolerance."""
        assert _decide(*counts, threshold=0.8)[0] == verdict

    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [((5, 10, 5), "mixed"), ((5, 9, 6), "inconclusive")],
    )
    def test_unclassified_tolerance_exactly_at_the_edge(
        self, counts: tuple[int, int, int], verdict: str
    ) -> None:
        """At 0.75 the tolerance is exactly a quarter: 5 of 20 unmatched records still allow
        a split, 6 do not (a threshold whose complement is exact in binary)."""
        assert _decide(*counts, threshold=0.75)[0] == verdict

    @pytest.mark.parametrize(
        ("min_count", "counts", "verdict"),
        [
            (5, (0, 4, 0), "inconclusive"),
            (5, (0, 5, 0), "failover"),
            (5, (4, 0, 0), "inconclusive"),
            (5, (5, 0, 0), "primary"),
            (1, (0, 1, 0), "failover"),
            (1, (0, 0, 0), "no_data"),
            (20, (10, 9, 0), "inconclusive"),
            (20, (10, 10, 0), "mixed"),
        ],
    )
    def test_min_count_edges(
        self, min_count: int, counts: tuple[int, int, int], verdict: str
    ) -> None:
        """The minimum count, at and just below it, for several minimums."""
        assert _decide(*counts, min_count=min_count)[0] == verdict

    def test_incomplete_is_never_definite(self) -> None:
        """Partial results give inconclusive, however clear the counts look."""
        verdict, reason = _decide(0, 1000, complete=False)
        assert verdict == "inconclusive"
        assert "partial" in reason

    def test_blockers_win(self) -> None:
        """A preflight problem is the reason, even with zero records (not no_data)."""
        assert _decide(blockers=["the index pattern 'x' matches no index"]) == (
            "inconclusive",
            "the index pattern 'x' matches no index",
        )

    def test_every_reason_in_full(self) -> None:
        """Each verdict's reason, word for word: what a user reads under the verdict."""
        assert _decide(0, 1000, complete=False)[1] == (
            "Elasticsearch returned partial results, so the counts may be wrong"
        )
        assert _decide() == ("no_data", "no matching records in the window")
        assert _decide(2, 95, 3)[1] == "95.0% of 100 records are on the failover provider"
        assert _decide(96, 1, 3)[1] == "96.0% of 100 records are on the primary provider"
        assert _decide(40, 40, 20)[1] == (
            "20.0% of 100 records match no policy rule; see the breakdown, and extend the "
            "policy if they are expected"
        )
        assert _decide(30, 70, threshold=0.8)[1] == (
            "70.0% failover and 30.0% primary of 100 records; neither reaches 80%"
        )

    def test_reasons_give_numbers(self) -> None:
        """Reasons state the share and the count behind the verdict."""
        assert _decide(0, 10)[1] == "only 10 records in the window; at least 20 are needed"
        assert _decide(3, 97)[1] == "97.0% of 100 records are on the failover provider"
        assert "neither reaches 95%" in _decide(50, 50)[1]
        assert "match no policy rule" in _decide(40, 40, 20)[1]


def _served(name: str, error: str = "no") -> dict[str, str | None]:
    return {"model_engine": "litellm", "model_name": name, "error": error}


def _builder(
    minutes: int = 4,
    *,
    interval: timedelta = MINUTE,
    signals: tuple[Signal, ...] = SIGNALS,
    start: datetime = T0,
    min_bucket_count: int = 5,
) -> TimelineBuilder:
    return TimelineBuilder(
        window=TimeWindow(start=start, end=start + minutes * MINUTE),
        interval=interval,
        policy=POLICY,
        gateway=GATEWAY,
        threshold=0.95,
        min_bucket_count=min_bucket_count,
        signals=signals,
    )


def _point(minute: int, **counts: object) -> TimelinePoint:
    values: dict[str, object] = {
        "start": T0 + minute * MINUTE,
        "total": 0,
        "primary": 0,
        "failover": 0,
        "unclassified": 0,
        "failover_share": None,
        "primary_share": None,
        "by_provider": {},
        "state": "empty",
    }
    values.update(counts)
    return TimelinePoint.model_validate(values)


class TestTimelineBuilder:
    def test_points_count_roles_providers_and_errors(self) -> None:
        """Each bucket counts roles, providers and failed calls; shares are of its total."""
        builder = _builder(2)
        builder.add(COMPLETION_SERVED, T0, _served(CLAUDE), 15)
        builder.add(COMPLETION_SERVED, T0, _served(CLAUDE, "yes"), 4)
        builder.add(COMPLETION_SERVED, T0, _served(CODESTRAL, "yes"), 1)
        builder.add(COMPLETION_SERVED, T0 + MINUTE, _served(CODESTRAL), 3)
        builder.add(COMPLETION_SERVED, T0 + MINUTE, _served("mystery-model"), 1)
        timeline = builder.build()
        assert timeline.features["completion"] == [
            _point(
                0,
                total=20,
                primary=1,
                failover=19,
                failover_share=0.95,
                primary_share=0.05,
                by_provider={"vertex_ai": 19, "fireworks_ai": 1},
                state="failover",
                calls=20,
                errors=5,
                error_share=0.25,
            ),
            _point(
                1,
                total=4,
                primary=3,
                unclassified=1,
                failover_share=0.0,
                primary_share=0.75,
                by_provider={"fireworks_ai": 3, "(unresolved)": 1},
                state="sparse",
                calls=4,
                errors=0,
                error_share=0.0,
            ),
        ]
        assert timeline.signals == {"completion": "served", "generation": "registry"}
        assert timeline.requests == 0
        assert timeline.complete is True
        assert timeline.problems == []

    @pytest.mark.parametrize(
        ("failover", "primary", "state"),
        [
            (0, 0, "empty"),
            (4, 0, "sparse"),
            (0, 4, "sparse"),
            (5, 0, "failover"),
            (0, 5, "primary"),
            (19, 1, "failover"),
            (18, 2, "mixed"),
            (1, 19, "primary"),
            (2, 18, "mixed"),
            (10, 10, "mixed"),
        ],
    )
    def test_state_edges(self, failover: int, primary: int, state: str) -> None:
        """A bucket is empty, sparse below the minimum count, else settled at the threshold."""
        builder = _builder(1, signals=SIGNALS[:3])
        for name, count in ((CLAUDE, failover), (CODESTRAL, primary)):
            if count:
                builder.add(COMPLETION_SERVED, T0, _served(name), count)
        (point,) = builder.build().features["completion"]
        assert point.state == state

    def test_empty_buckets_between_records(self) -> None:
        """A bucket without records of its own is empty, with calls counted as zero."""
        builder = _builder(3, signals=SIGNALS[:3], min_bucket_count=1)
        builder.add(COMPLETION_SERVED, T0, _served(CLAUDE), 2)
        builder.add(COMPLETION_SERVED, T0 + 2 * MINUTE, _served(CLAUDE), 2)
        points = builder.build().features["completion"]
        assert points[1] == _point(1, calls=0, errors=0, error_share=None)

    def test_switches_between_settled_states(self) -> None:
        """A switch is where a settled state follows the other one; mixed and empty in between
        do not count."""
        builder = _builder(5, signals=SIGNALS[:3], min_bucket_count=1)
        builder.add(COMPLETION_SERVED, T0, _served(CLAUDE), 5)
        builder.add(COMPLETION_SERVED, T0 + MINUTE, _served(CLAUDE), 1)
        builder.add(COMPLETION_SERVED, T0 + MINUTE, _served(CODESTRAL), 1)
        builder.add(COMPLETION_SERVED, T0 + 3 * MINUTE, _served(CODESTRAL), 5)
        builder.add(COMPLETION_SERVED, T0 + 4 * MINUTE, _served(CODESTRAL), 5)
        timeline = builder.build()
        assert [point.state for point in timeline.features["completion"]] == [
            "failover",
            "mixed",
            "empty",
            "primary",
            "primary",
        ]
        assert timeline.switches == [
            Switch(
                feature="completion",
                at=T0 + 3 * MINUTE,
                from_role="failover",
                to_role="primary",
            )
        ]
        assert timeline.first_at("completion", "primary") == T0 + 3 * MINUTE

    def test_counts_come_from_the_strongest_signal_with_records(self) -> None:
        """Registry records alone give the points; with no served records there are no calls."""
        builder = _builder(1, signals=SIGNALS[:3], min_bucket_count=1)
        registry = {
            "model_class_provider": "anthropic",
            "model_identifier": None,
            "prompt_name": None,
        }
        builder.add(COMPLETION_REGISTRY, T0, registry, 3)
        builder.add(COMPLETION_INPUT, T0, {"model_provider": "vertex-ai", "model_name": "x"}, 7)
        timeline = builder.build()
        assert timeline.signals == {"completion": "registry"}
        (point,) = timeline.features["completion"]
        assert (point.total, point.failover, point.state) == (3, 3, "failover")
        assert (point.calls, point.errors, point.error_share) == (None, None, None)

    def test_without_records_the_weakest_signal_is_named(self) -> None:
        """A feature with no records in the window shows its last signal's (empty) points."""
        timeline = _builder(1).build()
        assert timeline.signals == {"completion": "input", "generation": "registry"}
        assert timeline.features["completion"] == [_point(0)]

    def test_records_are_judged_by_their_bucket_s_era(self) -> None:
        """A served generation record of 2025-10 is judged by that era's facts, not today's."""
        start = datetime(2025, 10, 1, tzinfo=UTC)
        builder = _builder(1, signals=(GENERATION_SERVED,), start=start, min_bucket_count=1)
        builder.add(GENERATION_SERVED, start, _served("claude-sonnet-4-20250514"), 2)
        (point,) = builder.build().features["generation"]
        assert (point.primary, point.unclassified, point.state) == (2, 0, "primary")

    def test_failure_makes_it_incomplete(self) -> None:
        """A failed search marks the timeline incomplete and keeps the reason."""
        builder = _builder(1)
        builder.fail("the completion timeline is partial: 1 of 2 shards failed")
        timeline = builder.build(requests=3)
        assert timeline.complete is False
        assert timeline.problems == ["the completion timeline is partial: 1 of 2 shards failed"]
        assert timeline.requests == 3

    def test_buckets_align_to_the_epoch(self) -> None:
        """Buckets start at multiples of the interval, as Elasticsearch aligns fixed intervals."""
        builder = _builder(2, start=T0 + timedelta(seconds=30))
        assert builder.bucket_of(T0 + timedelta(seconds=59)) == T0
        assert builder.bucket_of(T0 + MINUTE) == T0 + MINUTE
        starts = [point.start for point in builder.build().features["completion"]]
        assert starts == [T0, T0 + MINUTE, T0 + 2 * MINUTE]

    @pytest.mark.parametrize("seconds", [1, 60])
    def test_whole_second_intervals(self, seconds: int) -> None:
        """Intervals of whole seconds, one second or more, are accepted."""
        assert _builder(interval=timedelta(seconds=seconds)).interval_seconds == seconds

    @pytest.mark.parametrize("seconds", [0, 0.5, 1.5])
    def test_other_intervals_are_refused(self, seconds: float) -> None:
        """A zero, sub-second or fractional interval is refused, saying what is allowed."""
        with pytest.raises(UsageError) as caught:
            _builder(interval=timedelta(seconds=seconds))
        assert str(caught.value) == (
            "the timeline interval must be a whole number of seconds, at least 1s"
        )

    def test_at_most_ten_thousand_buckets(self) -> None:
        """10,000 buckets are allowed; one more is refused, naming the sizes and the fix."""
        window = TimeWindow(start=T0, end=T0 + timedelta(seconds=10_000))
        options = {
            "interval": timedelta(seconds=1),
            "policy": POLICY,
            "gateway": GATEWAY,
            "threshold": 0.95,
            "min_bucket_count": 5,
            "signals": SIGNALS,
        }
        TimelineBuilder(window=window, **options)  # type: ignore[arg-type]
        longer = TimeWindow(start=T0, end=T0 + timedelta(seconds=10_001))
        with pytest.raises(UsageError) as caught:
            TimelineBuilder(window=longer, **options)  # type: ignore[arg-type]
        assert str(caught.value) == (
            "a 2:46:41 window in 0:00:01 buckets makes 10001 buckets; at most 10000 are "
            "allowed: choose a larger interval"
        )


def _report(
    signal: str, standing: str, verdict: str = "inconclusive", reason: str = ""
) -> SignalReport:
    return SignalReport.model_validate(
        {
            "signal": signal,
            "title": f"{signal} records",
            "standing": standing,
            "verdict": verdict,
            "reason": reason or f"{signal} reason",
            "total": 0,
            "primary": 0,
            "failover": 0,
            "unclassified": 0,
            "failover_share": None,
            "primary_share": None,
            "by_provider": {},
            "by_model": {},
        }
    )


class TestCombine:
    def test_shared_partial_reason_is_said_once(self) -> None:
        """When every signal is partial for the same reason, that reason alone is given."""
        reports = [_report(name, "partial", reason="no index") for name in ("served", "input")]
        assert combine(reports) == ("inconclusive", "no index", None, "none")

    def test_partial_signal_is_named(self) -> None:
        """One partial signal makes the feature inconclusive, naming it, even beside a
        definite one."""
        reports = [
            _report("served", "definite", "failover", "95% failover"),
            _report("registry", "partial", reason="2 of 5 shards failed"),
        ]
        assert combine(reports) == (
            "inconclusive",
            "registry records: 2 of 5 shards failed",
            None,
            "none",
        )

    def test_same_reason_but_not_all_partial(self) -> None:
        """A partial signal is named when some other signal is not partial, reasons alike."""
        reports = [
            _report("served", "no_data", "no_data", "same"),
            _report("registry", "partial", reason="same"),
        ]
        assert combine(reports)[1] == "registry records: same"

    def test_all_without_records_is_no_data(self) -> None:
        """No signal with records gives no_data."""
        reports = [_report("served", "no_data", "no_data"), _report("input", "no_data", "no_data")]
        assert combine(reports) == ("no_data", "no matching records in the window", None, "none")

    @pytest.mark.parametrize(
        ("standings", "explained_by"),
        [
            (("too_few", "unmatched"), "registry"),
            (("indistinct", "too_few"), "registry"),
            (("no_data", "indistinct"), "registry"),
            (("unmatched", "too_few"), "served"),
            (("too_few", "indistinct"), "served"),
        ],
    )
    def test_most_telling_undecided_signal_explains(
        self, standings: tuple[str, str], explained_by: str
    ) -> None:
        """Without a definite signal, unmatched records explain before too few, too few before
        indistinct roles, and any of them before no records."""
        reports = [_report("served", standings[0]), _report("registry", standings[1])]
        assert combine(reports) == (
            "inconclusive",
            f"{explained_by} records: {explained_by} reason",
            None,
            "none",
        )

    def test_stronger_unmatched_signal_blocks(self) -> None:
        """Unmatched records of a stronger signal keep a weaker definite one from deciding."""
        reports = [
            _report("served", "unmatched", reason="30% match no rule"),
            _report("registry", "definite", "failover", "99% failover"),
        ]
        assert combine(reports) == (
            "inconclusive",
            "served records: 30% match no rule; the registry records alone cannot settle it",
            None,
            "none",
        )

    def test_weaker_unmatched_signal_does_not_block(self) -> None:
        """Unmatched records of a weaker signal leave the stronger definite verdict standing."""
        reports = [
            _report("served", "definite", "primary", "97% primary"),
            _report("input", "unmatched", reason="30% match no rule"),
        ]
        assert combine(reports)[:2] == ("primary", "served records: 97% primary")

    def test_disagreement(self) -> None:
        """A weaker definite signal with another verdict makes the feature inconclusive."""
        reports = [
            _report("served", "definite", "failover", "96% failover"),
            _report("registry", "definite", "failover", "99% failover"),
            _report("input", "definite", "mixed", "50% failover"),
        ]
        assert combine(reports) == (
            "inconclusive",
            (
                "the signals disagree: served says failover (96% failover); "
                "input says mixed (50% failover)"
            ),
            None,
            "disagree",
        )

    def test_second_signal_disagrees(self) -> None:
        """The signal right after the decider is held to it too."""
        reports = [
            _report("served", "definite", "failover", "96% failover"),
            _report("registry", "definite", "mixed", "60% failover"),
        ]
        assert combine(reports)[1:] == (
            (
                "the signals disagree: served says failover (96% failover); "
                "registry says mixed (60% failover)"
            ),
            None,
            "disagree",
        )

    def test_one_partial_signal_alone(self) -> None:
        """A feature read through one signal, partial, gives that signal's reason as it is."""
        reports = [_report("served", "partial", reason="no index")]
        assert combine(reports) == ("inconclusive", "no index", None, "none")

    def test_agreement(self) -> None:
        """The strongest definite signal decides; the others that agree are named."""
        reports = [
            _report("served", "too_few"),
            _report("registry", "definite", "failover", "96% failover"),
            _report("input", "definite", "failover", "99% failover"),
        ]
        verdict, reason, decider, agreement = combine(reports)
        assert (verdict, reason, agreement) == (
            "failover",
            "registry records: 96% failover; input records agree",
            "agree",
        )
        assert decider is reports[1]

    def test_agreement_of_three(self) -> None:
        """Every agreeing weaker signal is named, in order."""
        reports = [
            _report("served", "definite", "primary", "97% primary"),
            _report("registry", "definite", "primary", "98% primary"),
            _report("input", "definite", "primary", "99% primary"),
        ]
        assert combine(reports)[1] == (
            "served records: 97% primary; registry and input records agree"
        )

    def test_single(self) -> None:
        """One definite signal decides alone."""
        reports = [_report("served", "definite", "mixed", "50% each"), _report("input", "no_data")]
        verdict, reason, decider, agreement = combine(reports)
        assert (verdict, reason, agreement) == ("mixed", "served records: 50% each", "single")
        assert decider is reports[0]


JUDGE = Judge(POLICY, GATEWAY, 0.95, 20, "https://kibana.example", "logs-*")
HOUR = TimeWindow(start=T0, end=T0 + 60 * MINUTE)
GENERATION_REGISTRY = SIGNALS[4]


def _hit(number: int, **payload: object) -> dict[str, object]:
    return {
        "_index": "logs-1",
        "_id": f"doc-{number}",
        "_source": {"json": {"jsonPayload": payload}},
    }


class TestSignalReport:
    def test_counts_errors_spans_and_the_cap(self) -> None:
        """A signal's records are counted by role, provider and model, with errors per model,
        first and last seen per role, and records past the group cap as unclassified."""
        groups = [
            Group(_served(CLAUDE), 18, T0 + 5 * MINUTE, T0 + 50 * MINUTE),
            Group(_served(CLAUDE, "yes"), 2, T0 + MINUTE, T0 + 2 * MINUTE),
            Group(_served(CODESTRAL), 1, T0 + 3 * MINUTE, T0 + 4 * MINUTE),
        ]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=22), HOUR, None)
        assert (report.verdict, report.standing) == ("mixed", "definite")
        assert report.reason == "90.9% failover and 4.5% primary of 22 records; neither reaches 95%"
        assert (report.total, report.primary, report.failover, report.unclassified) == (
            22,
            1,
            20,
            1,
        )
        assert (report.failover_share, report.primary_share) == (0.909091, 0.045455)
        assert report.by_provider == {"vertex_ai": 20, "fireworks_ai": 1}
        assert list(report.by_provider) == ["vertex_ai", "fireworks_ai"]
        assert report.by_model == {CLAUDE: 20, CODESTRAL: 1}
        assert report.errors_by_model == {
            CLAUDE: ErrorCount(calls=20, errors=2, error_share=0.1),
            CODESTRAL: ErrorCount(calls=1, errors=0, error_share=0.0),
        }
        assert report.seen == {
            "failover": RoleSpan(first=T0 + MINUTE, last=T0 + 50 * MINUTE),
            "primary": RoleSpan(first=T0 + 3 * MINUTE, last=T0 + 4 * MINUTE),
        }
        assert report.notes == ["1 records were not broken down (too many distinct field values)"]
        assert [(item.count, item.role) for item in report.breakdown] == [
            (18, "failover"),
            (2, "failover"),
            (1, "primary"),
        ]
        assert report.breakdown[0].rule == (
            "incident_fail_over_completion_provider moves completion to Claude on Anthropic's API"
        )
        assert (report.breakdown[2].first_seen, report.breakdown[2].last_seen) == (
            T0 + 3 * MINUTE,
            T0 + 4 * MINUTE,
        )
        assert report.complete is True
        assert (report.signal, report.title) == (
            "served",
            '"Request to LLM complete" records of complete_code',
        )
        assert report.kql == (
            'json.jsonPayload.message: "Request to LLM complete" and '
            'json.jsonPayload.unit_primitive: "complete_code"'
        )

    def test_partial_tally_is_kept(self) -> None:
        """A partial answer's problems, failed indices and notes stay on the report."""
        tally = Tally(
            total=40,
            complete=False,
            failed_indices=["logs-2"],
            blockers=["1 of 2 shards failed in logs-2"],
            notes=["a note from the search"],
        )
        groups = [Group(_served(CLAUDE), 40)]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, tally, HOUR, {"size": 0})
        assert (report.verdict, report.standing) == ("inconclusive", "partial")
        assert report.reason == "1 of 2 shards failed in logs-2"
        assert (report.complete, report.failed_indices) == (False, ["logs-2"])
        assert report.problems == ["1 of 2 shards failed in logs-2"]
        assert report.notes == ["a note from the search"]
        assert report.query == {"size": 0}

    def test_breakdown_ties_are_ordered_by_values(self) -> None:
        """Groups of equal size are listed in the order of their values, so output is stable."""
        groups = [
            Group(_served(CODESTRAL), 5),
            Group(_served(CLAUDE), 5),
            Group(_served(CLAUDE, "yes"), 9),
        ]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=19), HOUR, None)
        assert [(item.values["model_name"], item.values["error"]) for item in report.breakdown] == [
            (CLAUDE, "yes"),
            (CLAUDE, "no"),
            (CODESTRAL, "no"),
        ]

    def test_samples_three_per_role_with_their_fields(self) -> None:
        """At most three samples per role, from the largest groups, with the evidence fields
        (values that are not scalars shown as text) and where the record is."""
        groups = [
            Group(_served(f"claude-sonnet-4-{n}"), 10 - n, sample=_hit(n, model_name=CLAUDE))
            for n in range(5)
        ]
        groups.append(Group(_served(CODESTRAL), 1))
        odd = _hit(9, model_name=CODESTRAL, error=["no"], unit_primitive=None)
        odd["_index"], odd["_id"] = 7, None
        groups.append(Group(_served(CODESTRAL, "yes"), 1, sample=odd, sample_time=T0))
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=42), HOUR, None)
        assert [(sample.id, sample.role) for sample in report.samples] == [
            ("doc-0", "failover"),
            ("doc-1", "failover"),
            ("doc-2", "failover"),
            (None, "primary"),
        ]
        assert report.samples[0] == Evidence(
            index="logs-1",
            id="doc-0",
            time=None,
            role="failover",
            fields={"json.jsonPayload.model_name": CLAUDE},
        )
        assert report.samples[3] == Evidence(
            index=None,
            id=None,
            time=T0,
            role="primary",
            fields={
                "json.jsonPayload.unit_primitive": None,
                "json.jsonPayload.model_name": CODESTRAL,
                "json.jsonPayload.error": "['no']",
            },
        )

    def test_sample_with_conflicting_fields_shows_none(self) -> None:
        """A sample whose fields contradict each other is shown without fields, not dropped."""
        hit = _hit(1, model_name=CLAUDE)
        hit["_source"]["json.jsonPayload.model_name"] = "other"  # type: ignore[index]
        groups = [Group(_served(CLAUDE), 20, sample=hit)]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=20), HOUR, None)
        assert [(sample.id, sample.fields) for sample in report.samples] == [("doc-1", {})]

    def test_only_the_conflicting_field_is_left_out(self) -> None:
        """A field given twice with different values is left out of a sample; its other
        fields are still shown."""
        hit = _hit(1, model_name=CLAUDE, error="no")
        hit["_source"]["json.jsonPayload.model_name"] = "other"  # type: ignore[index]
        groups = [Group(_served(CLAUDE), 20, sample=hit)]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=20), HOUR, None)
        assert [(sample.id, sample.fields) for sample in report.samples] == [
            ("doc-1", {"json.jsonPayload.error": "no"})
        ]

    def test_sample_that_is_not_an_object_shows_no_fields(self) -> None:
        """A sample whose _source is not an object is shown, without fields, with its place
        only when the index and id are text."""
        hit: dict[str, object] = {"_index": "logs-1", "_id": 12, "_source": "text"}
        groups = [Group(_served(CLAUDE), 20, sample=hit)]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=20), HOUR, None)
        assert [(s.index, s.id, s.fields) for s in report.samples] == [("logs-1", None, {})]

    def test_blockers_alone_make_it_partial(self) -> None:
        """A blocked search (an index pattern matching nothing) is partial though nothing
        came back incomplete."""
        tally = Tally(total=0, blockers=["the index pattern 'x' matches no index"])
        report = JUDGE.signal_report(COMPLETION_SERVED, [], tally, HOUR, None)
        assert (report.verdict, report.standing, report.reason) == (
            "inconclusive",
            "partial",
            "the index pattern 'x' matches no index",
        )

    def test_records_are_judged_by_their_own_era(self) -> None:
        """A group is classified by the facts when it was last seen, not at the window's end;
        a group with no last-seen time by the facts at the window's end."""
        start = datetime(2025, 10, 1, tzinfo=UTC)
        window = TimeWindow(start=start, end=T0)
        model = "claude-sonnet-4-20250514"
        then = [Group(_served(model), 20, start, start)]
        report = JUDGE.signal_report(GENERATION_SERVED, then, Tally(total=20), window, None)
        assert (report.verdict, report.primary, report.unclassified) == ("primary", 20, 0)
        unknown = [Group(_served(model), 20, start, None)]
        report = JUDGE.signal_report(GENERATION_SERVED, unknown, Tally(total=20), window, None)
        assert (report.verdict, report.primary, report.unclassified) == ("inconclusive", 0, 20)

    def test_first_seen_is_the_earliest_whatever_the_order(self) -> None:
        """A role's first and last seen span all its groups, in whichever order they come."""
        groups = [
            Group(_served(CLAUDE, "yes"), 2, T0 + MINUTE, T0 + 2 * MINUTE),
            Group(_served(CLAUDE), 18, T0 + 5 * MINUTE, T0 + 50 * MINUTE),
        ]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=20), HOUR, None)
        assert report.seen == {"failover": RoleSpan(first=T0 + MINUTE, last=T0 + 50 * MINUTE)}

    def test_records_past_the_cap_add_to_the_unclassified(self) -> None:
        """Records past the group cap are added to those that match no rule, not in place."""
        groups = [Group(_served(CLAUDE), 20), Group(_served("mystery-model"), 3)]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=25), HOUR, None)
        assert (report.failover, report.unclassified) == (20, 5)

    def test_errors_of_a_model_add_up_across_groups(self) -> None:
        """Failed calls of one model in several groups (engines) are all counted."""
        groups = [
            Group(_served(CLAUDE, "yes"), 2),
            Group({"model_engine": "anthropic", "model_name": CLAUDE, "error": "yes"}, 3),
            Group(_served(CLAUDE), 15),
        ]
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=20), HOUR, None)
        assert report.errors_by_model == {CLAUDE: ErrorCount(calls=20, errors=5, error_share=0.25)}

    def test_unmatched_registry_records_keep_their_resolution(self) -> None:
        """Registry records of a version no rule names still show what it resolved to."""
        values = {
            "prompt_id": "code_suggestions/generations",
            "prompt_version": "9.9.9",
            "model_class_provider": None,
            "model_identifier": None,
        }
        groups = [Group(values, 20)]
        report = JUDGE.signal_report(GENERATION_REGISTRY, groups, Tally(total=20), HOUR, None)
        assert report.unclassified == 20
        assert [item.requested_version for item in report.resolutions] == ["9.9.9"]
        assert report.breakdown[0].resolution == report.resolutions[0]

    def test_discover_link_in_full(self) -> None:
        """The report links to Kibana Discover on the data view, query, window and columns."""
        report = JUDGE.signal_report(COMPLETION_SERVED, [], Tally(total=0), HOUR, None)
        assert report.kibana_url == (
            "https://kibana.example/app/discover#/?_g=(filters:!(),refreshInterval:"
            "(pause:!t,value:0),time:(from:'2026-11-01T12:00:00Z',to:'2026-11-01T13:00:00Z'))"
            "&_a=(columns:!(json.jsonPayload.model_engine,json.jsonPayload.model_name,"
            "json.jsonPayload.error,json.jsonPayload.error_type),filters:!(),index:'logs-*',"
            "query:(language:kuery,query:'json.jsonPayload.message:%20%22Request%20to%20LLM"
            "%20complete%22%20and%20json.jsonPayload.unit_primitive:%20%22complete_code%22'),"
            "sort:!(!('@timestamp',desc)))"
        )

    def test_registry_versions_and_resolutions(self) -> None:
        """Registry records are counted per requested version, and each distinct resolution
        is listed once."""

        def values(version: str) -> dict[str, str | None]:
            return {
                "prompt_id": "code_suggestions/generations",
                "prompt_version": version,
                "model_class_provider": None,
                "model_identifier": None,
            }

        groups = [
            Group(values("2.0.0"), 12),
            Group(values("^1.0.0"), 5),
            Group(values("^1.0.0"), 3),
        ]
        report = JUDGE.signal_report(GENERATION_REGISTRY, groups, Tally(total=20), HOUR, None)
        assert report.by_prompt_version == {"2.0.0": 12, "^1.0.0": 8}
        assert [(item.requested_version, item.model) for item in report.resolutions] == [
            ("2.0.0", "claude_sonnet_4_5_20250929_vertex"),
            ("^1.0.0", "claude_sonnet_4_6_vertex"),
        ]
        assert (report.failover, report.primary, report.verdict) == (12, 8, "mixed")
        assert [(item.count, item.resolution) for item in report.breakdown] == [
            (12, report.resolutions[0]),
            (5, report.resolutions[1]),
            (3, report.resolutions[1]),
        ]

    @pytest.mark.parametrize(
        ("total", "standing"),
        [(0, "no_data"), (19, "too_few"), (20, "unmatched")],
    )
    def test_standing_when_undecided(self, total: int, standing: str) -> None:
        """Undecided signals say why: no records, too few, or records matching no rule."""
        groups = [Group(_served("mystery-model"), total)] if total else []
        report = JUDGE.signal_report(COMPLETION_SERVED, groups, Tally(total=total), HOUR, None)
        assert (report.verdict, report.standing) == (
            "no_data" if total == 0 else "inconclusive",
            standing,
        )

    def test_indistinct_roles_give_the_reason(self) -> None:
        """Served generation records whose model both versions resolve to are indistinct,
        and the reason says so instead of 'no rule matches'."""
        start = datetime(2026, 2, 1, tzinfo=UTC)
        window = TimeWindow(start=start, end=start + MINUTE)
        groups = [Group(_served("claude-sonnet-4@20250514"), 30, start, start)]
        report = JUDGE.signal_report(GENERATION_SERVED, groups, Tally(total=30), window, None)
        assert (report.verdict, report.standing) == ("inconclusive", "indistinct")
        assert report.reason == (
            "no policy rule matches; in this era 2.0.0 and ^1.0.0 resolve to the same model "
            "claude-sonnet-4@20250514, so served records cannot tell the roles apart"
        )

    def test_unmatched_outweighs_indistinct(self) -> None:
        """When more records match no rule than are indistinct, the signal is unmatched."""
        start = datetime(2026, 2, 1, tzinfo=UTC)
        window = TimeWindow(start=start, end=start + MINUTE)
        groups = [
            Group(_served("claude-sonnet-4@20250514"), 10, start, start),
            Group(_served("mystery-model"), 11, start, start),
        ]
        report = JUDGE.signal_report(GENERATION_SERVED, groups, Tally(total=21), window, None)
        assert report.standing == "unmatched"


class TestIndistinctCounts:
    START = datetime(2026, 2, 1, tzinfo=UTC)
    SAME = "claude-sonnet-4@20250514"
    """Both generation versions resolve to this model in 2026-02: its records are indistinct."""

    def _report(self, groups: list[Group], judge: Judge = JUDGE) -> SignalReport:
        window = TimeWindow(start=self.START, end=self.START + MINUTE)
        total = sum(group.count for group in groups)
        return judge.signal_report(GENERATION_SERVED, groups, Tally(total=total), window, None)

    def test_indistinct_groups_add_up(self) -> None:
        """Indistinct records of several groups add up to all the unclassified ones."""
        groups = [
            Group(_served(self.SAME), 10, self.START, self.START),
            Group(_served(self.SAME, "yes"), 15, self.START, self.START),
        ]
        assert self._report(groups).standing == "indistinct"

    def test_one_unmatched_record_outweighs(self) -> None:
        """19 indistinct records and one that matches no rule: unmatched, at the edge."""
        groups = [
            Group(_served(self.SAME), 19, self.START, self.START),
            Group(_served("mystery-model"), 1, self.START, self.START),
        ]
        assert self._report(groups).standing == "unmatched"

    def test_one_unmatched_record_alone(self) -> None:
        """One record matching no rule, with a minimum of one, is unmatched, not indistinct."""
        judge = Judge(POLICY, GATEWAY, 0.95, 1, "https://kibana.example", "logs-*")
        groups = [Group(_served("mystery-model"), 1, self.START, self.START)]
        report = self._report(groups, judge)
        assert (report.standing, report.reason) == (
            "unmatched",
            (
                "100.0% of 1 records match no policy rule; see the breakdown, and extend the "
                "policy if they are expected"
            ),
        )


class TestSameModelNotes:
    @pytest.mark.parametrize(
        ("when", "note"),
        [
            (
                datetime(2026, 11, 1, tzinfo=UTC),
                (
                    "in ai-assist main b0bec742d (2026-06-12), the generation failover does not "
                    "move traffic off vertex_ai: 2.0.0 -> claude_sonnet_4_5_20250929_vertex and "
                    "^1.0.0 -> claude_sonnet_4_6_vertex both run on vertex_ai; it changes the "
                    "model only"
                ),
            ),
            (
                datetime(2026, 2, 1, tzinfo=UTC),
                (
                    "in ai-assist main 3e9fb725c (2026-01-15), the generation failover changes "
                    "neither the provider nor the model: 2.0.0 -> claude_sonnet_4_20250514_vertex "
                    "and ^1.0.0 -> claude_sonnet_4_20250514_vertex both run on vertex_ai; served "
                    "records cannot tell the sides apart"
                ),
            ),
        ],
    )
    def test_failover_on_the_same_provider_is_said(self, when: datetime, note: str) -> None:
        """When both sides run on one provider at the window's end, the note says how."""
        window = TimeWindow(start=when - MINUTE, end=when)
        assert JUDGE.same_model_notes("generation", window) == [note]
        assert JUDGE.same_model_notes("completion", window) == []

    @staticmethod
    def _judge(versions: str) -> Judge:
        text = (
            resources.files("failover_verify")
            .joinpath("data/policy.toml")
            .read_text("utf-8")
            .replace('versions = ["2.0.0", "^1.0.0"]', f"versions = {versions}")
        )
        policy = Policy.from_toml(text, source="p.toml")
        return Judge(policy, GATEWAY, 0.95, 20, "https://kibana.example", "logs-*")

    def test_the_first_version_of_a_side_is_named(self) -> None:
        """With two requested versions on the primary side, the first one named stands for it."""
        when = datetime(2026, 11, 1, tzinfo=UTC)
        window = TimeWindow(start=when - MINUTE, end=when)
        judge = self._judge('["2.0.0", "^1.0.0", "1.0.0"]')
        (note,) = judge.same_model_notes("generation", window)
        assert "and ^1.0.0 -> claude_sonnet_4_6_vertex both run on vertex_ai" in note

    def test_no_note_with_one_side_only(self) -> None:
        """A policy that requests only the failover version has no primary to compare."""
        when = datetime(2026, 11, 1, tzinfo=UTC)
        window = TimeWindow(start=when - MINUTE, end=when)
        assert self._judge('["2.0.0"]').same_model_notes("generation", window) == []

    def test_no_note_when_providers_differ(self) -> None:
        """Before 2025-11 the generation sides ran on different providers: no note."""
        window = TimeWindow(
            start=datetime(2025, 10, 1, tzinfo=UTC), end=datetime(2025, 10, 2, tzinfo=UTC)
        )
        assert JUDGE.same_model_notes("generation", window) == []


def _registry(provider: str) -> dict[str, str | None]:
    return {"model_class_provider": provider, "model_identifier": None, "prompt_name": None}


class TestFeatureReport:
    def test_decider_counts_and_everyone_s_problems(self) -> None:
        """The deciding signal's counts stand for the feature; problems, failed indices and
        completeness gather every signal's, each said once."""
        served = JUDGE.signal_report(
            COMPLETION_SERVED,
            [Group(_served(CLAUDE, "yes"), 3), Group(_served(CLAUDE), 37)],
            Tally(total=40, notes=["a served note"]),
            HOUR,
            None,
        )
        registry = JUDGE.signal_report(
            COMPLETION_REGISTRY,
            [Group(_registry("anthropic"), 25)],
            Tally(total=25),
            HOUR,
            None,
        )
        report = JUDGE.feature_report("completion", [served, registry], HOUR)
        assert (report.feature, report.verdict, report.decided_by, report.agreement) == (
            "completion",
            "failover",
            "served",
            "agree",
        )
        assert report.reason == (
            "served records: 100.0% of 40 records are on the failover provider; "
            "registry records agree"
        )
        assert (report.total, report.failover, report.by_model) == (40, 40, {CLAUDE: 40})
        assert report.errors_by_model == {CLAUDE: ErrorCount(calls=40, errors=3, error_share=0.075)}
        assert report.notes == ["a served note"]
        assert list(report.signals) == ["served", "registry"]
        assert (report.complete, report.problems, report.failed_indices) == (True, [], [])

    def test_partial_signals_make_an_incomplete_feature(self) -> None:
        """Without a decider, the first signal with records is shown; every signal's
        problems and failed indices are kept, once each and sorted."""
        lost = "1 of 3 shards failed in logs-b, logs-a"
        served = JUDGE.signal_report(
            COMPLETION_SERVED,
            [],
            Tally(total=0, complete=False, failed_indices=["logs-b"], blockers=[lost]),
            HOUR,
            None,
        )
        registry = JUDGE.signal_report(
            COMPLETION_REGISTRY,
            [Group(_registry("anthropic"), 5)],
            Tally(total=5, complete=False, failed_indices=["logs-a", "logs-b"], blockers=[lost]),
            HOUR,
            None,
        )
        report = JUDGE.feature_report("completion", [served, registry], HOUR)
        assert (report.verdict, report.decided_by, report.agreement) == (
            "inconclusive",
            None,
            "none",
        )
        assert report.reason == lost
        assert (report.total, report.failover) == (5, 5)
        assert report.complete is False
        assert report.problems == [lost]
        assert report.failed_indices == ["logs-a", "logs-b"]

    def test_feature_without_records(self) -> None:
        """With no records anywhere the feature has no data and shows its strongest signal,
        with the same-provider note of the window's era."""
        window = TimeWindow(start=T0, end=T0 + MINUTE)
        reports = [
            JUDGE.signal_report(signal, [], Tally(total=0), window, None) for signal in SIGNALS[3:]
        ]
        report = JUDGE.feature_report("generation", reports, window)
        assert (report.verdict, report.total, report.errors_by_model) == ("no_data", 0, {})
        assert report.kql == reports[0].kql
        assert report.notes == JUDGE.same_model_notes("generation", window)
        assert len(report.notes) == 1
