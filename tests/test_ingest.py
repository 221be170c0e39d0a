"""The ingest delay: refresh intervals read from index settings, windows that end where
records are surely searchable, and kept slices that wait for it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

import gateway_logs as gl
from esdata import index_gateway_records, timed
from failover_verify import IngestDelay, Report, TimeWindow, Verifier, verify
from failover_verify._ingest import (
    DEFAULT_REFRESH,
    PIPELINE_MARGIN,
    latest,
    local_targets,
    read_refresh_intervals,
    searchable_window,
)
from requests_spy import Recorder

NOW = datetime(2026, 11, 24, 14, 55, tzinfo=UTC)
THIRTY = IngestDelay(refresh=timedelta(seconds=30), setting="30s", slowest=("logs-000002",))


def _set(value: str) -> dict[str, dict[str, dict[str, str]]]:
    return {"settings": {"index": {"refresh_interval": value}}}


def _default(value: str) -> dict[str, dict[str, dict[str, str]]]:
    return {"defaults": {"index": {"refresh_interval": value}}}


class TestReadRefreshIntervals:
    def test_longest_interval_decides(self) -> None:
        """Of 30s, 500ms and a default 1s, 30s decides, naming the indices that have it."""
        delay = read_refresh_intervals(
            {
                "logs-000001": _set("30s"),
                "logs-000002": _set("30s"),
                "logs-old": _set("500ms"),
                "other": _default("1s"),
            },
            index="logs-*,other",
        )
        assert (delay.refresh, delay.setting) == (timedelta(seconds=30), "30s")
        assert delay.slowest == ("logs-000001", "logs-000002")
        assert delay.lag == timedelta(seconds=35)
        assert delay.searchable_until(NOW) == NOW - timedelta(seconds=35)

    def test_nothing_matched_is_the_default(self) -> None:
        """An empty answer means Elasticsearch's default of 1 s, plus the 5 s margin."""
        delay = read_refresh_intervals({}, index="logs-*")
        assert (delay.refresh, delay.setting, delay.slowest) == (DEFAULT_REFRESH, "1s", ())
        assert delay.lag == timedelta(seconds=6)
        assert delay.margin == PIPELINE_MARGIN == timedelta(seconds=5)

    def test_disabled_refresh_is_named_not_counted(self) -> None:
        """An index with refresh_interval -1 is named in the notes; the others decide."""
        delay = read_refresh_intervals(
            {"logs-000001": _set("-1"), "logs-000002": _set("2m")}, index="logs-*"
        )
        assert (delay.refresh, delay.not_refreshing) == (timedelta(minutes=2), ("logs-000001",))
        assert delay.describe() == (
            "refresh_interval 2m of logs-000002, plus 5 s for the pipeline; "
            "logs-000001 do not refresh on their own (refresh_interval -1)"
        )

    def test_remote_entries_are_assumed_thirty_seconds(self) -> None:
        """A remote cluster's indices cannot be asked: 30 s is assumed and said."""
        delay = read_refresh_intervals({"local-1": _default("1s")}, index="local-*,far:logs-*")
        assert (delay.refresh, delay.remote) == (timedelta(seconds=30), ("far:logs-*",))
        assert delay.describe() == (
            "refresh_interval 30s assumed for far:logs-*, plus 5 s for the pipeline"
        )

    @pytest.mark.parametrize(
        ("index", "targets"),
        [
            ("logs-*", "logs-*"),
            ("logs-*, far:logs-*", "logs-*"),
            ("logs-*,-logs-old*", "logs-*,-logs-old*"),
            ("far:logs-*", None),
            ("-logs-old*", None),
        ],
    )
    def test_local_targets(self, index: str, targets: str | None) -> None:
        """Only local entries are sent to the settings API; nothing when none is left."""
        assert local_targets(index) == targets


class TestSearchableWindow:
    def test_tail_is_cut_by_default(self) -> None:
        """A window ending now ends 35 s earlier on a 30 s index, and says so."""
        window = TimeWindow(start=NOW - timedelta(minutes=15), end=NOW)
        settled = searchable_window(window, now=NOW, delay=THIRTY, keep_tail=False)
        edge = datetime(2026, 11, 24, 14, 54, 25, tzinfo=UTC)
        assert (settled.start, settled.end) == (window.start, edge)
        assert (settled.requested_end, settled.searchable_until) == (NOW, edge)
        assert settled.notes == (
            (
                "the window ends at 2026-11-24T14:54:25Z, not 2026-11-24T14:55:00Z: later "
                "records may not be searchable yet (refresh_interval 30s of logs-000002, plus "
                '5 s for the pipeline); give until="now" to count them as far as they are'
            ),
        )

    def test_tail_kept_for_until_now(self) -> None:
        """until="now" keeps the whole window and says its last 35 s may be incomplete."""
        window = TimeWindow(start=NOW - timedelta(minutes=15), end=NOW)
        settled = searchable_window(window, now=NOW, delay=THIRTY, keep_tail=True)
        assert (settled.end, settled.requested_end) == (NOW, None)
        assert settled.searchable_until == NOW - timedelta(seconds=35)
        assert settled.notes == (
            (
                "records after 2026-11-24T14:54:25Z may not be searchable yet (refresh_interval "
                "30s of logs-000002, plus 5 s for the pipeline): the last 35 s of the window "
                "may be incomplete"
            ),
        )

    def test_window_inside_the_lag_is_kept(self) -> None:
        """A window wholly newer than the searchable edge cannot be cut: it is kept, with a
        note."""
        window = TimeWindow(start=NOW - timedelta(seconds=20), end=NOW)
        settled = searchable_window(window, now=NOW, delay=THIRTY, keep_tail=False)
        assert (settled.start, settled.end) == (window.start, NOW)
        assert settled.notes[0].startswith(
            "the whole window is newer than 2026-11-24T14:54:25Z, the last moment whose "
            "records are surely searchable"
        )

    def test_past_window_is_untouched(self) -> None:
        """A window that ended before the edge is returned as it was, without notes."""
        window = TimeWindow(start=NOW - timedelta(hours=1), end=NOW - timedelta(seconds=35))
        assert searchable_window(window, now=NOW, delay=THIRTY, keep_tail=False) == window

    def test_future_end_is_cut_to_the_edge(self) -> None:
        """A window reaching into the future also ends at the searchable edge."""
        window = TimeWindow(start=NOW - timedelta(minutes=5), end=NOW + timedelta(hours=1))
        settled = searchable_window(window, now=NOW, delay=THIRTY, keep_tail=False)
        assert (settled.end, settled.requested_end) == (
            NOW - timedelta(seconds=35),
            NOW + timedelta(hours=1),
        )

    def test_json_names_the_requested_end(self) -> None:
        """The JSON form carries requested_to and searchable_until beside from and to."""
        window = TimeWindow(start=NOW - timedelta(minutes=15), end=NOW)
        data = searchable_window(window, now=NOW, delay=THIRTY, keep_tail=False).model_dump(
            mode="json", by_alias=True
        )
        assert {key: data[key] for key in ("from", "to", "requested_to", "searchable_until")} == {
            "from": "2026-11-24T14:40:00Z",
            "to": "2026-11-24T14:54:25Z",
            "requested_to": "2026-11-24T14:55:00Z",
            "searchable_until": "2026-11-24T14:54:25Z",
        }


class TestLatest:
    def test_slides_behind_now_keeping_its_length(self) -> None:
        """A polling window keeps its length and ends 35 s before now on a 30 s index."""
        window = latest(timedelta(minutes=5), now=NOW, delay=THIRTY)
        edge = datetime(2026, 11, 24, 14, 54, 25, tzinfo=UTC)
        assert (window.start, window.end) == (edge - timedelta(minutes=5), edge)
        assert (window.requested_end, window.searchable_until) == (NOW, edge)
        assert window.notes == (
            (
                "the window ends at 2026-11-24T14:54:25Z, 35 s before now: later records may "
                "not be searchable yet (refresh_interval 30s of logs-000002, plus 5 s for the "
                "pipeline)"
            ),
        )
        # Read again at the same moment, the window is left as it is.
        assert searchable_window(window, now=NOW, delay=THIRTY, keep_tail=False) == window


T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _completions(moments: Iterator[datetime], seed: int) -> list[dict[str, Any]]:
    """Failover completions ingested at each moment, logged a second before."""
    rng = random.Random(seed)
    return [
        timed(
            gl.completion_doc(moment, "anthropic", "claude-sonnet-4-20250514", rng),
            ingest=moment,
            logged=moment - timedelta(seconds=1),
        )
        for moment in moments
    ]


def _every(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += step


def _counts(report: Report) -> dict[str, tuple[int, int, int]]:
    return {
        name: (feature.total, feature.primary, feature.failover)
        for name, feature in report.features.items()
    }


class TestKeptSlicesWaitForTheIngestDelay:
    def test_pending_tail_is_not_kept(self, es_client: Elasticsearch, es_index: str) -> None:
        """A verifier that knows its indices refresh every 30 s keeps no slice of the last
        35 s, even with settle=0: once the pending records turn searchable, the next
        verification counts them in its one request, without a second one for slices that
        changed, and asks only for the newest slices."""
        alias = f"{es_index}-gprd"
        now = T0 + timedelta(minutes=10)
        pending = now - timedelta(seconds=30)
        step = timedelta(seconds=5)
        index_gateway_records(es_client, alias, _completions(_every(T0, pending, step), 41))
        index_gateway_records(
            es_client, alias, _completions(_every(pending, now, step), 42), refresh=False
        )
        verifier = Verifier(es_client, index=alias, settle=timedelta(0), reuse=True)
        recorder = Recorder(verifier)
        first = verifier.verify("5m", "now", features=["completion"], now=now)
        assert first.window.searchable_until == now - timedelta(seconds=35)
        # The test's premise: the index has not refreshed on its own meanwhile.
        assert first.features["completion"].total == 54
        es_client.indices.refresh(index=alias)
        again = verifier.verify("5m", "now", features=["completion"], now=now)
        assert _counts(again) == {"completion": (60, 0, 60)}
        assert _counts(again) == _counts(
            verify(
                es_client, since="5m", until="now", index=alias, features=["completion"], now=now
            )
        )
        # One msearch: the slices kept held no pending record, so none had to be asked again.
        assert again.requests == 1
        # 10 s slices up to 14:09:20 were kept; what is newer (40 s) was asked for.
        assert recorder.asked_seconds() == 40

    def test_watch_polls_ask_only_for_the_newest_slices(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """Polled as watch polls (a window ending at the searchable edge), a verifier asks
        each time only for the slices that are new or not yet settled, and agrees with a
        verification in one go."""
        alias = f"{es_index}-gprd"
        start = T0 + timedelta(minutes=10)
        step = timedelta(seconds=2)
        index_gateway_records(es_client, alias, _completions(_every(T0, start, step), 43))
        verifier = Verifier(es_client, index=alias, reuse=True)
        recorder = Recorder(verifier)
        for poll in range(6):
            now = start + timedelta(seconds=30) * poll
            window = verifier.latest_window("5m", now=now)
            assert window.end == now - timedelta(seconds=35)
            reused = verifier.verify(window, features=["completion"], now=now)
            fresh = verify(es_client, since=window, index=alias, features=["completion"], now=now)
            assert _counts(reused) == _counts(fresh) == {"completion": (150, 0, 150)}
            if poll:
                assert reused.requests == 1
                # Asked: the 5 s ragged start, and the 35 s from the last slice kept (the
                # last whole one of the previous window, which ended at the searchable edge:
                # slices are kept once the ingest delay has passed) to the window's end.
                assert recorder.asked_seconds() == 5 + 35
            # Records keep arriving, searchable after the index's next refresh.
            index_gateway_records(
                es_client,
                alias,
                _completions(_every(now, now + timedelta(seconds=30), step), 44 + poll),
            )
