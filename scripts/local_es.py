"""Start, inspect or stop a throwaway local Elasticsearch node.

    scripts/local-es start [--line 9|8|VERSION] [--secure] [--timeout SECONDS]
    scripts/local-es status
    scripts/local-es stop

``start`` reuses the running node unless ``--line`` asks for another version or the running
node's security differs from ``--secure``. It prints the URL as its last line of output
(progress goes to stderr), so ``URL=$(scripts/local-es start)`` works. The node's state is kept
in the cache directory (``$FAILOVER_VERIFY_CACHE``, else /var/cache/failover-verify for root,
else ~/.cache/failover-verify).

Exit codes: 0 success (for ``status``: running), 1 failure, 2 bad usage, 3 ``status``: not
running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import esnode

NOT_RUNNING = 3
DEFAULT_LINE = "9"


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
    commands.add_parser("status", help="say whether the node runs and where")
    commands.add_parser("stop", help="stop the node and remove its files")
    args = parser.parse_args(argv)

    cache_dir = esnode.default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
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
