"""Repeated verifications that ask only for what is new, and agree with one in one go."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

import gateway_logs as gl
from failover_verify import (
    ConnectionSettings,
    Report,
    UsageError,
    Verifier,
    connect,
    read_ndjson,
    verify,
)
from failover_verify._slices import gaps_of, merge_groups, slice_length, spans_of
from failover_verify._summary import Group
from failover_verify._window import TimeWindow
from faultproxy import Fault, FaultProxy
from requests_spy import Recorder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ERA = gl.ERAS["2026-11"]
LATER = ERA.start + timedelta(days=30)
"""A 'now' long after the incident: every slice of it has settled."""
IGNORED = {"generated_at", "requests"}


def _at(minute: float) -> datetime:
    return ERA.start + timedelta(minutes=minute)


def _window(start: datetime, minutes: float) -> TimeWindow:
    return TimeWindow(start=start, end=start + timedelta(minutes=minutes))


def _dump(report: Report) -> dict[str, Any]:
    return report.model_dump(mode="json", exclude=IGNORED)


@pytest.fixture
def incident_index(es_client: Elasticsearch, es_index: str) -> str:
    """Today's incident (all five signals), as the fixture file holds it."""
    hits = [
        hit for hit in read_ndjson(FIXTURES / "incident-2026-11.ndjson") if isinstance(hit, dict)
    ]
    actions = (
        {"_index": f"{es_index}-{hit['_index']}", "_id": hit["_id"], "_source": hit["_source"]}
        for hit in hits
    )
    helpers.bulk(es_client, actions, refresh="wait_for")
    return f"{es_index}-*"


class TestAgreesWithOneGo:
    def test_sliding_window(self, es_client: Elasticsearch, incident_index: str) -> None:
        """A 5-minute window polled every 7 s across the flip gives, at every poll, the report
        a verification in one go gives; after the first poll each asks for about 20 s."""
        verifier = Verifier(es_client, index=incident_index, reuse=True)
        recorder = Recorder(verifier)
        start = _at(57)
        seen: set[str] = set()
        for poll in range(40):
            window = _window(start + timedelta(seconds=7 * poll), 5)
            reused = verifier.verify(window, now=LATER)
            fresh = verify(es_client, since=window, index=incident_index)
            assert _dump(reused) == _dump(fresh), f"poll {poll}"
            # Field capabilities once, then one msearch per poll.
            assert reused.requests == (2 if poll == 0 else 1)
            if poll:
                # The ragged slice at each end plus the 7 s that are new; never the window.
                assert recorder.asked_seconds() <= 10 + 7 + 10
            seen.add(reused.features["completion"].verdict)
        # The polls saw the flip happen.
        assert {"mixed", "failover"} <= seen
        assert fresh.features["completion"].total >= 20

    def test_windows_of_other_lengths(self, es_client: Elasticsearch, incident_index: str) -> None:
        """One verifier asked about windows of different lengths and places stays exact."""
        verifier = Verifier(es_client, index=incident_index, reuse=True)
        for start, minutes in [(50, 30), (55, 30), (55, 15), (0, 150), (100, 30), (10, 1)]:
            window = _window(_at(start), minutes)
            reused = verifier.verify(window, now=LATER)
            fresh = verify(es_client, since=window, index=incident_index)
            assert _dump(reused) == _dump(fresh), (start, minutes)

    def test_one_feature_then_both(self, es_client: Elasticsearch, incident_index: str) -> None:
        verifier = Verifier(es_client, index=incident_index, reuse=True)
        window = _window(_at(58), 5)
        verifier.verify(window, features=["generation"], now=LATER)
        reused = verifier.verify(window, now=LATER)
        assert _dump(reused) == _dump(verify(es_client, since=window, index=incident_index))


class TestLateAndLostRecords:
    def test_record_arriving_in_a_kept_slice(
        self, es_client: Elasticsearch, incident_index: str, es_index: str
    ) -> None:
        """A record that arrives after its slice was kept is counted: the check of the kept
        slices sees the difference and asks again."""
        verifier = Verifier(es_client, index=incident_index, reuse=True)
        window = _window(_at(70), 5)
        before = verifier.verify(window, now=LATER)
        late = gl.served_doc(
            _at(71), "complete_code", "litellm-completion", "codestral-2508", random.Random(5)
        )
        es_client.index(index=f"{es_index}-late", document=late, refresh="wait_for")
        after = verifier.verify(window, now=LATER)
        assert _dump(after) == _dump(verify(es_client, since=window, index=incident_index))
        served = after.features["completion"].signals["served"]
        served_before = before.features["completion"].signals["served"]
        assert served.total == served_before.total + 1
        assert served.primary == served_before.primary + 1

    def test_records_leaving_a_kept_slice(
        self, es_client: Elasticsearch, incident_index: str
    ) -> None:
        """Records deleted after their slice was kept (an index deleted by its lifecycle) are
        no longer counted."""
        verifier = Verifier(es_client, index=incident_index, reuse=True)
        window = _window(_at(70), 5)
        verifier.verify(window, now=LATER)
        # The node has no delete-by-query (no reindex module): find the records, then delete.
        found = es_client.search(
            index=incident_index,
            query={
                "range": {"@timestamp": {"gte": _at(72).isoformat(), "lt": _at(73).isoformat()}}
            },
            size=1000,
            source=False,
        )["hits"]["hits"]
        assert len(found) > 10
        helpers.bulk(
            es_client,
            ({"_op_type": "delete", "_index": hit["_index"], "_id": hit["_id"]} for hit in found),
            refresh="wait_for",
        )
        after = verifier.verify(window, now=LATER)
        assert _dump(after) == _dump(verify(es_client, since=window, index=incident_index))


class TestSettling:
    def test_recent_slices_are_not_kept(
        self, es_client: Elasticsearch, incident_index: str
    ) -> None:
        """Slices that end within the settle delay of now are asked for again each time."""
        verifier = Verifier(
            es_client, index=incident_index, settle=timedelta(seconds=60), reuse=True
        )
        recorder = Recorder(verifier)
        window = _window(_at(70), 5)
        now = window.end + timedelta(seconds=15)
        verifier.verify(window, now=now)
        verifier.verify(window, now=now)
        # Everything that ended before now - 60 s is kept; the last 45 s of the window is not.
        assert 45 <= recorder.asked_seconds() <= 55
        assert verifier.slices is not None
        assert "slices" in repr(verifier.slices)

    def test_kept_once_the_ingest_delay_has_passed(
        self, es_client: Elasticsearch, incident_index: str
    ) -> None:
        """By default a slice is kept once the indices' ingest delay has passed since it ended
        (here the default 1 s refresh and the 5 s pipeline margin), not a fixed minute."""
        verifier = Verifier(es_client, index=incident_index, reuse=True)
        recorder = Recorder(verifier)
        window = _window(_at(70), 5)
        now = window.end + timedelta(seconds=15)
        first = verifier.verify(window, now=now)
        assert verifier.ingest_delay().lag == timedelta(seconds=6)
        assert recorder.asked_seconds() == 5 * 60
        again = verifier.verify(window, now=now)
        # Every slice ended at least 15 s before now: all were kept, nothing is asked again.
        assert recorder.asked_seconds() == 0
        assert again.requests == 1
        assert _dump(again) == _dump(first)
        assert "settle the ingest delay" in repr(verifier.slices)

    def test_negative_settle(self, es_client: Elasticsearch, incident_index: str) -> None:
        with pytest.raises(UsageError, match="settle= must not be negative"):
            Verifier(es_client, index=incident_index, settle=timedelta(seconds=-1))

    def test_one_go_by_default(self, es_client: Elasticsearch, incident_index: str) -> None:
        """A verifier keeps no slices unless asked to (watch polls in one go): measured, a
        poll from kept slices costs more than one in one go below a million records an hour."""
        verifier = Verifier(es_client, index=incident_index)
        recorder = Recorder(verifier)
        window = _window(_at(70), 5)
        verifier.verify(window, now=LATER)
        verifier.verify(window, now=LATER)
        assert verifier.slices is None
        assert recorder.asked_seconds() == 0

    def test_no_reuse(self, es_client: Elasticsearch, incident_index: str) -> None:
        verifier = Verifier(es_client, index=incident_index, reuse=False)
        recorder = Recorder(verifier)
        window = _window(_at(70), 5)
        verifier.verify(window, now=LATER)
        verifier.verify(window, now=LATER)
        assert verifier.slices is None
        assert recorder.asked_seconds() == 0  # the window is asked as a whole, not by slices
        assert len(recorder.requests) == 2


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    started = FaultProxy(es_url).start()
    yield started
    started.stop()


def _timed_out(which: slice) -> Fault:
    """The msearch answers in ``which`` marked timed out (their counts stay real)."""

    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        for answer in body["responses"][which]:
            answer["timed_out"] = True
        return body

    return Fault(rewrite=rewrite)


def _first_msearch(fault: Fault) -> Any:
    seen = {"msearch": 0}

    def rule(_method: str, path: str) -> Fault | None:
        if "/_msearch" not in path:
            return None
        seen["msearch"] += 1
        return fault if seen["msearch"] == 1 else None

    return rule


class TestPartialAnswers:
    """Through a fault proxy: answers that are not whole are never kept nor trusted."""

    def test_partial_slice_answers_are_not_kept(
        self, proxy: FaultProxy, incident_index: str
    ) -> None:
        """Slices from a timed-out answer are not kept, though its counts are real: the next
        verification asks for the whole window again."""
        verifier = Verifier(
            connect(ConnectionSettings.build(url=proxy.url)), index=incident_index, reuse=True
        )
        recorder = Recorder(verifier)
        window = _window(_at(70), 5)
        proxy.rule = _first_msearch(_timed_out(slice(None)))
        partial = verifier.verify(window, now=LATER)
        assert partial.features["completion"].verdict == "inconclusive"
        assert repr(verifier.slices).startswith("<SliceCache 0 slices")
        whole = verifier.verify(window, now=LATER)
        assert recorder.asked_seconds() == 300
        assert len(recorder.requests[-1]) == 5  # one slice search per signal, no check
        assert whole.features["completion"].verdict != "inconclusive"

    def test_partial_check_of_kept_slices_asks_again(
        self, proxy: FaultProxy, incident_index: str, es_client: Elasticsearch
    ) -> None:
        """When the count of the kept slices comes back timed out, they are not trusted: the
        whole window is asked for again, and the report is the one in one go."""
        verifier = Verifier(
            connect(ConnectionSettings.build(url=proxy.url)), index=incident_index, reuse=True
        )
        recorder = Recorder(verifier)
        window = _window(_at(70), 5)
        verifier.verify(window, now=LATER)
        proxy.rule = _first_msearch(_timed_out(slice(-1, None)))
        asked = len(recorder.requests)
        again = verifier.verify(window, now=LATER)
        assert len(recorder.requests) == asked + 2
        assert recorder.asked_seconds() == 300
        fresh = verify(es_client, since=window, index=incident_index)
        # Only the address differs: this verifier reads through the proxy.
        assert _dump(again) | {"source": ""} == _dump(fresh) | {"source": ""}


class TestPieces:
    @pytest.mark.parametrize(
        ("minutes", "seconds"),
        [(1, 10), (5, 10), (10, 10), (15, 30), (60, 60), (24 * 60, 1800), (90 * 24 * 60, 86400)],
    )
    def test_slice_length(self, minutes: float, seconds: int) -> None:
        window = _window(_at(0), minutes)
        assert slice_length(window) == timedelta(seconds=seconds)

    def test_gaps_and_spans(self) -> None:
        start = datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)
        window = TimeWindow(start=start, end=start + timedelta(seconds=57))
        base = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
        used = [base + 10_000, base + 20_000, base + 40_000]
        gaps = gaps_of(window, used, 10_000)
        assert [(g.start.second, g.end.second) for g in gaps] == [(3, 10), (30, 40), (50, 0)]
        assert gaps[-1].end == window.end
        spans = spans_of(used, 10_000)
        assert [(s.start.second, s.end.second) for s in spans] == [(10, 30), (40, 50)]
        assert gaps_of(window, [], 10_000) == [window]

    def test_merge(self) -> None:
        t = datetime(2026, 1, 1, tzinfo=UTC)
        s = timedelta(seconds=1)
        pieces = [
            Group({"model": "b", "n": "10"}, 2, t + 5 * s, t + 9 * s, {"_id": "b1"}, t + 9 * s),
            Group({"model": "b", "n": "10"}, 3, t + 1 * s, t + 4 * s, {"_id": "b0"}, t + 4 * s),
            Group({"model": "a", "n": "9"}, 1, t, t, {"_id": "a"}, t),
            Group({"model": None, "n": "10"}, 1, t, t, None, t),
            Group({"model": "a", "n": "10"}, 1, t, t, None, t),
        ]
        merged = merge_groups(pieces, numeric=frozenset({1}))
        assert [tuple(g.values.values()) for g in merged] == [
            (None, "10"),
            ("a", "9"),
            ("a", "10"),
            ("b", "10"),
        ]
        b = merged[-1]
        assert (b.count, b.first_seen, b.last_seen, b.sample) == (
            5,
            t + s,
            t + 9 * s,
            {"_id": "b1"},
        )
        # The kept pieces themselves are never changed by merging.
        assert pieces[0].count == 2
        assert [tuple(g.values.values()) for g in merge_groups(pieces, frozenset())][1:3] == [
            ("a", "10"),
            ("a", "9"),
        ]
