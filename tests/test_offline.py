"""Verifying exported records (the bundled fixtures) without a server, and agreeing with one."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

import gateway_logs as gl
from esdata import completions
from failover_verify import (
    Report,
    SourceError,
    UsageError,
    read_ndjson,
    timeline_hits,
    verify,
    verify_hits,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ERAS = sorted(gl.ERAS)


def _fixture(era: str) -> Path:
    return FIXTURES / f"incident-{era}.ndjson"


def _summary(report: Report) -> dict[str, tuple[str, int, int, int, int]]:
    return {
        name: (f.verdict, f.total, f.primary, f.failover, f.unclassified)
        for name, f in report.features.items()
    }


class TestBundledFixtures:
    def test_fixtures_match_their_generator(self) -> None:
        """The committed fixtures are exactly what the seeded generator writes."""
        for era in gl.ERAS.values():
            regenerated = "".join(
                json.dumps(hit, separators=(",", ":"), sort_keys=True) + "\n"
                for hit in gl.incident(era)
            )
            assert _fixture(era.name).read_text() == regenerated

    @pytest.mark.parametrize("era", ERAS)
    def test_whole_incident_is_mixed(self, era: str) -> None:
        """Over the whole incident (the file's span) both features are mixed."""
        report = verify_hits(read_ndjson(_fixture(era)), source=str(_fixture(era)))
        assert {name: f.verdict for name, f in report.features.items()} == {
            "completion": "mixed",
            "generation": "mixed",
        }
        assert report.parse_problems.count == 0
        assert report.requests == 0
        assert "the window is the span of the records" in report.window.notes

    @pytest.mark.parametrize("era", ERAS)
    def test_phases(self, era: str) -> None:
        """Windows inside each phase give primary, failover, primary again."""
        start = gl.ERAS[era].start
        phases = [
            (start, start + timedelta(minutes=gl.FLIP), "primary"),
            (
                start + timedelta(minutes=gl.FLIP + gl.ROLLOUT),
                start + timedelta(minutes=gl.FLIP_BACK),
                "failover",
            ),
            (
                start + timedelta(minutes=gl.FLIP_BACK + gl.ROLLOUT),
                start + timedelta(minutes=gl.END),
                "primary",
            ),
        ]
        hits = list(read_ndjson(_fixture(era)))
        for since, until, expected in phases:
            report = verify_hits(hits, since=since, until=until)
            assert {f.verdict for f in report.features.values()} == {expected}, (since, until)


class TestAgreesWithElasticsearch:
    @pytest.mark.parametrize("era", ERAS)
    def test_same_counts_both_ways(self, es_client: Elasticsearch, es_index: str, era: str) -> None:
        """The server-side aggregation and offline parsing give identical counts and verdicts."""
        hits = list(read_ndjson(_fixture(era)))
        actions = (
            {"_index": f"{es_index}-{hit['_index']}", "_id": hit["_id"], "_source": hit["_source"]}
            for hit in hits
            if isinstance(hit, dict)
        )
        helpers.bulk(es_client, actions, refresh="wait_for")
        start = gl.ERAS[era].start
        for since, until in [
            (start, start + timedelta(minutes=gl.END)),
            (start + timedelta(minutes=55), start + timedelta(minutes=70)),
        ]:
            online = verify(es_client, since=since, until=until, index=f"{es_index}-*")
            offline = verify_hits(hits, since=since, until=until)
            assert _summary(online) == _summary(offline)
            for name in online.features:
                assert online.features[name].by_provider == offline.features[name].by_provider
                assert online.features[name].seen == offline.features[name].seen


def _stamped(document: dict[str, Any], ingest: datetime, event: datetime) -> dict[str, Any]:
    """The document with its ingest and event times set exactly."""
    document["@timestamp"] = ingest.isoformat().replace("+00:00", "Z")
    document["json"]["jsonPayload"]["timestamp"] = event.isoformat().replace("+00:00", "Z")
    return document


EDGE_START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
EDGE_END = EDGE_START + timedelta(minutes=10)
MS = timedelta(milliseconds=1)


def _edge_documents() -> list[dict[str, Any]]:
    """Records on and beside both ends of the window, and registry records of other prompts.

    Inside [start, end): 3 failover completions (at start, mid, end - 1 ms), 2 failover
    generations (base folder and requested id) and 1 primary generation. Outside: records at
    start - 1 ms and at end exactly, and registry records for other prompt ids in the window.
    """
    rng = random.Random(11)
    claude = ("anthropic", "claude-sonnet-4-20250514")
    mid = EDGE_START + timedelta(minutes=5)
    inside = [
        gl.completion_doc(EDGE_START, *claude, rng),
        gl.completion_doc(mid, *claude, rng),
        gl.completion_doc(EDGE_END - MS, *claude, rng),
        gl.registry_doc(EDGE_START, "code_suggestions/generations/base", "2.0.0", rng),
        gl.registry_doc(mid, "code_suggestions/generations", "2.0.0", rng),
        gl.registry_doc(EDGE_END - MS, "code_suggestions/generations", "^1.0.0", rng),
    ]
    outside = [
        gl.completion_doc(EDGE_START - MS, "vertex-ai", "codestral-2501", rng),
        gl.completion_doc(EDGE_END, "vertex-ai", "codestral-2501", rng),
        gl.registry_doc(EDGE_END, "code_suggestions/generations", "^1.0.0", rng),
        gl.registry_doc(EDGE_START - MS, "code_suggestions/generations", "^1.0.0", rng),
        # Other prompts, inside the window: never generation records.
        gl.registry_doc(mid, "chat/explain_code", "^1.0.0", rng),
        gl.registry_doc(mid, "code_suggestions/completions_legacy", "^1.0.0", rng),
        gl.registry_doc(mid, "code_suggestions/generations_agent", "2.0.0", rng),
        gl.registry_doc(mid, "code_suggestions", "2.0.0", rng),
    ]
    # The event time sits an hour earlier than the ingest time, so windowing by the wrong field
    # finds nothing at all.
    return [
        _stamped(document, moment, moment - timedelta(hours=1))
        for document in inside + outside
        for moment in [
            datetime.fromisoformat(
                document["json"]["jsonPayload"]["timestamp"].replace("Z", "")
            ).replace(tzinfo=UTC)
        ]
    ]


EDGE_EXPECTED = {
    "completion": ("inconclusive", 3, 0, 3, 0),
    "generation": ("inconclusive", 3, 1, 2, 0),
}


class TestWindowEdgesAndPromptIds:
    def _hits(self) -> list[dict[str, Any]]:
        return [
            {"_index": "edges", "_id": str(number), "_source": document}
            for number, document in enumerate(_edge_documents())
        ]

    def test_offline_counts_exactly_the_window(self) -> None:
        """Offline: the start instant counts, the end instant does not, other prompts never."""
        report = verify_hits(self._hits(), since=EDGE_START, until=EDGE_END, min_count=1)
        assert _summary(report) == {
            "completion": ("failover", 3, 0, 3, 0),
            "generation": ("mixed", 3, 1, 2, 0),
        }
        assert report.features["completion"].seen["failover"].first == EDGE_START
        assert report.features["completion"].seen["failover"].last == EDGE_END - MS

    def test_online_counts_exactly_the_window(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """Online: the same edges and prompt ids give the same exact counts as offline."""
        helpers.bulk(
            es_client,
            ({"_index": f"{es_index}-a", "_source": doc} for doc in _edge_documents()),
            refresh="wait_for",
        )
        online = verify(
            es_client, since=EDGE_START, until=EDGE_END, index=f"{es_index}-*", min_count=1
        )
        offline = verify_hits(self._hits(), since=EDGE_START, until=EDGE_END, min_count=1)
        assert _summary(online) == _summary(offline)
        assert online.features["completion"].seen == offline.features["completion"].seen
        assert online.features["generation"].seen == offline.features["generation"].seen

    def test_timeline_counts_exactly_the_window(self) -> None:
        """The offline timeline leaves out the end instant and other prompts too."""
        timeline = timeline_hits(
            self._hits(), since=EDGE_START, until=EDGE_END, interval="5m", min_bucket_count=1
        )
        assert [p.total for p in timeline.features["completion"]] == [1, 2]
        assert [p.total for p in timeline.features["generation"]] == [1, 2]

    def test_default_minimum_makes_three_records_inconclusive(self) -> None:
        """With the default minimum of 20, three records are too few to tell."""
        report = verify_hits(self._hits(), since=EDGE_START, until=EDGE_END)
        assert _summary(report) == EDGE_EXPECTED

    def test_event_time_window(self) -> None:
        """Windowed by the event time (an hour earlier here), the same records count there."""
        hour = timedelta(hours=1)
        report = verify_hits(
            self._hits(),
            since=EDGE_START - hour,
            until=EDGE_END - hour,
            min_count=1,
            time_field="json.jsonPayload.timestamp",
        )
        assert _summary(report)["completion"] == ("failover", 3, 0, 3, 0)
        report = verify_hits(
            self._hits(),
            since=EDGE_START,
            until=EDGE_END,
            min_count=1,
            time_field="json.jsonPayload.timestamp",
        )
        assert _summary(report)["completion"] == ("no_data", 0, 0, 0, 0)


class TestThresholdOffline:
    @pytest.mark.parametrize(
        ("threshold", "verdict"), [(0.85, "failover"), (0.86, "mixed"), (0.95, "mixed")]
    )
    def test_custom_threshold(self, threshold: float, verdict: str) -> None:
        """Offline too, the threshold given decides: 85 of 100 records on failover is failover
        at 0.85 and mixed at 0.86."""
        start = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
        documents = completions(start, 10, 85, "failover") + completions(
            start, 10, 15, "primary", seed=4
        )
        hits = [
            {"_index": "t", "_id": str(number), "_source": document}
            for number, document in enumerate(documents)
        ]
        report = verify_hits(
            hits,
            since=start,
            until=start + timedelta(minutes=11),
            features=["completion"],
            threshold=threshold,
        )
        completion = report.features["completion"]
        assert (completion.verdict, completion.total, completion.failover) == (verdict, 100, 85)
        assert report.threshold == threshold


class TestBadRecords:
    def test_malformed_lines_and_hits_are_counted(self, tmp_path: Path) -> None:
        """Broken lines and unreadable hits are counted with their ids; the run completes."""
        path = tmp_path / "records.ndjson"
        good = _fixture("2026-01").read_text().splitlines()[:200]
        bad_type = json.loads(good[0])
        bad_type["_id"] = "wrong-type"
        bad_type["_source"]["json.jsonPayload.message"] = "code completion input:"
        bad_type["_source"]["json.jsonPayload.stream"] = "maybe"
        lines = [*good, "{not json", "[1, 2]", "", json.dumps(bad_type)]
        path.write_text("\n".join(lines) + "\n")
        report = verify_hits(read_ndjson(path), min_count=1)
        problems = report.parse_problems
        assert problems.count == 3
        ids = {problem.id for problem in problems.examples}
        assert ids == {"line-201", "line-202", "wrong-type"}
        # Counted independently from the raw lines: the 200 good lines' messages and prompt ids.
        sources = [json.loads(line)["_source"] for line in good]
        messages = [source["json.jsonPayload.message"] for source in sources]
        generations = sum(
            message == "Returning prompt from the registry"
            and source["json.jsonPayload.prompt_id"].startswith("code_suggestions/generations")
            for message, source in zip(messages, sources, strict=True)
        )
        assert report.features["completion"].total == messages.count("code completion input:")
        assert report.features["generation"].total == generations
        assert (messages.count("code completion input:"), generations) == (94, 61)

    def test_bare_documents_are_accepted(self, tmp_path: Path) -> None:
        """Lines holding bare documents (no hit envelope) are read with line numbers as ids."""
        path = tmp_path / "docs.ndjson"
        hits = list(read_ndjson(_fixture("2025-02")))[:400]
        path.write_text(
            "".join(json.dumps(hit["_source"]) + "\n" for hit in hits if isinstance(hit, dict))
        )
        report = verify_hits(read_ndjson(path), min_count=1)
        payloads = [hit["_source"]["json"]["jsonPayload"] for hit in hits if isinstance(hit, dict)]
        completions = sum(payload["message"] == "code completion input:" for payload in payloads)
        assert report.features["completion"].total == completions
        assert completions == 184
        assert report.parse_problems.count == 0
        assert report.features["completion"].samples[0].id is not None
        assert report.features["completion"].samples[0].id.startswith("line-")

    def test_fast_and_decoded_reading_agree(self, tmp_path: Path) -> None:
        """A records file read on the fast path gives the report its decoded hits give: same
        counts, shares, first and last seen, evidence and problems, whatever the lines hold."""
        lines = []
        for era in ERAS:
            lines += _fixture(era).read_bytes().splitlines()[:700]
        nested = json.loads(_fixture("2026-11").read_bytes().splitlines()[5])
        bare_with_source_text = dict(nested["_source"])
        bare_with_source_text["json"] = dict(nested["_source"]["json"])
        bare_with_source_text["json"]["jsonPayload"] = {
            **nested["_source"]["json"]["jsonPayload"],
            "current_file_name": "_source",
        }
        odd = [
            b"{not json",
            b"[1, 2]",
            b'{"_index": "i", "_id": "x", "_source": []}',
            json.dumps(bare_with_source_text).encode(),
            json.dumps(nested).encode() + b"\r",
            b"\xff\xfe" + json.dumps(nested).encode(),
            json.dumps({**nested, "_id": "utf8-\u00e9"}, ensure_ascii=False).encode(),
        ]
        path = tmp_path / "records.ndjson"
        path.write_bytes(b"\n".join(lines[:300] + odd + lines[300:]) + b"\n")

        fast = verify_hits(read_ndjson(path), min_count=1)
        decoded = verify_hits(list(read_ndjson(path)), min_count=1)
        ignore = {"generated_at"}
        assert fast.model_dump(exclude=ignore) == decoded.model_dump(exclude=ignore)
        assert fast.parse_problems.count == 4  # three broken lines and a list for _source
        assert sum(feature.total for feature in fast.features.values()) > 200
        fast_timeline = timeline_hits(read_ndjson(path), interval="1d")
        decoded_timeline = timeline_hits(list(read_ndjson(path)), interval="1d")
        assert fast_timeline == decoded_timeline

    def test_records_file_is_read_once(self, tmp_path: Path) -> None:
        path = tmp_path / "records.ndjson"
        path.write_bytes(_fixture("2026-11").read_bytes())
        records = read_ndjson(path)
        assert isinstance(next(records), dict)
        with pytest.raises(UsageError, match="already been read"):
            next(records.parsed())

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing records file is a SourceError naming it."""
        with pytest.raises(SourceError, match=r"cannot read the records file .*nope\.ndjson"):
            list(read_ndjson(tmp_path / "nope.ndjson"))

    def test_no_records_and_no_window(self, tmp_path: Path) -> None:
        """A file without any of our records needs an explicit window."""
        path = tmp_path / "empty.ndjson"
        path.write_text("")
        with pytest.raises(UsageError, match="give since="):
            verify_hits(read_ndjson(path))

    def test_unsupported_time_field(self) -> None:
        """Offline, only the ingest and event times can window records."""
        with pytest.raises(UsageError, match="publish_time"):
            verify_hits([], since="1h", time_field="publish_time")
