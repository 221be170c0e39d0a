"""Start, inspect or stop a throwaway local Elasticsearch node, or a small local cluster.

    scripts/local-es start [--line 9|8|VERSION] [--secure] [--timeout SECONDS]
    scripts/local-es status
    scripts/local-es stop

    scripts/local-es create-index [--alias NAME] [--url URL | --cluster NAME]
    scripts/local-es load-fixture FILE [--alias NAME] [--url URL | --cluster NAME]

    scripts/local-es start --cluster NAME [--nodes N] [--line 9|8|VERSION] [--timeout SECONDS]
    scripts/local-es status --cluster NAME
    scripts/local-es stop-node --cluster NAME K
    scripts/local-es start-node --cluster NAME K
    scripts/local-es stop --cluster NAME

``start`` reuses the running node unless ``--line`` asks for another version or the running
node's security differs from ``--secure``. It prints the URL as its last line of output
(progress goes to stderr), so ``URL=$(scripts/local-es start)`` works. The node's state is kept
in the cache directory (``$FAILOVER_VERIFY_CACHE``, else /var/cache/failover-verify for root,
else ~/.cache/failover-verify).

With ``--cluster NAME``, ``start`` starts N nodes (3 by default) of one line that form the
cluster NAME on loopback, each with its own ports and data, and prints node 1's URL last.
``stop-node K`` stops node K and keeps its data, ``start-node K`` starts it again (same ports
when free) and waits until its shards are back, and ``stop`` stops every node and removes the
cluster. Several clusters with different names can run side by side, and beside the single
node; clusters never use security.

``create-index`` creates an index in the shape of GitLab's production gateway indices
(``fixtures/gitlab-mlops-index/``: the real mapping, ``ignore_malformed``, a 30 s refresh
interval), numbered ``<alias>-000001`` behind the write alias NAME (default
``pubsub-mlops-inf-gprd``, which the tool's default ``--index`` finds). ``load-fixture`` loads
exported hits (``fixtures/*.ndjson``, or what ``failover-verify export`` wrote) through that
alias, creating the index first if needed, keeps their ids, and refreshes once at the end. Both
talk to the local node, node 1 of ``--cluster NAME``, or ``--url``.

Exit codes: 0 success (for ``status``: running), 1 failure, 2 bad usage, 3 ``status``: not
running.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import esnode
import mlops_index

NOT_RUNNING = 3
DEFAULT_LINE = "9"
DEFAULT_NODES = 3


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _state_file(cache_dir: Path) -> Path:
    return cache_dir / "local-node.json"


def _load(cache_dir: Path) -> esnode.Node | None:
    state = _state_file(cache_dir)
    if not state.is_file():
        return None
    try:
        return esnode.Node.from_json(state.read_text())
    except (ValueError, TypeError, KeyError):
        _say(f"ignoring the unreadable state file {state}")
        state.unlink()
        return None


def _forget(cache_dir: Path, node: esnode.Node) -> None:
    esnode.stop_node(node)
    _state_file(cache_dir).unlink(missing_ok=True)


def _describe(node: esnode.Node, state: Path) -> None:
    _say(f"Elasticsearch {node.version} (line {node.line}), pid {node.pid}, dir {node.node_dir}")
    if node.secure:
        _say(
            f"TLS with CA certificate {node.ca_certs}; user {node.username}, "
            f'password in {state} ("password")'
        )


def start(cache_dir: Path, spec: str | None, *, secure: bool, timeout: float) -> int:
    state = _state_file(cache_dir)
    node = _load(cache_dir)
    if node is not None and not esnode.is_running(node):
        _say(f"the node recorded in {state} is gone; cleaning up")
        _forget(cache_dir, node)
        node = None
    # Without --line, whatever node runs is the one wanted.
    line = esnode.server_line(spec or (node.version if node is not None else DEFAULT_LINE))
    if node is not None:
        if node.version != line.version or node.secure != secure:
            _say(
                f"a {'secure ' if node.secure else ''}node of Elasticsearch {node.version} "
                "runs; stopping it to start the one asked for"
            )
            _forget(cache_dir, node)
        else:
            esnode.wait_until_ready(node, timeout)
            _say("reusing the running node")
            _describe(node, state)
            print(node.url, flush=True)
            return 0
    node = esnode.start_node(
        line, cache_dir=cache_dir, secure=secure, timeout=timeout, progress=_say
    )
    state.write_text(node.to_json())
    state.chmod(0o600)
    _describe(node, state)
    print(node.url, flush=True)
    return 0


def status(cache_dir: Path) -> int:
    node = _load(cache_dir)
    if node is None or not esnode.is_running(node):
        print("not running")
        return NOT_RUNNING
    _describe(node, _state_file(cache_dir))
    print(f"running: {node.url}")
    return 0


def stop(cache_dir: Path) -> int:
    node = _load(cache_dir)
    if node is None:
        print("no local node was running")
        return 0
    _forget(cache_dir, node)
    print(f"stopped the node at {node.url} and removed {node.node_dir}")
    return 0


def _cluster_state(cache_dir: Path, name: str) -> Path:
    return cache_dir / f"local-cluster-{name}.json"


def _load_cluster(cache_dir: Path, name: str) -> esnode.Cluster | None:
    state = _cluster_state(cache_dir, name)
    if not state.is_file():
        return None
    try:
        return esnode.Cluster.from_json(state.read_text())
    except (ValueError, TypeError, KeyError):
        _say(f"ignoring the unreadable state file {state}")
        state.unlink()
        return None


def _save_cluster(cache_dir: Path, cluster: esnode.Cluster) -> None:
    state = _cluster_state(cache_dir, cluster.name)
    state.write_text(cluster.to_json())
    state.chmod(0o600)


def _describe_cluster(cluster: esnode.Cluster) -> None:
    running = esnode.running_members(cluster)
    _say(f"cluster {cluster.name!r}: Elasticsearch {cluster.version} (line {cluster.line})")
    for number, node in enumerate(cluster.nodes, 1):
        state = "running" if number in running else "stopped"
        _say(f"  node {number} ({node.name}): {state}, {node.url}, dir {node.node_dir}")


def start_cluster(
    cache_dir: Path, name: str, spec: str | None, *, nodes: int | None, timeout: float
) -> int:
    cluster = _load_cluster(cache_dir, name)
    if cluster is not None and not all((node.node_dir / "data").is_dir() for node in cluster.nodes):
        _say(f"the data of the cluster {name!r} is gone; cleaning up")
        esnode.stop_cluster(cluster)
        _cluster_state(cache_dir, name).unlink(missing_ok=True)
        cluster = None
    if cluster is not None:
        line = esnode.server_line(spec or cluster.version)
        wanted = nodes or len(cluster.nodes)
        if line.version != cluster.version or wanted != len(cluster.nodes):
            _say(
                f"the cluster {name!r} runs {len(cluster.nodes)} nodes of Elasticsearch "
                f"{cluster.version}; stopping it to start the one asked for"
            )
            esnode.stop_cluster(cluster)
            _cluster_state(cache_dir, name).unlink(missing_ok=True)
            cluster = None
    if cluster is not None:
        stopped = [
            number for number, node in enumerate(cluster.nodes, 1) if not esnode.is_running(node)
        ]
        if stopped:
            _say(f"starting the stopped nodes {', '.join(map(str, stopped))} again")
        try:
            esnode.start_members(cluster, stopped, timeout=timeout, progress=_say)
        finally:
            _save_cluster(cache_dir, cluster)
        _say("reusing the cluster")
    else:
        cluster = esnode.start_cluster(
            esnode.server_line(spec or DEFAULT_LINE),
            nodes=nodes or DEFAULT_NODES,
            name=name,
            cache_dir=cache_dir,
            timeout=timeout,
            progress=_say,
        )
        _save_cluster(cache_dir, cluster)
    _describe_cluster(cluster)
    print(cluster.url, flush=True)
    return 0


def _running_cluster(cache_dir: Path, name: str) -> esnode.Cluster:
    cluster = _load_cluster(cache_dir, name)
    if cluster is None:
        raise esnode.EsNodeError(
            f"no cluster {name!r} was started; start it with local-es start --cluster {name}"
        )
    return cluster


def stop_member(cache_dir: Path, name: str, number: int) -> int:
    cluster = _running_cluster(cache_dir, name)
    node = cluster.node(number)
    if not esnode.is_running(node):
        print(f"node {number} of the cluster {name!r} was not running")
        return 0
    esnode.stop_member(cluster, number)
    _save_cluster(cache_dir, cluster)
    print(
        f"stopped node {number} of the cluster {name!r} ({node.url}); its data stays in "
        f"{node.node_dir} until local-es start-node --cluster {name} {number}"
    )
    return 0


def start_member(cache_dir: Path, name: str, number: int, *, timeout: float) -> int:
    cluster = _running_cluster(cache_dir, name)
    try:
        node = esnode.start_member(cluster, number, timeout=timeout, progress=_say)
    finally:
        _save_cluster(cache_dir, cluster)
    print(node.url, flush=True)
    return 0


def cluster_status(cache_dir: Path, name: str) -> int:
    cluster = _load_cluster(cache_dir, name)
    if cluster is None:
        print("not running")
        return NOT_RUNNING
    _describe_cluster(cluster)
    running = esnode.running_members(cluster)
    if not running:
        print(
            f"not running: every node is stopped (start them with local-es start --cluster {name})"
        )
        return NOT_RUNNING
    print(f"running: {len(running)} of {len(cluster.nodes)} nodes, {cluster.url}")
    return 0


def stop_cluster(cache_dir: Path, name: str) -> int:
    cluster = _load_cluster(cache_dir, name)
    if cluster is None:
        print(f"no cluster {name!r} was running")
        return 0
    esnode.stop_cluster(cluster)
    _cluster_state(cache_dir, name).unlink(missing_ok=True)
    count = len(cluster.nodes)
    nodes = f"{count} node{'s' if count != 1 else ''}"
    print(f"stopped the {nodes} of the cluster {name!r} and removed its data")
    return 0


@dataclass(frozen=True)
class _Target:
    """Where create-index and load-fixture send their requests."""

    url: str
    authorization: str | None = None
    context: ssl.SSLContext | None = None

    @classmethod
    def of(cls, node: esnode.Node) -> _Target:
        authorization = None
        if node.username is not None and node.password is not None:
            token = base64.b64encode(f"{node.username}:{node.password}".encode()).decode()
            authorization = f"Basic {token}"
        context = None
        if node.ca_certs is not None:
            context = ssl.create_default_context(cafile=str(node.ca_certs))
        return cls(node.url, authorization, context)

    def send(
        self, method: str, path: str, body: bytes | None = None, *, ndjson: bool = False
    ) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(self.url + path, data=body, method=method)  # noqa: S310
        if body is not None:
            kind = "application/x-ndjson" if ndjson else "application/json"
            request.add_header("Content-Type", kind)
        if self.authorization is not None:
            request.add_header("Authorization", self.authorization)
        try:
            with urllib.request.urlopen(request, timeout=120, context=self.context) as answer:  # noqa: S310
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise esnode.EsNodeError(f"cannot reach {self.url}: {reason}") from None
        parsed = json.loads(text) if text.strip() else {}
        return status, parsed if isinstance(parsed, dict) else {"answer": parsed}


def _target(cache_dir: Path, url: str | None, cluster: str | None) -> _Target:
    if url:
        return _Target(url.rstrip("/"))
    if cluster is not None:
        return _Target.of(_running_cluster(cache_dir, cluster).node(1))
    node = _load(cache_dir)
    if node is None or not esnode.is_running(node):
        raise esnode.EsNodeError(
            "no local node runs: start one with local-es start, or name one with --url"
        )
    return _Target.of(node)


def create_index(target: _Target, alias: str) -> int:
    """Create ``<alias>-000001`` in the production shape unless the alias exists."""
    status, _ = target.send("HEAD", f"/_alias/{alias}")
    if status == 200:
        _say(f"the alias {alias} exists already; left as it is")
        print(alias, flush=True)
        return 0
    name = mlops_index.first_index(alias)
    body = json.dumps(mlops_index.create_body(alias)).encode()
    status, answer = target.send("PUT", f"/{name}", body)
    if status != 200:
        raise esnode.EsNodeError(f"Elasticsearch refused to create {name} ({status}): {answer}")
    _say(
        f"created {name} behind the write alias {alias}: GitLab's mapping, ignore_malformed, "
        f"refresh_interval {mlops_index.refresh_interval()} (records are searchable up to that "
        "long after they arrive)"
    )
    print(alias, flush=True)
    return 0


def _hits(path: Path) -> Iterator[tuple[str | None, dict[str, object]]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                hit = json.loads(line)
            except json.JSONDecodeError as exc:
                raise esnode.EsNodeError(f"{path}:{number} is not JSON: {exc.msg}") from None
            if not isinstance(hit, dict):
                raise esnode.EsNodeError(f"{path}:{number} is not a JSON object")
            # Exported hits carry the document under _source; bare documents are taken whole.
            source = hit.get("_source", hit)
            if not isinstance(source, dict):
                raise esnode.EsNodeError(f"{path}:{number}: _source is not an object")
            doc_id = hit.get("_id") if "_source" in hit else None
            yield (str(doc_id) if doc_id is not None else None), source


def load_fixture(target: _Target, path: Path, alias: str, *, chunk: int = 2000) -> int:
    """Load exported hits through ``alias`` (created first if missing), then refresh."""
    if not path.is_file():
        raise esnode.EsNodeError(f"{path} does not exist or is not a file")
    create_index(target, alias)
    loaded = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal loaded
        if not batch:
            return
        body = ("\n".join(batch) + "\n").encode()
        status, answer = target.send("POST", f"/{alias}/_bulk", body, ndjson=True)
        if status != 200 or answer.get("errors"):
            items = answer.get("items")
            first = next(
                (
                    item
                    for item in (items if isinstance(items, list) else [])
                    if isinstance(item, dict) and "error" in item.get("index", {})
                ),
                answer,
            )
            raise esnode.EsNodeError(f"Elasticsearch refused records of {path} ({status}): {first}")
        loaded += len(batch) // 2
        batch.clear()

    for doc_id, source in _hits(path):
        action = {"index": {"_id": doc_id}} if doc_id is not None else {"index": {}}
        batch += [json.dumps(action), json.dumps(source)]
        if len(batch) >= 2 * chunk:
            flush()
    flush()
    # The index refreshes every 30 s on its own; refreshing now makes the records searchable.
    target.send("POST", f"/{alias}/_refresh")
    _say(f"loaded {loaded:,} records from {path} into {alias} and refreshed it")
    print(alias, flush=True)
    return 0


def _cluster_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: use up to 40 lowercase letters, digits, '-' or '_'"
        )
    return value


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local-es", description="A throwaway local Elasticsearch node for development."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start a node, or reuse the running one")
    start_parser.add_argument(
        "--line",
        help=(
            f"a server line ({', '.join(esnode.LINES)}) or exact version; default: the "
            f"running node's, else {DEFAULT_LINE}"
        ),
    )
    start_parser.add_argument(
        "--secure", action="store_true", help="TLS and a superuser password (user elastic)"
    )
    start_parser.add_argument(
        "--timeout",
        type=float,
        default=esnode.DEFAULT_TIMEOUT,
        help="seconds to wait for the node to be usable",
    )
    start_parser.add_argument(
        "--cluster",
        type=_cluster_name,
        metavar="NAME",
        help="start (or reuse) the local cluster NAME instead of the single node",
    )
    start_parser.add_argument(
        "--nodes",
        type=_count,
        help=f"with --cluster: how many nodes (default {DEFAULT_NODES})",
    )
    status_parser = commands.add_parser("status", help="say whether the node runs and where")
    stop_parser = commands.add_parser("stop", help="stop the node and remove its files")
    member_parsers = (
        commands.add_parser("stop-node", help="stop node K of a cluster, keeping its data"),
        commands.add_parser("start-node", help="start node K of a cluster again"),
    )
    for sub in (status_parser, stop_parser, *member_parsers):
        sub.add_argument(
            "--cluster",
            type=_cluster_name,
            metavar="NAME",
            required=sub in member_parsers,
            help="the local cluster NAME instead of the single node",
        )
    for sub in member_parsers:
        sub.add_argument("number", type=_count, metavar="K", help="the node, counted from 1")
    member_parsers[1].add_argument(
        "--timeout",
        type=float,
        default=esnode.DEFAULT_TIMEOUT,
        help="seconds to wait for the node to rejoin and its shards to be back",
    )
    index_parsers = (
        commands.add_parser(
            "create-index",
            help="create an index in the shape of GitLab's production gateway indices",
        ),
        commands.add_parser(
            "load-fixture",
            help="load exported hits (fixtures/*.ndjson) into such an index",
        ),
    )
    index_parsers[1].add_argument("file", type=Path, metavar="FILE", help="NDJSON hits to load")
    for sub in index_parsers:
        sub.add_argument(
            "--alias",
            default=mlops_index.PRODUCTION_ALIAS,
            help=f"the write alias; the index is ALIAS-000001 (default "
            f"{mlops_index.PRODUCTION_ALIAS})",
        )
        where = sub.add_mutually_exclusive_group()
        where.add_argument("--url", help="the node's URL (default: the local node)")
        where.add_argument(
            "--cluster", type=_cluster_name, metavar="NAME", help="node 1 of the local cluster NAME"
        )
    args = parser.parse_args(argv)
    if args.command == "start" and args.cluster is None and args.nodes is not None:
        parser.error("--nodes needs --cluster NAME")
    if args.command == "start" and args.cluster is not None and args.secure:
        parser.error("clusters run without security; leave out --secure")

    cache_dir = esnode.default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if args.command in ("create-index", "load-fixture"):
            target = _target(cache_dir, args.url, args.cluster)
            if args.command == "create-index":
                return create_index(target, args.alias)
            return load_fixture(target, args.file, args.alias)
        if args.cluster is not None:
            return _cluster_command(cache_dir, args)
        # One local node per cache: the lock keeps two commands from racing over it.
        with esnode.file_lock(cache_dir / "local-node.lock"):
            if args.command == "start":
                return start(cache_dir, args.line, secure=args.secure, timeout=args.timeout)
            if args.command == "status":
                return status(cache_dir)
            return stop(cache_dir)
    except esnode.EsNodeError as exc:
        _say(f"local-es: {exc}")
        return 1
    except OSError as exc:
        _say(f"local-es: {exc}")
        return 1


def _cluster_command(cache_dir: Path, args: argparse.Namespace) -> int:
    name: str = args.cluster
    # Commands on local clusters take turns (one lock file, so none pile up per name).
    with esnode.file_lock(cache_dir / "local-cluster.lock"):
        if args.command == "start":
            return start_cluster(cache_dir, name, args.line, nodes=args.nodes, timeout=args.timeout)
        if args.command == "status":
            return cluster_status(cache_dir, name)
        if args.command == "stop-node":
            return stop_member(cache_dir, name, args.number)
        if args.command == "start-node":
            return start_member(cache_dir, name, args.number, timeout=args.timeout)
        return stop_cluster(cache_dir, name)
