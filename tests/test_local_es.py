"""scripts/local-es --cluster: the commands a person runs to try losing a node."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import esnode
import failover_verify as fv

ROOT = Path(__file__).resolve().parent.parent
LOCAL_ES = ROOT / "scripts" / "local-es"


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
