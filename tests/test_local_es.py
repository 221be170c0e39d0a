"""scripts/local-es: the commands a person runs to try losing a node, and to load records into
an index shaped like production's."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

import esnode
import failover_verify as fv

ROOT = Path(__file__).resolve().parent.parent
LOCAL_ES = ROOT / "scripts" / "local-es"
FIXTURE = ROOT / "fixtures" / "incident-2026-11.ndjson"


def local_es(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCAL_ES), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.fixture
def name() -> Iterator[str]:
    """A cluster name of this test's own; the cluster is stopped afterwards whatever happens."""
    chosen = f"t{uuid.uuid4().hex[:8]}"
    yield chosen
    local_es("stop", "--cluster", chosen)


class TestLocalCluster:
    def test_usage_errors(self) -> None:
        """--nodes without --cluster, and stop-node without a cluster, are refused."""
        assert local_es("start", "--nodes", "2").returncode == 2
        assert local_es("stop-node", "1").returncode == 2
        missing = local_es("stop-node", "--cluster", f"none{uuid.uuid4().hex[:6]}", "1")
        assert missing.returncode == 1
        assert "no cluster" in missing.stderr

    @pytest.mark.es
    def test_stop_and_start_a_node(self, name: str, pytestconfig: pytest.Config) -> None:
        """start prints node 1's URL last; stop-node keeps the data, start-node brings it back."""
        line = str(pytestconfig.getoption("es_line"))
        started = local_es("start", "--cluster", name, "--nodes", "1", "--line", line)
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("http://127.0.0.1:")
        client = fv.connect(fv.ConnectionSettings.build(url=url))
        try:
            client.index(index="kept", document={"n": 1}, refresh=True)
            assert local_es("status", "--cluster", name).returncode == 0
            stopped = local_es("stop-node", "--cluster", name, "1")
            assert stopped.returncode == 0, stopped.stderr
            assert "its data stays" in stopped.stdout
            status = local_es("status", "--cluster", name)
            assert status.returncode == 3
            assert "node 1 (node-1): stopped" in status.stderr
            again = local_es("start-node", "--cluster", name, "1")
            assert again.returncode == 0, again.stderr
            assert again.stdout.strip().splitlines()[-1] == url
            assert client.count(index="kept")["count"] == 1
        finally:
            client.close()
        cache = esnode.default_cache_dir()
        assert (cache / f"local-cluster-{name}.json").is_file()
        stopped_all = local_es("stop", "--cluster", name)
        assert stopped_all.returncode == 0
        assert not (cache / f"local-cluster-{name}.json").exists()
        assert not list((cache / "nodes").glob(f"es*-{name}-*"))


class TestLoadFixture:
    def test_production_shape_and_every_record(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """load-fixture creates <alias>-000001 in GitLab's shape behind a write alias, loads
        every hit with its id, and the node then counts what the file holds."""
        alias = f"{es_index}-gprd"
        loaded = local_es("load-fixture", str(FIXTURE), "--alias", alias, "--url", es_url)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.strip().splitlines()[-1] == alias
        assert f"loaded 3,572 records from {FIXTURE} into {alias}" in loaded.stderr
        first = f"{alias}-000001"
        assert es_client.indices.get_alias(index=alias).body == {
            first: {"aliases": {alias: {"is_write_index": True}}}
        }
        settings = es_client.indices.get_settings(index=first)[first]["settings"]["index"]
        assert (settings["refresh_interval"], settings["mapping"]["ignore_malformed"]) == (
            "30s",
            "true",
        )
        payload = es_client.indices.get_mapping(index=first)[first]["mappings"]["properties"][
            "json"
        ]["properties"]["jsonPayload"]["properties"]
        assert payload["logger"] == {"type": "text"}
        assert es_client.count(index=alias)["count"] == 3572
        assert es_client.get(index=alias, id="2026-11-000002")["found"]
        since, until = "2026-11-24T13:00Z", "2026-11-24T15:31Z"
        online = fv.verify(es_client, since=since, until=until, index=alias)
        offline = fv.verify_hits(fv.read_ndjson(FIXTURE), since=since, until=until)
        assert {name: (f.verdict, f.total) for name, f in online.features.items()} == {
            name: (f.verdict, f.total) for name, f in offline.features.items()
        }
        again = local_es("create-index", "--alias", alias, "--url", es_url)
        assert again.returncode == 0
        assert f"the alias {alias} exists already" in again.stderr

    def test_unreadable_file(self, tmp_path: Path, es_url: str, es_index: str) -> None:
        """A line that is not JSON stops the load with its line number, exit 1."""
        broken = tmp_path / "broken.ndjson"
        broken.write_text('{"_id": "a", "_source": {}}\nnot json\n')
        done = local_es("load-fixture", str(broken), "--alias", f"{es_index}-x", "--url", es_url)
        assert done.returncode == 1
        assert f"{broken}:2 is not JSON" in done.stderr
