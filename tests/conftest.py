"""Fixtures for tests that need a real Elasticsearch node or cluster.

The node is started by ``scripts/esnode.py`` the first time a test asks for it and stopped when
the session ends; tests that do not ask never start it. ``--es-line`` (or the environment
variable ``FAILOVER_VERIFY_TEST_ES_LINE``) picks the server line, 9 by default. A node that
cannot start fails the tests that need it, with the reason: it never skips them.

``es_cluster`` (three nodes) and ``es_remote`` (a second, one-node cluster) are started
together, once per session, the first time a test asks for either; the same rules apply.

``FAILOVER_VERIFY_TEST_ES_NODE`` names the state file of a node that already runs (as
``scripts/local-es start`` writes it, or ``scripts/mutants`` for its many short sessions): the
plain-HTTP node tests then use it instead of starting one, and leave it running.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import elasticsearch
import pytest
from pytest_elasticsearch import factories

import esnode
from examples import PROFILE
from failover_verify import ConnectionSettings, _es, connect

if TYPE_CHECKING:
    from pytest_elasticsearch.executor import NoopElasticsearch

LINE_ENV = "FAILOVER_VERIFY_TEST_ES_LINE"
NODE_ENV = "FAILOVER_VERIFY_TEST_ES_NODE"
CLIENT_VERSION = version("elasticsearch")
NODE_FIXTURES = frozenset(
    {
        "es_server",
        "es_node",
        "es_url",
        "es_client",
        "es_index",
        "es_secure_server",
        "es_secure_client",
        "es_clusters",
        "es_cluster",
        "es_remote",
    }
)
CLUSTER_NODES = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--es-line",
        default=os.environ.get(LINE_ENV) or "9",
        help=(
            "Elasticsearch server line (9 or 8) or exact version for tests that need a node; "
            f"default ${LINE_ENV}, else 9"
        ),
    )


def _server_line(config: pytest.Config) -> esnode.ServerLine:
    spec = str(config.getoption("es_line"))
    try:
        return esnode.server_line(spec)
    except esnode.EsNodeError as exc:
        raise pytest.UsageError(f"--es-line: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    _server_line(config)


def pytest_report_header(config: pytest.Config) -> str:
    line = _server_line(config)
    return (
        f"elasticsearch: server {line.version} (line {line.name}, started when a test needs "
        f"it), client elasticsearch-py {CLIENT_VERSION}; hypothesis profile {PROFILE}"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if NODE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.es)


def _checked_line(config: pytest.Config) -> esnode.ServerLine:
    line = _server_line(config)
    client_major = int(CLIENT_VERSION.split(".", 1)[0])
    if client_major > int(line.name):
        pytest.fail(
            f"elasticsearch-py {CLIENT_VERSION} cannot talk to an Elasticsearch "
            f"{line.version} server (a newer client major refuses an older server); install "
            f"elasticsearch>={line.version.rsplit('.', 1)[0]},<{int(line.name) + 1} "
            "as scripts/test does",
            pytrace=False,
        )
    return line


def _start(config: pytest.Config, *, secure: bool) -> Iterator[esnode.Node]:
    line = _checked_line(config)
    node = _start_or_fail(line, secure=secure)
    try:
        yield node
    finally:
        esnode.stop_node(node)


def _start_or_fail(line: esnode.ServerLine, *, secure: bool) -> esnode.Node:
    try:
        return esnode.start_node(line, secure=secure)
    except esnode.EsNodeError as exc:
        reason = str(exc)
    # Failing outside the handler keeps the report to the reason, without a chained traceback.
    kind = "secure " if secure else ""
    pytest.fail(f"the {kind}test Elasticsearch node could not start: {reason}", pytrace=False)


def _running(config: pytest.Config, state: str) -> esnode.Node:
    """The node recorded in ``state``, if it runs and is of the line asked for."""
    line = _checked_line(config)
    try:
        node = esnode.Node.from_json(Path(state).read_text())
    except (OSError, ValueError, TypeError, KeyError) as exc:
        pytest.fail(f"${NODE_ENV}: cannot read the node state file {state}: {exc}", pytrace=False)
    if node.version != line.version or node.secure or not esnode.is_running(node):
        pytest.fail(
            f"${NODE_ENV}: the node in {state} (Elasticsearch {node.version}, "
            f"{'secure' if node.secure else 'plain'}) is not a running plain-HTTP "
            f"{line.version} node; start one with scripts/local-es start --line {line.name}",
            pytrace=False,
        )
    return node


@pytest.fixture(scope="session")
def es_server(pytestconfig: pytest.Config) -> Iterator[esnode.Node]:
    """The plain-HTTP node the suite started (or was given), without security."""
    state = os.environ.get(NODE_ENV)
    if state:
        yield _running(pytestconfig, state)
        return
    yield from _start(pytestconfig, secure=False)


# pytest-elasticsearch's no-process fixture reads host and port from the options when it
# runs; es_node sets them from the started node before asking for it.
es_noproc = factories.elasticsearch_noproc()


@pytest.fixture(scope="session")
def es_node(es_server: esnode.Node, request: pytest.FixtureRequest) -> NoopElasticsearch:
    """pytest-elasticsearch's view of the node: ``.host`` and ``.port``."""
    request.config.option.elasticsearch_host = es_server.host
    request.config.option.elasticsearch_port = es_server.http_port
    noproc: NoopElasticsearch = request.getfixturevalue("es_noproc")
    assert (noproc.host, noproc.port) == (es_server.host, es_server.http_port)
    return noproc


@pytest.fixture(scope="session")
def es_url(es_node: NoopElasticsearch) -> str:
    """The node's HTTP address, for tests that put a proxy or the CLI in front of it."""
    return f"http://{es_node.host}:{es_node.port}"


@pytest.fixture(scope="session")
def es_client(es_node: NoopElasticsearch) -> Iterator[elasticsearch.Elasticsearch]:
    """A client for the node, built the way the package builds its own."""
    client = connect(ConnectionSettings.build(url=f"http://{es_node.host}:{es_node.port}"))
    yield client
    client.close()


@pytest.fixture
def es_index(es_client: elasticsearch.Elasticsearch) -> Iterator[str]:
    """A fresh index name prefix; every index starting with it is deleted after the test."""
    prefix = f"fv-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    # Wildcard deletes are refused by default (action.destructive_requires_name), so the
    # indices are named one by one.
    names = list(es_client.indices.get(index=f"{prefix}*", expand_wildcards="all"))
    if names:
        es_client.indices.delete(index=",".join(names))


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Each test starts with no credentials known to the log filter.

    The filter is process-wide; without this, a secret registered by an earlier test would
    scrub a later test's logs and hide a leak there.
    """
    _es.forget_secrets()
    yield
    _es.forget_secrets()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """An http URL on loopback where connections are refused, for as long as the test runs.

    The port is bound but never listened on, so no other process can take it meanwhile and
    every connection gets a reset at once.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="session")
def es_secure_server(pytestconfig: pytest.Config) -> Iterator[esnode.Node]:
    """A second node with security on: HTTPS from a throwaway CA and an ``elastic`` password."""
    yield from _start(pytestconfig, secure=True)


@pytest.fixture(scope="session")
def es_secure_client(
    es_secure_server: esnode.Node,
) -> Iterator[elasticsearch.Elasticsearch]:
    """A client for the secure node, authenticated as its superuser."""
    assert es_secure_server.password is not None
    client = connect(
        ConnectionSettings.build(
            url=es_secure_server.url,
            username=es_secure_server.username,
            password=es_secure_server.password,
            ca_certs=es_secure_server.ca_certs,
        )
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def es_clusters(
    pytestconfig: pytest.Config,
) -> Iterator[tuple[esnode.Cluster, esnode.Cluster]]:
    """A three-node cluster and a one-node cluster to be its remote, started side by side."""
    line = _checked_line(pytestconfig)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(esnode.start_cluster, line, nodes=CLUSTER_NODES, name="test"),
            pool.submit(esnode.start_cluster, line, nodes=1, name="test-remote"),
        ]
        started: list[esnode.Cluster] = []
        reasons: list[str] = []
        for future in futures:
            try:
                started.append(future.result())
            except esnode.EsNodeError as exc:
                reasons.append(str(exc))
    if reasons:
        for cluster in started:
            esnode.stop_cluster(cluster)
        pytest.fail(
            "the test Elasticsearch clusters could not start: " + "\n".join(reasons),
            pytrace=False,
        )
    try:
        yield started[0], started[1]
    finally:
        for cluster in started:
            esnode.stop_cluster(cluster)


@pytest.fixture(scope="session")
def es_cluster(es_clusters: tuple[esnode.Cluster, esnode.Cluster]) -> esnode.Cluster:
    """Three nodes on loopback forming one cluster; node 1's URL is ``es_cluster.url``."""
    return es_clusters[0]


@pytest.fixture(scope="session")
def es_remote(es_clusters: tuple[esnode.Cluster, esnode.Cluster]) -> esnode.Cluster:
    """A separate one-node cluster, for cross-cluster search from ``es_cluster``."""
    return es_clusters[1]
