"""The benchmark harness in its smoke mode, against the test node.

Only the harness is tested: every measurement is present and every count is right. Timings are
never asserted, since the machine is shared and noisy.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import elasticsearch
import pytest

if TYPE_CHECKING:
    from pytest_elasticsearch.executor import NoopElasticsearch

HARNESS = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
SMOKE_SIZE = 2_000
SMOKE_REPEATS = 2
MEASUREMENTS = (
    "verify",
    "verify_cached",
    "floor",
    "elastalert",
    "elastalert_both",
    "kibana_ratio",
    "kibana_grouped",
    "verify_5m",
    "watch_poll",
    "naive",
    "naive_fetch",
    "export",
    "export_rate",
    "export_peak_rss",
    "startup",
    "startup_peak_rss",
    "parse_rate",
    "parse_cpu_rate",
    "json_loads_rate",
    "json_loads_cpu_rate",
    "source_rate",
)
RATIOS = (
    "verify_over_floor",
    "verify_over_elastalert",
    "verify_over_elastalert_both",
    "verify_cached_over_floor",
    "verify_cached_over_elastalert",
    "elastalert_over_floor",
    "kibana_ratio_over_elastalert",
    "kibana_grouped_over_elastalert",
    "watch_poll_over_verify_5m",
    "naive_over_verify",
    "parse_over_json_loads_time",
)
SIGNAL_IDS = (
    "completion.served",
    "completion.registry",
    "completion.input",
    "generation.served",
    "generation.registry",
)


@dataclass(frozen=True)
class SmokeRun:
    result: dict[str, Any]
    table: str


def _smoke(url: str, prefix: str, out: Path) -> SmokeRun:
    completed = subprocess.run(
        [sys.executable, str(HARNESS), "--smoke", "--es-url", url, "--index-prefix", prefix,
         "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((out / f"{SMOKE_SIZE}.json").read_text())
    return SmokeRun(result, completed.stdout)


@pytest.fixture(scope="module")
def smoke_runs(
    es_node: NoopElasticsearch,
    es_client: elasticsearch.Elasticsearch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SmokeRun, SmokeRun]]:
    """Two smoke runs on one index prefix: the first loads the data, the second reuses it.

    Module-scoped so that all the checks share two runs; the indices are deleted afterwards,
    as es_index does for one test.
    """
    prefix = f"fv-test-bench-{uuid.uuid4().hex[:12]}"
    url = f"http://{es_node.host}:{es_node.port}"
    try:
        first = _smoke(url, prefix, tmp_path_factory.mktemp("first"))
        second = _smoke(url, prefix, tmp_path_factory.mktemp("second"))
        yield first, second
    finally:
        names = list(es_client.indices.get(index=f"{prefix}*", expand_wildcards="all"))
        if names:
            es_client.indices.delete(index=",".join(names))


@pytest.fixture
def smoke(smoke_runs: tuple[SmokeRun, SmokeRun]) -> dict[str, Any]:
    return smoke_runs[0].result


class TestSmokeRun:
    def test_every_measurement_is_reported(self, smoke: dict[str, Any]) -> None:
        """Each measurement has its runs and a median between its min and max."""
        measurements = smoke["measurements"]
        assert set(MEASUREMENTS) <= set(measurements)
        for name in MEASUREMENTS:
            summary = measurements[name]
            assert summary["runs"] == SMOKE_REPEATS, name
            assert 0 < summary["min"] <= summary["median"] <= summary["max"], name

    def test_data_holds_every_kind_of_record(self, smoke: dict[str, Any]) -> None:
        """The synthetic data has N matching records of all five signals, other prompts,
        other messages and records outside the hour."""
        expected = smoke["expected"]
        signals = expected["signals"]
        assert set(signals) == set(SIGNAL_IDS)
        assert smoke["n"] == SMOKE_SIZE
        # Generation stops at the request that reaches N: at most its three records over.
        assert SMOKE_SIZE <= expected["matching"] == sum(signals.values()) < SMOKE_SIZE + 3
        others = expected["other_prompts"] + expected["noise"] + expected["outside"]
        assert expected["docs"] == expected["matching"] + others
        # Every completion and generation logs a served and a registry record; one
        # completion in eight also logs its input.
        assert signals["completion.served"] == signals["completion.registry"]
        assert signals["generation.served"] == signals["generation.registry"]
        assert 0.06 < signals["completion.input"] / signals["completion.served"] < 0.2
        assert 1.5 < signals["completion.served"] / signals["generation.served"] < 3.0
        assert all(expected[kind] > 0 for kind in ("other_prompts", "noise", "outside"))

    def test_every_way_counts_the_same_records(self, smoke: dict[str, Any]) -> None:
        """verify, the cached verifier, the watch poll, the naive path, reading the records
        file, the count, export and parsing all count the same records."""
        expected, counts = smoke["expected"], smoke["counts"]
        signals = expected["signals"]
        for name in ("verify", "verify_cached", "naive", "source"):
            assert counts[name] == signals, name
        assert counts["floor"] == counts["export"] == {"matching": expected["matching"]}
        assert counts["parse"] == {"records": smoke["parse_sample"], "problems": 0}
        assert smoke["parse_sample"] == expected["matching"]
        for name in ("elastalert", "kibana_ratio", "kibana_grouped"):
            assert counts[name]["served"] == signals["completion.served"], name
        assert counts["elastalert_both.generation"]["served"] == signals["generation.served"]
        assert 0 < counts["elastalert"]["failover"] < signals["completion.served"]
        assert set(counts["watch_poll"]) == set(SIGNAL_IDS)

    def test_request_counts(self, smoke: dict[str, Any]) -> None:
        """verify sends two requests; a verifier with its field plan cached sends one."""
        assert smoke["requests"] == {"verify": 2, "verify_cached": 1, "floor": 1}

    def test_ratios_are_positive(self, smoke: dict[str, Any]) -> None:
        """Every ratio is a positive, finite number."""
        for name in RATIOS:
            ratio = smoke["ratios"][name]
            assert math.isfinite(ratio), name
            assert ratio > 0, name

    def test_environment_is_recorded(self, smoke: dict[str, Any]) -> None:
        """The result says which server and machine produced it."""
        environment = smoke["environment"]
        assert environment["elasticsearch"]
        assert environment["cpus"] >= 1
        assert len(environment["load_average"]) == 3

    def test_table_is_printed(self, smoke_runs: tuple[SmokeRun, SmokeRun]) -> None:
        """The printed table has a column for N and the ratio rows."""
        table = smoke_runs[0].table
        assert f"{SMOKE_SIZE:,}" in table
        assert "ratio verify / floor" in table
        assert "ratio verify / ElastAlert2" in table
        assert "ratio watch poll / verify 5-minute window" in table
        assert "ratio naive / verify" in table


class TestRerun:
    def test_loaded_data_is_reused(self, smoke_runs: tuple[SmokeRun, SmokeRun]) -> None:
        """A second run finds the index already holding N documents and does not reload it."""
        first, second = (run.result for run in smoke_runs)
        assert first["load_seconds"] is not None
        assert second["load_seconds"] is None
        assert second["expected"] == first["expected"]
