"""Real clusters: several nodes, many indices, a remote cluster, a node lost.

Every test here runs against ``es_cluster`` (three nodes on loopback) and, for cross-cluster
search, ``es_remote`` (a second, one-node cluster). Both start once per session, and the
data is loaded once per module; tests that stop a node leave the cluster whole again for the
next one.

The minimal server distribution the suite uses lacks the data-streams module: a data stream
can be created (a composable template with ``data_stream: {}`` makes one on the first write),
searched and rolled over, but the ``_data_stream`` APIs answer "no handler found", so the
data stream made here is never deleted; the session's cluster is thrown away instead.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from elasticsearch import ApiError, Elasticsearch, helpers

import esnode
import failover_verify as fv
from esdata import Role, completions, generations, index_documents
from failover_verify._cli import main

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
T_END = T0 + timedelta(minutes=30)
WINDOW = ["--since", T0.isoformat(), "--until", T_END.isoformat()]
SHARDED = ("fvc-shards-a", "fvc-shards-b")
SHARDED_PATTERN = "fvc-shards-*"
# Records of the two sharded indices together, all on the failover provider.
LOCAL = {"completion": 60, "generation": 40}
REMOTE = "fvremote"
REMOTE_INDEX = "fvc-remote-logs"
# Records of the remote cluster's index, all on the primary provider, in the same window.
REMOTE_COUNTS = {"completion": 30, "generation": 20}
LOST_NODE = 3
ROOT = Path(__file__).resolve().parent.parent
LOAD = ROOT / "benchmarks" / "load.py"
POLL = re.compile(r"^\d\d:\d\d:\d\dZ  ")


def cli(url: str, *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    """Run the CLI in-process against ``url``; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env={"ES_URL": url}, stdout=out, stderr=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def whole(cluster: esnode.Cluster) -> None:
    """Start any stopped member again and wait until every shard is back."""
    stopped = [
        n for n in range(1, len(cluster.nodes) + 1) if not esnode.is_running(cluster.node(n))
    ]
    esnode.start_members(cluster, stopped)


def counts(feature: fv.FeatureReport) -> tuple[str, int, int, int, int]:
    return feature.verdict, feature.total, feature.primary, feature.failover, feature.unclassified


def json_counts(feature: dict[str, Any]) -> tuple[str, int, int, int, int]:
    return (
        feature["verdict"],
        feature["total"],
        feature["primary"],
        feature["failover"],
        feature["unclassified"],
    )


class Clock:
    """A fake clock for watch: sleeping moves time on at once, and can run a hook."""

    def __init__(self, start: datetime, on_sleep: Callable[[int], None] | None = None) -> None:
        self.now = start
        self.sleeps = 0
        self.on_sleep = on_sleep

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep(self.sleeps)
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def client(es_cluster: esnode.Cluster) -> Iterator[Elasticsearch]:
    """A client for node 1 of the three-node cluster, built as the package builds its own."""
    made = fv.connect(fv.ConnectionSettings.build(url=es_cluster.url))
    yield made
    made.close()


@pytest.fixture(scope="module")
def sharded(es_cluster: esnode.Cluster, client: Elasticsearch) -> str:
    """Two indices of three primary shards each, one shard per node, no replicas."""
    whole(es_cluster)
    for number, name in enumerate(SHARDED):
        client.indices.create(
            index=name,
            settings={
                "number_of_shards": 3,
                "number_of_replicas": 0,
                # One shard of each index on each node, so losing any node loses a shard of each.
                "index.routing.allocation.total_shards_per_node": 1,
            },
        )
        index_documents(
            client,
            name,
            completions(T0, 30, LOCAL["completion"] // 2, "failover", seed=10 + number)
            + generations(T0, 30, LOCAL["generation"] // 2, "failover", seed=20 + number),
            create=False,
        )
    client.cluster.health(index=SHARDED_PATTERN, wait_for_status="green", timeout="60s")
    return SHARDED_PATTERN


def shards_by_node(client: Elasticsearch, pattern: str) -> list[dict[str, str]]:
    rows = client.cat.shards(index=pattern, format="json", h="index,shard,prirep,state,docs,node")
    return cast("list[dict[str, str]]", rows.body)


class TestShardPlacement:
    def test_every_node_holds_shards(self, client: Elasticsearch, sharded: str) -> None:
        """_cat/shards shows each sharded index's three primaries on three different nodes."""
        rows = shards_by_node(client, sharded)
        assert len(rows) == 3 * len(SHARDED)
        assert {row["prirep"] for row in rows} == {"p"}
        assert {row["state"] for row in rows} == {"STARTED"}
        for name in SHARDED:
            nodes = sorted(row["node"] for row in rows if row["index"] == name)
            assert nodes == ["node-1", "node-2", "node-3"], name
        # Every shard holds records, so a lost shard is a loss a verdict would notice.
        assert all(int(row["docs"]) > 0 for row in rows)


class TestAllNodesRunning:
    def test_status_counts_every_shard(self, es_cluster: esnode.Cluster, sharded: str) -> None:
        """status over three nodes gives the right verdicts with exact counts and exits 0."""
        code, out, err = cli(
            es_cluster.url, "status", "--index", sharded, *WINDOW, "--expect", "failover", "--json"
        )
        assert code == 0, err
        features = json.loads(out)["features"]
        completion, generation = features["completion"], features["generation"]
        for name, feature in features.items():
            assert json_counts(feature) == ("failover", LOCAL[name], 0, LOCAL[name], 0)
        assert completion["complete"] is generation["complete"] is True

    def test_library_counts_every_shard(self, client: Elasticsearch, sharded: str) -> None:
        """fv.verify over three nodes counts every record of every shard."""
        report = fv.verify(client, since=T0, until=T_END, index=sharded)
        for name, feature in report.features.items():
            assert counts(feature) == ("failover", LOCAL[name], 0, LOCAL[name], 0)
        assert report.requests == 2

    def test_export_reads_every_shard(
        self, es_cluster: esnode.Cluster, sharded: str, tmp_path: Path
    ) -> None:
        """export streams every matching record from all six shards, each once."""
        target = tmp_path / "all.ndjson"
        code, _, err = cli(es_cluster.url, "export", "--index", sharded, *WINDOW, "-o", str(target))
        assert code == 0, err
        hits = [json.loads(line) for line in target.read_text().splitlines()]
        assert len(hits) == sum(LOCAL.values())
        assert len({(hit["_index"], hit["_id"]) for hit in hits}) == len(hits)
        assert {hit["_index"] for hit in hits} == set(SHARDED)


# --- many indices behind one pattern -----------------------------------------------------------

MANY_PATTERN = "fvc-many-*"
LEGACY = "fvc-many-legacy-2026.02.15"
WITHOUT_LEGACY = f"{MANY_PATTERN},-fvc-many-legacy-*"
ROLLOVER = "fvc-many-rollover"
STREAM = "fvc-many-stream"
FIRST_DAY = date(2026, 2, 1)
FLIP_DAY = date(2026, 2, 20)
DAYS = [FIRST_DAY + timedelta(days=number) for number in range(30)]
MONTH = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
AFTER_FLIP = (datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))


@dataclass
class Loaded:
    """What was indexed where: (time, feature, role) per document and index group."""

    documents: dict[str, list[tuple[datetime, str, Role]]] = field(default_factory=dict)

    def add(self, group: str, documents: Sequence[dict[str, Any]], role: Role) -> None:
        rows = self.documents.setdefault(group, [])
        for document in documents:
            moment = datetime.fromisoformat(document["@timestamp"])
            message = document["json"]["jsonPayload"]["message"]
            feature = "completion" if message == "code completion input:" else "generation"
            rows.append((moment, feature, role))

    def expected(
        self, feature: str, window: tuple[datetime, datetime], *, legacy: bool
    ) -> tuple[int, int]:
        """(primary, failover) records of ``feature`` in ``window``."""
        primary = failover = 0
        for group, rows in self.documents.items():
            if group == "legacy" and not legacy:
                continue
            for moment, kind, role in rows:
                if kind == feature and window[0] <= moment < window[1]:
                    primary += role == "primary"
                    failover += role == "failover"
        return primary, failover


def _bulk_create(client: Elasticsearch, target: str, documents: Sequence[dict[str, Any]]) -> None:
    # A data stream takes only op_type create.
    actions = ({"_op_type": "create", "_index": target, "_source": doc} for doc in documents)
    _, errors = helpers.bulk(client, actions, refresh="wait_for")
    assert not errors, errors


@pytest.fixture(scope="module")
def many(es_cluster: esnode.Cluster, client: Elasticsearch) -> Loaded:
    """30 daily indices, a rollover alias, a data stream and one index of another mapping era.

    The daily indices hold primary traffic until 2026-02-20 and failover traffic from then on;
    the rollover indices and the data stream (whose @timestamp is date_nanos) hold failover
    traffic; the legacy index maps model_provider as keyword where the others have text with
    a .keyword sub-field.
    """
    whole(es_cluster)
    loaded = Loaded()
    single_shard = {"number_of_shards": 1, "number_of_replicas": 0}
    client.indices.put_index_template(
        name="fvc-many",
        index_patterns=[MANY_PATTERN],
        priority=1,
        template={"settings": single_shard},
    )
    client.indices.put_index_template(
        name="fvc-many-stream",
        index_patterns=[f"{STREAM}*"],
        priority=10,
        data_stream={},
        template={
            "settings": single_shard,
            "mappings": {"properties": {"@timestamp": {"type": "date_nanos"}}},
        },
    )
    daily: list[dict[str, Any]] = []
    actions = []
    for number, day in enumerate(DAYS):
        role: Role = "primary" if day < FLIP_DAY else "failover"
        start = datetime(day.year, day.month, day.day, 14, tzinfo=UTC)
        documents = completions(start, 30, 3, role, seed=100 + number) + generations(
            start, 30, 2, role, seed=200 + number
        )
        loaded.add("daily", documents, role)
        daily += documents
        actions += [{"_index": f"fvc-many-{day:%Y.%m.%d}", "_source": doc} for doc in documents]
    # One bulk request creates the 30 daily indices from the template.
    _, errors = helpers.bulk(client, actions, refresh="wait_for")
    assert not errors, errors

    client.indices.create(
        index=LEGACY,
        mappings={
            "properties": {
                "json": {
                    "properties": {
                        "jsonPayload": {"properties": {"model_provider": {"type": "keyword"}}}
                    }
                }
            }
        },
    )
    legacy_start = datetime(2026, 2, 15, 15, tzinfo=UTC)
    legacy_docs = completions(legacy_start, 30, 4, "primary", seed=300) + generations(
        legacy_start, 30, 2, "primary", seed=301
    )
    index_documents(client, LEGACY, legacy_docs, create=False)
    loaded.add("legacy", legacy_docs, "primary")

    client.indices.create(index=f"{ROLLOVER}-000001", aliases={ROLLOVER: {"is_write_index": True}})
    for number, day in enumerate((date(2026, 3, 1), date(2026, 3, 2))):
        if number:
            client.indices.rollover(alias=ROLLOVER)
        start = datetime(day.year, day.month, day.day, 16, tzinfo=UTC)
        documents = completions(start, 30, 5, "failover", seed=400 + number) + generations(
            start, 30, 3, "failover", seed=500 + number
        )
        index_documents(client, ROLLOVER, documents, create=False)
        loaded.add("rollover", documents, "failover")

    stream_start = datetime(2026, 3, 2, 15, tzinfo=UTC)
    stream_docs = completions(stream_start, 30, 6, "failover", seed=600) + generations(
        stream_start, 30, 4, "failover", seed=601
    )
    _bulk_create(client, STREAM, stream_docs)
    loaded.add("stream", stream_docs, "failover")
    client.cluster.health(index=MANY_PATTERN, wait_for_status="green", timeout="60s")
    return loaded


class TestManyIndices:
    @pytest.mark.usefixtures("many")
    def test_field_caps_see_every_kind_of_index(self, client: Elasticsearch) -> None:
        """The field plan spans daily, rollover, data stream backing and legacy indices."""
        plan = fv.Verifier(client, index=MANY_PATTERN).field_plan()
        daily = {f"fvc-many-{day:%Y.%m.%d}" for day in DAYS}
        assert daily <= set(plan.indices)
        assert {f"{ROLLOVER}-000001", f"{ROLLOVER}-000002", LEGACY} <= set(plan.indices)
        assert any(name.startswith(f".ds-{STREAM}-") for name in plan.indices)
        assert len(plan.indices) >= 34
        assert plan.time_problem is None
        prompt_id = plan.choice("json.jsonPayload.prompt_id")
        assert prompt_id.exact_field == "json.jsonPayload.prompt_id.keyword"

    def test_verdicts_over_every_index(self, client: Elasticsearch, many: Loaded) -> None:
        """Without the legacy index, both features are counted exactly across every index."""
        for window, verdict in ((MONTH, "mixed"), (AFTER_FLIP, "failover")):
            report = fv.verify(client, since=window[0], until=window[1], index=WITHOUT_LEGACY)
            for name in ("completion", "generation"):
                primary, failover = many.expected(name, window, legacy=False)
                feature = report.features[name]
                assert counts(feature) == (verdict, primary + failover, primary, failover, 0), name
                assert feature.complete is True
        assert many.expected("completion", AFTER_FLIP, legacy=False) == (0, 49)

    def test_mapping_difference_is_named(self, es_cluster: esnode.Cluster, many: Loaded) -> None:
        """A keyword-era index blocks completion, named in the reason; generation stays exact."""
        code, out, _ = cli(
            es_cluster.url,
            "status",
            "--index",
            MANY_PATTERN,
            "--since",
            MONTH[0].isoformat(),
            "--until",
            MONTH[1].isoformat(),
            "--json",
        )
        assert code == 3
        features = json.loads(out)["features"]
        completion = features["completion"]
        assert completion["verdict"] == "inconclusive"
        assert f"keyword in {LEGACY}" in completion["reason"]
        assert f"no .keyword in {LEGACY}" in completion["reason"]
        primary, failover = many.expected("generation", MONTH, legacy=True)
        assert json_counts(features["generation"]) == (
            "mixed",
            primary + failover,
            primary,
            failover,
            0,
        )


# --- cross-cluster search ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def remote(es_remote: esnode.Cluster, client: Elasticsearch) -> str:
    """The one-node cluster registered as remote ``fvremote`` of the three-node cluster, with
    primary traffic in the window where the local sharded indices hold failover traffic."""
    whole(es_remote)
    remote_client = fv.connect(fv.ConnectionSettings.build(url=es_remote.url))
    try:
        remote_client.indices.create(
            index=REMOTE_INDEX, settings={"number_of_shards": 2, "number_of_replicas": 0}
        )
        index_documents(
            remote_client,
            REMOTE_INDEX,
            completions(T0, 30, REMOTE_COUNTS["completion"], "primary", seed=30)
            + generations(T0, 30, REMOTE_COUNTS["generation"], "primary", seed=31),
            create=False,
        )
    finally:
        remote_client.close()
    client.cluster.put_settings(
        persistent={
            f"cluster.remote.{REMOTE}.seeds": es_remote.transport_addresses,
            f"cluster.remote.{REMOTE}.skip_unavailable": True,
        }
    )
    wait_connected(client)
    return f"{REMOTE}:{REMOTE_INDEX}"


def wait_connected(client: Elasticsearch, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = client.cluster.remote_info().body.get(REMOTE, {})
        if info.get("connected"):
            return
        assert time.monotonic() < deadline, f"the remote never connected: {info}"
        time.sleep(0.5)


@pytest.fixture
def remote_up(es_remote: esnode.Cluster, client: Elasticsearch, remote: str) -> str:
    """The remote pattern, with the remote cluster running (it is stopped by a later class)."""
    whole(es_remote)
    wait_connected(client)
    return remote


class TestCrossCluster:
    def test_remote_pattern(self, es_cluster: esnode.Cluster, remote_up: str) -> None:
        """--index remote:pattern counts the remote cluster's records exactly."""
        code, out, err = cli(
            es_cluster.url, "status", "--index", remote_up, *WINDOW, "--expect", "primary", "--json"
        )
        assert code == 0, err
        for name, feature in json.loads(out)["features"].items():
            remote = REMOTE_COUNTS[name]
            assert json_counts(feature) == ("primary", remote, remote, 0, 0)

    def test_local_and_remote_pattern(
        self, client: Elasticsearch, sharded: str, remote_up: str
    ) -> None:
        """A local,remote:pattern list counts both clusters' records, in field caps and msearch."""
        pattern = f"{sharded},{remote_up}"
        verifier = fv.Verifier(client, index=pattern)
        plan = verifier.field_plan()
        assert f"{REMOTE}:{REMOTE_INDEX}" in plan.indices
        assert set(SHARDED) <= set(plan.indices)
        report = verifier.verify(fv.parse_window(T0, T_END))
        for name, feature in report.features.items():
            local, remote = LOCAL[name], REMOTE_COUNTS[name]
            assert counts(feature) == ("mixed", local + remote, remote, local, 0)
            assert feature.complete is True

    def test_export_across_clusters(
        self, es_cluster: esnode.Cluster, sharded: str, remote_up: str, tmp_path: Path
    ) -> None:
        """export streams the records of both clusters, the remote ones named remote:index."""
        target = tmp_path / "both.ndjson"
        code, _, err = cli(
            es_cluster.url,
            "export",
            "--index",
            f"{sharded},{remote_up}",
            *WINDOW,
            "-o",
            str(target),
        )
        assert code == 0, err
        hits = [json.loads(line) for line in target.read_text().splitlines()]
        indices = [hit["_index"] for hit in hits]
        assert len(hits) == sum(LOCAL.values()) + sum(REMOTE_COUNTS.values())
        assert indices.count(f"{REMOTE}:{REMOTE_INDEX}") == sum(REMOTE_COUNTS.values())


# --- load ----------------------------------------------------------------------------------------


class TestLoad:
    def test_short_load_run(self, es_cluster: esnode.Cluster, tmp_path: Path) -> None:
        """load.py --short: no request error, flat memory, every verdict equal to a fresh one."""
        whole(es_cluster)
        prefix = f"fvc-load-{uuid.uuid4().hex[:8]}"
        completed = subprocess.run(
            [sys.executable, str(LOAD), "--short", "--es-url", es_cluster.url,
             "--index-prefix", prefix, "--out", str(tmp_path / "load.json")],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        result = json.loads((tmp_path / "load.json").read_text())
        assert result["checks"] == {
            "no_request_errors": True,
            "memory_flat": True,
            "verdicts_match_fresh_verification": True,
        }
        assert result["errors"] == []
        assert len(result["loops"]) == 10
        assert all(loop["polls"] > 0 for loop in result["loops"])
        assert result["status"]["runs"] > 0
        assert result["comparison"]["windows"] == result["comparison"]["matched"] > 0
        assert result["ingested"] > 0


# --- a node lost ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lost:
    """The shard of each sharded index that was on the stopped node."""

    shards: dict[str, str]


def wait_for_nodes(client: Elasticsearch, count: int, timeout: float = 90.0) -> None:
    """Wait until the cluster state has ``count`` nodes (a new master may be elected first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            health = client.cluster.health(wait_for_nodes=str(count), timeout="5s")
            if health["number_of_nodes"] == count:
                return
        except ApiError as exc:
            last = str(exc)
        else:
            last = f"{health['number_of_nodes']} nodes"
        assert time.monotonic() < deadline, f"the cluster never had {count} nodes: {last}"
        time.sleep(0.5)


@pytest.fixture(scope="class")
def node_lost(es_cluster: esnode.Cluster, client: Elasticsearch, sharded: str) -> Iterator[Lost]:
    """Node 3 stopped (its data kept), once the cluster has noticed; whole again afterwards."""
    whole(es_cluster)
    rows = shards_by_node(client, sharded)
    lost = Lost({row["index"]: row["shard"] for row in rows if row["node"] == f"node-{LOST_NODE}"})
    assert set(lost.shards) == set(SHARDED)
    esnode.stop_member(es_cluster, LOST_NODE)
    try:
        wait_for_nodes(client, len(es_cluster.nodes) - 1)
        yield lost
    finally:
        whole(es_cluster)


class TestNodeLost:
    def test_status_cannot_tell(
        self, es_cluster: esnode.Cluster, sharded: str, node_lost: Lost
    ) -> None:
        """status exits 3 and names the lost shards; it never gives a verdict from the rest."""
        code, out, _ = cli(
            es_cluster.url, "status", "--index", sharded, *WINDOW, "--expect", "failover"
        )
        assert code == 3
        assert "CANNOT TELL: completion inconclusive, generation inconclusive" in out
        for index, shard in node_lost.shards.items():
            assert f"{index} (shard {shard})" in out
        assert "no_shard_available_action_exception" in out
        code, out, _ = cli(es_cluster.url, "status", "--index", sharded, *WINDOW, "--json")
        assert code == 3
        for feature in json.loads(out)["features"].values():
            assert feature["verdict"] == "inconclusive"
            assert feature["complete"] is False
            assert feature["failed_indices"] == list(SHARDED)
            # The rest was read, and still no verdict is drawn from it.
            assert 0 < feature["total"] < LOCAL[feature["feature"]]

    def test_library_cannot_tell(
        self, client: Elasticsearch, sharded: str, node_lost: Lost
    ) -> None:
        """fv.verify says inconclusive for both features and names the lost shards."""
        report = fv.verify(client, since=T0, until=T_END, index=sharded)
        assert report.meets("failover") is None
        for feature in report.features.values():
            assert feature.verdict == "inconclusive"
            assert feature.complete is False
            assert feature.failed_indices == list(SHARDED)
            for index, shard in node_lost.shards.items():
                assert f"{index} (shard {shard})" in feature.reason

    def test_export_refuses(
        self, es_cluster: esnode.Cluster, sharded: str, node_lost: Lost, tmp_path: Path
    ) -> None:
        """export stops with one clear error naming the missing shards, and writes no record."""
        target = tmp_path / "partial.ndjson"
        code, out, err = cli(
            es_cluster.url,
            "export",
            "--index",
            sharded,
            *WINDOW,
            "-o",
            str(target),
            "--retries",
            "0",
        )
        assert code == 4
        assert out == ""
        assert len(err.strip().splitlines()) == 1
        assert "missing shards" in err
        for index, shard in node_lost.shards.items():
            assert f"[{index}][{shard}]" in err
        assert not target.exists() or target.read_text() == ""

    def test_watch_cannot_tell(
        self, es_cluster: esnode.Cluster, sharded: str, node_lost: Lost
    ) -> None:
        """watch polls on while the node is away and exits 3 at its timeout, naming the shards."""
        clock = Clock(T_END)
        code, out, _ = cli(
            es_cluster.url, "watch", "--index", sharded, "--expect", "failover", "--window", "30m",
            "--interval", "30s", "--timeout", "1m", now=clock, sleep=clock.sleep,
        )  # fmt: skip
        assert code == 3
        polls = [line for line in out.splitlines() if POLL.match(line)]
        assert len(polls) == 3
        assert all("completion inconclusive" in line for line in polls)
        assert "CANNOT TELL" in out
        for index, shard in node_lost.shards.items():
            assert f"{index} (shard {shard})" in out

    @pytest.mark.usefixtures("node_lost")
    def test_watch_resumes_when_node_returns(
        self, es_cluster: esnode.Cluster, sharded: str
    ) -> None:
        """watch gives normal verdicts again once the node is back, and exits 0."""

        def restart(sleeps: int) -> None:
            if sleeps == 1:
                esnode.start_member(es_cluster, LOST_NODE)

        clock = Clock(T_END, restart)
        # 31 minutes: the window still holds every record after the clock moves on 30 s.
        code, out, _ = cli(
            es_cluster.url, "watch", "--index", sharded, "--expect", "failover", "--window", "31m",
            "--interval", "30s", "--timeout", "10m", now=clock, sleep=clock.sleep,
        )  # fmt: skip
        assert code == 0, out
        lines = out.splitlines()
        assert "completion inconclusive" in lines[1]
        for name, total in LOCAL.items():
            assert f"{name} failover failover 100% of {total}" in lines[2]
        assert "OK: completion failover, generation failover (expected failover)" in out
        assert clock.sleeps == 1


# --- a remote cluster lost ------------------------------------------------------------------------


@pytest.fixture(scope="class")
def remote_lost(es_remote: esnode.Cluster, client: Elasticsearch, sharded: str, remote: str) -> str:
    """The local,remote pattern with the remote cluster's only node stopped."""
    whole(es_remote)
    wait_connected(client)
    esnode.stop_member(es_remote, 1)
    return f"{sharded},{remote}"


class TestRemoteLost:
    def test_status_cannot_tell(self, es_cluster: esnode.Cluster, remote_lost: str) -> None:
        """status exits 3 naming the skipped remote; the local records alone give no verdict."""
        code, out, _ = cli(es_cluster.url, "status", "--index", remote_lost, *WINDOW, "--json")
        assert code == 3
        for feature in json.loads(out)["features"].values():
            assert feature["verdict"] == "inconclusive"
            assert feature["complete"] is False
            assert f"{REMOTE} was skipped" in feature["reason"]
            assert "1 of 2 clusters sent no records" in feature["reason"]
        # Only local records were counted: all failover, which alone would read "failover".
        assert json.loads(out)["features"]["completion"]["failover"] == LOCAL["completion"]
        code, out, _ = cli(es_cluster.url, "status", "--index", remote_lost, *WINDOW)
        assert code == 3
        assert "CANNOT TELL" in out

    def test_library_cannot_tell(self, client: Elasticsearch, remote_lost: str) -> None:
        """fv.verify and fv.timeline both say the remote cluster is missing."""
        report = fv.verify(client, since=T0, until=T_END, index=remote_lost)
        for feature in report.features.values():
            assert feature.verdict == "inconclusive"
            assert any(f"{REMOTE} was skipped" in problem for problem in feature.problems)
        timeline = fv.timeline(client, since=T0, until=T_END, index=remote_lost, interval="10m")
        assert timeline.complete is False
        assert any(REMOTE in problem for problem in timeline.problems)

    def test_export_refuses(
        self, es_cluster: esnode.Cluster, remote_lost: str, tmp_path: Path
    ) -> None:
        """export stops with one error naming the skipped remote instead of a partial file."""
        target = tmp_path / "partial.ndjson"
        code, out, err = cli(
            es_cluster.url, "export", "--index", remote_lost, *WINDOW, "-o", str(target)
        )
        assert code == 4
        assert out == ""
        assert len(err.strip().splitlines()) == 1
        assert f"could not read {REMOTE}:{REMOTE_INDEX}" in err
        assert f"Unable to connect to [{REMOTE}]" in err
        assert not target.exists() or target.read_text() == ""

    def test_watch_cannot_tell(self, es_cluster: esnode.Cluster, remote_lost: str) -> None:
        """watch keeps saying inconclusive while the remote is away and exits 3."""
        clock = Clock(T_END)
        code, out, _ = cli(
            es_cluster.url, "watch", "--index", remote_lost, "--expect", "failover",
            "--window", "30m", "--interval", "30s", "--timeout", "30s",
            now=clock, sleep=clock.sleep,
        )  # fmt: skip
        assert code == 3
        assert "completion inconclusive" in out.splitlines()[1]
        assert f"{REMOTE} was skipped" in out
