"""Throwaway Elasticsearch nodes and small clusters for tests and local work.

The minimal server distribution comes from Maven Central, is checked against a known digest,
and is unpacked once into a cache outside the repository. Each node gets its own directory with
a copy of the configuration, its data and its logs, and is removed again when it stops.

A cluster is several such nodes on loopback that find each other through their transport
ports. One of its members can be stopped and started again: a stopped member keeps its
directory (so its shards come back with it) until the whole cluster stops.

Elasticsearch refuses to run as root, so a root caller (CI) runs the node as an unprivileged
system user created on first use; that is why the cache lives where that user can read it.

Only the standard library is used, so the module works before any virtualenv exists.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CLUSTER_HEAP_OPTS",
    "DEFAULT_TIMEOUT",
    "ES_USER",
    "LINES",
    "Cluster",
    "EsNodeError",
    "JavaHome",
    "Node",
    "ServerLine",
    "default_cache_dir",
    "distribution_url",
    "ensure_distribution",
    "file_lock",
    "find_java",
    "is_running",
    "log_tail",
    "running_members",
    "server_line",
    "start_cluster",
    "start_member",
    "start_members",
    "start_node",
    "stop_cluster",
    "stop_member",
    "stop_node",
    "wait_for_cluster",
    "wait_until_ready",
]

MAVEN_BASE = (
    "https://repo1.maven.org/maven2/org/elasticsearch/distribution/integ-test-zip/elasticsearch"
)
ES_USER = "failover-verify-es"
JVM_DIR = Path("/usr/lib/jvm")
HEAP_OPTS = "-Xms512m -Xmx512m"
# Several nodes share a 2-core machine with the rest of the suite; their test data is tiny.
CLUSTER_HEAP_OPTS = "-Xms320m -Xmx320m"
STOPPED_STATE = "stopped.json"
SUPERUSER = "elastic"
DEFAULT_TIMEOUT = 180.0

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Discard progress messages."""


@dataclass(frozen=True)
class ServerLine:
    """One Elasticsearch release line the suite runs against."""

    name: str
    version: str
    java_min: int
    # Maven Central publishes no checksum files beside the 9.x zips, so the digest of each
    # default version is pinned here; the published .sha512/.sha1 is checked as well when present.
    sha512: str | None = None


LINES: Mapping[str, ServerLine] = {
    "9": ServerLine(
        "9",
        "9.5.4",
        21,
        "a75df614854ace52dd0bce977662b3792873ac077ec0af9026cd0b2a0eb119e4"
        "49910f8eb8ed577d1a83c51c6ee6af71bf5004c3cf5b418c979186de8b5dd9e6",
    ),
    "8": ServerLine(
        "8",
        "8.19.21",
        17,
        "cf6b0a93860d329937ae7f913ec5073b0c726c77639764b93fc83a304aa1dd9d"
        "4defcfa2849948eea3b0b47c2065f994908603939fc2a4774c9c4d868c5ec1dd",
    ),
}


class EsNodeError(Exception):
    """The node could not be fetched, started, reached or stopped; the message says why."""


def server_line(spec: str) -> ServerLine:
    """Resolve a line name ("9", "8") or an exact version ("9.5.2") to a :class:`ServerLine`."""
    spec = spec.strip()
    if spec in LINES:
        return LINES[spec]
    if re.fullmatch(r"\d+\.\d+\.\d+", spec):
        major = spec.split(".", 1)[0]
        if major not in LINES:
            raise EsNodeError(
                f"Elasticsearch {spec} is of no known line; use one of {_known_lines()}"
            )
        known = LINES[major]
        return ServerLine(
            major, spec, known.java_min, known.sha512 if spec == known.version else None
        )
    raise EsNodeError(
        f"{spec!r} is neither a server line ({_known_lines()}) nor a version like 9.5.4"
    )


def _known_lines() -> str:
    return ", ".join(f"{name} = {line.version}" for name, line in LINES.items())


def _is_root() -> bool:
    return os.geteuid() == 0


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The cache for distributions and node directories, always outside the repository."""
    env = os.environ if env is None else env
    if env.get("FAILOVER_VERIFY_CACHE"):
        return Path(env["FAILOVER_VERIFY_CACHE"]).expanduser().absolute()
    if _is_root():
        return Path("/var/cache/failover-verify")
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "failover-verify").absolute()


def _prepare_cache(cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    if _is_root():
        cache_dir.chmod(0o755)
        _check_reachable_by_node_user(cache_dir)
    return cache_dir


def _check_reachable_by_node_user(path: Path) -> None:
    # The node runs as another user, who must be able to walk down to the distribution.
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            raise EsNodeError(
                f"the cache {path} is not reachable for the user {ES_USER} because {parent} "
                "is not world-searchable; set FAILOVER_VERIFY_CACHE to a directory such as "
                "/var/cache/failover-verify"
            )


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so concurrent runs take turns.

    Each lock file must be taken once per process: flock locks on separate opens of one file
    exclude each other even within a process.
    """
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locked(cache_dir: Path) -> contextlib.AbstractContextManager[None]:
    return file_lock(cache_dir / ".lock")


# --- distribution -------------------------------------------------------------------------------


def distribution_url(version: str) -> str:
    """Where Maven Central serves the minimal server distribution of ``version``."""
    return f"{MAVEN_BASE}/{version}/elasticsearch-{version}.zip"


def ensure_distribution(
    line: ServerLine, cache_dir: Path | None = None, progress: Progress = _quiet
) -> Path:
    """Return the unpacked distribution (its ES home), downloading and checking it once."""
    cache_dir = _prepare_cache(cache_dir or default_cache_dir())
    home = cache_dir / "dist" / f"elasticsearch-{line.version}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    with _locked(cache_dir):
        if (home / "bin" / "elasticsearch").is_file():
            return home
        if shutil.which("unzip") is None:
            raise EsNodeError(
                "the unzip command is missing; install it (apt-get install -y unzip): "
                "Python's zipfile would drop the run bits of the Elasticsearch scripts"
            )
        home.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".unpack-", dir=home.parent) as scratch:
            archive = Path(scratch) / f"elasticsearch-{line.version}.zip"
            _download(line, archive, progress)
            progress(f"unpacking Elasticsearch {line.version}")
            unpacked = Path(scratch) / "tree"
            result = subprocess.run(
                ["unzip", "-q", str(archive), "-d", str(unpacked)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise EsNodeError(
                    f"unzip could not unpack {distribution_url(line.version)}: "
                    f"{result.stderr.strip() or result.stdout.strip()}"
                )
            tree = unpacked / f"elasticsearch-{line.version}"
            if not (tree / "bin" / "elasticsearch").is_file():
                raise EsNodeError(
                    f"the archive for Elasticsearch {line.version} has no "
                    f"elasticsearch-{line.version}/bin/elasticsearch; is it the server zip?"
                )
            if _is_root():
                _make_world_readable(tree)
            tree.rename(home)
    return home


def _make_world_readable(tree: Path) -> None:
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            path = Path(root, name)
            path.chmod(path.stat().st_mode | 0o555)
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444)
    tree.chmod(tree.stat().st_mode | 0o555)


def _download(line: ServerLine, target: Path, progress: Progress) -> None:
    url = distribution_url(line.version)
    published = _published_digest(url)
    if published is None and line.sha512 is None:
        raise EsNodeError(
            f"Maven Central publishes no checksum for Elasticsearch {line.version} and none is "
            "pinned in scripts/esnode.py; use a pinned version "
            f"({_known_lines()}) or add its SHA-512 to LINES"
        )
    progress(f"downloading {url}")
    for attempt in range(1, 4):
        try:
            actual = _fetch_to(url, target, progress)
            break
        # URLError and timeouts are OSErrors too.
        except OSError as exc:
            if attempt == 3:
                raise EsNodeError(
                    f"could not download {url} after 3 attempts: {exc}; check the network "
                    "access to Maven Central"
                ) from exc
            progress(f"download failed ({exc}); retrying")
            time.sleep(2 * attempt)
    expected: list[tuple[str, str, str]] = []
    if published is not None:
        expected.append((*published, "published beside the zip"))
    if line.sha512 is not None:
        expected.append(("sha512", line.sha512, "pinned in scripts/esnode.py"))
    for algorithm, digest, origin in expected:
        if actual[algorithm] != digest:
            raise EsNodeError(
                f"the {algorithm} of {url} is {actual[algorithm]}, but the one {origin} is "
                f"{digest}; the download is corrupt or not the expected file"
            )
    progress("checksum verified: " + "; ".join(f"{a} {origin}" for a, _, origin in expected))


def _published_digest(url: str) -> tuple[str, str] | None:
    for algorithm in ("sha512", "sha1"):
        try:
            with urllib.request.urlopen(f"{url}.{algorithm}", timeout=30) as response:  # noqa: S310
                text = response.read().decode("ascii", "replace")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                continue
            raise EsNodeError(f"could not fetch the checksum {url}.{algorithm}: {exc}") from exc
        except OSError as exc:
            raise EsNodeError(
                f"could not reach Maven Central for {url}.{algorithm}: {exc}"
            ) from exc
        digest = text.strip().split()[0].lower() if text.strip() else ""
        if not re.fullmatch(r"[0-9a-f]+", digest):
            raise EsNodeError(f"the checksum file {url}.{algorithm} holds no hex digest")
        return algorithm, digest
    return None


def _fetch_to(url: str, target: Path, progress: Progress) -> dict[str, str]:
    """Stream ``url`` into ``target``; return its SHA-512 and SHA-1 hex digests."""
    sha512 = hashlib.sha512()
    sha1 = hashlib.sha1(usedforsecurity=False)
    with (
        urllib.request.urlopen(url, timeout=60) as response,  # noqa: S310
        target.open("wb") as out,
    ):
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        next_report = 0.25
        while chunk := response.read(1 << 20):
            out.write(chunk)
            sha512.update(chunk)
            sha1.update(chunk)
            done += len(chunk)
            if total and done / total >= next_report:
                progress(f"  {done * 100 // total}% of {total // (1 << 20)} MiB")
                next_report += 0.25
        if total and done != total:
            raise OSError(f"the download stopped after {done} of {total} bytes")
    return {"sha512": sha512.hexdigest(), "sha1": sha1.hexdigest()}


# --- java ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JavaHome:
    """A JDK and its major version."""

    path: Path
    major: int


def _java_major(home: Path) -> int | None:
    release = home / "release"
    text = ""
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(), re.MULTILINE)
        text = match.group(1) if match else ""
    elif (home / "bin" / "java").is_file():
        result = subprocess.run(
            [str(home / "bin" / "java"), "-version"], capture_output=True, text=True, check=False
        )
        match = re.search(r'version "([^"]+)"', result.stderr)
        text = match.group(1) if match else ""
    parts = text.split(".")
    if not parts[0].isdigit():
        return None
    major = int(parts[0])
    # Java 8 and older report themselves as 1.x.
    if major == 1 and len(parts) > 1 and parts[1].isdigit():
        major = int(parts[1])
    return major


def find_java(min_major: int, env: Mapping[str, str] | None = None) -> JavaHome:
    """``ES_JAVA_HOME`` if set and new enough, else the oldest adequate JDK in /usr/lib/jvm."""
    env = os.environ if env is None else env
    if env.get("ES_JAVA_HOME"):
        home = Path(env["ES_JAVA_HOME"])
        if not (home / "bin" / "java").is_file():
            raise EsNodeError(f"ES_JAVA_HOME={home} has no bin/java; point it at a JDK")
        major = _java_major(home)
        if major is None or major < min_major:
            raise EsNodeError(
                f"ES_JAVA_HOME={home} is Java {major or 'of unknown version'}, but this "
                f"Elasticsearch needs Java {min_major} or newer; unset ES_JAVA_HOME or point it "
                "at a newer JDK"
            )
        return JavaHome(home, major)
    found: dict[Path, int] = {}
    if JVM_DIR.is_dir():
        for candidate in sorted(JVM_DIR.iterdir()):
            real = candidate.resolve()
            if real in found or not (real / "bin" / "java").is_file():
                continue
            major = _java_major(real)
            if major is not None:
                found[real] = major
    adequate = sorted((major, str(path)) for path, major in found.items() if major >= min_major)
    if not adequate:
        seen = ", ".join(f"{path} (Java {major})" for path, major in found.items()) or "none"
        raise EsNodeError(
            f"Elasticsearch needs Java {min_major} or newer and no such JDK is in {JVM_DIR} "
            f"(found: {seen}); install one, e.g. apt-get install openjdk-{min_major}-jdk-headless "
            "where Debian has it, or set ES_JAVA_HOME"
        )
    major, path = adequate[0]
    return JavaHome(Path(path), major)


# --- node ---------------------------------------------------------------------------------------


@dataclass
class Node:
    """A started node: where it answers, where it lives, and how to reach it when secure."""

    line: str
    version: str
    pid: int
    url: str
    http_port: int
    node_dir: Path
    java_home: Path
    username: str | None = None
    password: str | None = None
    ca_certs: Path | None = None
    name: str = "node-1"
    transport_port: int | None = None
    cluster: str | None = None
    """The id of the cluster this node is a member of; ``None`` for a single node."""
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def secure(self) -> bool:
        return self.ca_certs is not None

    @property
    def log_path(self) -> Path:
        return self.node_dir / "node.log"

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON-ready data; the live process handle is not kept."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "process"}
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}

    def to_json(self) -> str:
        """Serialise for a state file."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        values = dict(data)
        for key in ("node_dir", "java_home", "ca_certs"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Node:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        # The superuser password of a throwaway node is still a password.
        return (
            f"Node(name={self.name!r}, line={self.line!r}, version={self.version!r}, "
            f"pid={self.pid}, url={self.url!r}, node_dir={str(self.node_dir)!r})"
        )


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _node_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(ES_USER)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        raise EsNodeError(
            f"Elasticsearch refuses to run as root and there is no useradd to create the "
            f"unprivileged user {ES_USER}; create it by hand or run as an ordinary user"
        )
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "failover-verify test Elasticsearch",
            ES_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit code 9 means another run created the user first.
    if result.returncode not in (0, 9):
        raise EsNodeError(f"useradd could not create {ES_USER}: {result.stderr.strip()}")
    return pwd.getpwnam(ES_USER)


def _chown_tree(tree: Path, uid: int, gid: int) -> None:
    os.lchown(tree, uid, gid)
    for root, dirs, files in os.walk(tree):
        for name in [*dirs, *files]:
            os.lchown(Path(root, name), uid, gid)


def _settings_yaml(
    *,
    http_port: int,
    transport_port: int,
    node_dir: Path,
    secure: bool,
    name: str = "node-1",
    cluster: str | None = None,
    seed_hosts: Sequence[str] = (),
    initial_masters: Sequence[str] = (),
) -> str:
    settings: dict[str, object] = {
        "cluster.name": f"failover-verify-{cluster or node_dir.name}",
        "node.name": name,
    }
    if cluster is None or not seed_hosts:
        settings["discovery.type"] = "single-node"
    else:
        settings["discovery.seed_hosts"] = list(seed_hosts)
        # Only for the first start: a member that restarts rejoins the cluster it formed.
        if initial_masters:
            settings["cluster.initial_master_nodes"] = list(initial_masters)
    settings |= {
        "network.host": "127.0.0.1",
        "http.port": http_port,
        "transport.port": transport_port,
        "path.data": str(node_dir / "data"),
        "path.logs": str(node_dir / "logs"),
        # Test machines often have fuller disks than a production node would tolerate.
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "xpack.security.enabled": secure,
    }
    if secure:
        settings |= {
            "xpack.security.http.ssl.enabled": True,
            "xpack.security.http.ssl.certificate": "certs/node.crt",
            "xpack.security.http.ssl.key": "certs/node.key",
            "xpack.security.transport.ssl.enabled": False,
        }
    # JSON scalars are valid YAML, which keeps paths and booleans unambiguous.
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())


def _make_certificates(certs: Path) -> None:
    if shutil.which("openssl") is None:
        raise EsNodeError("a secure node needs the openssl command; install openssl")
    certs.mkdir()
    (certs / "node.ext").write_text(
        "basicConstraints = CA:FALSE\n"
        "keyUsage = digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
    )
    steps = [
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
            "-subj", "/CN=failover-verify throwaway test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "ca.key", "-out", "ca.crt",
        ],
        [
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "node.key", "-out", "node.csr",
        ],
        [
            "openssl", "x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "3", "-extfile", "node.ext", "-out", "node.crt",
        ],
    ]  # fmt: skip
    for argv in steps:
        result = subprocess.run(argv, cwd=certs, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EsNodeError(f"openssl failed ({' '.join(argv[:2])}): {result.stderr.strip()}")
    (certs / "ca.key").unlink()
    (certs / "node.csr").unlink()


def _node_env(
    home: Path, node_dir: Path, java: JavaHome, heap: str | None = None
) -> dict[str, str]:
    # A small, explicit environment: JAVA_HOME, JAVA_TOOL_OPTIONS or a caller's ES_* variables
    # would otherwise change how the node starts.
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(node_dir),
        "LANG": "C.UTF-8",
        "ES_HOME": str(home),
        "ES_JAVA_HOME": str(java.path),
        "ES_PATH_CONF": str(node_dir / "config"),
        "ES_JAVA_OPTS": heap or HEAP_OPTS,
        "ES_TMPDIR": str(node_dir / "tmp"),
    }


def _as_user_kwargs(user: pwd.struct_passwd | None) -> dict[str, Any]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _set_bootstrap_password(
    home: Path, env: Mapping[str, str], user: pwd.struct_passwd | None, password: str
) -> None:
    tool = str(home / "bin" / "elasticsearch-keystore")
    for argv, stdin in (
        ([tool, "create"], ""),
        ([tool, "add", "--stdin", "--force", "bootstrap.password"], password),
    ):
        result = subprocess.run(
            argv,
            input=stdin,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
            **_as_user_kwargs(user),
        )
        if result.returncode != 0:
            raise EsNodeError(
                f"elasticsearch-keystore {argv[1]} failed: "
                f"{(result.stderr or result.stdout).strip()}"
            )


def _sweep_stale_nodes(nodes_dir: Path) -> None:
    # Runs killed without cleanup leave node directories behind; remove those whose
    # process is gone so the cache does not grow without bound.
    if not nodes_dir.is_dir():
        return
    for node_dir in nodes_dir.iterdir():
        state = node_dir / "node.json"
        stopped = node_dir / STOPPED_STATE
        try:
            old = time.time() - node_dir.stat().st_mtime > 600
            if state.is_file():
                pid = int(json.loads(state.read_text())["pid"])
                stale = not _group_members(pid)
            elif stopped.is_file():
                # A member stopped on purpose keeps its data while the rest of its cluster runs.
                cluster = str(json.loads(stopped.read_text())["cluster"])
                stale = old and not _cluster_alive(nodes_dir, cluster)
            else:
                stale = old
        except (OSError, ValueError, KeyError):
            continue
        if stale:
            shutil.rmtree(node_dir, ignore_errors=True)


def _cluster_alive(nodes_dir: Path, cluster: str) -> bool:
    for member_dir in nodes_dir.glob(f"{cluster}-n*"):
        try:
            pid = int(json.loads((member_dir / "node.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            continue
        if _group_members(pid):
            return True
    return False


def start_node(
    spec: str | ServerLine = "9",
    *,
    cache_dir: Path | None = None,
    secure: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = _quiet,
) -> Node:
    """Start a single node, wait until it is usable, and return it.

    On failure the node is stopped and removed, and :class:`EsNodeError` says why, with the end
    of the node's log.
    """
    line = spec if isinstance(spec, ServerLine) else server_line(spec)
    deadline = time.monotonic() + timeout
    cache_dir = _prepare_cache(cache_dir or default_cache_dir())
    java = find_java(line.java_min)
    home = ensure_distribution(line, cache_dir, progress)
    user, nodes_dir = _prepare_nodes_dir(cache_dir)
    attempts = 3
    for attempt in range(1, attempts + 1):
        node = _launch(line, home, java, nodes_dir, user, secure=secure, progress=progress)
        try:
            wait_until_ready(node, max(deadline - time.monotonic(), 1.0))
        except EsNodeError as exc:
            port_taken = "BindHttpException" in str(exc) or "BindTransportException" in str(exc)
            stop_node(node)
            if port_taken and attempt < attempts:
                progress("a chosen port was taken meanwhile; retrying with other ports")
                continue
            raise
        except BaseException:
            stop_node(node)
            raise
        return node
    raise AssertionError("unreachable")  # pragma: no cover


def _prepare_nodes_dir(cache_dir: Path) -> tuple[pwd.struct_passwd | None, Path]:
    """The user to run nodes as (when root) and the directory for node directories."""
    user: pwd.struct_passwd | None = None
    nodes_dir = cache_dir / "nodes"
    with _locked(cache_dir):
        if _is_root():
            user = _node_user()
        nodes_dir.mkdir(exist_ok=True)
        if _is_root():
            nodes_dir.chmod(0o755)
        _sweep_stale_nodes(nodes_dir)
    return user, nodes_dir


def _launch(
    line: ServerLine,
    home: Path,
    java: JavaHome,
    nodes_dir: Path,
    user: pwd.struct_passwd | None,
    *,
    secure: bool,
    progress: Progress,
) -> Node:
    node_dir = Path(tempfile.mkdtemp(prefix=f"es{line.name}-", dir=nodes_dir))
    try:
        http_port, transport_port = _free_ports(2)
        shutil.copytree(home / "config", node_dir / "config")
        for sub in ("data", "logs", "tmp"):
            (node_dir / sub).mkdir()
        (node_dir / "config" / "elasticsearch.yml").write_text(
            _settings_yaml(
                http_port=http_port,
                transport_port=transport_port,
                node_dir=node_dir,
                secure=secure,
            )
        )
        password = None
        if secure:
            _make_certificates(node_dir / "config" / "certs")
            password = secrets.token_urlsafe(18)
        if user is not None:
            _chown_tree(node_dir, user.pw_uid, user.pw_gid)
        env = _node_env(home, node_dir, java)
        if password is not None:
            _set_bootstrap_password(home, env, user, password)
        progress(
            f"starting Elasticsearch {line.version} on port {http_port} with Java {java.major}"
            + (f" as user {ES_USER}" if user is not None else "")
        )
        process = _spawn(home, node_dir, env, user)
    except BaseException:
        shutil.rmtree(node_dir, ignore_errors=True)
        raise
    try:
        return _record(
            line=line,
            node_dir=node_dir,
            java=java,
            process=process,
            http_port=http_port,
            password=password,
        )
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        shutil.rmtree(node_dir, ignore_errors=True)
        raise


def _spawn(
    home: Path, node_dir: Path, env: Mapping[str, str], user: pwd.struct_passwd | None
) -> subprocess.Popen[bytes]:
    log: IO[bytes]
    # Appending keeps what a member logged before it was stopped and started again.
    with (node_dir / "node.log").open("ab") as log:
        if user is not None:
            os.fchown(log.fileno(), user.pw_uid, user.pw_gid)
        return subprocess.Popen(
            [str(home / "bin" / "elasticsearch")],
            cwd=node_dir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_as_user_kwargs(user),
        )


def _record(
    *,
    line: ServerLine,
    node_dir: Path,
    java: JavaHome,
    process: subprocess.Popen[bytes],
    http_port: int,
    password: str | None,
    name: str = "node-1",
    transport_port: int | None = None,
    cluster: str | None = None,
) -> Node:
    secure = password is not None
    node = Node(
        line=line.name,
        version=line.version,
        pid=process.pid,
        url=f"{'https' if secure else 'http'}://127.0.0.1:{http_port}",
        http_port=http_port,
        node_dir=node_dir,
        java_home=java.path,
        username=SUPERUSER if secure else None,
        password=password,
        ca_certs=node_dir / "config" / "certs" / "ca.crt" if secure else None,
        name=name,
        transport_port=transport_port,
        cluster=cluster,
        process=process,
    )
    state = node_dir / "node.json"
    state.write_text(node.to_json())
    state.chmod(0o600)
    return node


# --- readiness, status, stop --------------------------------------------------------------------


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(parts[2]) == pgid and parts[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _belongs_to(pid: int, node_dir: Path) -> bool:
    # A pid read back from a state file may have been reused by an unrelated process; the
    # node's processes are recognised by the configuration directory in their environment.
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"ES_PATH_CONF={node_dir / 'config'}".encode() in environ.split(b"\0")


def _live_node_processes(node: Node) -> list[int]:
    members = _group_members(node.pid)
    if node.process is not None:
        return members
    return members if any(_belongs_to(pid, node.node_dir) for pid in members) else []


def is_running(node: Node) -> bool:
    """Whether the node's processes are still alive."""
    if node.process is not None:
        return node.process.poll() is None
    return bool(_live_node_processes(node))


def log_tail(node: Node, lines: int = 30) -> str:
    """The last lines the node wrote to its console log."""
    try:
        text = node.log_path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _request(node: Node, path: str, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
    request = urllib.request.Request(node.url + path)  # noqa: S310
    if node.username is not None and node.password is not None:
        token = base64.b64encode(f"{node.username}:{node.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = None
    if node.ca_certs is not None:
        context = ssl.create_default_context(cafile=str(node.ca_certs))
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_until_ready(node: Node, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until the node answers as Elasticsearch and its cluster is at least yellow."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if not is_running(node):
            raise EsNodeError(
                f"Elasticsearch {node.version} exited before it was ready ({last}); "
                f"last lines of {node.log_path}:\n{log_tail(node)}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise EsNodeError(
                f"Elasticsearch {node.version} was not ready after {timeout:.0f} s ({last}); "
                f"last lines of {node.log_path}:\n{log_tail(node)}"
            )
        try:
            problem = _not_answering(node, min(5.0, remaining))
            if problem is None:
                wait = max(int(deadline - time.monotonic()), 1)
                status, _, body = _request(
                    node,
                    f"/_cluster/health?wait_for_status=yellow&timeout={wait}s",
                    timeout=wait + 5,
                )
                if status == 200:
                    return
                last = f"cluster health answered {status}: {body[:200]!r}"
            else:
                last = problem
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = f"GET / failed: {getattr(exc, 'reason', exc)!s}"
        time.sleep(0.5)


def _not_answering(node: Node, timeout: float) -> str | None:
    """Why the node's REST layer is not up yet, or ``None`` when it answers as Elasticsearch."""
    status, headers, _ = _request(node, "/", timeout=timeout)
    product = {k.lower(): v for k, v in headers.items()}.get("x-elastic-product")
    # The minimal distribution lacks the rest-root module, so GET / answers 405;
    # the product header still proves Elasticsearch's REST layer is up.
    if status in (200, 405) and product == "Elasticsearch":
        return None
    return f"GET / answered {status} with X-Elastic-Product={product!r}"


def stop_node(node: Node, timeout: float = 30.0, *, remove: bool = True) -> None:
    """Stop the node's whole process group (SIGTERM, then SIGKILL) and remove its directory.

    ``remove=False`` keeps the directory, data included, so the node can start again.
    """
    # The node runs in its own session, so its pid is also its process group id.
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        if not _live_node_processes(node):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, sig)
        deadline = time.monotonic() + wait
        while _live_node_processes(node) and time.monotonic() < deadline:
            if node.process is not None:
                node.process.poll()
            time.sleep(0.2)
    if node.process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(timeout=5)
    if remove:
        shutil.rmtree(node.node_dir, ignore_errors=True)


# --- clusters -----------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Several nodes of one server line on loopback that form one cluster.

    ``nodes[0]`` is node 1; its URL is the cluster's. ``id`` names the members' directories
    (``<id>-n1``, ``<id>-n2``, ...) and the cluster (``failover-verify-<id>``).
    """

    name: str
    id: str
    line: str
    version: str
    heap: str
    nodes: list[Node]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def transport_addresses(self) -> list[str]:
        """``host:port`` of every member's transport layer, as remote-cluster seeds want them."""
        return [f"{node.host}:{node.transport_port}" for node in self.nodes]

    def node(self, number: int) -> Node:
        """Member ``number``, counted from 1."""
        if not 1 <= number <= len(self.nodes):
            raise EsNodeError(
                f"cluster {self.name} has nodes 1 to {len(self.nodes)}, not node {number}"
            )
        return self.nodes[number - 1]

    def to_json(self) -> str:
        data = {
            "name": self.name,
            "id": self.id,
            "line": self.line,
            "version": self.version,
            "heap": self.heap,
            "nodes": [node.to_dict() for node in self.nodes],
        }
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Cluster:
        data = json.loads(text)
        return cls(
            name=str(data["name"]),
            id=str(data["id"]),
            line=str(data["line"]),
            version=str(data["version"]),
            heap=str(data["heap"]),
            nodes=[Node.from_dict(node) for node in data["nodes"]],
        )

    def __repr__(self) -> str:
        return f"Cluster(name={self.name!r}, version={self.version!r}, nodes={len(self.nodes)})"


def running_members(cluster: Cluster) -> list[int]:
    """The numbers (from 1) of the members whose processes are alive."""
    return [number for number, node in enumerate(cluster.nodes, 1) if is_running(node)]


def start_cluster(
    spec: str | ServerLine = "9",
    *,
    nodes: int = 3,
    name: str = "cluster",
    cache_dir: Path | None = None,
    heap: str = CLUSTER_HEAP_OPTS,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = _quiet,
) -> Cluster:
    """Start ``nodes`` nodes that form one cluster, wait until all have joined, and return it.

    The nodes start together and elect a master among themselves (every node is
    master-eligible), so a three-node cluster keeps working when any one node stops. On failure
    every node is stopped and removed, and :class:`EsNodeError` says why, with the ends of the
    nodes' logs.
    """
    if nodes < 1:
        raise EsNodeError(f"a cluster needs at least one node, not {nodes}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
        raise EsNodeError(
            f"{name!r} is not a usable cluster name: use up to 40 lowercase letters, digits, "
            "'-' or '_'"
        )
    line = spec if isinstance(spec, ServerLine) else server_line(spec)
    deadline = time.monotonic() + timeout
    cache_dir = _prepare_cache(cache_dir or default_cache_dir())
    java = find_java(line.java_min)
    home = ensure_distribution(line, cache_dir, progress)
    user, nodes_dir = _prepare_nodes_dir(cache_dir)
    attempts = 3
    for attempt in range(1, attempts + 1):
        cluster = _launch_cluster(
            line, home, java, nodes_dir, user, name=name, count=nodes, heap=heap, progress=progress
        )
        try:
            wait_for_cluster(cluster, max(deadline - time.monotonic(), 1.0))
        except EsNodeError:
            port_taken = any(_port_taken(node) for node in cluster.nodes)
            stop_cluster(cluster)
            if port_taken and attempt < attempts:
                progress("a chosen port was taken meanwhile; retrying with other ports")
                continue
            raise
        except BaseException:
            stop_cluster(cluster)
            raise
        return cluster
    raise AssertionError("unreachable")  # pragma: no cover


def _launch_cluster(
    line: ServerLine,
    home: Path,
    java: JavaHome,
    nodes_dir: Path,
    user: pwd.struct_passwd | None,
    *,
    name: str,
    count: int,
    heap: str,
    progress: Progress,
) -> Cluster:
    cluster_id = f"es{line.name}-{name}-{secrets.token_hex(4)}"
    ports = _free_ports(2 * count)
    http_ports, transport_ports = ports[:count], ports[count:]
    names = [f"node-{number}" for number in range(1, count + 1)]
    # A one-node cluster needs no discovery at all (and would warn every 30 s about it).
    seeds = [f"127.0.0.1:{port}" for port in transport_ports] if count > 1 else []
    cluster = Cluster(
        name=name, id=cluster_id, line=line.name, version=line.version, heap=heap, nodes=[]
    )
    progress(
        f"starting a {count}-node cluster {name!r} of Elasticsearch {line.version} "
        f"(HTTP ports {', '.join(map(str, http_ports))}) with Java {java.major}"
        + (f" as user {ES_USER}" if user is not None else "")
    )
    try:
        for number in range(count):
            node_dir = nodes_dir / f"{cluster_id}-n{number + 1}"
            node_dir.mkdir()
            shutil.copytree(home / "config", node_dir / "config")
            for sub in ("data", "logs", "tmp"):
                (node_dir / sub).mkdir()
            _write_member_settings(
                node_dir,
                user,
                name=names[number],
                cluster_id=cluster_id,
                http_port=http_ports[number],
                transport_port=transport_ports[number],
                seeds=seeds,
                initial_masters=names if seeds else (),
            )
            if user is not None:
                _chown_tree(node_dir, user.pw_uid, user.pw_gid)
            process = _spawn(home, node_dir, _node_env(home, node_dir, java, heap), user)
            cluster.nodes.append(
                _record(
                    line=line,
                    node_dir=node_dir,
                    java=java,
                    process=process,
                    http_port=http_ports[number],
                    password=None,
                    name=names[number],
                    transport_port=transport_ports[number],
                    cluster=cluster_id,
                )
            )
    except BaseException:
        stop_cluster(cluster)
        for leftover in nodes_dir.glob(f"{cluster_id}-n*"):
            shutil.rmtree(leftover, ignore_errors=True)
        raise
    return cluster


def _write_member_settings(
    node_dir: Path,
    user: pwd.struct_passwd | None,
    *,
    name: str,
    cluster_id: str,
    http_port: int,
    transport_port: int,
    seeds: Sequence[str],
    initial_masters: Sequence[str] = (),
) -> None:
    config = node_dir / "config" / "elasticsearch.yml"
    config.write_text(
        _settings_yaml(
            http_port=http_port,
            transport_port=transport_port,
            node_dir=node_dir,
            secure=False,
            name=name,
            cluster=cluster_id,
            seed_hosts=seeds,
            initial_masters=initial_masters,
        )
    )
    if user is not None:
        os.lchown(config, user.pw_uid, user.pw_gid)


def _port_taken(node: Node) -> bool:
    try:
        text = node.log_path.read_text(errors="replace")
    except OSError:
        return False
    return "BindHttpException" in text or "BindTransportException" in text


def wait_for_cluster(cluster: Cluster, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until every member answers, all have joined, and the cluster is at least yellow.

    Yellow means every primary shard is assigned, so after a member comes back this also
    waits until the shards it holds are readable again.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        for node in cluster.nodes:
            if not is_running(node):
                raise EsNodeError(
                    f"{node.name} of the cluster {cluster.name!r} exited before the cluster was "
                    f"ready ({last}); last lines of {node.log_path}:\n{log_tail(node)}"
                )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            tails = "\n".join(
                f"--- last lines of {node.log_path}:\n{log_tail(node, 12)}"
                for node in cluster.nodes
            )
            raise EsNodeError(
                f"the cluster {cluster.name!r} was not ready after {timeout:.0f} s ({last})\n"
                + tails
            )
        try:
            problems = [
                f"{node.name}: {problem}"
                for node in cluster.nodes
                if (problem := _not_answering(node, min(5.0, remaining))) is not None
            ]
            if problems:
                last = "; ".join(problems)
            else:
                wait = max(min(int(deadline - time.monotonic()), 10), 1)
                status, _, body = _request(
                    cluster.nodes[0],
                    f"/_cluster/health?wait_for_nodes={len(cluster.nodes)}"
                    f"&wait_for_status=yellow&timeout={wait}s",
                    timeout=wait + 5,
                )
                if status == 200:
                    return
                last = f"cluster health answered {status}: {body[:200]!r}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = f"a member did not answer: {getattr(exc, 'reason', exc)!s}"
        time.sleep(0.5)


def stop_member(cluster: Cluster, number: int, timeout: float = 30.0) -> Node:
    """Stop member ``number`` (from 1) and keep its directory, so that it can start again."""
    node = cluster.node(number)
    stop_node(node, timeout, remove=False)
    state = node.node_dir / "node.json"
    # The state file says the member was stopped on purpose, so no sweep removes its data
    # while the rest of its cluster runs.
    if state.is_file():
        state.replace(node.node_dir / STOPPED_STATE)
    return node


def start_member(
    cluster: Cluster, number: int, *, timeout: float = DEFAULT_TIMEOUT, progress: Progress = _quiet
) -> Node:
    """Start a stopped member again with its data, and wait until the cluster is whole."""
    return start_members(cluster, [number], timeout=timeout, progress=progress)[0]


def start_members(
    cluster: Cluster,
    numbers: Sequence[int],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = _quiet,
) -> list[Node]:
    """Start stopped members again with their data, and wait until the cluster is whole.

    Members keep their ports when these are still free, so their URLs do not change. Members
    that already run are left alone. Waiting for the whole cluster includes waiting until the
    shards the members hold are readable again.
    """
    deadline = time.monotonic() + timeout
    stopped = [number for number in dict.fromkeys(numbers) if not is_running(cluster.node(number))]
    for number in stopped:
        node = cluster.node(number)
        if not (node.node_dir / "data").is_dir():
            raise EsNodeError(
                f"{node.name} of the cluster {cluster.name!r} has no data directory any more "
                f"({node.node_dir}); stop the cluster and start a new one"
            )
    if stopped:
        line = server_line(cluster.version)
        java = find_java(line.java_min)
        home = ensure_distribution(line, cluster.nodes[0].node_dir.parent.parent, progress)
        user = _node_user() if _is_root() else None
        ports = {number: cluster.node(number).http_port for number in stopped}
        attempts = 3
        for attempt in range(1, attempts + 1):
            for number in stopped:
                _respawn(
                    cluster,
                    number,
                    line=line,
                    home=home,
                    java=java,
                    user=user,
                    http_port=ports[number],
                    progress=progress,
                )
            try:
                wait_for_cluster(cluster, max(deadline - time.monotonic(), 1.0))
            except BaseException:
                taken = [number for number in stopped if _port_taken(cluster.node(number))]
                for number in stopped:
                    stop_member(cluster, number)
                if taken and attempt < attempts:
                    progress("a port of a member was taken meanwhile; retrying with other ports")
                    for number in taken:
                        log = cluster.node(number).log_path
                        # A new log part, so the old bind failure is not read as the next one's.
                        log.rename(log.with_suffix(f".{attempt}.log"))
                        ports[number] = 0
                    continue
                raise
            break
    else:
        wait_for_cluster(cluster, timeout)
    return [cluster.node(number) for number in numbers]


def _respawn(
    cluster: Cluster,
    number: int,
    *,
    line: ServerLine,
    home: Path,
    java: JavaHome,
    user: pwd.struct_passwd | None,
    http_port: int,
    progress: Progress,
) -> None:
    """Launch a stopped member from its directory; port 0 means new ports."""
    node = cluster.node(number)
    transport_port = node.transport_port
    if not http_port or transport_port is None:
        http_port, transport_port = _free_ports(2)
    seeds = [
        f"127.0.0.1:{transport_port if other is node else other.transport_port}"
        for other in cluster.nodes
        if len(cluster.nodes) > 1
    ]
    _write_member_settings(
        node.node_dir,
        user,
        name=node.name,
        cluster_id=cluster.id,
        http_port=http_port,
        transport_port=transport_port,
        seeds=seeds,
    )
    progress(f"starting {node.name} of the cluster {cluster.name!r} again on port {http_port}")
    process = _spawn(home, node.node_dir, _node_env(home, node.node_dir, java, cluster.heap), user)
    cluster.nodes[number - 1] = _record(
        line=line,
        node_dir=node.node_dir,
        java=java,
        process=process,
        http_port=http_port,
        password=None,
        name=node.name,
        transport_port=transport_port,
        cluster=cluster.id,
    )
    (node.node_dir / STOPPED_STATE).unlink(missing_ok=True)


def stop_cluster(cluster: Cluster, timeout: float = 30.0) -> None:
    """Stop every member (running or stopped) and remove their directories."""
    # Signal every member first, so that they shut down side by side rather than in turn.
    for node in cluster.nodes:
        if _live_node_processes(node):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)
    for node in cluster.nodes:
        stop_node(node, timeout)
