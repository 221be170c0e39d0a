#!/usr/bin/env python3
"""How verify's cost compares with its peers' requests, a count, the naive download, export
and parsing, and what a watch poll costs after the first.

    python benchmarks/run.py [--sizes 10000,100000,200000,1000000] [--repeats 5] [--es-url URL]
                             [--reload] [--heap 1g] [--out DIR]
    python benchmarks/run.py --smoke --es-url URL --index-prefix PREFIX --out DIR

Sizes are matching records (records of the five signals inside the verified hour).
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

DEFAULT_SIZES: Final = (10_000, 100_000, 200_000, 1_000_000)
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
GENERATOR_VERSION: Final = 2
SEED: Final = 20261124
START: Final = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WINDOW: Final = timedelta(hours=1)
END: Final = START + WINDOW
# Ingest lags the event by at most 4 s (gateway_logs), so events stop 5 s before the end and
# documents meant to fall outside end 5 s before the start: each lands where it is counted.
INGEST_MARGIN: Final = 5.0
OUTSIDE_SHARE: Final = 0.05
# Shares of requests: completions, code generations, other registry prompts; the rest is
# other gateway messages.
COMPLETION_SHARE: Final = 0.55
GENERATION_SHARE: Final = 0.25
OTHER_PROMPT_SHARE: Final = 0.10
# Minutes into the window during which traffic runs on the failover provider, and before it
# the minutes when a share of the primary's calls fail (the outage behind the flip).
INCIDENT: Final = (20.0, 35.0)
OUTAGE: Final = (15.0, 20.0)
OUTAGE_ERRORS: Final = 0.3
OTHER_PROMPT_IDS: Final = ("chat/explain_code", "chat/react", "resolve_vulnerability/base")
ERA: Final = gl.ERAS["2026-11"]
SERVED: Final = ERA.served or {}
COMPLETION_REGISTRY: Final = ERA.completion_registry or ({}, {})
# The watch measurement: the CLI's default window and poll interval.
WATCH_WINDOW: Final = timedelta(minutes=5)
WATCH_INTERVAL: Final = timedelta(seconds=10)
WATCH_FIRST: Final = START + timedelta(minutes=10)
PAGE_SIZE: Final = 10_000
LOAD_CHUNK: Final = 2_000
# Hits are decoded and parsed a hundred at a time, as a streaming reader would: holding many
# thousands alive makes the cyclic garbage collector and cache misses dominate both timings.
PARSE_CHUNK: Final = 100
KEEP_ALIVE: Final = "5m"
MB: Final = 1024 * 1024


SIGNAL_IDS: Final = tuple(signal.id for signal in SIGNALS)
FEATURE_NAMES: Final = ("completion", "generation")


@dataclass(frozen=True)
class Expected:
    """What the loaded index holds, by the category each synthetic document was made as."""

    docs: int
    signals: dict[str, int]
    """Records inside the hour, per signal id."""
    other_prompts: int
    noise: int
    outside: int

    @property
    def matching(self) -> int:
        return sum(self.signals.values())


# --- synthetic data ----------------------------------------------------------------------------


def synthetic_documents(matching: int, seed: int = SEED) -> Iterator[tuple[str, dict[str, Any]]]:
    """Gateway documents of today's gateway until ``matching`` of them fall in the hour, each
    with its category (a signal id, or other_prompts, noise, outside).

    Every completion logs a registry record, the served model and, for one in eight, the
    ``code completion input:`` sample; every code generation a registry record and the served
    model. Before the incident a share of the primary's calls fail; during it traffic runs on
    the failover provider. Another 5 % of requests fall in the hour before.
    """
    rng = random.Random(seed)
    window = WINDOW.total_seconds()
    inside = 0
    while inside < matching:
        outside = rng.random() < OUTSIDE_SHARE
        if outside:
            offset = rng.uniform(-window, -INGEST_MARGIN)
        else:
            offset = rng.uniform(0, window - INGEST_MARGIN)
        moment = START + timedelta(seconds=offset)
        for kind, document in _request(rng, moment, minute=offset / 60):
            if outside:
                yield "outside", document
                continue
            inside += kind in SIGNAL_IDS
            yield kind, document


def _request(
    rng: random.Random, moment: datetime, *, minute: float
) -> list[tuple[str, dict[str, Any]]]:
    failover = INCIDENT[0] <= minute < INCIDENT[1]
    failing = OUTAGE[0] <= minute < OUTAGE[1] and rng.random() < OUTAGE_ERRORS
    side = 1 if failover else 0
    roll = rng.random()
    if roll < COMPLETION_SHARE:
        registry = dict(COMPLETION_REGISTRY[side])
        engine, model = SERVED["complete_code"][side]
        documents = [
            ("completion.registry", gl.registry_doc(
                moment, "code_suggestions/completions", "^1.0.0", rng, **registry)),
            ("completion.served", gl.served_doc(
                moment, "complete_code", engine, model, rng, error=failing)),
        ]  # fmt: skip
        if rng.random() < ERA.input_share:
            provider, name = ERA.completion_failover if failover else ERA.completion_primary[0][:2]
            documents.append(("completion.input", gl.completion_doc(moment, provider, name, rng)))
        return documents
    if roll < COMPLETION_SHARE + GENERATION_SHARE:
        fields = dict(ERA.generation_failover if failover else ERA.generation_primary)
        version = fields.pop("version")
        engine, model = SERVED["generate_code"][side]
        return [
            ("generation.registry", gl.registry_doc(
                moment, ERA.generation_prompt_id, version, rng, **fields)),
            ("generation.served", gl.served_doc(
                moment, "generate_code", engine, model, rng, error=failing)),
        ]  # fmt: skip
    if roll < COMPLETION_SHARE + GENERATION_SHARE + OTHER_PROMPT_SHARE:
        prompt_id = rng.choice(OTHER_PROMPT_IDS)
        return [("other_prompts", gl.registry_doc(moment, prompt_id, "^1.0.0", rng))]
    return [("noise", gl.other_doc(moment, rng))]


# --- the index ---------------------------------------------------------------------------------


def ensure_index(
    client: elasticsearch.Elasticsearch, index: str, n: int, *, reload: bool
) -> tuple[Expected, float | None]:
    """The index with ``n`` matching synthetic records, reused when it already holds them.

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
    if meta.get("generator") != GENERATOR_VERSION or meta.get("n") != n:
        return None
    if not isinstance(stored, dict):
        return None
    expected = Expected(**stored)
    if int(client.count(index=index)["count"]) != expected.docs:
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
    counts = dict.fromkeys((*SIGNAL_IDS, "other_prompts", "noise", "outside"), 0)

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
    docs = sum(counts.values())
    expected = Expected(
        docs=docs,
        signals={signal: counts[signal] for signal in SIGNAL_IDS},
        other_prompts=counts["other_prompts"],
        noise=counts["noise"],
        outside=counts["outside"],
    )
    client.indices.put_mapping(
        index=index, meta={"generator": GENERATOR_VERSION, "n": n, "expected": asdict(expected)}
    )
    stored = int(client.count(index=index)["count"])
    if stored != docs:
        raise BenchmarkError(f"{index} holds {stored} documents after loading {docs}")
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


def signal_counts(report: fv.Report) -> dict[str, int]:
    """Records per signal id, as a report counted them."""
    return {
        f"{name}.{key}": signal.total
        for name, feature in report.features.items()
        for key, signal in feature.signals.items()
    }


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
        "counts": signal_counts(report),
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


# --- the peers' requests ------------------------------------------------------------------------
# Each asks the question a verification answers (what share of a feature's calls the failover
# model served?) the way that tool asks it, on the served records of today's gateway.


def _served(verifier: fv.Verifier, feature: str, span: TimeWindow) -> dict[str, Any]:
    plan, policy = verifier.field_plan(), verifier.judge.policy
    signal = next(s for s in SIGNALS if s.id == f"{feature}.served")
    return Q("bool", filter=signal_filter(signal, plan, span, policy)).to_dict()


def _model_field(verifier: fv.Verifier) -> str:
    field_name = verifier.field_plan().choice("json.jsonPayload.model_name").exact_field
    if field_name is None:
        raise BenchmarkError("json.jsonPayload.model_name has no exact field to group by")
    return field_name


def _failover_model(feature: str) -> str:
    unit = "complete_code" if feature == "completion" else "generate_code"
    return SERVED[unit][1][1]


def elastalert_body(verifier: fv.Verifier, feature: str, span: TimeWindow) -> dict[str, Any]:
    """ElastAlert2's ``percentage_match`` rule: its query with a ``filters`` aggregation of a
    match bucket and the other bucket (PercentageMatchRule.generate_aggregation_query in
    elastalert/ruletypes.py)."""
    match = {"term": {_model_field(verifier): _failover_model(feature)}}
    return {
        "query": _served(verifier, feature, span),
        "size": 0,
        "aggs": {
            "percentage_match_aggs": {
                "filters": {
                    "other_bucket": True,
                    "filters": {"match_bucket": {"bool": {"must": [match]}}},
                }
            }
        },
    }


def kibana_ratio_bodies(
    verifier: fv.Verifier, feature: str, span: TimeWindow
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Kibana's log threshold rule in ratio mode: a count for each side of the ratio."""
    served = _served(verifier, feature, span)
    match = {"term": {_model_field(verifier): _failover_model(feature)}}
    numerator = {"bool": {"filter": [served, match]}}
    return (
        {"query": numerator, "size": 0, "track_total_hits": True},
        {"query": served, "size": 0, "track_total_hits": True},
    )


def kibana_grouped_body(verifier: fv.Verifier, feature: str, span: TimeWindow) -> dict[str, Any]:
    """Kibana's Elasticsearch query rule grouped by model: ``terms`` with a ``top_hits``."""
    return {
        "query": _served(verifier, feature, span),
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "groups": {
                "terms": {"field": _model_field(verifier), "size": 100},
                "aggs": {
                    "top": {"top_hits": {"size": 1, "sort": [{"@timestamp": {"order": "desc"}}]}}
                },
            }
        },
    }


@dataclass
class Bench:
    """One size's measurements, taken in interleaved rounds."""

    client: elasticsearch.Elasticsearch
    url: str
    index: str
    n: int
    expected: Expected
    repeats: int
    slow_budget: float
    parse_sample: int
    series: dict[str, Series] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verifier = fv.Verifier(self.client, index=self.index, reuse=False)
        self.query = floor_query(self.verifier)
        units = {
            "verify": "s",
            "verify_cached": "s",
            "floor": "s",
            "elastalert": "s",
            "elastalert_both": "s",
            "kibana_ratio": "s",
            "kibana_grouped": "s",
            "verify_5m": "s",
            "watch_poll": "s",
            "naive": "s",
            "naive_fetch": "s",
            "export": "s",
            "export_rate": "records/s",
            "export_peak_rss": "MB",
            "startup": "s",
            "startup_peak_rss": "MB",
            "parse_rate": "records/s",
            "parse_cpu_rate": "records/s",
            "json_loads_rate": "records/s",
            "json_loads_cpu_rate": "records/s",
            "source_rate": "records/s",
        }
        self.series = {name: Series(unit) for name, unit in units.items()}
        self.lines: list[bytes] = []
        self.source_file: Path | None = None
        self._shift = 0
        # The watcher polls a sliding window as `watch` does; its first poll is not measured.
        self.watcher = fv.Verifier(self.client, index=self.index, reuse=True)
        self.watch_now = WATCH_FIRST

    # Each measurement checks its answer: a fast wrong answer is not a result.
    def _check(self, name: str, counts: Mapping[str, int]) -> None:
        if dict(counts) != self.expected.signals:
            raise BenchmarkError(
                f"{name} counted {dict(counts)}, but the index holds {self.expected.signals}"
            )
        self.counts[name] = dict(counts)

    def _served_total(self, feature: str) -> int:
        return self.expected.signals[f"{feature}.served"]

    def _new_window(self) -> TimeWindow:
        self._shift += 1
        return window(self._shift)

    def _timed(self, name: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        self.series[name].add(time.perf_counter() - started)
        return result

    def verify(self) -> None:
        span = self._new_window()
        report = self._timed("verify", lambda: fv.verify(self.client, since=span, index=self.index))
        self._check("verify", signal_counts(report))
        self.extra["verify_requests"] = report.requests

    def verify_cached(self) -> None:
        span = self._new_window()
        report = self._timed("verify_cached", lambda: self.verifier.verify(span))
        self._check("verify_cached", signal_counts(report))
        self.extra["verify_cached_requests"] = report.requests

    def floor(self) -> None:
        query = floor_query(self.verifier, self._new_window())
        answer = self._timed("floor", lambda: self.client.count(index=self.index, query=query))
        count = int(answer["count"])
        if count != self.expected.matching:
            raise BenchmarkError(f"the count request found {count}, not {self.expected.matching}")
        self.counts["floor"] = {"matching": count}

    def elastalert(self) -> None:
        body = elastalert_body(self.verifier, "completion", self._new_window())
        answer = self._timed("elastalert", lambda: self.client.search(index=self.index, **body))
        self._check_buckets("elastalert", "completion", answer)

    def elastalert_both(self) -> None:
        """One percentage_match rule per feature, sent one after the other as ElastAlert2
        runs its rules."""
        bodies = {
            feature: elastalert_body(self.verifier, feature, self._new_window())
            for feature in FEATURE_NAMES
        }
        answers = self._timed(
            "elastalert_both",
            lambda: {f: self.client.search(index=self.index, **b) for f, b in bodies.items()},
        )
        for feature, answer in answers.items():
            self._check_buckets(f"elastalert_both.{feature}", feature, answer)

    def _check_buckets(self, name: str, feature: str, answer: Mapping[str, Any]) -> None:
        buckets = answer["aggregations"]["percentage_match_aggs"]["buckets"]
        total = int(buckets["match_bucket"]["doc_count"]) + int(buckets["_other_"]["doc_count"])
        if total != self._served_total(feature) or not buckets["match_bucket"]["doc_count"]:
            raise BenchmarkError(f"{name} counted {total} served {feature} records")
        self.counts[name] = {"served": total, "failover": int(buckets["match_bucket"]["doc_count"])}

    def kibana_ratio(self) -> None:
        numerator, denominator = kibana_ratio_bodies(
            self.verifier, "completion", self._new_window()
        )
        answers = self._timed(
            "kibana_ratio",
            lambda: [
                self.client.search(index=self.index, **body) for body in (numerator, denominator)
            ],
        )
        total = int(answers[1]["hits"]["total"]["value"])
        if total != self._served_total("completion"):
            raise BenchmarkError(f"kibana_ratio counted {total} served completion records")
        self.counts["kibana_ratio"] = {"served": total}

    def kibana_grouped(self) -> None:
        body = kibana_grouped_body(self.verifier, "completion", self._new_window())
        answer = self._timed("kibana_grouped", lambda: self.client.search(index=self.index, **body))
        total = sum(int(b["doc_count"]) for b in answer["aggregations"]["groups"]["buckets"])
        if total != self._served_total("completion"):
            raise BenchmarkError(f"kibana_grouped counted {total} served completion records")
        self.counts["kibana_grouped"] = {"served": total}

    def verify_5m(self) -> None:
        """A verification in one go of a 5-minute window: what each watch poll would cost
        without the slices it keeps."""
        shift = timedelta(milliseconds=self._shift % MAX_SHIFT_MS)
        self._shift += 1
        span = TimeWindow(start=self.watch_now - WATCH_WINDOW - shift, end=self.watch_now + shift)
        self._timed("verify_5m", lambda: self.verifier.verify(span))

    def _poll(self, *, measured: bool) -> None:
        now = self.watch_now
        started = time.perf_counter()
        # As watch polls: the window ends where records are surely searchable at now.
        span = self.watcher.latest_window(WATCH_WINDOW, now=now)
        report = self.watcher.verify(span, now=now)
        if measured:
            self.series["watch_poll"].add(time.perf_counter() - started)
        # Unmeasured: the poll must give what a verification in one go of its window gives.
        fresh = self.verifier.verify(TimeWindow(start=span.start, end=span.end))
        if signal_counts(report) != signal_counts(fresh) or any(
            report.features[name].verdict != fresh.features[name].verdict
            for name in report.features
        ):
            raise BenchmarkError(f"the watch poll at {now:%H:%M:%S} differs from one in one go")
        self.counts["watch_poll"] = signal_counts(report)
        self.watch_now = now + WATCH_INTERVAL

    def watch_poll(self) -> None:
        self._poll(measured=True)

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

    def prepare_parse(self, folder: Path) -> None:
        # The hits as export writes them (code included): JSON text, one per line.
        hits = all_hits(self.client, self.index, self.query)
        self.lines = []
        for hit in hits:
            record = {"_index": hit["_index"], "_id": hit["_id"], "_source": hit["_source"]}
            self.lines.append(json.dumps(record, separators=(",", ":")).encode())
            if len(self.lines) >= self.parse_sample:
                hits.close()
                break
        if len(self.lines) < self.expected.matching:
            self.notes.append(
                f"parsing is measured on the first {len(self.lines):,} of "
                f"{self.expected.matching:,} matching hits"
            )
        self.source_file = folder / f"{self.index}.ndjson"
        self.source_file.write_bytes(b"\n".join(self.lines) + b"\n")

    def parse(self) -> None:
        """json.loads and parse_hit_json over the same hits' text, timed apart, in chunks."""
        loads_wall = loads_cpu = parse_wall = parse_cpu = 0.0
        records = problems = 0
        for start in range(0, len(self.lines), PARSE_CHUNK):
            chunk = self.lines[start : start + PARSE_CHUNK]
            wall, cpu = time.perf_counter(), time.process_time()
            decoded = [json.loads(line) for line in chunk]
            loads_wall += time.perf_counter() - wall
            loads_cpu += time.process_time() - cpu
            del decoded
            wall, cpu = time.perf_counter(), time.process_time()
            parsed = [fv.parse_hit_json(line) for line in chunk]
            parse_wall += time.perf_counter() - wall
            parse_cpu += time.process_time() - cpu
            problems += sum(isinstance(item, fv.ParseProblem) for item in parsed)
            records += sum(
                isinstance(item, fv.CompletionRecord | fv.RegistryRecord | fv.ServedRecord)
                for item in parsed
            )
        if problems or records != len(self.lines):
            raise BenchmarkError(
                f"parse_hit_json read {records} records and {problems} problems from "
                f"{len(self.lines)} matching hits"
            )
        count = len(self.lines)
        self.counts["parse"] = {"records": records, "problems": problems}
        self.series["json_loads_rate"].add(count / loads_wall)
        self.series["json_loads_cpu_rate"].add(count / loads_cpu)
        self.series["parse_rate"].add(count / parse_wall)
        self.series["parse_cpu_rate"].add(count / parse_cpu)

    def source(self) -> None:
        """``verify_hits(read_ndjson(file))``: what ``status --source`` does, file reading and
        verdicts included."""
        path = self.source_file
        if path is None:
            raise BenchmarkError("the records file for parsing was not written")
        report = self._timed(
            "source_rate",
            lambda: fv.verify_hits(fv.read_ndjson(path), since=START, until=END),
        )
        seconds = self.series["source_rate"].values.pop()
        self.series["source_rate"].add(len(self.lines) / seconds)
        if len(self.lines) == self.expected.matching:
            self._check("source", signal_counts(report))

    def run(self, say: Callable[[str], None], folder: Path) -> None:
        # The first aggregation after a load builds global ordinals and warms the page cache,
        # and a freshly started node has not compiled its hot paths yet; neither belongs to any
        # measurement, so unrecorded rounds go first.
        quick: list[Callable[[], None]] = [
            self.verify,
            self.verify_cached,
            self.floor,
            self.elastalert,
            self.elastalert_both,
            self.kibana_ratio,
            self.kibana_grouped,
            self.verify_5m,
        ]
        for _ in range(WARMUP_ROUNDS):
            for measure in quick:
                measure()
        for series in self.series.values():
            series.values.clear()
        self.notes.append(f"{WARMUP_ROUNDS} unrecorded warm-up rounds of the requests")
        self._poll(measured=False)
        self.notes.append(
            f"watch: a {WATCH_WINDOW.total_seconds() / 60:.0f}-minute window, a poll every "
            f"{WATCH_INTERVAL.total_seconds():.0f} s; the first poll is not measured"
        )
        self.prepare_parse(folder)
        slow_runs = {"naive": self.repeats, "export": self.repeats}
        for round_number in range(self.repeats):
            # Rotating the order spreads any drift of the machine over all of them.
            first = round_number % len(quick)
            for measure in [*quick[first:], *quick[:first], self.watch_poll]:
                measure()
            for name, measure in (("naive", self.naive), ("export", self.export)):
                if round_number < slow_runs[name]:
                    measure()
                    if round_number == 0:
                        slow_runs[name] = self._runs_within_budget(name)
            self.startup()
            self.parse()
            self.source()
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
            f"{name}_over_{base}": median(name) / median(base)
            for name in (*(m.__name__ for m in PEERS), "verify", "verify_cached")
            for base in ("floor", "elastalert", "elastalert_both")
            if name != base
        }
        ratios.update(
            {
                "watch_poll_over_verify_5m": median("watch_poll") / median("verify_5m"),
                "naive_over_verify": median("naive") / median("verify"),
                "parse_over_json_loads_time": median("json_loads_rate") / median("parse_rate"),
            }
        )
        return {
            "n": self.n,
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


PEERS: Final = (
    Bench.floor,
    Bench.elastalert,
    Bench.elastalert_both,
    Bench.kibana_ratio,
    Bench.kibana_grouped,
)


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
    ("ElastAlert2 percentage_match, completion (ms)", "elastalert", 1000, 1),
    ("ElastAlert2 percentage_match, both (ms)", "elastalert_both", 1000, 1),
    ("Kibana log threshold, ratio (ms)", "kibana_ratio", 1000, 1),
    ("Kibana ES query, grouped (ms)", "kibana_grouped", 1000, 1),
    ("verify, 5-minute window (ms)", "verify_5m", 1000, 1),
    ("watch poll, 5-minute window (ms)", "watch_poll", 1000, 1),
    ("naive: download + verify_hits (s)", "naive", 1, 1),
    ("  of which waiting for pages (s)", "naive_fetch", 1, 1),
    ("export to /dev/null (s)", "export", 1, 2),
    ("export throughput (records/s)", "export_rate", 1, 0),
    ("export peak RSS (MB)", "export_peak_rss", 1, 0),
    ("  idle CLI start: time (s)", "startup", 1, 2),
    ("  idle CLI start: peak RSS (MB)", "startup_peak_rss", 1, 0),
    ("parse_hit_json (records/s, wall)", "parse_rate", 1, 0),
    ("parse_hit_json (records/s, CPU time)", "parse_cpu_rate", 1, 0),
    ("json.loads (records/s, wall)", "json_loads_rate", 1, 0),
    ("json.loads (records/s, CPU time)", "json_loads_cpu_rate", 1, 0),
    ("verify_hits(read_ndjson) (records/s)", "source_rate", 1, 0),
)
RATIO_ROWS: Final = (
    ("verify / floor", "verify_over_floor"),
    ("verify / ElastAlert2", "verify_over_elastalert"),
    ("verify / ElastAlert2 both", "verify_over_elastalert_both"),
    ("verify cached / floor", "verify_cached_over_floor"),
    ("verify cached / ElastAlert2", "verify_cached_over_elastalert"),
    ("verify cached / ElastAlert2 both", "verify_cached_over_elastalert_both"),
    ("ElastAlert2 / floor", "elastalert_over_floor"),
    ("ElastAlert2 both / floor", "elastalert_both_over_floor"),
    ("Kibana ratio / floor", "kibana_ratio_over_floor"),
    ("Kibana ratio / ElastAlert2", "kibana_ratio_over_elastalert"),
    ("Kibana grouped / floor", "kibana_grouped_over_floor"),
    ("Kibana grouped / ElastAlert2", "kibana_grouped_over_elastalert"),
    ("watch poll / verify 5-minute window", "watch_poll_over_verify_5m"),
    ("naive / verify", "naive_over_verify"),
    ("parse_hit_json / json.loads (time)", "parse_over_json_loads_time"),
)


def table(results: Sequence[Mapping[str, Any]]) -> str:
    """Measurements as rows, sizes as columns: median (min-max)."""
    header = ["matching records", *(f"{result['n']:,}" for result in results)]
    rows: list[list[str]] = [
        ["documents", *(f"{r['expected']['docs']:,}" for r in results)],
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
    """The cost issue's targets, judged on this run's medians."""
    by_n = {int(result["n"]): result for result in results}
    lines = []
    for n in sorted(by_n):
        ratios = by_n[n]["ratios"]
        if n >= 200_000:
            one_go = float(ratios["verify_over_elastalert"])
            lines.append(
                _verdict(f"verify <= 1.5x ElastAlert2 at {n:,} ({one_go:.2f}x)", met=one_go <= 1.5)
            )
            cached = float(ratios["verify_cached_over_elastalert"])
            lines.append(
                _verdict(
                    f"verify, cached plan <= 1.0x ElastAlert2 at {n:,} ({cached:.2f}x)",
                    met=cached <= 1.0,
                )
            )
    if 1_000_000 in by_n:
        poll = float(by_n[1_000_000]["ratios"]["watch_poll_over_verify_5m"])
        lines.append(
            _verdict(
                f"watch poll <= 0.3x a verification at 1,000,000 ({poll:.2f}x)", met=poll <= 0.3
            )
        )
        rss = float(by_n[1_000_000]["measurements"]["export_peak_rss"]["max"])
        lines.append(
            _verdict(f"export peak RSS under 150 MB at 1,000,000 ({rss:.0f} MB)", met=rss < 150)
        )
    polls = ", ".join(
        f"{float(r['ratios']['watch_poll_over_verify_5m']):.2f}x at {int(r['n']):,}"
        for r in results
    )
    lines.append(f"watch poll / verification of the same 5 minutes: {polls}")
    peaks = [float(r["measurements"]["export_peak_rss"]["max"]) for r in results]
    lines.append(
        f"export peak RSS by N: {', '.join(f'{peak:.0f}' for peak in peaks)} MB "
        f"(spread {max(peaks) - min(peaks):.0f} MB)"
    )
    cpu = min(float(r["measurements"]["parse_cpu_rate"]["median"]) for r in results)
    wall = min(float(r["measurements"]["parse_rate"]["median"]) for r in results)
    lines.append(
        _verdict(
            f"parse_hit_json at least 100,000 records/s on one core (CPU {cpu:,.0f}, wall "
            f"{wall:,.0f})",
            met=cpu >= 100_000,
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
        help="matching records per run, comma-separated",
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
        _say(f"N={n:,}: {index} {loaded}; {expected.docs:,} documents")
        bench = Bench(
            client=client,
            url=url,
            index=index,
            n=n,
            expected=expected,
            repeats=args.repeats,
            slow_budget=args.slow_budget,
            parse_sample=args.parse_sample,
        )
        bench.run(_say, args.out)
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
