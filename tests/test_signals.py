"""Today's gateway on the real node: every signal counted on its own, then combined; and how
each signal turns its records' values into facts the policy reads (offline)."""

from __future__ import annotations

import io
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import prison
import pytest
from elasticsearch import Elasticsearch

import failover_verify as fv
import gateway_logs as gl
from esdata import index_gateway_records, load_fixture, spread
from failover_verify._cli import main
from failover_verify._gateway import GatewayFacts
from failover_verify._records import ServedRecord, parse_hit
from failover_verify._report import SignalReport
from failover_verify._signals import SIGNALS, Condition, Signal
from failover_verify._summary import Group, Judge, Tally

ROOT = Path(__file__).resolve().parent.parent
TODAY = ROOT / "fixtures" / "incident-2026-11.ndjson"
ERA = gl.ERAS["2026-11"]
START = ERA.start
FLIP = START + timedelta(minutes=gl.FLIP)
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
FEB_2026 = datetime(2026, 2, 1, tzinfo=UTC)
GPRD_DATA_VIEW = "8cd9c4c0-f0a7-11ed-a017-0d32180b1390"


def _hits() -> list[dict[str, Any]]:
    return [hit for hit in fv.read_ndjson(TODAY) if isinstance(hit, dict)]


def _load(client: Elasticsearch, prefix: str) -> None:
    # Into a production-shaped index behind the alias <prefix>-gprd, as local-es loads it.
    assert load_fixture(client, TODAY, f"{prefix}-gprd") == len(_hits())


def _raw(hits: list[dict[str, Any]], since: datetime, until: datetime) -> dict[str, int]:
    """Records per signal in a window, counted straight from the documents."""
    counts = dict.fromkeys(
        [
            "completion.served",
            "completion.registry",
            "completion.input",
            "generation.served",
            "generation.registry",
        ],
        0,
    )
    for hit in hits:
        source = hit["_source"]
        moment = datetime.fromisoformat(source["@timestamp"])
        if not since <= moment < until:
            continue
        payload = source["json"]["jsonPayload"]
        message, prompt = payload["message"], payload.get("prompt_id", "")
        if message == "code completion input:":
            counts["completion.input"] += 1
        elif message == "Request to LLM complete" and payload.get("unit_primitive"):
            feature = "completion" if payload["unit_primitive"] == "complete_code" else "generation"
            counts[f"{feature}.served"] += 1
        elif message == "Returning prompt from the registry":
            feature = (
                "completion" if prompt.startswith("code_suggestions/completions") else "generation"
            )
            counts[f"{feature}.registry"] += 1
    return counts


def _signal_totals(report: fv.Report) -> dict[str, int]:
    return {
        f"{name}.{key}": signal.total
        for name, feature in report.features.items()
        for key, signal in feature.signals.items()
    }


class TestTodaysIncident:
    @pytest.mark.parametrize(
        ("since", "until", "verdict"),
        [
            (START, FLIP, "primary"),
            (
                FLIP + timedelta(minutes=gl.ROLLOUT),
                START + timedelta(minutes=gl.FLIP_BACK),
                "failover",
            ),
        ],
        ids=["before-the-flip", "failover"],
    )
    def test_every_signal_counted(
        self,
        es_client: Elasticsearch,
        es_index: str,
        since: datetime,
        until: datetime,
        verdict: str,
    ) -> None:
        """Each signal of each feature is counted exactly; served records decide, registry
        and input records agree; the same on the node as offline."""
        _load(es_client, es_index)
        online = fv.verify(es_client, since=since, until=until, index=f"{es_index}-*")
        offline = fv.verify_hits(_hits(), since=since, until=until)
        expected = _raw(_hits(), since, until)
        assert _signal_totals(online) == expected
        assert _signal_totals(offline) == expected
        for feature in online.features.values():
            assert (feature.verdict, feature.decided_by, feature.agreement) == (
                verdict,
                "served",
                "agree",
            )
            assert {s.verdict for s in feature.signals.values()} == {verdict}
            assert feature.total == feature.signals["served"].total

    def test_errors_per_model(self, es_client: Elasticsearch, es_index: str) -> None:
        """Before the flip the primary model fails about 30% of calls, the failover none after."""
        _load(es_client, es_index)
        before = fv.verify(es_client, since=START, until=FLIP, index=f"{es_index}-*")
        errors = before.features["completion"].errors_by_model["codestral-2508"]
        raw = [
            hit["_source"]["json"]["jsonPayload"]
            for hit in _hits()
            if START <= datetime.fromisoformat(hit["_source"]["@timestamp"]) < FLIP
        ]
        served = [p for p in raw if p.get("unit_primitive") == "complete_code"]
        failed = [p for p in served if p["error"] == "yes"]
        assert (errors.calls, errors.errors) == (len(served), len(failed))
        assert 0.2 < (errors.error_share or 0) < 0.4
        after = fv.verify(
            es_client,
            since=FLIP + timedelta(minutes=5),
            until=FLIP + timedelta(minutes=30),
            index=f"{es_index}-*",
        )
        claude = after.features["completion"].errors_by_model["claude-sonnet-4-5-20250929"]
        assert (claude.errors, claude.error_share) == (0, 0.0)

    def test_same_provider_said_plainly(self, es_client: Elasticsearch, es_index: str) -> None:
        """The report says that today's generation failover does not leave Vertex."""
        _load(es_client, es_index)
        report = fv.verify(es_client, since=START, until=FLIP, index=f"{es_index}-*")
        notes = " ".join(report.features["generation"].notes)
        assert "the generation failover does not move traffic off vertex_ai" in notes
        assert "2.0.0 -> claude_sonnet_4_5_20250929_vertex" in notes


def _completion_registry(moments: list[datetime], role: str) -> list[dict[str, Any]]:
    primary, failover = ERA.completion_registry or ({}, {})
    fields = failover if role == "failover" else primary
    rng = random.Random(5)
    return [
        gl.registry_doc(moment, "code_suggestions/completions", "^1.0.0", rng, **fields)
        for moment in moments
    ]


def _served(moments: list[datetime], unit: str, role: str) -> list[dict[str, Any]]:
    assert ERA.served is not None
    engine, model = ERA.served[unit][1 if role == "failover" else 0]
    rng = random.Random(6)
    return [gl.served_doc(moment, unit, engine, model, rng) for moment in moments]


class TestSignalsAlone:
    def test_registry_only_completions(self, es_client: Elasticsearch, es_index: str) -> None:
        """Without expanded logging, registry records alone decide completion: not no data."""
        moments = list(spread(T0, 10, 40))
        index_gateway_records(es_client, f"{es_index}-a", _completion_registry(moments, "failover"))
        report = fv.verify(
            es_client, since=T0, until=T0 + timedelta(minutes=11), index=f"{es_index}-*"
        )
        completion = report.features["completion"]
        assert (completion.verdict, completion.decided_by, completion.total) == (
            "failover",
            "registry",
            40,
        )
        assert completion.signals["input"].standing == "no_data"
        assert completion.by_provider == {"anthropic": 40}

    def test_served_only_decides(self, es_client: Elasticsearch, es_index: str) -> None:
        """Served records alone decide both features."""
        moments = list(spread(T0, 10, 30))
        documents = _served(moments, "complete_code", "primary") + _served(
            moments, "generate_code", "failover"
        )
        index_gateway_records(es_client, f"{es_index}-a", documents)
        report = fv.verify(
            es_client, since=T0, until=T0 + timedelta(minutes=11), index=f"{es_index}-*"
        )
        verdicts = {name: (f.verdict, f.decided_by, f.total) for name, f in report.features.items()}
        assert verdicts == {
            "completion": ("primary", "served", 30),
            "generation": ("failover", "served", 30),
        }

    def test_disagreeing_signals(self, es_client: Elasticsearch, es_index: str) -> None:
        """Served records on the primary and registry records on the failover: inconclusive,
        with both named; exit 3 from the command line."""
        moments = list(spread(T0, 10, 30))
        documents = _served(moments, "complete_code", "primary")
        documents += _completion_registry(moments, "failover")
        index_gateway_records(es_client, f"{es_index}-a", documents)
        report = fv.verify(
            es_client, since=T0, until=T0 + timedelta(minutes=11), index=f"{es_index}-*"
        )
        completion = report.features["completion"]
        assert (completion.verdict, completion.agreement) == ("inconclusive", "disagree")
        assert "served says primary" in completion.reason
        assert "registry says failover" in completion.reason


class TestDefaultIndex:
    @pytest.fixture
    def gprd_index(self, es_client: Elasticsearch) -> Iterator[str]:
        """A rollover alias whose indices the default pattern matches, removed afterwards."""
        name = f"pubsub-mlops-inf-gprd-test-{uuid.uuid4().hex[:8]}"
        yield name
        # By name: wildcard deletes are refused (action.destructive_requires_name).
        indices = list(es_client.indices.get(index=f"{name}-*", expand_wildcards="all"))
        if indices:
            es_client.indices.delete(index=",".join(indices))

    def test_finds_gprd_without_index(
        self, es_url: str, es_client: Elasticsearch, gprd_index: str
    ) -> None:
        """With no --index, records in a pubsub-mlops-inf-gprd-* index are found and counted."""
        moments = list(spread(T0, 10, 25))
        index_gateway_records(es_client, gprd_index, _served(moments, "complete_code", "failover"))
        out, err = io.StringIO(), io.StringIO()
        code = main(
            [
                "status",
                "--feature",
                "completion",
                "--since",
                T0.isoformat(),
                "--until",
                (T0 + timedelta(minutes=11)).isoformat(),
                "--json",
            ],
            env={"ES_URL": es_url},
            stdout=out,
            stderr=err,
        )
        report = json.loads(out.getvalue())
        assert code == 0, err.getvalue()
        assert report["index"] == "pubsub-mlops-inf-gprd-*,pubsub-mlops-inf-gprod-*"
        assert report["features"]["completion"]["signals"]["served"]["total"] == 25
        # Its Kibana link opens GitLab's data view for the gprd indices, by id.
        fragment = urlsplit(report["features"]["completion"]["kibana_url"]).fragment[2:]
        state = dict(part.split("=", 1) for part in fragment.split("&"))
        assert prison.loads(unquote(state["_a"]))["index"] == GPRD_DATA_VIEW
        assert report["features"]["completion"]["verdict"] == "failover"


JUDGE = Judge(fv.Policy.default(), GatewayFacts.bundled(), 0.95, 1, "https://kibana.example", "x")
COMPLETION_REGISTRY = SIGNALS[1]


def _judge(policy: str) -> Judge:
    """A judge with a custom policy, the bundled facts and a min count of one."""
    return Judge(
        fv.Policy.from_toml(policy, source="test"),
        GatewayFacts.bundled(),
        0.95,
        1,
        "https://kibana.example",
        "x",
    )


def _registry_report(
    values: dict[str, str | None], at: datetime, judge: Judge = JUDGE
) -> SignalReport:
    window = fv.TimeWindow(start=at, end=at + timedelta(minutes=1))
    group = Group(values, 4, at, at)
    return judge.signal_report(COMPLETION_REGISTRY, [group], Tally(total=4), window, None)


def _registry_values(
    provider: str | None, identifier: str | None, prompt_name: str | None = None
) -> dict[str, str | None]:
    return {
        "model_class_provider": provider,
        "model_identifier": identifier,
        "prompt_name": prompt_name,
    }


class TestCompletionRegistryFacts:
    @pytest.mark.parametrize(
        ("values", "at", "provider", "model", "role"),
        [
            (
                _registry_values("litellm_completion", "codestral_2508_fireworks"),
                T0,
                "fireworks_ai",
                "codestral_2508_fireworks",
                "primary",
            ),
            # codestral_2501_vertex left models.yml in 2026-02: by its era's facts, it is Vertex.
            (
                _registry_values("litellm_completion", "codestral_2501_vertex"),
                datetime(2026, 1, 20, tzinfo=UTC),
                "vertex_ai",
                "codestral_2501_vertex",
                "primary",
            ),
            (
                _registry_values("litellm_completion", "codestral_2501_vertex"),
                T0,
                "(litellm_completion)",
                "codestral_2501_vertex",
                "primary",
            ),
            (
                _registry_values("anthropic", None, "claude_completion"),
                T0,
                "anthropic",
                "claude_completion",
                "failover",
            ),
            (_registry_values(None, None), T0, "(unresolved)", "(none)", "unclassified"),
            # Before the first era of facts nothing names the provider.
            (
                _registry_values("litellm_completion", "codestral_2501_vertex"),
                datetime(2020, 1, 1, tzinfo=UTC),
                "(litellm_completion)",
                "codestral_2501_vertex",
                "primary",
            ),
        ],
    )
    def test_provider_and_model_shown(
        self, values: dict[str, str | None], at: datetime, provider: str, model: str, role: str
    ) -> None:
        """Registry completions show the provider of their model in their era's facts, else
        the anthropic class's own API, else the class in parentheses; the model is the
        identifier, else the prompt name."""
        report = _registry_report(values, at)
        assert report.by_provider == {provider: 4}
        assert report.by_model == {model: 4}
        assert report.breakdown[0].role == role

    def test_custom_rules_see_the_model_facts(self) -> None:
        """A custom policy can test a registry completion's model, family, provider and
        prompt name."""
        judge = _judge(
            """
schema = 1
[completion]
[[completion.rules]]
role = "failover"
model = ["claude_sonnet_4_6_vertex"]
family = ["claude"]
provider = ["vertex_ai"]
[[completion.rules]]
role = "primary"
prompt_name = ["codestral_*"]
[generation]
[[generation.rules]]
role = "primary"
prompt_version = ["*"]
"""
        )
        claude = _registry_values("litellm", "claude_sonnet_4_6_vertex")
        assert _registry_report(claude, T0, judge).breakdown[0].role == "failover"
        codestral = _registry_values("litellm", "unknown_model", "codestral_fim")
        assert _registry_report(codestral, T0, judge).breakdown[0].role == "primary"
        other = _registry_values("litellm", "claude_sonnet_4_6", "claude")
        assert _registry_report(other, T0, judge).breakdown[0].role == "unclassified"


class TestSignalDefinitions:
    @pytest.mark.parametrize(
        ("signal", "conditions"),
        [
            (
                SIGNALS[0],
                [
                    ("json.jsonPayload.message", ("Request to LLM complete",), "equals"),
                    ("json.jsonPayload.unit_primitive", ("complete_code",), "equals"),
                ],
            ),
            (
                SIGNALS[3],
                [
                    ("json.jsonPayload.message", ("Request to LLM complete",), "equals"),
                    ("json.jsonPayload.unit_primitive", ("generate_code",), "equals"),
                ],
            ),
            (
                SIGNALS[4],
                [
                    ("json.jsonPayload.message", ("Returning prompt from the registry",), "equals"),
                    ("json.jsonPayload.prompt_id", ("code_suggestions/generations",), "under"),
                ],
            ),
            (SIGNALS[2], [("json.jsonPayload.message", ("code completion input:",), "equals")]),
        ],
    )
    def test_filters(
        self, signal: Signal, conditions: list[tuple[str, tuple[str, ...], str]]
    ) -> None:
        """Each signal selects its message and, where it has one, its unit primitive or
        prompt ids."""
        found = signal.conditions(signal.defaults())
        assert [(item.field, item.values, item.kind) for item in found] == conditions


def _served_report(
    signal: Signal, engine: str | None, name: str | None, at: datetime, judge: Judge = JUDGE
) -> SignalReport:
    window = fv.TimeWindow(start=at, end=at + timedelta(minutes=1))
    group = Group({"model_engine": engine, "model_name": name, "error": "no"}, 4, at, at)
    return judge.signal_report(signal, [group], Tally(total=4), window, None)


class TestServedFacts:
    @pytest.mark.parametrize(
        ("engine", "name", "at", "provider"),
        [
            # Both the anthropic and the vertex model log claude-sonnet-4-6: the engine decides.
            ("anthropic-chat", "claude-sonnet-4-6", T0, "anthropic"),
            ("litellm", "claude-sonnet-4-6", T0, "vertex_ai"),
            (None, "claude-sonnet-4-6", T0, "(unresolved)"),
            ("litellm", "codestral-2508", T0, "fireworks_ai"),
            # Sonnet 4 on Vertex left models.yml in 2026-05; in its era it is known.
            ("litellm", "claude-sonnet-4@20250514", datetime(2026, 1, 20, tzinfo=UTC), "vertex_ai"),
            ("litellm", "claude-sonnet-4@20250514", T0, "(unresolved)"),
        ],
    )
    def test_provider_by_engine_and_era(
        self, engine: str | None, name: str, at: datetime, provider: str
    ) -> None:
        """A served record's provider is its model's in its era's facts, the engine telling
        apart models of one name; a name the facts cannot pin stays unresolved."""
        for signal in (SIGNALS[0], SIGNALS[3]):
            report = _served_report(signal, engine, name, at)
            assert report.by_provider == {provider: 4}
            assert report.by_model == {name: 4}

    def test_no_model_name(self) -> None:
        """A served record without a model name is shown as (none), unresolved, unclassified."""
        report = _served_report(SIGNALS[0], "litellm", None, T0)
        assert (report.by_provider, report.by_model) == ({"(unresolved)": 4}, {"(none)": 4})
        assert report.unclassified == 4

    def test_custom_rules_see_the_model_facts(self) -> None:
        """A custom policy can test a served record's engine, model, family and provider."""
        judge = _judge(
            """
schema = 1
[completion]
[[completion.rules]]
role = "failover"
model_engine = ["anthropic-chat"]
model = ["claude_sonnet_4_6"]
family = ["claude"]
provider = ["anthropic"]
[[completion.rules]]
role = "primary"
model = ["<none>"]
family = ["<none>"]
provider = ["<none>"]
[generation]
[[generation.rules]]
role = "primary"
prompt_version = ["*"]
"""
        )
        claude = _served_report(SIGNALS[0], "anthropic-chat", "claude-sonnet-4-6", T0, judge)
        assert claude.failover == 4
        unknown = _served_report(SIGNALS[0], "litellm", "mystery", T0, judge)
        assert unknown.primary == 4
        vertex = _served_report(SIGNALS[0], "litellm", "claude-sonnet-4-6", T0, judge)
        assert vertex.unclassified == 4


class TestServedGenerations:
    """A served generation is judged by which requested version's model it is, in the era
    of the call (the default policy: 2.0.0 failover, ^1.0.0 primary)."""

    @pytest.mark.parametrize(
        ("name", "role", "rule"),
        [
            (
                "claude-sonnet-4-6",
                "primary",
                "the served model is the one ^1.0.0 resolves to in the record's era",
            ),
            (
                "claude-sonnet-4-5@20250929",
                "failover",
                "the served model is the one prompt version 2.0.0 resolves to in the record's era",
            ),
            (
                "mystery",
                "unclassified",
                (
                    "no policy rule matches; model mystery is not what any of 2.0.0, ^1.0.0 "
                    "resolve to in this era"
                ),
            ),
            (
                None,
                "unclassified",
                (
                    "no policy rule matches; model (none) is not what any of 2.0.0, ^1.0.0 "
                    "resolve to in this era"
                ),
            ),
        ],
    )
    def test_by_version(self, name: str | None, role: str, rule: str) -> None:
        report = _served_report(SIGNALS[3], "litellm", name, T0)
        assert (report.breakdown[0].role, report.breakdown[0].rule) == (role, rule)
        assert report.standing == ("unmatched" if role == "unclassified" else "definite")

    def test_matched_version_without_a_rule(self) -> None:
        """A served record that is one version's model, under a policy with no rule for that
        version, is unmatched with nothing more to say: neither indistinct nor explained."""
        judge = _judge(
            """
schema = 1
[completion]
[[completion.rules]]
role = "primary"
model_name = ["*"]
[generation]
versions = ["2.0.0", "^1.0.0"]
[[generation.rules]]
role = "failover"
as_version = ["2.0.0"]
"""
        )
        report = _served_report(SIGNALS[3], "litellm", "claude-sonnet-4-6", T0, judge)
        assert (report.standing, report.breakdown[0].rule) == (
            "unmatched",
            "no policy rule matches",
        )

    def test_one_model_for_both_versions(self) -> None:
        """From 2026-01-07 to 2026-04 both versions resolved to Claude Sonnet 4 on Vertex:
        its served records cannot tell the roles apart, and the signal says so."""
        report = _served_report(SIGNALS[3], "litellm", "claude-sonnet-4@20250514", FEB_2026)
        assert report.standing == "indistinct"
        assert report.breakdown[0].rule == (
            "no policy rule matches; in this era 2.0.0 and ^1.0.0 resolve to the same model "
            "claude-sonnet-4@20250514, so served records cannot tell the roles apart"
        )
        assert report.by_provider == {"vertex_ai": 4}


def _report(signal: Signal, values: dict[str, str | None], judge: Judge = JUDGE) -> SignalReport:
    window = fv.TimeWindow(start=T0, end=T0 + timedelta(minutes=1))
    group = Group(values, 4, T0, T0)
    return judge.signal_report(signal, [group], Tally(total=4), window, None)


def _generation_registry(
    version: str, identifier: str | None = None, class_provider: str | None = None
) -> dict[str, str | None]:
    return {
        "prompt_id": "code_suggestions/generations",
        "prompt_version": version,
        "model_identifier": identifier,
        "model_class_provider": class_provider,
    }


class TestConditions:
    def test_equals(self) -> None:
        condition = Condition("json.jsonPayload.unit_primitive", ("complete_code",))
        assert condition.holds("complete_code")
        assert not condition.holds("complete_code/x")
        assert not condition.holds(None)

    def test_under(self) -> None:
        condition = Condition(
            "json.jsonPayload.prompt_id", ("code_suggestions/generations",), "under"
        )
        assert condition.holds("code_suggestions/generations")
        assert condition.holds("code_suggestions/generations/base")
        assert not condition.holds("code_suggestions/generations_v2")


class TestValuesOfRecords:
    def test_absent_fields_are_none(self) -> None:
        """A record read one by one gives its group values as a bucket would: an absent
        field is None, not the text "None"."""
        hit = {
            "_index": "logs-1",
            "_id": "a",
            "_source": {
                "json": {
                    "jsonPayload": {
                        "message": "Request to LLM complete",
                        "unit_primitive": "generate_code",
                        "model_engine": "litellm-chat",
                    }
                }
            },
        }
        record = parse_hit(hit)
        assert isinstance(record, ServedRecord)
        served = SIGNALS[3]
        assert served.picks(record, served.defaults())
        assert not SIGNALS[0].picks(record, SIGNALS[0].defaults())
        assert served.values_of(record) == {
            "model_engine": "litellm-chat",
            "model_name": None,
            "error": None,
        }


class TestCompletionInputFacts:
    def test_provider_and_model_from_the_record(self) -> None:
        report = _report(
            SIGNALS[2], {"model_provider": "vertex-ai", "model_name": "codestral-2501"}
        )
        assert (report.by_provider, report.by_model) == (
            {"vertex-ai": 4},
            {"codestral-2501": 4},
        )

    def test_custom_rules_see_the_model_name(self) -> None:
        judge = _judge(
            """
schema = 1
[completion]
[[completion.rules]]
role = "failover"
model_name = ["claude-*"]
[generation]
[[generation.rules]]
role = "primary"
prompt_version = ["*"]
"""
        )
        values: dict[str, str | None] = {
            "model_provider": "anthropic",
            "model_name": "claude-3-5-haiku",
        }
        assert _report(SIGNALS[2], values, judge).failover == 4


class TestGenerationRegistryFacts:
    def test_the_records_identifier_decides(self) -> None:
        """A registry generation's own model_identifier and class reach the facts."""
        report = _report(SIGNALS[4], _generation_registry("^1.0.0", "claude_made_up", "anthropic"))
        assert report.by_provider == {"anthropic": 4}
        assert report.by_model == {"claude_made_up": 4}

    def test_unresolved_version_says_why(self) -> None:
        report = _report(SIGNALS[4], _generation_registry("^9.0.0"))
        assert report.breakdown[0].role == "unclassified"
        assert report.breakdown[0].rule == (
            "no policy rule matches; prompt version not resolved: "
            "LEGACY_MODEL_MAPPING['code_suggestions/generations']['^9.0.0'] is absent, so the "
            "default of feature setting code_generations is claude_sonnet_4_6_vertex, but no "
            "version file in code_suggestions/generations/base satisfies '^9.0.0' (1.0.0, "
            "1.0.1, 1.0.2, 1.1.0, 1.1.0-dev, 1.2.0, 1.2.0-dev, 2.0.0, 2.0.1, 2.0.2, 2.0.2-dev, "
            "2.0.3, 3.0.2-dev), so the gateway could not have served it, per ai-assist main "
            "b0bec742d (2026-06-12)."
        )

    def test_resolved_version_adds_no_reason(self) -> None:
        """A resolved record no rule matches is unmatched with no more said."""
        judge = _judge(
            """
schema = 1
[completion]
[[completion.rules]]
role = "primary"
model_name = ["*"]
[generation]
[[generation.rules]]
role = "primary"
prompt_version = ["0.0.1"]
"""
        )
        report = _report(SIGNALS[4], _generation_registry("2.0.0"), judge)
        assert report.breakdown[0].rule == "no policy rule matches"

    @pytest.mark.parametrize(
        ("rule", "matches"),
        [
            ('provider = ["vertex_ai"]', True),
            ('provider = ["anthropic"]', False),
            ('model = ["claude_sonnet_4_6_vertex"]', True),
            ('family = ["claude"]', True),
            ('family = ["<none>"]', False),
            ('resolved_version = ["1.2.0"]', True),
            ('resolved_version = ["2.0.0"]', False),
        ],
    )
    def test_custom_rules_see_the_resolution(self, rule: str, matches: bool) -> None:
        """A custom policy can test a registry generation's provider, model, family and
        resolved version (today ^1.0.0 with claude_sonnet_4_6_vertex: Vertex, file 1.2.0)."""
        judge = _judge(
            f"""
schema = 1
[completion]
[[completion.rules]]
role = "primary"
model_name = ["*"]
[generation]
[[generation.rules]]
role = "failover"
{rule}
"""
        )
        values = _generation_registry("^1.0.0", "claude_sonnet_4_6_vertex", "litellm")
        assert (_report(SIGNALS[4], values, judge).failover == 4) is matches
