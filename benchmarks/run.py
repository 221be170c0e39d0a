#!/usr/bin/env python3
"""How verify's cost compares with one count request, the naive download, export and parsing.

    python benchmarks/run.py [--sizes 10000,100000,1000000] [--repeats 5] [--es-url URL]
                             [--reload] [--heap 1g] [--out DIR]
    python benchmarks/run.py --smoke --es-url URL --index-prefix PREFIX --out DIR

benchmarks/README.md says what each measurement is and how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import elasticsearch
from elasticsearch import helpers
from elasticsearch.dsl import Q

import failover_verify as fv
from failover_verify._queries import signal_filter
from failover_verify._signals import SIGNALS
from failover_verify._window import TimeWindow

REPO: Final = Path(__file__).resolve().parent.parent
# The document builders and the node harness are scripts of this repository, not package code.
sys.path[:0] = [str(REPO / "fixtures"), str(REPO / "scripts")]

import esnode  # noqa: E402
import gateway_logs as gl  # noqa: E402

DEFAULT_SIZES: Final = (10_000, 100_000, 1_000_000)
SMOKE_SIZE: Final = 2_000
DEFAULT_REPEATS: Final = 5
SMOKE_REPEATS: Final = 2
DEFAULT_PARSE_SAMPLE: Final = 200_000
DEFAULT_SLOW_BUDGET: Final = 900.0
WARMUP_ROUNDS: Final = 5
# Window shifts stay under the second of empty time at each edge (see window()).
MAX_SHIFT_MS: Final = 1000
RESULTS_DIR: Final = REPO / "benchmarks" / "results"

# Bump when the synthetic documents change, so indices loaded by an older harness are rebuilt.
GENERATOR_VERSION: Final = 1
SEED: Final = 20260121
START: Final = datetime(2026, 1, 21, 9, 0, tzinfo=UTC)
WINDOW: Final = timedelta(hours=1)
END: Final = START + WINDOW
# Ingest lags the event by at most 4 s (gateway_logs), so events stop 5 s before the end and
# documents meant to fall outside end 5 s before the start: each lands where it is counted.
INGEST_MARGIN: Final = 5.0
OUTSIDE_SHARE: Final = 0.05
COMPLETION_SHARE: Final = 0.45
REGISTRY_SHARE: Final = 0.35
GENERATION_SHARE_OF_REGISTRY: Final = 0.8
GECKO_SHARE: Final = 0.1
DOTTED_SHARE: Final = 0.5
# Minutes into the window during which traffic runs on the failover provider.
INCIDENT: Final = (20.0, 35.0)
OTHER_PROMPT_IDS: Final = ("chat/explain_code", "chat/react", "resolve_vulnerability/base")
PAGE_SIZE: Final = 10_000
LOAD_CHUNK: Final = 2_000
# Hits are decoded and parsed a hundred at a time, as a streaming reader would: holding many
# thousands alive makes the cyclic garbage collector and cache misses dominate both timings
# (measured: parse_hit at half its rate, json.loads at under half).
PARSE_CHUNK: Final = 100
KEEP_ALIVE: Final = "5m"
MB: Final = 1024 * 1024


@dataclass(frozen=True)
class Expected:
    """What the loaded index holds, by the category each synthetic document was made as."""

    docs: int
    completion: int
    generation: int
    other_prompts: int
    noise: int
    outside: int

    @property
    def matching(self) -> int:
        return self.completion + self.generation


# --- synthetic data ----------------------------------------------------------------------------


def synthetic_documents(n: int, seed: int = SEED) -> Iterator[tuple[str, dict[str, Any]]]:
    """``n`` gateway documents with their category, spread over the window and the hour before.

    Completions and registry records of both eras' shapes (nested or dotted ``_source``),
    code generation prompts and other registry prompts, and other-message noise; during the
    incident minutes traffic runs on the failover provider.
    """
    rng = random.Random(seed)
    window = WINDOW.total_seconds()
    for _ in range(n):
        outside = rng.random() < OUTSIDE_SHARE
        if outside:
            offset = rng.uniform(-window, -INGEST_MARGIN)
        else:
            offset = rng.uniform(0, window - INGEST_MARGIN)
        moment = START + timedelta(seconds=offset)
        failover = INCIDENT[0] <= offset / 60 < INCIDENT[1]
        category, document = _document(rng, moment, failover=failover)
        if rng.random() < DOTTED_SHARE:
            document = gl.dotted(document)
        yield ("outside" if outside else category), document


def _document(
    rng: random.Random, moment: datetime, *, failover: bool
) -> tuple[str, dict[str, Any]]:
    roll = rng.random()
    if roll < COMPLETION_SHARE:
        if failover:
            return "completion", gl.completion_doc(
                moment, "anthropic", "claude-sonnet-4-20250514", rng
            )
        if rng.random() < GECKO_SHARE:
            return "completion", gl.completion_doc(moment, None, None, rng, include_provider=False)
        return "completion", gl.completion_doc(moment, "vertex-ai", "codestral-2501", rng)
    if roll < COMPLETION_SHARE + REGISTRY_SHARE:
        if rng.random() >= GENERATION_SHARE_OF_REGISTRY:
            prompt_id = rng.choice(OTHER_PROMPT_IDS)
            return "other_prompts", gl.registry_doc(moment, prompt_id, "^1.0.0", rng)
        if failover:
            return "generation", gl.registry_doc(
                moment,
                "code_suggestions/generations",
                "2.0.0",
                rng,
                model_identifier="claude_3_5_sonnet_20240620_vertex",
                model_class_provider="litellm",
                namespace_ids=[9970],
            )
        return "generation", gl.registry_doc(
            moment,
            "code_suggestions/generations",
            "^1.0.0",
            rng,
            model_identifier="claude_sonnet_4_20250514",
            model_class_provider="anthropic",
            namespace_ids=[9970],
        )
    return "noise", gl.other_doc(moment, rng)


# --- the index ---------------------------------------------------------------------------------


def ensure_index(
    client: elasticsearch.Elasticsearch, index: str, n: int, *, reload: bool
) -> tuple[Expected, float | None]:
    """The index with ``n`` synthetic documents, reused when it already holds them.

    Returns what it holds and the load time (``None`` when reused).
    """
    if client.indices.exists(index=index):
        stored = None if reload else _stored_expectation(client, index, n)
        if stored is not None:
            return stored, None
        client.indices.delete(index=index)
    started = time.perf_counter()
    expected = _load(client, index, n)
    return expected, time.perf_counter() - started


def _stored_expectation(client: elasticsearch.Elasticsearch, index: str, n: int) -> Expected | None:
    mapping = client.indices.get_mapping(index=index)
    meta = mapping[index]["mappings"].get("_meta") or {}
    stored = meta.get("expected")
    if meta.get("generator") != GENERATOR_VERSION or not isinstance(stored, dict):
        return None
    expected = Expected(**stored)
    if expected.docs != n or int(client.count(index=index)["count"]) != n:
        return None
    return expected


def _load(client: elasticsearch.Elasticsearch, index: str, n: int) -> Expected:
    client.indices.create(
        index=index,
        settings={
            "number_of_shards": 1,
            "number_of_replicas": 0,
            # One refresh at the end: refreshing during the load only slows it down.
            "refresh_interval": "-1",
            # Repeated identical size-0 searches would be served from the request cache; a
            # real incident asks about a new window every time.
            "index.requests.cache.enable": False,
        },
    )
    counts = dict.fromkeys(("completion", "generation", "other_prompts", "noise", "outside"), 0)

    def actions() -> Iterator[dict[str, Any]]:
        for category, document in synthetic_documents(n):
            counts[category] += 1
            yield {"_index": index, "_source": document}

    failures = [
        item
        for ok, item in helpers.parallel_bulk(
            client, actions(), thread_count=2, chunk_size=LOAD_CHUNK
        )
        if not ok
    ]
    if failures:
        raise BenchmarkError(f"{len(failures)} documents failed to index: {failures[0]}")
    client.indices.put_settings(index=index, settings={"refresh_interval": None})
    client.indices.refresh(index=index)
    expected = Expected(docs=n, **counts)
    client.indices.put_mapping(
        index=index, meta={"generator": GENERATOR_VERSION, "expected": asdict(expected)}
    )
    stored = int(client.count(index=index)["count"])
    if stored != n:
        raise BenchmarkError(f"{index} holds {stored} documents after loading {n}")
    return expected


class BenchmarkError(Exception):
    """The harness could not measure, or a measured answer was wrong."""


# --- queries shared by the in-process measurements and the workers ------------------------------


def window(shift_ms: int = 0) -> TimeWindow:
    """The verified hour, widened by ``shift_ms`` at both ends.

    No document lies within a second of either edge, so any shift under 1,000 ms covers the
    same documents while asking about a window no cache has seen, as each call in a real
    incident does.
    """
    shift = timedelta(milliseconds=shift_ms % MAX_SHIFT_MS)
    return TimeWindow(start=START - shift, end=END + shift)


def floor_query(verifier: fv.Verifier, span: TimeWindow | None = None) -> dict[str, Any]:
    """The filter every measurement counts: both features' definitions, combined."""
    plan = verifier.field_plan()
    policy = verifier.judge.policy
    query = Q(
        "bool",
        should=[
            Q("bool", filter=signal_filter(signal, plan, span or window(), policy))
            for signal in SIGNALS
        ],
        minimum_should_match=1,
    )
    return query.to_dict()


def all_hits(
    client: elasticsearch.Elasticsearch,
    index: str,
    query: Mapping[str, Any],
    timer: list[float] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Every matching hit with its whole ``_source``, by point in time and ``search_after``.

    Time spent waiting for Elasticsearch is added to ``timer[0]`` when given.
    """
    pit = str(client.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"])
    after: list[Any] | None = None
    try:
        while True:
            started = time.perf_counter()
            page = client.search(
                query=query,
                size=PAGE_SIZE,
                sort=[{"@timestamp": "asc"}, {"_shard_doc": "asc"}],
                pit={"id": pit, "keep_alive": KEEP_ALIVE},
                search_after=after,
                track_total_hits=False,
            )
            if timer is not None:
                timer[0] += time.perf_counter() - started
            pit = str(page.get("pit_id", pit))
            hits = page["hits"]["hits"]
            yield from hits
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)


def connect(url: str) -> elasticsearch.Elasticsearch:
    # Built the way the package builds its own client, with room for the slow naive pages.
    return fv.connect(fv.ConnectionSettings.build(url=url, request_timeout=600))


# --- workers: measurements that run in a process of their own -----------------------------------


def naive_worker(url: str, index: str) -> dict[str, Any]:
    """Download every matching hit and classify it in Python, as if without aggregations."""
    client = connect(url)
    verifier = fv.Verifier(client, index=index)
    query = floor_query(verifier)
    waited = [0.0]
    started = time.perf_counter()
    report = fv.verify_hits(
        all_hits(client, index, query, waited), since=START, until=END, index=index
    )
    elapsed = time.perf_counter() - started
    client.close()
    return {
        "seconds": elapsed,
        "fetch_seconds": waited[0],
        "counts": {name: feature.total for name, feature in report.features.items()},
        "parse_problems": report.parse_problems.count,
    }


WORKERS: Final[dict[str, Callable[[str, str], dict[str, Any]]]] = {"naive": naive_worker}


def _worker_main(name: str, url: str, index: str) -> None:
    result = WORKERS[name](url, index)
    print(json.dumps(result))
    print(f"{PEAK_MARK}{peak_rss_mb()}", file=sys.stderr)


def peak_rss_mb() -> float:
    """This process's peak resident memory, from the kernel's high-water mark.

    Not getrusage: a child's ru_maxrss starts at its parent's size at fork and keeps it
    through exec, so it would report the harness, not the child.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkError("/proc/self/status has no VmHWM; peak memory needs Linux")


PEAK_MARK: Final = "benchmark-peak-rss-mb="
# Runs the installed command's entry point and says its peak memory last, on stderr.
CLI_WRAPPER: Final = f"""
import atexit, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print({PEAK_MARK!r} + str(int(line.split()[1]) / 1024), file=sys.stderr)
atexit.register(_peak)
from failover_verify._cli import run
sys.argv[0] = "failover-verify"
run()
"""


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(argv: Sequence[str]) -> ChildRun:
    """Run a command that reports its own peak memory (see :data:`CLI_WRAPPER`)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ES_")}
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchmarkError(
            f"{' '.join(argv[:4])} ... exited with {result.returncode}: "
            f"{result.stderr.strip()[-500:]}"
        )
    marks = re.findall(rf"{PEAK_MARK}([\d.]+)", result.stderr)
    if not marks:
        raise BenchmarkError(f"{' '.join(argv[:4])} ... did not report its peak memory")
    return ChildRun(elapsed, float(marks[-1]), result.stdout, result.stderr)


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-c", CLI_WRAPPER, *arguments]


# --- measurements ------------------------------------------------------------------------------


@dataclass
class Series:
    """Repeated measurements of one quantity."""

    unit: str
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    def summary(self) -> dict[str, Any]:
        if not self.values:
            return {"unit": self.unit, "runs": 0}
        return {
            "unit": self.unit,
            "median": statistics.median(self.values),
            "min": min(self.values),
            "max": max(self.values),
            "runs": len(self.values),
            "values": self.values,
        }


@dataclass
class Bench:
    """One size's measurements, taken in interleaved rounds."""

    client: elasticsearch.Elasticsearch
    url: str
    index: str
    expected: Expected
    repeats: int
    slow_budget: float
    parse_sample: int
    series: dict[str, Series] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verifier = fv.Verifier(self.client, index=self.index)
        self.query = floor_query(self.verifier)
        units = {
            "verify": "s",
            "verify_cached": "s",
            "floor": "s",
            "naive": "s",
            "naive_fetch": "s",
            "export": "s",
            "export_rate": "records/s",
            "export_peak_rss": "MB",
            "startup": "s",
            "startup_peak_rss": "MB",
            "parse_hit_rate": "records/s",
            "parse_hit_cpu_rate": "records/s",
            "json_loads_rate": "records/s",
            "json_loads_cpu_rate": "records/s",
        }
        self.series = {name: Series(unit) for name, unit in units.items()}
        self.lines: list[str] = []
        self._shift = 0

    # Each measurement checks its answer: a fast wrong answer is not a result.
    def _check(self, name: str, counts: Mapping[str, int]) -> None:
        wanted = {"completion": self.expected.completion, "generation": self.expected.generation}
        if dict(counts) != wanted:
            raise BenchmarkError(f"{name} counted {dict(counts)}, but the index holds {wanted}")
        self.counts[name] = dict(counts)

    def _new_window(self) -> TimeWindow:
        self._shift += 1
        return window(self._shift)

    def verify(self) -> None:
        span = self._new_window()
        started = time.perf_counter()
        report = fv.verify(self.client, since=span.start, until=span.end, index=self.index)
        self.series["verify"].add(time.perf_counter() - started)
        self._check("verify", {name: f.total for name, f in report.features.items()})
        self.extra["verify_requests"] = report.requests

    def verify_cached(self) -> None:
        span = self._new_window()
        started = time.perf_counter()
        report = self.verifier.verify(span)
        self.series["verify_cached"].add(time.perf_counter() - started)
        self._check("verify_cached", {name: f.total for name, f in report.features.items()})
        self.extra["verify_cached_requests"] = report.requests

    def floor(self) -> None:
        query = floor_query(self.verifier, self._new_window())
        started = time.perf_counter()
        count = int(self.client.count(index=self.index, query=query)["count"])
        self.series["floor"].add(time.perf_counter() - started)
        if count != self.expected.matching:
            raise BenchmarkError(f"the count request found {count}, not {self.expected.matching}")
        self.counts["floor"] = {"matching": count}

    def naive(self) -> None:
        child = run_child(
            [sys.executable, __file__, "--worker", "naive", "--es-url", self.url,
             "--index", self.index]
        )  # fmt: skip
        result = json.loads(child.stdout)
        self.series["naive"].add(result["seconds"])
        self.series["naive_fetch"].add(result["fetch_seconds"])
        self.extra["naive_peak_rss_mb"] = max(
            child.peak_rss_mb, self.extra.get("naive_peak_rss_mb", 0.0)
        )
        self._check("naive", result["counts"])
        if result["parse_problems"]:
            raise BenchmarkError(f"naive: {result['parse_problems']} hits could not be parsed")

    def export(self) -> None:
        child = run_child(
            cli("export", "--es-url", self.url, "--index", self.index,
                "--since", START.isoformat(), "--until", END.isoformat(), "-o", os.devnull)
        )  # fmt: skip
        match = re.search(r"exported ([\d,]+) records", child.stderr)
        if match is None:
            raise BenchmarkError(f"export said nothing about its count: {child.stderr[-300:]}")
        records = int(match.group(1).replace(",", ""))
        if records != self.expected.matching:
            raise BenchmarkError(f"export wrote {records} records, not {self.expected.matching}")
        self.counts["export"] = {"matching": records}
        self.series["export"].add(child.seconds)
        self.series["export_rate"].add(records / child.seconds)
        self.series["export_peak_rss"].add(child.peak_rss_mb)

    def startup(self) -> None:
        """The export command's fixed cost: interpreter start and imports, with no work."""
        child = run_child(cli("--help"))
        self.series["startup"].add(child.seconds)
        self.series["startup_peak_rss"].add(child.peak_rss_mb)

    def prepare_parse(self) -> None:
        # The hits as export would write them with code included: JSON text, one per line.
        hits = all_hits(self.client, self.index, self.query)
        self.lines = []
        for hit in hits:
            source = {"_index": hit["_index"], "_id": hit["_id"], "_source": hit["_source"]}
            self.lines.append(json.dumps(source, separators=(",", ":")))
            if len(self.lines) >= self.parse_sample:
                hits.close()
                break
        if len(self.lines) < self.expected.matching:
            self.notes.append(
                f"parsing is measured on the first {len(self.lines):,} of "
                f"{self.expected.matching:,} matching hits"
            )

    def parse(self) -> None:
        """json.loads and parse_hit over the same hits, timed apart, in small chunks."""
        loads_wall = loads_cpu = parse_wall = parse_cpu = 0.0
        records = problems = 0
        for start in range(0, len(self.lines), PARSE_CHUNK):
            chunk = self.lines[start : start + PARSE_CHUNK]
            wall, cpu = time.perf_counter(), time.process_time()
            decoded = [json.loads(line) for line in chunk]
            loads_wall += time.perf_counter() - wall
            loads_cpu += time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            parsed = [fv.parse_hit(hit) for hit in decoded]
            parse_wall += time.perf_counter() - wall
            parse_cpu += time.process_time() - cpu
            problems += sum(isinstance(item, fv.ParseProblem) for item in parsed)
            records += sum(
                isinstance(item, fv.CompletionRecord | fv.RegistryRecord) for item in parsed
            )
        if problems or records != len(self.lines):
            raise BenchmarkError(
                f"parse_hit read {records} records and {problems} problems from "
                f"{len(self.lines)} matching hits"
            )
        count = len(self.lines)
        self.counts["parse"] = {"records": records, "problems": problems}
        self.series["json_loads_rate"].add(count / loads_wall)
        self.series["json_loads_cpu_rate"].add(count / loads_cpu)
        self.series["parse_hit_rate"].add(count / parse_wall)
        self.series["parse_hit_cpu_rate"].add(count / parse_cpu)

    def run(self, say: Callable[[str], None]) -> None:
        # The first aggregation after a load builds global ordinals and warms the page cache,
        # and a freshly started node has not compiled its hot paths yet; neither belongs to any
        # measurement, so unrecorded rounds go first.
        for _ in range(WARMUP_ROUNDS):
            self.verify()
            self.verify_cached()
            self.floor()
        for name in ("verify", "verify_cached", "floor"):
            self.series[name].values.clear()
        self.notes.append(
            f"{WARMUP_ROUNDS} unrecorded warm-up rounds of verify, verify_cached and floor"
        )
        self.prepare_parse()
        slow_runs = {"naive": self.repeats, "export": self.repeats}
        quick: list[Callable[[], None]] = [self.verify, self.verify_cached, self.floor]
        for round_number in range(self.repeats):
            # Rotating the order spreads any drift of the machine over all of them.
            first = round_number % len(quick)
            for measure in quick[first:] + quick[:first]:
                measure()
            for name, measure in (("naive", self.naive), ("export", self.export)):
                if round_number < slow_runs[name]:
                    measure()
                    if round_number == 0:
                        slow_runs[name] = self._runs_within_budget(name)
            self.startup()
            self.parse()
            say(f"  round {round_number + 1}/{self.repeats} done")
        for name, runs in slow_runs.items():
            if runs < self.repeats:
                self.notes.append(
                    f"{name}: {runs} of {self.repeats} runs, since one run took "
                    f"{self.series[name].values[0]:.0f} s (budget {self.slow_budget:.0f} s)"
                )

    def _runs_within_budget(self, name: str) -> int:
        first = self.series[name].values[0]
        return max(1, min(self.repeats, int(self.slow_budget // max(first, 1e-9))))

    def result(self) -> dict[str, Any]:
        summaries = {name: series.summary() for name, series in self.series.items()}

        def median(name: str) -> float:
            return float(summaries[name].get("median", float("nan")))

        ratios = {
            "verify_over_floor": median("verify") / median("floor"),
            "verify_cached_over_floor": median("verify_cached") / median("floor"),
            "naive_over_verify": median("naive") / median("verify"),
            "naive_over_verify_cached": median("naive") / median("verify_cached"),
            "parse_hit_over_json_loads_time": median("json_loads_rate") / median("parse_hit_rate"),
        }
        return {
            "n": self.expected.docs,
            "index": self.index,
            "expected": {**asdict(self.expected), "matching": self.expected.matching},
            "repeats": self.repeats,
            "requests": {
                "verify": self.extra.get("verify_requests"),
                "verify_cached": self.extra.get("verify_cached_requests"),
                "floor": 1,
            },
            "measurements": summaries,
            "naive_peak_rss_mb": self.extra.get("naive_peak_rss_mb"),
            "parse_sample": len(self.lines),
            "counts": self.counts,
            "ratios": ratios,
            "notes": self.notes,
        }


# --- report ------------------------------------------------------------------------------------


def _cell(summary: Mapping[str, Any], scale: float = 1.0, digits: int = 0) -> str:
    if not summary.get("runs"):
        return "-"
    median, low, high = (float(summary[key]) * scale for key in ("median", "min", "max"))
    return f"{median:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


ROWS: Final[tuple[tuple[str, str, float, int], ...]] = (
    ("verify, 2 requests (ms)", "verify", 1000, 1),
    ("verify, cached plan, 1 request (ms)", "verify_cached", 1000, 1),
    ("floor: one _count (ms)", "floor", 1000, 1),
    ("naive: download + verify_hits (s)", "naive", 1, 1),
    ("  of which waiting for pages (s)", "naive_fetch", 1, 1),
    ("export to /dev/null (s)", "export", 1, 2),
    ("export throughput (records/s)", "export_rate", 1, 0),
    ("export peak RSS (MB)", "export_peak_rss", 1, 0),
    ("  idle CLI start: time (s)", "startup", 1, 2),
    ("  idle CLI start: peak RSS (MB)", "startup_peak_rss", 1, 0),
    ("parse_hit (records/s, wall)", "parse_hit_rate", 1, 0),
    ("parse_hit (records/s, CPU time)", "parse_hit_cpu_rate", 1, 0),
    ("json.loads (records/s, wall)", "json_loads_rate", 1, 0),
    ("json.loads (records/s, CPU time)", "json_loads_cpu_rate", 1, 0),
)
RATIO_ROWS: Final = (
    ("verify / floor", "verify_over_floor"),
    ("verify cached / floor", "verify_cached_over_floor"),
    ("naive / verify", "naive_over_verify"),
    ("naive / verify cached", "naive_over_verify_cached"),
    ("parse_hit / json.loads (time)", "parse_hit_over_json_loads_time"),
)


def table(results: Sequence[Mapping[str, Any]]) -> str:
    """Measurements as rows, sizes as columns: median (min-max)."""
    header = ["N", *(f"{result['n']:,}" for result in results)]
    rows: list[list[str]] = [
        ["matching records", *(f"{r['expected']['matching']:,}" for r in results)],
        ["repeats", *(str(r["repeats"]) for r in results)],
    ]
    rows += [
        [label, *(_cell(r["measurements"][name], scale, digits) for r in results)]
        for label, name, scale, digits in ROWS
    ]
    rows += [
        [f"ratio {label}", *(f"{r['ratios'][name]:,.2f}" for r in results)]
        for label, name in RATIO_ROWS
    ]
    rows.append(["naive peak RSS (MB)", *(f"{r['naive_peak_rss_mb']:,.0f}" for r in results)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return " | ".join([first, *rest])

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def targets(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The issue's targets, judged on this run's medians."""
    by_n = {int(result["n"]): result for result in results}
    lines = []
    worst = max(float(r["ratios"]["verify_over_floor"]) for r in results)
    lines.append(
        _verdict(f"verify within 2x of the floor at every N (worst {worst:.2f}x)", met=worst <= 2)
    )
    low, high = min(by_n), max(by_n)
    if high >= 100 * low:
        growth = (
            by_n[high]["measurements"]["verify"]["median"]
            / by_n[low]["measurements"]["verify"]["median"]
        )
        lines.append(
            _verdict(
                f"verify flat from {low:,} to {high:,} ({growth:.2f}x slower)", met=growth <= 2
            )
        )
    if 1_000_000 in by_n:
        naive = float(by_n[1_000_000]["ratios"]["naive_over_verify"])
        lines.append(
            _verdict(f"naive / verify at least 50x at 1,000,000 ({naive:.0f}x)", met=naive >= 50)
        )
        rss = float(by_n[1_000_000]["measurements"]["export_peak_rss"]["max"])
        lines.append(
            _verdict(f"export peak RSS under 150 MB at 1,000,000 ({rss:.0f} MB)", met=rss < 150)
        )
    peaks = [float(r["measurements"]["export_peak_rss"]["max"]) for r in results]
    lines.append(
        f"export peak RSS by N: {', '.join(f'{peak:.0f}' for peak in peaks)} MB "
        f"(spread {max(peaks) - min(peaks):.0f} MB)"
    )
    rate = min(float(r["measurements"]["parse_hit_rate"]["median"]) for r in results)
    cpu = min(float(r["measurements"]["parse_hit_cpu_rate"]["median"]) for r in results)
    lines.append(
        _verdict(
            f"parse_hit at least 100,000 records/s on one core (wall {rate:,.0f}, CPU {cpu:,.0f})",
            met=rate >= 100_000,
        )
    )
    return lines


def _verdict(text: str, *, met: bool) -> str:
    return f"[{'met' if met else 'NOT met'}] {text}"


def environment(client: elasticsearch.Elasticsearch, heap: str) -> dict[str, Any]:
    # The minimal server distribution has no GET /, so the version comes from the nodes API.
    nodes = client.nodes.info(metric="process")["nodes"]
    return {
        "elasticsearch": ", ".join(sorted({str(node["version"]) for node in nodes.values()})),
        "elasticsearch_py": version("elasticsearch"),
        "pydantic": version("pydantic"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "heap": heap,
        "load_average": os.getloadavg(),
    }


# --- command line ------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("give at least one size, each 1 or more")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help="documents per run, comma-separated",
    )
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="rounds per size")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a harness check: N={SMOKE_SIZE:,}, {SMOKE_REPEATS} rounds",
    )
    parser.add_argument("--es-url", help="use this node instead of starting one")
    parser.add_argument(
        "--heap", help="heap of the node this starts, e.g. 1g (default: scripts/esnode.py's)"
    )
    parser.add_argument("--reload", action="store_true", help="reload data even if present")
    parser.add_argument("--index-prefix", default="fv-bench", help="indices are PREFIX-N")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for N.json")
    parser.add_argument(
        "--parse-sample",
        type=int,
        default=DEFAULT_PARSE_SAMPLE,
        help="parse at most this many of the matching hits",
    )
    parser.add_argument(
        "--slow-budget",
        type=float,
        default=DEFAULT_SLOW_BUDGET,
        help="seconds per size for naive and for export; fewer runs if one run is too long",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker is not None:
        _worker_main(args.worker, args.es_url, args.index)
        return 0
    if args.smoke:
        args.sizes, args.repeats = [SMOKE_SIZE], SMOKE_REPEATS
    node: esnode.Node | None = None
    heap = "external node"
    try:
        url = args.es_url
        if url is None:
            if args.heap:
                esnode.HEAP_OPTS = f"-Xms{args.heap} -Xmx{args.heap}"
            heap = esnode.HEAP_OPTS
            node = esnode.start_node("9", progress=_say)
            url = node.url
        return _run(args, url, heap)
    except (BenchmarkError, esnode.EsNodeError, fv.FailoverVerifyError) as exc:
        _say(f"benchmark failed: {exc}")
        return 1
    finally:
        if node is not None:
            esnode.stop_node(node)


def _run(args: argparse.Namespace, url: str, heap: str) -> int:
    client = connect(url)
    env = environment(client, heap)
    _say(f"Elasticsearch {env['elasticsearch']} at {url} ({heap}); {env['cpus']} CPUs")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.sizes:
        index = f"{args.index_prefix}-{n}"
        expected, load_seconds = ensure_index(client, index, n, reload=args.reload)
        loaded = "reused" if load_seconds is None else f"loaded in {load_seconds:.0f} s"
        _say(f"N={n:,}: {index} {loaded}; {expected.matching:,} matching records")
        bench = Bench(
            client=client,
            url=url,
            index=index,
            expected=expected,
            repeats=args.repeats,
            slow_budget=args.slow_budget,
            parse_sample=args.parse_sample,
        )
        bench.run(_say)
        result = bench.result()
        result["environment"] = {**env, "load_average_after": os.getloadavg()}
        result["load_seconds"] = load_seconds
        result["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        (args.out / f"{n}.json").write_text(json.dumps(result, indent=2) + "\n")
        results.append(result)
    client.close()
    sys.stderr.flush()
    print(table(results))
    print()
    for result in results:
        for note in result["notes"]:
            print(f"N={result['n']:,}: {note}")
    print()
    print("\n".join(targets(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
