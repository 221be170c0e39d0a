"""Verifying exported records (the bundled fixtures) without a server, and agreeing with one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch, helpers

import gateway_logs as gl
from failover_verify import SourceError, UsageError, read_ndjson, verify, verify_hits
from failover_verify._report import Report

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
        assert all(feature.total > 0 for feature in report.features.values())

    def test_bare_documents_are_accepted(self, tmp_path: Path) -> None:
        """Lines holding bare documents (no hit envelope) are read with line numbers as ids."""
        path = tmp_path / "docs.ndjson"
        hits = list(read_ndjson(_fixture("2025-02")))[:400]
        path.write_text(
            "".join(json.dumps(hit["_source"]) + "\n" for hit in hits if isinstance(hit, dict))
        )
        report = verify_hits(read_ndjson(path), min_count=1)
        assert report.features["completion"].total > 0
        assert report.features["completion"].samples[0].id is not None
        assert report.features["completion"].samples[0].id.startswith("line-")

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing records file is a SourceError naming it."""
        with pytest.raises(SourceError, match=r"cannot read the records file .*nope\.ndjson"):
            list(read_ndjson(tmp_path / "nope.ndjson"))

    def test_no_records_and_no_window(self, tmp_path: Path) -> None:
        """A file without any of our records needs an explicit window."""
        path = tmp_path / "empty.ndjson"
        path.write_text("")
        with pytest.raises(UsageError, match="give --since"):
            verify_hits(read_ndjson(path))

    def test_unsupported_time_field(self) -> None:
        """Offline, only the ingest and event times can window records."""
        with pytest.raises(UsageError, match="publish_time"):
            verify_hits([], since="1h", time_field="publish_time")
