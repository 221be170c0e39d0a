"""Timelines from the real node: every composite page read, partial pages never taken as whole."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

import failover_verify as fv
import gateway_logs as gl
from esdata import index_documents
from faultproxy import Fault, FaultProxy

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
STEP = timedelta(seconds=10)
# 3 hours of 10 s buckets with one record each: 1,080 composite buckets, more than the 1,000 a
# timeline page holds, so the last 80 buckets are only on the second page.
BUCKETS = 1080


def _at(document: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """The document with its ingest time set exactly (the generator adds a random delay)."""
    document["@timestamp"] = moment.isoformat().replace("+00:00", "Z")
    return document


def _one_per_bucket() -> list[dict[str, Any]]:
    rng = random.Random(7)
    documents = []
    for number in range(BUCKETS):
        role_provider = ("anthropic", "claude-sonnet-4-20250514")
        if number < BUCKETS // 2:
            role_provider = ("vertex-ai", "codestral-2501")
        moment = T0 + STEP * number + timedelta(seconds=1)
        documents.append(_at(gl.completion_doc(moment, *role_provider, rng), moment))
    return documents


@pytest.fixture
def paged(es_client: Elasticsearch, es_index: str) -> str:
    index_documents(es_client, f"{es_index}-a", _one_per_bucket())
    return f"{es_index}*"


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    started = FaultProxy(es_url).start()
    yield started
    started.stop()


def _timeline(url: str, index: str, **options: Any) -> fv.Timeline:
    client = fv.connect(fv.ConnectionSettings.build(url=url))
    return fv.timeline(
        client,
        since=T0,
        until=T0 + STEP * BUCKETS,
        interval="10s",
        index=index,
        features=["completion"],
        min_bucket_count=1,
        retries=0,
        **options,
    )


class TestPaging:
    def test_reads_every_composite_page(self, es_url: str, paged: str) -> None:
        """Buckets past the first composite page are counted: all 1,080 records, to the last."""
        timeline = _timeline(es_url, paged)
        points = timeline.features["completion"]
        assert len(points) == BUCKETS
        assert [point.total for point in points] == [1] * BUCKETS
        assert sum(point.failover for point in points) == BUCKETS // 2
        assert points[-1].by_provider == {"anthropic": 1}
        # field caps, one page each for the served and registry records (none here), then
        # the input records' two composite pages
        assert timeline.requests == 5
        assert timeline.signals == {"completion": "input"}
        assert timeline.complete

    def test_server_equals_offline_across_pages(self, es_url: str, paged: str) -> None:
        """The paged server timeline equals the offline one from the same documents."""
        online = _timeline(es_url, paged)
        hits = [
            {"_index": "x", "_id": str(number), "_source": document}
            for number, document in enumerate(_one_per_bucket())
        ]
        offline = fv.timeline_hits(
            hits,
            since=T0,
            until=T0 + STEP * BUCKETS,
            interval="10s",
            features=["completion"],
            min_bucket_count=1,
        )
        assert online.features == offline.features
        assert online.switches == offline.switches
        assert [(s.at, s.to_role) for s in online.switches] == [
            (T0 + STEP * (BUCKETS // 2), "failover")
        ]


def _partial(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        if kind == "timed_out":
            body["timed_out"] = True
        else:
            shards = body["_shards"]
            shards.update(
                failed=1,
                total=shards["total"] + 1,
                failures=[{"index": "logs-lost", "reason": {"type": "x", "reason": "disk"}}],
            )
        return body

    return rewrite


def _nth_search(number: int, fault: Fault) -> Callable[[str, str], Fault | None]:
    """Apply ``fault`` to the ``number``-th search (1-based), counting only searches."""
    seen = {"searches": 0}

    def rule(_method: str, path: str) -> Fault | None:
        if "/_search" not in path:
            return None
        seen["searches"] += 1
        return fault if seen["searches"] == number else None

    return rule


class TestPartialPages:
    @pytest.mark.parametrize("kind", ["timed_out", "failed_shards"])
    @pytest.mark.parametrize("page", [1, 2])
    def test_partial_page_makes_the_timeline_incomplete(
        self, proxy: FaultProxy, paged: str, kind: str, page: int
    ) -> None:
        """A timed-out or failed-shard page, first or second, leaves the timeline incomplete."""
        proxy.rule = _nth_search(page, Fault(rewrite=_partial(kind)))
        timeline = _timeline(proxy.url, paged)
        assert not timeline.complete
        assert len(timeline.problems) == 1
        assert "completion timeline is partial" in timeline.problems[0]

    def test_whole_pages_stay_complete(self, proxy: FaultProxy, paged: str) -> None:
        """Through the same proxy without a fault, the timeline is complete."""
        timeline = _timeline(proxy.url, paged)
        assert timeline.complete
        assert timeline.problems == []
        assert sum(point.total for point in timeline.features["completion"]) == BUCKETS

    def test_refused_page(self, proxy: FaultProxy, paged: str) -> None:
        """A page the server refuses makes the timeline incomplete and names the refusal."""
        proxy.rule = _nth_search(
            2, Fault(status=400, body={"error": {"type": "bad", "reason": "no"}, "status": 400})
        )
        with pytest.raises(fv.RequestRejected):
            _timeline(proxy.url, paged)
