"""Faults between the tool and Elasticsearch: outages, slowness, overload, resets, partial data.

A loopback proxy sits between the CLI and the real test node and misbehaves on demand.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from esdata import completions, generations, index_documents
from failover_verify import (
    AccessDenied,
    ConnectionFailed,
    ConnectionSettings,
    Verifier,
    connect,
    parse_window,
)
from failover_verify._cli import main
from faultproxy import Fault, FaultProxy

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
WINDOW = ["--since", T0.isoformat(), "--until", (T0 + timedelta(minutes=30)).isoformat()]
Rule = Callable[[str, str], Fault | None]


@pytest.fixture
def data(es_client: Elasticsearch, es_index: str) -> str:
    index_documents(
        es_client,
        f"{es_index}-a",
        completions(T0, 30, 60, "failover") + generations(T0, 30, 40, "failover"),
    )
    return f"{es_index}*"


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    started = FaultProxy(es_url).start()
    yield started
    started.stop()


def cli(proxy: FaultProxy, *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {"ES_URL": proxy.url, **kwargs.pop("env", {})}
    code = main(list(argv), env=env, stdout=out, stderr=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def first_n(count: int, fault: Fault, path_part: str = "") -> Rule:
    """A rule that applies ``fault`` to the first ``count`` matching requests."""
    seen = itertools.count()

    def rule(_method: str, path: str) -> Fault | None:
        if path_part in path and next(seen) < count:
            return fault
        return None

    return rule


def assert_one_line_error(code: int, out: str, err: str, expected_code: int, text: str) -> None:
    assert code == expected_code, out + err
    assert out == ""
    assert text in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


class TestServerDown:
    def test_down_at_start(self, proxy: FaultProxy, data: str) -> None:
        """A server that is not there: bounded retries, exit 4, one line, no verdict."""
        url = proxy.url
        proxy.stop()
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["status", "--index", data, *WINDOW], env={"ES_URL": url}, stdout=out, stderr=err
        )
        assert_one_line_error(code, out.getvalue(), err.getvalue(), 4, "cannot reach Elasticsearch")
        assert "after 3 attempts" in err.getvalue()

    @pytest.mark.parametrize("status", [429, 503])
    def test_overloaded_then_recovers(self, proxy: FaultProxy, data: str, status: int) -> None:
        """429 and 503 answers are retried with backoff; a verdict follows once answered."""
        proxy.rule = first_n(2, Fault(status=status, body={"error": "busy"}))
        code, _, _ = cli(proxy, "status", "--index", data, *WINDOW, "--expect", "failover")
        assert code == 0
        assert [e.status for e in proxy.exchanges[:3]] == [status, status, 200]

    @pytest.mark.parametrize("status", [429, 503])
    def test_overloaded_throughout(self, proxy: FaultProxy, data: str, status: int) -> None:
        """A server that keeps refusing: exit 4 after the retries, naming the status."""
        proxy.rule = lambda _m, _p: Fault(status=status, body={"error": "busy"})
        code, out, err = cli(proxy, "status", "--index", data, *WINDOW, "--retries", "1")
        assert_one_line_error(code, out, err, 4, f"({status}) after 2 attempts")
        assert len(proxy.exchanges) == 2

    def test_failure_on_the_search_gives_no_verdict(self, proxy: FaultProxy, data: str) -> None:
        """Mappings read fine but the search fails: no verdict is built, exit 4."""
        proxy.rule = lambda _m, path: Fault(status=503) if "_msearch" in path else None
        code, out, err = cli(proxy, "status", "--index", data, *WINDOW, "--retries", "0", "--json")
        assert_one_line_error(code, out, err, 4, "overloaded or unavailable (503)")

    def test_slow_past_the_timeout(self, proxy: FaultProxy, data: str) -> None:
        """Answers slower than --request-timeout: exit 4 saying it did not answer in time."""
        proxy.rule = lambda _m, _p: Fault(delay=2.0)
        code, out, err = cli(
            proxy, "status", "--index", data, *WINDOW, "--request-timeout", "0.5", "--retries", "1"
        )
        assert_one_line_error(code, out, err, 4, "did not answer in time after 2 attempts")

    def test_reset_before_answer(self, proxy: FaultProxy, data: str) -> None:
        """A connection reset is retried; persistent resets exit 4."""
        proxy.rule = first_n(1, Fault(reset=True))
        assert cli(proxy, "status", "--index", data, *WINDOW)[0] == 0
        proxy.rule = lambda _m, _p: Fault(reset=True)
        code, out, err = cli(proxy, "status", "--index", data, *WINDOW, "--retries", "1")
        assert_one_line_error(code, out, err, 4, "cannot reach Elasticsearch")

    def test_reset_mid_response(self, proxy: FaultProxy, data: str) -> None:
        """A response cut off half-way is never parsed into a verdict."""
        proxy.rule = lambda _m, path: Fault(truncate=40) if "_msearch" in path else None
        code, out, err = cli(proxy, "status", "--index", data, *WINDOW, "--retries", "1")
        assert_one_line_error(code, out, err, 4, "Elasticsearch")


class TestWatchThroughOutage:
    def _clock(self) -> tuple[dict[str, datetime], Callable[[float], None]]:
        clock = {"now": T0 + timedelta(minutes=10)}

        def sleep(seconds: float) -> None:
            clock["now"] += timedelta(seconds=seconds)

        return clock, sleep

    def test_short_outage(self, proxy: FaultProxy, data: str) -> None:
        """watch reports failed polls during an outage and resumes when the server is back."""
        clock, sleep = self._clock()
        polls = itertools.count()

        def outage(_method: str, path: str) -> Fault | None:
            # The first two polls see the server; the next four do not (with retries off).
            if "_msearch" in path:
                number = next(polls)
                if 0 < number < 5:
                    return Fault(reset=True)
            return None

        proxy.rule = outage
        code, out, _ = cli(
            proxy,
            "watch",
            "--index",
            data,
            "--expect",
            "primary",
            "--window",
            "10m",
            "--interval",
            "1m",
            "--timeout",
            "6m",
            "--retries",
            "0",
            "--min-count",
            "5",
            now=lambda: clock["now"],
            sleep=sleep,
        )
        assert "poll failed" in out
        assert out.count("poll failed") == 4
        assert code == 1  # the server came back and the traffic is failover, not primary

    def test_outage_until_timeout(self, proxy: FaultProxy, data: str) -> None:
        """A server that never comes back: watch ends at the timeout with exit 4."""
        clock, sleep = self._clock()
        proxy.rule = lambda _m, _p: Fault(reset=True)
        code, out, err = cli(
            proxy,
            "watch",
            "--index",
            data,
            "--expect",
            "failover",
            "--interval",
            "1m",
            "--timeout",
            "3m",
            "--retries",
            "0",
            now=lambda: clock["now"],
            sleep=sleep,
        )
        assert code == 4
        assert out.count("poll failed") >= 3
        assert "Traceback" not in err


class TestPartialResults:
    def test_one_feature_refused(self, proxy: FaultProxy, data: str) -> None:
        """Some evidence but one search refused: exit 3, and the good feature still shows."""

        def fail_generation(body: dict[str, Any]) -> dict[str, Any]:
            # The last search of the msearch is generation's registry records.
            body["responses"][-1] = {
                "error": {"type": "search_phase_execution_exception", "reason": "boom"},
                "status": 500,
            }
            return body

        proxy.rule = lambda _m, path: Fault(rewrite=fail_generation) if "_msearch" in path else None
        code, out, _ = cli(proxy, "status", "--index", data, *WINDOW, "--json")
        report = json.loads(out)
        assert code == 3
        assert report["features"]["completion"]["verdict"] == "failover"
        assert report["features"]["generation"]["verdict"] == "inconclusive"
        assert "boom" in report["features"]["generation"]["reason"]

    def test_failed_shards_named(self, proxy: FaultProxy, data: str) -> None:
        """Failed shards reported by the server: inconclusive, exit 3, the index named."""

        def shard_failure(body: dict[str, Any]) -> dict[str, Any]:
            for item in body["responses"]:
                item["_shards"].update(
                    failed=1,
                    total=item["_shards"]["total"] + 1,
                    failures=[
                        {
                            "index": "pubsub-mlops-inf-gprod-2026.03.02",
                            "reason": {"type": "x", "reason": "disk"},
                        }
                    ],
                )
            return body

        proxy.rule = lambda _m, path: Fault(rewrite=shard_failure) if "_msearch" in path else None
        code, out, _ = cli(proxy, "status", "--index", data, *WINDOW)
        assert code == 3
        assert "INCONCLUSIVE" in out
        assert "pubsub-mlops-inf-gprod-2026.03.02" in out

    def test_skipped_cluster_named(self, proxy: FaultProxy, data: str) -> None:
        """A remote cluster skipped in every answer: each feature inconclusive, exit 3, named."""

        def skipped_remote(body: dict[str, Any]) -> dict[str, Any]:
            # What a cross-cluster search answers when a skip_unavailable remote is down:
            # status 200, no failed shard, and only _clusters telling the records are missing.
            for item in body["responses"]:
                item["_clusters"] = {
                    "total": 2,
                    "successful": 1,
                    "skipped": 1,
                    "running": 0,
                    "partial": 0,
                    "failed": 0,
                    "details": {
                        "(local)": {"status": "successful"},
                        "eu": {
                            "status": "skipped",
                            "failures": [
                                {"reason": {"type": "connect_exception", "reason": "refused"}}
                            ],
                        },
                    },
                }
            return body

        proxy.rule = lambda _m, path: Fault(rewrite=skipped_remote) if "_msearch" in path else None
        code, out, _ = cli(proxy, "status", "--index", data, *WINDOW, "--json")
        report = json.loads(out)
        assert code == 3
        for feature in ("completion", "generation"):
            assert report["features"][feature]["verdict"] == "inconclusive"
            assert report["features"][feature]["complete"] is False
            assert report["features"][feature]["problems"] == [
                (
                    "1 of 2 clusters sent no records: eu was skipped "
                    "(connect_exception: refused); the counts lack their records"
                )
            ]


class TestLibraryErrors:
    def test_verifier_raises_connection_failed(self, proxy: FaultProxy, data: str) -> None:
        """The library raises its own ConnectionFailed, not the client's exception."""
        proxy.rule = lambda _m, _p: Fault(status=503)
        verifier = Verifier(connect(ConnectionSettings.build(url=proxy.url)), index=data, retries=0)
        with pytest.raises(ConnectionFailed) as caught:
            verifier.verify(parse_window(T0, T0 + timedelta(minutes=30)))
        assert caught.value.__cause__ is None


class TestSettingsRefused:
    """Reading index settings takes view_index_metadata or monitor, which a user who may
    search the logs can lack: the verification goes on with the longest known delay."""

    @staticmethod
    def _refuse_settings(_method: str, path: str) -> Fault | None:
        if "/_settings" not in path:
            return None
        return Fault(
            status=403,
            body={"error": {"type": "security_exception", "reason": "action is unauthorized"}},
        )

    def test_verification_assumes_the_longest_delay(self, proxy: FaultProxy, data: str) -> None:
        proxy.rule = self._refuse_settings
        verifier = Verifier(connect(ConnectionSettings.build(url=proxy.url)), index=data)
        now = T0 + timedelta(minutes=30)
        report = verifier.verify("30m", features=["completion"], now=now)
        # 30 s assumed, plus 5 s for the pipeline: the window ends 35 s before now.
        assert report.window.end == now - timedelta(seconds=35)
        assert report.features["completion"].total == 59
        assert report.notes == [
            (
                "the window ends at 2026-03-02T14:29:25Z, not 2026-03-02T14:30:00Z: later "
                "records may not be searchable yet (refresh_interval 30s (assumed: the "
                "credentials may not read the index settings), plus 5 s for the pipeline); "
                'give until="now" to count them as far as they are'
            )
        ]
        assert [
            exchange.status for exchange in proxy.exchanges if "_settings" in exchange.path
        ] == [403]

    def test_search_refused_is_access_denied(self, proxy: FaultProxy, data: str) -> None:
        """A 403 on the search itself is an error, never an empty answer."""
        proxy.rule = lambda _m, path: (
            Fault(status=403, body={"error": {"type": "security_exception"}})
            if "_msearch" in path
            else None
        )
        verifier = Verifier(connect(ConnectionSettings.build(url=proxy.url)), index=data)
        with pytest.raises(AccessDenied) as caught:
            verifier.verify(parse_window(T0, T0 + timedelta(minutes=30)))
        assert "(403)" in str(caught.value)
        assert "read and view_index_metadata" in str(caught.value)


def _partial_page(body: dict[str, Any]) -> dict[str, Any]:
    shards = body["_shards"]
    shards.update(
        failed=1,
        total=shards["total"] + 1,
        failures=[{"index": "logs-lost", "reason": {"type": "x", "reason": "disk"}}],
    )
    return body


def _timed_out(body: dict[str, Any]) -> dict[str, Any]:
    body["timed_out"] = True
    return body


class TestPartialExport:
    @pytest.fixture
    def big(self, es_client: Elasticsearch, es_index: str) -> str:
        # 1,500 records: two pages of 1,000.
        index_documents(es_client, f"{es_index}-big", completions(T0, 20, 1500, "failover"))
        return f"{es_index}*"

    @pytest.mark.parametrize("rewrite", [_partial_page, _timed_out])
    @pytest.mark.parametrize("page", [1, 2])
    def test_partial_page_stops_the_export(
        self,
        proxy: FaultProxy,
        big: str,
        tmp_path: Path,
        page: int,
        rewrite: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        """A partial page, first or later, ends export with exit 4 and no file at the target."""
        searches = itertools.count(1)

        def rule(_method: str, path: str) -> Fault | None:
            if path.startswith("/_search") and next(searches) == page:
                return Fault(rewrite=rewrite)
            return None

        proxy.rule = rule
        target = tmp_path / "incident.ndjson"
        code, out, err = cli(proxy, "export", "--index", big, *WINDOW, "-o", str(target))
        assert code == 4
        assert out == ""
        assert "partial page" in err
        assert not target.exists()
        partial = tmp_path / "incident.ndjson.partial"
        assert f"kept the {(page - 1) * 1000:,} records read before it in {partial}" in err
        assert len(partial.read_text().splitlines()) == (page - 1) * 1000

    def test_whole_pages_export_everything(
        self, proxy: FaultProxy, big: str, tmp_path: Path
    ) -> None:
        """Through the same proxy without a fault, all 1,500 records land in the target."""
        target = tmp_path / "incident.ndjson"
        code, _, err = cli(proxy, "export", "--index", big, *WINDOW, "-o", str(target))
        assert code == 0, err
        assert len(target.read_text().splitlines()) == 1500
        assert not (tmp_path / "incident.ndjson.partial").exists()


class TestWatchSwitchTime:
    def test_partial_timeline_gives_no_switch_time(self, proxy: FaultProxy, data: str) -> None:
        """When the switch-time timeline is partial, watch says so instead of dating it."""
        clock = {"now": T0 + timedelta(minutes=20)}

        def rule(_method: str, path: str) -> Fault | None:
            # The polls use _msearch; the switch-time timeline uses _search.
            return Fault(rewrite=_partial_page) if "/_search" in path else None

        proxy.rule = rule
        code, out, _ = cli(
            proxy,
            "watch",
            "--index",
            data,
            "--expect",
            "failover",
            "--window",
            "10m",
            "--min-count",
            "5",
            "--json",
            now=lambda: clock["now"],
            sleep=lambda _s: None,
        )
        report = json.loads(out)
        assert code == 0
        assert report["watch"]["switched_at"] == {"completion": None, "generation": None}
        assert "partial" in report["watch"]["switch_problems"][0]

    def test_whole_timeline_dates_the_switch(self, proxy: FaultProxy, data: str) -> None:
        """Without a fault the same watch dates when each feature reached failover."""
        clock = {"now": T0 + timedelta(minutes=20)}
        code, out, _ = cli(
            proxy,
            "watch",
            "--index",
            data,
            "--expect",
            "failover",
            "--window",
            "10m",
            "--min-count",
            "5",
            "--json",
            now=lambda: clock["now"],
            sleep=lambda _s: None,
        )
        report = json.loads(out)
        assert code == 0
        switched = report["watch"]["switched_at"]
        # Generation records come every 45 s from T0; the first in the watched span is at 10:30.
        assert switched["generation"] == (T0 + timedelta(minutes=10, seconds=30)).isoformat()
        assert report["watch"]["switch_problems"] == []


class TestRetryLog:
    def test_retries_are_logged_at_info(
        self, proxy: FaultProxy, data: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Each retry is one INFO record on the failover_verify logger, naming the cause."""
        proxy.rule = first_n(2, Fault(status=503), "_msearch")
        caplog.set_level(logging.INFO, logger="failover_verify")
        verifier = Verifier(connect(ConnectionSettings.build(url=proxy.url)), index=data, retries=2)
        verifier.reader._sleep = lambda _seconds: None
        report = verifier.verify(T0, T0 + timedelta(minutes=30))
        assert report.features["completion"].verdict == "failover"
        retries = [r for r in caplog.records if r.name == "failover_verify"]
        assert [r.levelno for r in retries] == [logging.INFO, logging.INFO]
        assert "retrying to search" in retries[0].getMessage()
        assert "attempt 2 of 3" in retries[0].getMessage()
        assert "the server answered 503" in retries[0].getMessage()

    def test_cli_shows_retries_with_debug(self, proxy: FaultProxy, data: str) -> None:
        """With --debug the command line prints the retries on stderr."""
        proxy.rule = first_n(1, Fault(status=503), "_msearch")
        code, _, err = cli(proxy, "status", "--index", data, *WINDOW, "--debug")
        assert code == 0
        assert "failover-verify: retrying to search" in err
