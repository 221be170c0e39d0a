#!/usr/bin/env python3
"""A load run: many watchers and a scheduled status against a cluster that is ingesting.

    python benchmarks/load.py [--es-url URL] [--duration 120] [--loops 10] [--out FILE]
    python benchmarks/load.py --short --es-url URL --index-prefix PREFIX --out FILE

While a writer indexes gateway records stamped with the current time (a primary phase, a
mixed phase, then a failover phase), ``--loops`` threads each poll like ``watch`` (one
``Verifier`` per thread, ``verify`` on a window that slides with the data) and a scheduler
runs the ``status`` command in-process once a second. The run passes when:

- no request of the tool failed (and the writer lost no record);
- the process's memory stayed flat (resident set size sampled twice a second: the median of
  the last fifth may exceed the median of the second tenth by at most 32 MB or 15 %);
- every verdict equals a fresh, single verification of the same window afterwards: same
  window boundaries, identical counts, verdict and completeness.

Windows end at the writer's watermark: the time up to which every record has been indexed
and refreshed, so a window's records can no longer change once it has been read, and a
later verification of the same window must agree. A window reaching into the ingest delay is
ended earlier by the tool itself; each verdict is compared on the window its report names,
once every such window lies past the delay. Without ``--es-url`` a throwaway
three-node cluster is started (scripts/esnode.py) and stopped at the end. ``--short`` runs
15 s with a 5 s window, as the test suite does. Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import elasticsearch
import psutil
from elasticsearch import helpers

import failover_verify as fv
from failover_verify._cli import main as cli_main

REPO: Final = Path(__file__).resolve().parent.parent
# The document builders and the node harness are scripts of this repository, not package code.
sys.path[:0] = [str(REPO / "fixtures"), str(REPO / "scripts")]

import esnode  # noqa: E402
import gateway_logs as gl  # noqa: E402

FEATURE_NAMES: Final = ("completion", "generation")
COMPLETION: Final = {
    "primary": ("vertex-ai", "codestral-2501"),
    "failover": ("anthropic", "claude-sonnet-4-20250514"),
}
GENERATION: Final = {"primary": "^1.0.0", "failover": "2.0.0"}
GENERATION_PROMPT: Final = "code_suggestions/generations/base"
# Share of records on the failover provider in each third of the run: an incident unfolding.
PHASES: Final = (0.0, 0.5, 1.0)
BATCH_INTERVAL: Final = 0.25
BATCH_RECORDS: Final = 20
STATUS_INTERVAL: Final = 1.0
RSS_INTERVAL: Final = 0.5
MEMORY_SLACK_MB: Final = 32.0
MEMORY_SLACK_SHARE: Final = 0.15
MIN_COUNT: Final = 20
MB: Final = 1024 * 1024
MAX_LISTED: Final = 20


@dataclass(frozen=True)
class Mode:
    duration: float
    window: timedelta


FULL: Final = Mode(120.0, timedelta(seconds=30))
SHORT: Final = Mode(15.0, timedelta(seconds=5))

Counts = dict[str, tuple[str, int, int, int, int, bool]]


@dataclass(frozen=True)
class Observation:
    """One verdict the tool gave during the run, and the window it was for."""

    source: str
    start: datetime
    end: datetime
    counts: Counts
    seconds: float


def _milliseconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at ``moment``, for the CLI's ``now``."""
    return lambda: moment


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _report_counts(report: fv.Report) -> Counts:
    return {
        name: (f.verdict, f.total, f.primary, f.failover, f.unclassified, f.complete)
        for name, f in report.features.items()
    }


def _json_counts(report: dict[str, Any]) -> Counts:
    return {
        name: (
            f["verdict"],
            f["total"],
            f["primary"],
            f["failover"],
            f["unclassified"],
            f["complete"],
        )
        for name, f in report["features"].items()
    }


@dataclass
class Run:
    """Shared state of one load run; threads append under the lock."""

    url: str
    index: str
    mode: Mode
    loops: int
    poll_interval: float
    stop: threading.Event = field(default_factory=threading.Event)
    stop_writer: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    watermark: datetime | None = None
    first_record: datetime | None = None
    ingested: int = 0
    batches: int = 0
    observations: list[Observation] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    status_codes: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)

    def window_end(self) -> datetime:
        """Where a window may end now: the writer's watermark."""
        with self.lock:
            if self.watermark is None:
                raise RuntimeError("the readers started before the writer's first batch")
            return self.watermark

    def error(self, where: str, message: str) -> None:
        with self.lock:
            self.errors.append(f"{where}: {message}")

    def observe(self, observation: Observation) -> None:
        with self.lock:
            self.observations.append(observation)


def _connect(url: str) -> elasticsearch.Elasticsearch:
    return fv.connect(fv.ConnectionSettings.build(url=url))


# --- the writer ----------------------------------------------------------------------------------


def write(run: Run, client: elasticsearch.Elasticsearch, total_seconds: float) -> None:
    """Index a batch of records every BATCH_INTERVAL and move the watermark past it."""
    rng = random.Random(20261201)
    started = time.monotonic()
    previous = _milliseconds(datetime.now(UTC))
    step = timedelta(milliseconds=1)
    while not run.stop_writer.is_set():
        phase = min(int((time.monotonic() - started) / total_seconds * len(PHASES)), 2)
        # Every record is stamped after all the records before it (at the millisecond the
        # index stores), so no record ever lands in a window already read.
        stamp = max(_milliseconds(datetime.now(UTC)), previous + step)
        documents = []
        for number in range(BATCH_RECORDS):
            role = "failover" if rng.random() < PHASES[phase] else "primary"
            spread = previous + (stamp - previous) * (number + 1) / BATCH_RECORDS
            moment = max(_milliseconds(spread), previous + step)
            provider, model = COMPLETION[role]
            completion = gl.completion_doc(moment, provider, model, rng)
            generation = gl.registry_doc(moment, GENERATION_PROMPT, GENERATION[role], rng)
            for document in (completion, generation):
                document["@timestamp"] = _iso(moment)
                documents.append({"_index": run.index, "_source": document})
        try:
            indexed, errors = helpers.bulk(client, documents, refresh=True, raise_on_error=False)
        except elasticsearch.ApiError as exc:
            run.error("writer", str(exc))
            indexed, errors = 0, []
        except elasticsearch.TransportError as exc:
            run.error("writer", str(exc))
            indexed, errors = 0, []
        if errors or indexed != len(documents):
            # Records missing below the watermark would make later windows disagree.
            run.error("writer", f"indexed {indexed} of {len(documents)}: {str(errors)[:300]}")
            run.stop.set()
            return
        with run.lock:
            run.ingested += indexed
            run.batches += 1
            if run.first_record is None:
                run.first_record = previous
            # Every record up to and including stamp is indexed and visible; the window is
            # half-open, so it may end just after stamp.
            run.watermark = stamp + step
        previous = stamp
        run.stop_writer.wait(BATCH_INTERVAL)


# --- the readers ---------------------------------------------------------------------------------


def watch_loop(run: Run, number: int) -> None:
    """Poll like ``watch``: one Verifier, a window sliding with the watermark."""
    client = _connect(run.url)
    verifier = fv.Verifier(client, index=run.index, min_count=MIN_COUNT)
    rng = random.Random(number)
    polls = 0
    try:
        while not run.stop.is_set():
            end = run.window_end()
            start = end - run.mode.window
            began = time.perf_counter()
            try:
                report = verifier.verify(fv.parse_window(start, end))
            except fv.FailoverVerifyError as exc:
                run.error(f"loop {number}", str(exc))
            else:
                # The window read, which ends earlier when it reaches into the ingest delay.
                read = report.window
                run.observe(
                    Observation(
                        f"loop {number}", read.start, read.end, _report_counts(report),
                        time.perf_counter() - began,
                    )
                )  # fmt: skip
            polls += 1
            # Jitter keeps the loops from polling in lockstep, as separate watchers would not.
            run.stop.wait(run.poll_interval * rng.uniform(0.5, 1.5))
    finally:
        client.close()
        with run.lock:
            run.polls.append(polls)


def status_schedule(run: Run) -> None:
    """Run ``failover-verify status --json`` in-process once a second."""
    window = f"{int(run.mode.window.total_seconds())}s"
    next_run = time.monotonic()
    while not run.stop.is_set():
        end = run.window_end()
        out, err = io.StringIO(), io.StringIO()
        began = time.perf_counter()
        code = cli_main(
            ["status", "--index", run.index, "--since", window, "--min-count", str(MIN_COUNT),
             "--json"],
            env={"ES_URL": run.url},
            stdout=out,
            stderr=err,
            now=_at(end),
        )  # fmt: skip
        seconds = time.perf_counter() - began
        with run.lock:
            run.status_codes[code] += 1
        if code in (0, 1, 3):
            report = json.loads(out.getvalue())
            window_json = report["window"]
            run.observe(
                Observation(
                    "status",
                    datetime.fromisoformat(window_json["from"]),
                    datetime.fromisoformat(window_json["to"]),
                    _json_counts(report),
                    seconds,
                )
            )
        else:
            run.error("status", f"exit {code}: {err.getvalue().strip()[:300]}")
        next_run += STATUS_INTERVAL
        run.stop.wait(max(next_run - time.monotonic(), 0.0))


def sample_memory(run: Run, done: threading.Event) -> None:
    process = psutil.Process()
    started = time.monotonic()
    while not done.is_set():
        with run.lock:
            run.rss.append((time.monotonic() - started, process.memory_info().rss))
        done.wait(RSS_INTERVAL)


# --- the checks ----------------------------------------------------------------------------------


def memory_summary(samples: Sequence[tuple[float, int]]) -> dict[str, Any]:
    values = [rss / MB for _, rss in samples]
    if len(values) < 10:
        return {"samples": len(values), "flat": False, "why": "fewer than 10 samples"}
    tenth = len(values) // 10
    baseline = statistics.median(values[tenth : 2 * tenth])
    final = statistics.median(values[-2 * tenth :])
    growth = final - baseline
    limit = max(MEMORY_SLACK_MB, MEMORY_SLACK_SHARE * baseline)
    return {
        "samples": len(values),
        "baseline_mb": round(baseline, 1),
        "final_mb": round(final, 1),
        "peak_mb": round(max(values), 1),
        "growth_mb": round(growth, 1),
        "limit_mb": round(limit, 1),
        "flat": growth <= limit,
    }


def compare(run: Run) -> dict[str, Any]:
    """Verify every distinct window again, once and afresh, and compare."""
    windows: dict[tuple[datetime, datetime], list[Observation]] = {}
    for observation in run.observations:
        windows.setdefault((observation.start, observation.end), []).append(observation)
    client = _connect(run.url)
    # A window that ends within the ingest delay of now is read short, or noted as pending;
    # once every observed window is past it, each is read whole again.
    lag = fv.Verifier(client, index=run.index).ingest_delay().lag
    newest = max((observation.end for observation in run.observations), default=None)
    if newest is not None:
        time.sleep(max((newest + lag - datetime.now(UTC)).total_seconds(), 0.0))

    def fresh(window: tuple[datetime, datetime]) -> Counts:
        report = fv.verify(
            client, since=window[0], until=window[1], index=run.index, min_count=MIN_COUNT
        )
        return _report_counts(report)

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = dict(zip(windows, pool.map(fresh, windows), strict=True))
    finally:
        client.close()
    mismatches: list[dict[str, Any]] = []
    matched = 0
    for window, observations in windows.items():
        for observation in observations:
            if observation.counts == answers[window]:
                matched += 1
            elif len(mismatches) < MAX_LISTED:
                mismatches.append(
                    {
                        "source": observation.source,
                        "from": _iso(window[0]),
                        "to": _iso(window[1]),
                        "seen": observation.counts,
                        "fresh": answers[window],
                    }
                )
    verdicts: Counter[str] = Counter()
    for counts in answers.values():
        for name, row in counts.items():
            verdicts[f"{name} {row[0]}"] += 1
    return {
        "windows": len(run.observations),
        "distinct_windows": len(windows),
        "matched": matched,
        "mismatches": mismatches,
        "verdicts": dict(sorted(verdicts.items())),
    }


def _latency(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


# --- running -------------------------------------------------------------------------------------


def load_run(
    url: str,
    index_prefix: str,
    mode: Mode,
    *,
    loops: int,
    poll_interval: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    client = _connect(url)
    index = f"{index_prefix}-load"
    client.indices.create(
        index=index,
        settings={"number_of_shards": 3, "number_of_replicas": 0},
        mappings={"properties": {"@timestamp": {"type": "date"}}},
    )
    run = Run(url=url, index=index, mode=mode, loops=loops, poll_interval=poll_interval)
    warmup = mode.window.total_seconds()
    writer = threading.Thread(
        target=write, args=(run, client, warmup + mode.duration), name="writer"
    )
    memory_done = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(run, memory_done), name="rss")
    try:
        writer.start()
        say(f"ingesting into {index} for {warmup:.0f} s before the readers start")
        while not run.stop.is_set():
            with run.lock:
                ready = (
                    run.watermark is not None
                    and run.first_record is not None
                    and run.watermark - run.first_record >= mode.window
                )
            if ready:
                break
            time.sleep(0.1)
        readers = [
            threading.Thread(target=watch_loop, args=(run, number), name=f"loop-{number}")
            for number in range(loops)
        ]
        readers.append(threading.Thread(target=status_schedule, args=(run,), name="status"))
        say(f"{loops} watch loops and a status every {STATUS_INTERVAL:.0f} s for "
            f"{mode.duration:.0f} s")  # fmt: skip
        sampler.start()
        for reader in readers:
            reader.start()
        run.stop.wait(mode.duration)
        run.stop.set()
        for reader in readers:
            reader.join()
        memory_done.set()
        sampler.join()
    finally:
        run.stop.set()
        run.stop_writer.set()
        writer.join()
        memory_done.set()
    say(
        f"{len(run.observations)} verdicts; checking each against a fresh verification of its "
        "window"
    )
    comparison = compare(run)
    memory = memory_summary(run.rss)
    try:
        client.indices.delete(index=index)
    finally:
        client.close()
    loop_seconds = [o.seconds for o in run.observations if o.source != "status"]
    status_seconds = [o.seconds for o in run.observations if o.source == "status"]
    checks = {
        "no_request_errors": not run.errors,
        "memory_flat": bool(memory["flat"]),
        "verdicts_match_fresh_verification": (
            comparison["windows"] > 0 and comparison["matched"] == comparison["windows"]
        ),
    }
    return {
        "mode": "short" if mode is SHORT else "custom" if mode is not FULL else "full",
        "duration_s": mode.duration,
        "window_s": mode.window.total_seconds(),
        "index": index,
        "ingested": run.ingested,
        "ingest_batches": run.batches,
        "loops": [{"polls": polls} for polls in sorted(run.polls)],
        "status": {
            "runs": sum(run.status_codes.values()),
            "exit_codes": {str(k): v for k, v in sorted(run.status_codes.items())},
        },
        "latency": {"verify": _latency(loop_seconds), "status": _latency(status_seconds)},
        "memory": memory,
        "comparison": comparison,
        "errors": run.errors[:MAX_LISTED],
        "error_count": len(run.errors),
        "checks": checks,
    }


def summary(result: dict[str, Any]) -> str:
    memory = result["memory"]
    comparison = result["comparison"]
    polls = sum(loop["polls"] for loop in result["loops"])
    rows = [
        ("ingested", f"{result['ingested']:,} records in {result['ingest_batches']} batches"),
        ("watch loops", f"{len(result['loops'])}, {polls:,} polls"),
        (
            "status runs",
            f"{result['status']['runs']} (exit codes {result['status']['exit_codes']})",
        ),
        ("verify latency", str(result["latency"]["verify"])),
        ("status latency", str(result["latency"]["status"])),
        (
            "memory (RSS)",
            (
                f"{memory.get('baseline_mb')} MB -> {memory.get('final_mb')} MB (growth "
                f"{memory.get('growth_mb')} MB, limit {memory.get('limit_mb')} MB, peak "
                f"{memory.get('peak_mb')} MB)"
            ),
        ),
        (
            "verdicts checked",
            (
                f"{comparison['matched']} of {comparison['windows']} equal a fresh verification "
                f"({comparison['distinct_windows']} distinct windows: {comparison['verdicts']})"
            ),
        ),
        ("request errors", str(result["error_count"])),
    ]
    lines = [f"{label:<18} {value}" for label, value in rows]
    lines += [f"  {error}" for error in result["errors"]]
    lines += [f"  mismatch: {json.dumps(item, default=str)}" for item in comparison["mismatches"]]
    lines += [
        f"check {name:<36} {'PASS' if ok else 'FAIL'}" for name, ok in result["checks"].items()
    ]
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _cluster_url(args: argparse.Namespace) -> Iterator[str]:
    if args.es_url:
        yield args.es_url
        return
    cluster = esnode.start_cluster(args.line, nodes=3, name="load", progress=_say)
    try:
        yield cluster.url
    finally:
        esnode.stop_cluster(cluster)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--es-url", help="use this cluster instead of starting three nodes")
    parser.add_argument("--line", default="9", help="server line of the cluster started")
    parser.add_argument("--short", action="store_true", help="15 s with a 5 s window (CI)")
    parser.add_argument("--duration", type=float, help="seconds of load (default 120)")
    parser.add_argument("--window", type=float, help="sliding window in seconds (default 30)")
    parser.add_argument("--loops", type=int, default=10, help="concurrent watch loops")
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="seconds between a loop's polls"
    )
    parser.add_argument("--index-prefix", default="fv-load", help="the index is PREFIX-load")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    mode = SHORT if args.short else FULL
    if args.duration is not None or args.window is not None:
        mode = Mode(
            args.duration if args.duration is not None else mode.duration,
            timedelta(seconds=args.window) if args.window is not None else mode.window,
        )
    with _cluster_url(args) as url:
        result = load_run(
            url,
            args.index_prefix,
            mode,
            loops=args.loops,
            poll_interval=args.poll_interval,
            say=_say,
        )
        result["environment"] = {
            "cpus": psutil.cpu_count(),
            "load_average": list(psutil.getloadavg()),
            "python": sys.version.split()[0],
            "client": version("elasticsearch"),
        }
        print(summary(result))
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
