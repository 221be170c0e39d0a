"""Verification against the real test node: verdicts, windows, mappings, partial results.

Gateway records go into indices of GitLab's production shape (rollover indices behind a write
alias, the real mapping and settings) unless a test is about another mapping.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

import gateway_logs as gl
from esdata import (
    KEYWORD,
    TEXT_ONLY,
    completions,
    create_index,
    generations,
    index_documents,
    index_gateway_records,
    rollover,
    spread,
    timed,
)
from failover_verify import (
    ConnectionSettings,
    Report,
    UsageError,
    Verifier,
    connect,
    export_hits,
    parse_window,
    timeline,
    timeline_hits,
    verify,
    verify_hits,
)
from faultproxy import Fault, FaultProxy

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
# Served records carry their model fields since 2026-07; the 2026-11 era has them.
TODAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
SERVED = gl.ERAS["2026-11"].served or {}


def _run(
    client: Elasticsearch, prefix: str, start: datetime, end: datetime, **kwargs: Any
) -> Report:
    return verify(client, since=start, until=end, index=f"{prefix}*", **kwargs)


def _verdicts(report: Report) -> dict[str, str]:
    return {name: feature.verdict for name, feature in report.features.items()}


class TestVerdicts:
    def test_failover_only(self, es_client: Elasticsearch, es_index: str) -> None:
        """All records on the failover provider give `failover` for both features."""
        index_gateway_records(
            es_client,
            f"{es_index}-a",
            completions(T0, 30, 60, "failover") + generations(T0, 30, 40, "failover"),
        )
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=30))
        assert _verdicts(report) == {"completion": "failover", "generation": "failover"}
        completion, generation = report.features["completion"], report.features["generation"]
        assert (completion.total, completion.failover, completion.failover_share) == (60, 60, 1.0)
        assert completion.by_provider == {"anthropic": 60}
        assert completion.by_model == {"claude-sonnet-4-20250514": 60}
        assert generation.by_provider == {"vertex_ai": 40}
        assert generation.by_prompt_version == {"2.0.0": 40}
        assert generation.resolutions[0].definition_path == (
            "ai_gateway/prompts/definitions/code_suggestions/generations/base/2.0.0.yml"
        )
        assert completion.complete
        assert generation.complete
        assert report.requests == 2

    def test_primary_only(self, es_client: Elasticsearch, es_index: str) -> None:
        """All records on primaries give `primary`, with first and last seen times."""
        index_gateway_records(
            es_client,
            f"{es_index}-a",
            completions(T0, 30, 60, "primary") + generations(T0, 30, 40, "primary"),
        )
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=30))
        assert _verdicts(report) == {"completion": "primary", "generation": "primary"}
        seen = report.features["completion"].seen["primary"]
        assert seen.first is not None
        assert seen.last is not None
        assert T0 <= seen.first < seen.last < T0 + timedelta(minutes=30)
        assert "failover" not in report.features["completion"].seen

    def test_switch_inside_window_then_after(self, es_client: Elasticsearch, es_index: str) -> None:
        """A flip inside the window is `mixed`; a window after the flip is `failover`."""
        flip = T0 + timedelta(minutes=20)
        index_gateway_records(
            es_client,
            f"{es_index}-a",
            completions(T0, 20, 40, "primary")
            + completions(flip, 20, 40, "failover", seed=3)
            + generations(T0, 20, 30, "primary")
            + generations(flip, 20, 30, "failover", seed=4),
        )
        mixed = _run(es_client, es_index, T0, T0 + timedelta(minutes=40))
        assert _verdicts(mixed) == {"completion": "mixed", "generation": "mixed"}
        completion = mixed.features["completion"]
        assert (completion.primary, completion.failover) == (40, 40)
        primary_last = completion.seen["primary"].last
        failover_first = completion.seen["failover"].first
        assert primary_last is not None
        assert failover_first is not None
        assert primary_last < failover_first
        after = _run(es_client, es_index, flip + timedelta(minutes=2), T0 + timedelta(minutes=40))
        assert _verdicts(after) == {"completion": "failover", "generation": "failover"}

    def test_no_data(self, es_client: Elasticsearch, es_index: str) -> None:
        """A window with no records is `no_data`, not primary."""
        index_gateway_records(es_client, f"{es_index}-a", completions(T0, 10, 30, "primary"))
        report = _run(es_client, es_index, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
        assert _verdicts(report) == {"completion": "no_data", "generation": "no_data"}

    def test_too_few_records(self, es_client: Elasticsearch, es_index: str) -> None:
        """Fewer records than the minimum count give `inconclusive`, with the count."""
        index_gateway_records(es_client, f"{es_index}-a", completions(T0, 10, 5, "failover"))
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10), features=["completion"])
        completion = report.features["completion"]
        assert completion.verdict == "inconclusive"
        assert "only 5 records" in completion.reason
        assert list(report.features) == ["completion"]

    def test_outside_window_ignored(self, es_client: Elasticsearch, es_index: str) -> None:
        """Records before and after the window are not counted; the end is exclusive."""
        end = T0 + timedelta(minutes=10)
        documents = completions(T0, 10, 30, "failover")
        documents += completions(T0 - timedelta(minutes=30), 20, 30, "primary", seed=5)
        documents += completions(end + timedelta(minutes=1), 20, 30, "primary", seed=6)
        at_end = gl.completion_doc(end, "vertex-ai", "x", random.Random(1))
        at_end["@timestamp"] = end.isoformat()
        documents.append(at_end)
        index_gateway_records(es_client, f"{es_index}-a", documents)
        report = _run(es_client, es_index, T0, end, features=["completion"])
        completion = report.features["completion"]
        assert (completion.verdict, completion.total, completion.primary) == ("failover", 30, 0)

    def test_other_messages_ignored(self, es_client: Elasticsearch, es_index: str) -> None:
        """Other gateway events and registry records of other prompts are not counted; the
        completion registry records are, and here they contradict the input records."""
        rng = random.Random(9)
        noise = [gl.other_doc(moment, rng) for moment in spread(T0, 10, 50)]
        noise += [
            gl.registry_doc(moment, "chat/explain_code", "^1.0.0", rng)
            for moment in spread(T0, 10, 20)
        ]
        noise += [
            gl.registry_doc(
                moment,
                "code_suggestions/completions",
                "1.0.0",
                rng,
                model_class_provider="anthropic",
            )
            for moment in spread(T0, 10, 20)
        ]
        index_gateway_records(
            es_client,
            f"{es_index}-a",
            noise + completions(T0, 10, 25, "primary") + generations(T0, 10, 25, "failover"),
        )
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10), min_count=10)
        completion = report.features["completion"]
        assert report.features["generation"].total == 25
        assert (completion.signals["registry"].total, completion.signals["input"].total) == (20, 25)
        assert (completion.signals["registry"].verdict, completion.signals["input"].verdict) == (
            "failover",
            "primary",
        )
        assert completion.agreement == "disagree"
        assert completion.reason.startswith("the signals disagree: registry says failover")
        assert _verdicts(report) == {"completion": "inconclusive", "generation": "failover"}


class TestProductionShape:
    @pytest.mark.parametrize("through", ["alias", "pattern"])
    def test_rollover_in_the_middle_of_a_window(
        self, es_client: Elasticsearch, es_index: str, through: str
    ) -> None:
        """Records on both sides of a rollover count as one window, through the write alias
        and through the index pattern: exact counts, both indices named in the evidence."""
        alias = f"{es_index}-gprd"
        flip = T0 + timedelta(minutes=20)
        index_gateway_records(
            es_client,
            alias,
            completions(T0, 20, 40, "primary") + generations(T0, 20, 30, "primary"),
        )
        second = rollover(es_client, alias)
        index_gateway_records(
            es_client,
            alias,
            completions(flip, 20, 40, "failover", seed=3)
            + generations(flip, 20, 30, "failover", seed=4),
        )
        first = f"{alias}-000001"
        assert second == f"{alias}-000002"
        verifier = Verifier(es_client, index=alias if through == "alias" else f"{alias}-*")
        across = verifier.verify(T0 + timedelta(minutes=10), T0 + timedelta(minutes=30))
        completion, generation = across.features["completion"], across.features["generation"]
        assert _verdicts(across) == {"completion": "mixed", "generation": "mixed"}
        assert (completion.primary, completion.failover, completion.total) == (20, 20, 40)
        assert (generation.primary, generation.failover, generation.total) == (15, 15, 30)
        assert {sample.role: sample.index for sample in completion.samples} == {
            "primary": first,
            "failover": second,
        }
        assert completion.complete
        assert completion.failed_indices == []
        after = verifier.verify(flip + timedelta(minutes=2), T0 + timedelta(minutes=41))
        assert _verdicts(after) == {"completion": "failover", "generation": "failover"}
        assert after.features["completion"].total == 36
        whole = verifier.verify(T0, T0 + timedelta(minutes=41))
        assert (whole.features["completion"].primary, whole.features["completion"].failover) == (
            40,
            40,
        )
        delay = verifier.ingest_delay()
        assert (delay.setting, delay.slowest) == ("30s", (first, second))

    def test_malformed_values_are_dropped_records_kept(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """ignore_malformed drops a wrong-typed value and keeps its record: the record is
        counted by the fields it still has; with its time field dropped it falls in no window
        on that field, and the other time field still places it."""
        engine, model = SERVED["complete_code"][1]
        rng = random.Random(21)
        documents = []
        for number, moment in enumerate(spread(TODAY, 10, 30)):
            document = timed(
                gl.served_doc(moment, "complete_code", engine, model, rng),
                ingest=moment + timedelta(seconds=1),
                logged=moment,
            )
            payload = document["json"]["jsonPayload"]
            if number % 3 == 0:
                payload["duration_s"] = "slow"  # float in the mapping
            elif number % 3 == 1:
                payload["timestamp"] = "not a date"
            else:
                document["@timestamp"] = "yesterday"
            documents.append(document)
        alias = f"{es_index}-gprd"
        index_gateway_records(es_client, alias, documents)
        dropped = {
            field: es_client.count(index=alias, query={"term": {"_ignored": field}})["count"]
            for field in ("json.jsonPayload.duration_s", "json.jsonPayload.timestamp", "@timestamp")
        }
        assert dropped == {
            "json.jsonPayload.duration_s": 10,
            "json.jsonPayload.timestamp": 10,
            "@timestamp": 10,
        }
        assert es_client.count(index=alias)["count"] == 30
        end = TODAY + timedelta(minutes=11)
        served = {
            time_field: verify(
                es_client,
                since=TODAY,
                until=end,
                index=alias,
                features=["completion"],
                time_field=time_field,
                min_count=10,
            ).features["completion"]
            for time_field in ("@timestamp", "json.timestamp", "json.jsonPayload.timestamp")
        }
        assert {name: (f.verdict, f.total, f.failover) for name, f in served.items()} == {
            "@timestamp": ("failover", 20, 20),
            "json.timestamp": ("failover", 30, 30),
            "json.jsonPayload.timestamp": ("failover", 20, 20),
        }
        assert served["@timestamp"].by_model == {model: 20}
        assert served["@timestamp"].errors_by_model[model].calls == 20
        # The evidence shows what the log said: _source keeps the dropped value. The latest
        # record counted (number 28) is one whose own timestamp was malformed.
        samples = served["@timestamp"].signals["served"].samples
        assert [sample.fields["json.jsonPayload.timestamp"] for sample in samples] == ["not a date"]

    def test_time_fields_on_the_real_mapping(self, es_client: Elasticsearch, es_index: str) -> None:
        """json.timestamp (the log's time, 1 s before @timestamp here) decides the window when
        chosen: a record logged just before the start but ingested after it counts only on
        @timestamp, one logged just before the end but ingested after it only on
        json.timestamp."""
        rng = random.Random(22)
        documents = []
        for number in range(31):
            logged = T0 - timedelta(milliseconds=500) + timedelta(seconds=10) * number
            role = ("vertex-ai", "codestral-2501") if number == 0 else ("anthropic", "claude")
            documents.append(
                timed(
                    gl.completion_doc(logged, *role, rng),
                    ingest=logged + timedelta(seconds=1),
                    logged=logged,
                )
            )
        index_gateway_records(es_client, f"{es_index}-gprd", documents)
        counted = {
            time_field: verify(
                es_client,
                since=T0,
                until=T0 + timedelta(minutes=5),
                index=f"{es_index}-gprd",
                features=["completion"],
                time_field=time_field,
                min_count=1,
            )
            for time_field in ("@timestamp", "json.timestamp")
        }
        summary = {
            name: (report.time_field, feature.primary, feature.failover)
            for name, report in counted.items()
            for feature in [report.features["completion"]]
        }
        assert summary == {
            "@timestamp": ("@timestamp", 1, 29),
            "json.timestamp": ("json.timestamp", 0, 30),
        }
        assert "time field: json.timestamp (the log entry's own time)" in str(
            counted["json.timestamp"]
        )


class TestIngestDelay:
    def test_unrefreshed_tail_is_pending_not_absent(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """Records written into a 30 s-refresh index without a refresh are not counted as
        absent traffic: the window ends 35 s before now, where every record is searchable,
        and says so; until="now" keeps the whole window and says its tail may be incomplete."""
        alias = f"{es_index}-gprd"
        now = T0 + timedelta(minutes=10)
        rng = random.Random(23)
        documents = [
            timed(
                gl.completion_doc(T0 + timedelta(seconds=10 * n), "anthropic", "claude", rng),
                ingest=T0 + timedelta(seconds=10 * n),
                logged=T0 + timedelta(seconds=10 * n),
            )
            for n in range(60)
        ]
        # 14:09:30 onwards arrived within the last refresh interval: written, not searchable.
        index_gateway_records(es_client, alias, documents[:57])
        index_gateway_records(es_client, alias, documents[57:], refresh=False)
        verifier = Verifier(es_client, index=alias)
        cut = verifier.verify("10m", features=["completion"], now=now)
        edge = datetime(2026, 3, 2, 14, 9, 25, tzinfo=UTC)
        assert (cut.window.start, cut.window.end) == (T0, edge)
        assert (cut.window.requested_end, cut.window.searchable_until) == (now, edge)
        # Every record of the window it reports on is counted.
        assert cut.features["completion"].total == 57
        assert cut.notes == [
            (
                "the window ends at 2026-03-02T14:09:25Z, not 2026-03-02T14:10:00Z: later "
                f"records may not be searchable yet (refresh_interval 30s of {alias}-000001, "
                'plus 5 s for the pipeline); give until="now" to count them as far as they are'
            )
        ]
        assert cut.to_json_dict()["window"]["requested_to"] == "2026-03-02T14:10:00Z"
        kept = verifier.verify("10m", "now", features=["completion"], now=now)
        tail = {"range": {"@timestamp": {"gte": "2026-03-02T14:09:30Z"}}}
        # The test's premise: the index has not refreshed on its own (every 30 s) meanwhile.
        assert es_client.count(index=alias, query=tail)["count"] == 0
        assert (kept.window.end, kept.window.requested_end) == (now, None)
        assert kept.window.searchable_until == edge
        assert kept.features["completion"].total == 57
        assert kept.notes == [
            (
                "records after 2026-03-02T14:09:25Z may not be searchable yet (refresh_interval "
                f"30s of {alias}-000001, plus 5 s for the pipeline): the last 35 s of the "
                "window may be incomplete"
            )
        ]
        es_client.indices.refresh(index=alias)
        refreshed = verifier.verify("10m", "now", features=["completion"], now=now)
        assert refreshed.features["completion"].total == 60
        # The settings were read once, with the field plan: one msearch per later report.
        assert (cut.requests, kept.requests, refreshed.requests) == (3, 1, 1)

    def test_past_windows_are_not_cut(self, es_client: Elasticsearch, es_index: str) -> None:
        """A window that ended before the ingest delay is read whole, without a note; one that
        ended over an hour ago costs no settings request at all."""
        index_gateway_records(es_client, f"{es_index}-gprd", completions(T0, 10, 30, "failover"))
        end = T0 + timedelta(minutes=11)
        reports = [
            verify(es_client, since=T0, until=end, index=f"{es_index}-gprd", now=now)
            for now in (end + timedelta(seconds=35), end + timedelta(hours=1))
        ]
        for report in reports:
            assert (report.window.end, report.window.requested_end) == (end, None)
            assert report.notes == []
            assert report.features["completion"].total == 30
        # Field mappings, refresh intervals (only when the window is recent), one msearch.
        assert [report.requests for report in reports] == [3, 2]


class TestDocumentShapesAndMappings:
    @pytest.mark.parametrize(
        "mappings", [None, KEYWORD], ids=["dynamic-text-with-keyword", "keyword"]
    )
    def test_nested_and_dotted_documents_count_alike(
        self, es_client: Elasticsearch, es_index: str, mappings: dict[str, Any] | None
    ) -> None:
        """Nested and dotted documents are counted alike under text or keyword mappings."""
        nested = completions(T0, 10, 30, "failover") + generations(T0, 10, 20, "primary")
        dotted = [gl.dotted(document) for document in completions(T0, 10, 30, "failover", seed=7)]
        index_documents(es_client, f"{es_index}-nested", nested, mappings=mappings)
        index_documents(es_client, f"{es_index}-dotted", dotted, mappings=mappings)
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10))
        assert report.features["completion"].failover == 60
        assert report.features["generation"].primary == 20
        assert report.features["completion"].notes == []

    def test_text_only_mapping(self, es_client: Elasticsearch, es_index: str) -> None:
        """Text without a keyword form: the message matches by phrase, but counting is refused."""
        index_documents(
            es_client, f"{es_index}-a", completions(T0, 10, 30, "failover"), mappings=TEXT_ONLY
        )
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10), features=["completion"])
        completion = report.features["completion"]
        assert completion.verdict == "inconclusive"
        assert any(
            "json.jsonPayload.model_provider has no exact" in problem
            for problem in completion.problems
        )
        assert any("matched by phrase" in note for note in completion.notes)

    def test_null_and_unknown_providers(self, es_client: Elasticsearch, es_index: str) -> None:
        """Null, absent and unknown completion providers are primary per the runbook."""
        rng = random.Random(11)
        moments = list(spread(T0, 10, 30))
        documents = [gl.completion_doc(m, None, None, rng) for m in moments[:10]]
        documents += [
            gl.completion_doc(m, None, None, rng, include_provider=False) for m in moments[10:20]
        ]
        documents += [gl.completion_doc(m, "openai", "gpt-x", rng) for m in moments[20:]]
        index_gateway_records(es_client, f"{es_index}-a", documents)
        completion = _run(es_client, es_index, T0, T0 + timedelta(minutes=10)).features[
            "completion"
        ]
        assert completion.verdict == "primary"
        assert completion.by_provider == {"(none)": 20, "openai": 10}

    def test_unresolvable_generation_is_unclassified(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """A version nothing satisfies is unclassified, and the verdict inconclusive."""
        rng = random.Random(12)
        documents = [
            gl.registry_doc(moment, "code_suggestions/generations", "9.9.9", rng)
            for moment in spread(T0, 10, 30)
        ]
        index_gateway_records(es_client, f"{es_index}-a", documents)
        generation = _run(es_client, es_index, T0, T0 + timedelta(minutes=10)).features[
            "generation"
        ]
        assert (generation.verdict, generation.unclassified) == ("inconclusive", 30)
        assert generation.breakdown[0].resolution is not None
        assert generation.breakdown[0].resolution.status == "no_matching_version"


class TestPreflightAndPartialResults:
    def test_pattern_matching_nothing(self, es_client: Elasticsearch, es_index: str) -> None:
        """A pattern that matches no index is inconclusive and mentions the gprd spelling."""
        report = verify(es_client, since="15m", index=f"{es_index}-gprod-*")
        for feature in report.features.values():
            assert feature.verdict == "inconclusive"
            assert "matches no index" in feature.reason
            assert "gprd" in feature.reason
        assert report.requests == 1

    def test_not_gateway_logs(self, es_client: Elasticsearch, es_index: str) -> None:
        """An index without the message field is reported as such, not as no data."""
        index_documents(
            es_client, f"{es_index}-a", [{"@timestamp": T0.isoformat(), "msg": "hello"}]
        )
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10))
        assert all(
            "json.jsonPayload.message is not mapped" in f.reason for f in report.features.values()
        )

    def test_time_field_checked(self, es_client: Elasticsearch, es_index: str) -> None:
        """A time field that does not exist is named."""
        index_gateway_records(es_client, f"{es_index}-a", completions(T0, 10, 30, "failover"))
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10), time_field="event_time")
        assert "the time field event_time is not mapped" in report.features["completion"].reason

    def test_event_time_field(self, es_client: Elasticsearch, es_index: str) -> None:
        """The window can be applied to the event time instead of the ingest time."""
        index_gateway_records(es_client, f"{es_index}-a", completions(T0, 10, 30, "failover"))
        report = _run(
            es_client,
            es_index,
            T0,
            T0 + timedelta(minutes=10),
            time_field="json.jsonPayload.timestamp",
        )
        assert report.features["completion"].total == 30

    def test_failed_shards_are_inconclusive(self, es_client: Elasticsearch, es_index: str) -> None:
        """A conflicting mapping fails one index's shard: inconclusive, naming the index."""
        # Both mappings are aggregatable, so the plan passes and the shard itself fails.
        index_documents(
            es_client,
            f"{es_index}-good",
            completions(T0, 10, 30, "failover") + generations(T0, 10, 30, "failover"),
            mappings=KEYWORD,
        )
        create_index(
            es_client,
            f"{es_index}-conflict",
            {
                "properties": {
                    "@timestamp": {"type": "date"},
                    "json": {
                        "properties": {
                            "jsonPayload": {
                                "properties": {
                                    "prompt_id": {"type": "long"},
                                    "message": {
                                        "type": "text",
                                        "fields": {"keyword": {"type": "keyword"}},
                                    },
                                }
                            }
                        }
                    },
                }
            },
        )
        index_documents(
            es_client,
            f"{es_index}-conflict",
            [
                {
                    "@timestamp": T0.isoformat(),
                    "json": {
                        "jsonPayload": {
                            "message": "Returning prompt from the registry",
                            "prompt_id": 7,
                        }
                    },
                }
            ],
            create=False,
        )
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=10))
        generation = report.features["generation"]
        assert generation.verdict == "inconclusive"
        assert generation.complete is False
        assert generation.failed_indices == [f"{es_index}-conflict"]
        assert "1 of 2 shards failed" in generation.reason
        assert f"{es_index}-conflict" in generation.reason
        # Completion's registry records are searched by prompt id too, so its shard failed
        # there as well: the input records alone do not make a verdict.
        completion = report.features["completion"]
        assert completion.verdict == "inconclusive"
        assert completion.signals["input"].verdict == "failover"
        assert completion.failed_indices == [f"{es_index}-conflict"]

    def test_timed_out_is_inconclusive(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """A search the server reports as timed out gives inconclusive, never a verdict."""
        index_gateway_records(es_client, f"{es_index}-a", completions(T0, 10, 30, "failover"))

        def timed_out(body: dict[str, Any]) -> dict[str, Any]:
            for item in body["responses"]:
                item["timed_out"] = True
            return body

        proxy = FaultProxy(
            es_url, rule=lambda _m, path: Fault(rewrite=timed_out) if "_msearch" in path else None
        ).start()
        try:
            client = connect(ConnectionSettings.build(url=proxy.url))
            report = _run(client, es_index, T0, T0 + timedelta(minutes=10), features=["completion"])
        finally:
            proxy.stop()
        completion = report.features["completion"]
        assert (completion.verdict, completion.complete) == ("inconclusive", False)
        assert "timed out" in completion.reason


class TestCost:
    def test_requests_do_not_grow_with_documents(
        self, es_url: str, es_client: Elasticsearch, es_index: str
    ) -> None:
        """Verifying 10 or 100,000 matching documents sends the same requests of similar size."""
        small, large = f"{es_index}-small", f"{es_index}-large"
        index_documents(es_client, small, completions(T0, 10, 10, "failover"))
        minimal = (
            {
                "@timestamp": moment.isoformat(),
                "json": {
                    "jsonPayload": {
                        "message": "code completion input:",
                        "model_provider": "anthropic",
                        "model_name": "claude-sonnet-4-20250514",
                    }
                },
            }
            for moment in spread(T0, 10, 100_000)
        )
        index_documents(es_client, large, minimal)
        proxy = FaultProxy(es_url).start()
        try:
            client = connect(ConnectionSettings.build(url=proxy.url))
            measured = {}
            for name in (small, large):
                proxy.reset_counts()
                report = verify(
                    client, since=T0, until=T0 + timedelta(minutes=10), index=name, min_count=1
                )
                measured[name] = (
                    len(proxy.exchanges),
                    sum(e.response_bytes for e in proxy.exchanges),
                    report,
                )
        finally:
            proxy.stop()
        (small_requests, small_bytes, small_report), (large_requests, large_bytes, large_report) = (
            measured.values()
        )
        assert small_report.features["completion"].total == 10
        assert large_report.features["completion"].total == 100_000
        assert small_requests == large_requests == 2
        assert large_bytes < small_bytes * 1.5


class TestPinnedEdges:
    def test_records_past_the_group_cap_are_unclassified(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """Records in groups past the 500-group page are counted, as unclassified, with a note."""
        rng = random.Random(3)
        moments = list(spread(T0, 10, 700))
        documents = [
            gl.completion_doc(moment, "anthropic", f"claude-{number:04d}", rng)
            for number, moment in enumerate(moments)
        ]
        index_gateway_records(es_client, f"{es_index}-a", documents)
        # Ingest lags the event by up to 4 s: the window leaves room for the last records.
        report = _run(es_client, es_index, T0, T0 + timedelta(minutes=11), features=["completion"])
        completion = report.features["completion"]
        # Groups come sorted by key: the first 500 models are on the page, 200 are past it.
        assert (completion.total, completion.failover, completion.unclassified) == (700, 500, 200)
        assert len(completion.breakdown) == 500
        assert "200 records were not broken down" in " ".join(completion.notes)
        assert completion.verdict == "inconclusive"

    @pytest.mark.parametrize(
        ("threshold", "verdict"), [(0.85, "failover"), (0.86, "mixed"), (0.95, "mixed")]
    )
    def test_custom_threshold(
        self, es_client: Elasticsearch, es_index: str, threshold: float, verdict: str
    ) -> None:
        """The threshold given decides: 85% failover is failover at 0.85, mixed at 0.86."""
        documents = completions(T0, 10, 85, "failover") + completions(T0, 10, 15, "primary", seed=4)
        index_gateway_records(es_client, f"{es_index}-a", documents)
        report = _run(
            es_client,
            es_index,
            T0,
            T0 + timedelta(minutes=11),
            features=["completion"],
            threshold=threshold,
        )
        assert report.features["completion"].verdict == verdict
        assert report.threshold == threshold

    def test_time_field_decides_the_range(self, es_client: Elasticsearch, es_index: str) -> None:
        """The window applies to the chosen time field: event times an hour earlier count there."""
        documents = []
        for moment in spread(T0, 10, 30):
            document = gl.completion_doc(moment, "anthropic", "claude", random.Random(1))
            document["@timestamp"] = moment.isoformat()
            document["json"]["jsonPayload"]["timestamp"] = (moment - timedelta(hours=1)).isoformat()
            documents.append(document)
        index_gateway_records(es_client, f"{es_index}-a", documents)
        hour = timedelta(hours=1)
        by_event = _run(
            es_client,
            es_index,
            T0 - hour,
            T0 - hour + timedelta(minutes=10),
            features=["completion"],
            time_field="json.jsonPayload.timestamp",
        )
        assert by_event.features["completion"].total == 30
        assert by_event.time_field == "json.jsonPayload.timestamp"
        by_ingest = _run(
            es_client,
            es_index,
            T0 - hour,
            T0 - hour + timedelta(minutes=10),
            features=["completion"],
        )
        assert by_ingest.features["completion"].total == 0

    @pytest.mark.parametrize(
        ("pattern", "hint"),
        [
            ("pubsub-mlops-inf-gprod-*", "pubsub-mlops-inf-gprd-*"),
            ("pubsub-mlops-inf-gprd-*", "pubsub-mlops-inf-gprod-*"),
        ],
    )
    def test_spelling_hint_names_the_other_pattern(
        self, es_client: Elasticsearch, pattern: str, hint: str
    ) -> None:
        """A gprod/gprd pattern that matches nothing names the other spelling to try."""
        report = verify(es_client, since="15m", index=pattern)
        reason = report.features["completion"].reason
        assert f"the index pattern {pattern!r} matches no index" in reason
        assert hint in reason.split("matches no index", 1)[1]

    def test_no_spelling_hint_for_other_patterns(self, es_client: Elasticsearch) -> None:
        """A pattern without either spelling gets no spelling hint."""
        report = verify(es_client, since="15m", index="nothing-here-*")
        reason = report.features["completion"].reason
        assert reason == "the index pattern 'nothing-here-*' matches no index"


class TestLibraryValidation:
    @pytest.mark.parametrize("threshold", [0.4, 0.5, 1.0001, 2.0])
    def test_threshold_out_of_range_is_refused(
        self, es_client: Elasticsearch, threshold: float
    ) -> None:
        """verify and Verifier refuse a threshold at or below 0.5 or above 1."""
        with pytest.raises(UsageError, match="threshold"):
            verify(es_client, since="15m", threshold=threshold)
        with pytest.raises(UsageError, match="threshold"):
            Verifier(es_client, threshold=threshold)

    @pytest.mark.parametrize("threshold", [0.5001, 1.0])
    def test_threshold_in_range_is_accepted(
        self, es_client: Elasticsearch, threshold: float
    ) -> None:
        """Just above 0.5, and exactly 1, are accepted."""
        assert Verifier(es_client, threshold=threshold).judge.threshold == threshold

    @pytest.mark.parametrize("min_count", [0, -1])
    def test_min_count_below_one_is_refused(self, es_client: Elasticsearch, min_count: int) -> None:
        """A minimum count below 1 is refused by verify, Verifier and verify_hits."""
        with pytest.raises(UsageError, match="minimum count"):
            verify(es_client, since="15m", min_count=min_count)
        with pytest.raises(UsageError, match="minimum count"):
            Verifier(es_client, min_count=min_count)
        with pytest.raises(UsageError, match="minimum count"):
            verify_hits([], since="15m", min_count=min_count)

    def test_offline_threshold_is_checked(self) -> None:
        """verify_hits and timeline_hits refuse a threshold of 0.4."""
        with pytest.raises(UsageError, match="threshold"):
            verify_hits([], since="15m", threshold=0.4)
        with pytest.raises(UsageError, match="threshold"):
            timeline_hits([], since="15m", threshold=0.4)

    def test_timeline_threshold_is_checked(self, es_client: Elasticsearch) -> None:
        """timeline refuses a threshold of 0.4 before sending anything."""
        with pytest.raises(UsageError, match="threshold"):
            timeline(es_client, since="15m", threshold=0.4)


class TestLibrarySurface:
    def test_verifier_takes_the_same_window_forms(
        self, es_client: Elasticsearch, es_index: str
    ) -> None:
        """Verifier.verify takes since/until as strings, datetimes or a TimeWindow, alike."""
        index_gateway_records(es_client, f"{es_index}-a", completions(T0, 10, 30, "failover"))
        verifier = Verifier(es_client, index=f"{es_index}*")
        end = T0 + timedelta(minutes=11)
        by_datetimes = verifier.verify(T0, end, features=["completion"])
        by_strings = verifier.verify(T0.isoformat(), end.isoformat(), features=["completion"])
        by_relative = verifier.verify("11m", features=["completion"], now=end)
        by_window = verifier.verify(parse_window(T0, end), features=["completion"])
        for report in (by_datetimes, by_strings, by_relative, by_window):
            assert report.window.start == T0
            assert report.features["completion"].total == 30
        with pytest.raises(UsageError, match="until="):
            verifier.verify(parse_window(T0, end), end)

    def test_export_hits_is_public(self, es_client: Elasticsearch, es_index: str) -> None:
        """fv.export_hits streams what a verification counts, without users' code."""
        documents = completions(T0, 10, 30, "failover") + generations(T0, 10, 12, "primary")
        index_gateway_records(es_client, f"{es_index}-a", documents)
        totals: list[int] = []
        hits = list(
            export_hits(
                es_client,
                since=T0,
                until=T0 + timedelta(minutes=11),
                index=f"{es_index}*",
                features=["completion"],
                on_total=totals.append,
            )
        )
        assert totals == [30]
        assert len(hits) == 30
        payload = hits[0]["_source"]["json"]["jsonPayload"]
        assert payload["message"] == "code completion input:"
        assert "prefix" not in payload
        assert "api_key" not in payload
