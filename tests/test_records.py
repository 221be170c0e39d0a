from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

import gateway_logs as gl
from failover_verify._records import (
    CompletionRecord,
    ParseProblem,
    RegistryRecord,
    ServedRecord,
    parse_hit,
)

WHEN = datetime(2026, 1, 21, 9, 30, tzinfo=UTC)


def _hit(source: dict[str, Any], *, doc_id: str = "d1") -> dict[str, Any]:
    return {"_index": "pubsub-mlops-inf-gprod-2026.01.21", "_id": doc_id, "_source": source}


def _completion(provider: str | None = "anthropic", **kwargs: Any) -> dict[str, Any]:
    return gl.completion_doc(WHEN, provider, "claude-sonnet-4-20250514", random.Random(1), **kwargs)


def _fields_api(document: dict[str, Any]) -> dict[str, Any]:
    flat = gl.dotted(document)
    return {key: value if isinstance(value, list) else [value] for key, value in flat.items()}


class TestCompletionRecord:
    def test_nested_source(self) -> None:
        """A nested document parses into a completion record with its times and context."""
        record = parse_hit(_hit(_completion()))
        assert isinstance(record, CompletionRecord)
        assert record.model_provider == "anthropic"
        assert record.model_name == "claude-sonnet-4-20250514"
        assert record.event_time == WHEN
        assert record.ingest_time is not None
        assert record.ingest_time > WHEN
        assert record.logger == "codesuggestions"
        assert record.service_name == "ai-gateway"
        assert record.correlation_id is not None
        assert record.gitlab_context["gitlab_host_name"] == "gitlab.com"
        assert (record.index, record.id) == ("pubsub-mlops-inf-gprod-2026.01.21", "d1")

    def test_dotted_and_fields_shapes_agree(self) -> None:
        """Dotted keys in _source and the flat fields API give the same record as nesting."""
        document = _completion()
        nested = parse_hit(_hit(document))
        from_dotted = parse_hit(_hit(gl.dotted(document)))
        from_fields = parse_hit(
            {
                "_index": "pubsub-mlops-inf-gprod-2026.01.21",
                "_id": "d1",
                "fields": _fields_api(document),
            }
        )
        assert nested == from_dotted == from_fields

    def test_mixed_nesting(self) -> None:
        """A document that mixes nested objects and dotted keys is read as one."""
        document = _completion()
        payload = document["json"].pop("jsonPayload")
        document["json"].update({f"jsonPayload.{key}": value for key, value in payload.items()})
        record = parse_hit(_hit(document))
        assert isinstance(record, CompletionRecord)
        assert record.model_provider == "anthropic"

    @pytest.mark.parametrize("include", [True, False])
    def test_provider_missing_or_null(self, include: bool) -> None:
        """model_provider may be null or absent; both read as None."""
        record = parse_hit(_hit(_completion(None, include_provider=include)))
        assert isinstance(record, CompletionRecord)
        assert record.model_provider is None

    def test_api_key_is_never_read(self) -> None:
        """The record's api_key field is ignored, even when a value is present."""
        document = _completion()
        document["json"]["jsonPayload"]["api_key"] = "sk-ant-planted-secret"
        record = parse_hit(_hit(document))
        assert isinstance(record, CompletionRecord)
        assert "planted" not in repr(record)
        assert "planted" not in record.model_dump_json()

    def test_code_kept_out_of_repr(self) -> None:
        """Users' code (prefix, suffix, prompt) is kept but not shown in the repr."""
        record = parse_hit(_hit(_completion()))
        assert isinstance(record, CompletionRecord)
        assert record.prefix
        assert record.prefix not in repr(record)


class TestRegistryRecord:
    def test_early_era(self) -> None:
        """A 2025-01 era record has prompt id, name and version, and nothing newer."""
        document = gl.registry_doc(
            WHEN, "code_suggestions/generations/base", "^1.0.0", random.Random(2)
        )
        record = parse_hit(_hit(document))
        assert isinstance(record, RegistryRecord)
        assert (record.prompt_id, record.prompt_version) == (
            "code_suggestions/generations/base",
            "^1.0.0",
        )
        assert record.model_identifier is None
        assert record.model_class_provider is None
        assert record.enabled_by_namespace_ids is None

    def test_late_era(self) -> None:
        """A 2025-10 era record carries model identifier, class provider and namespaces."""
        document = gl.registry_doc(
            WHEN,
            "code_suggestions/generations",
            "2.0.0",
            random.Random(3),
            model_identifier="claude_3_5_sonnet_20240620_vertex",
            model_class_provider="litellm",
            namespace_ids=[9970, 42],
        )
        record = parse_hit(_hit(gl.dotted(document)))
        assert isinstance(record, RegistryRecord)
        assert record.model_class_provider == "litellm"
        assert record.model_identifier == "claude_3_5_sonnet_20240620_vertex"
        assert record.enabled_by_namespace_ids == [9970, 42]
        assert "gitlab_feature_enabled_by_namespace_ids" not in record.gitlab_context


class TestOtherAndBroken:
    def test_other_message_is_not_counted(self) -> None:
        """Other gateway messages are skipped (None), not reported as problems."""
        document = gl.other_doc(WHEN, random.Random(4))
        document["json"]["jsonPayload"]["message"] = "200 POST /v2/code/completions"
        assert parse_hit(_hit(document)) is None
        assert parse_hit(_hit({"@timestamp": "2026-01-21T09:30:00Z"})) is None

    def test_served_record_without_model_fields(self) -> None:
        """A "Request to LLM complete" record from before 2026-07 reads with its fields empty."""
        document = gl.other_doc(WHEN, random.Random(4))
        document["json"]["jsonPayload"]["message"] = "Request to LLM complete"
        record = parse_hit(_hit(document))
        assert isinstance(record, ServedRecord)
        assert (record.unit_primitive, record.model_name, record.error) == (None, None, None)

    def test_served_record(self) -> None:
        """A served record of today reads every model field; boolean flags become yes/no."""
        document = gl.served_doc(
            WHEN, "generate_code", "litellm-chat", "claude-sonnet-4-6", random.Random(1), error=True
        )
        document["json"]["jsonPayload"]["streaming"] = True
        record = parse_hit(_hit(document))
        assert isinstance(record, ServedRecord)
        assert (record.unit_primitive, record.model_engine, record.model_name) == (
            "generate_code",
            "litellm-chat",
            "claude-sonnet-4-6",
        )
        assert (record.error, record.streaming) == ("yes", "yes")

    @pytest.mark.parametrize(
        ("mutate", "reason"),
        [
            (lambda p: p.update(model_provider=7), "json.jsonPayload.model_provider"),
            (lambda p: p.update(timestamp="not a time"), "json.jsonPayload.timestamp"),
            (lambda p: p.update(stream="sometimes"), "json.jsonPayload.stream"),
            (lambda p: p.update(message=["code completion input:"]), "not text"),
        ],
    )
    def test_wrong_types_become_problems(self, mutate: Any, reason: str) -> None:
        """A field of the wrong type gives a ParseProblem naming the field, not an exception."""
        document = _completion()
        mutate(document["json"]["jsonPayload"])
        problem = parse_hit(_hit(document, doc_id="bad-1"))
        assert isinstance(problem, ParseProblem)
        assert problem.id == "bad-1"
        assert reason in problem.reason

    def test_conflicting_nested_and_dotted(self) -> None:
        """The same field given nested and dotted with different values is a problem."""
        document = _completion("anthropic")
        document["json.jsonPayload.model_provider"] = "vertex-ai"
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert "json.jsonPayload.model_provider appears twice" in problem.reason

    def test_same_value_twice_is_fine(self) -> None:
        """Nested and dotted copies that agree are not a conflict."""
        document = _completion("anthropic")
        document["json.jsonPayload.model_provider"] = "anthropic"
        assert isinstance(parse_hit(_hit(document)), CompletionRecord)

    @pytest.mark.parametrize("hit", [[], "text", {"_id": "x", "_source": []}])
    def test_not_a_hit(self, hit: Any) -> None:
        """Values that are not hits at all are problems too."""
        assert isinstance(parse_hit(hit), ParseProblem)

    def test_missing_id(self) -> None:
        """A record without _index/_id cannot be cited as evidence, so it is a problem."""
        problem = parse_hit({"_source": _completion()})
        assert isinstance(problem, ParseProblem)
        assert "_id" in problem.reason

    def test_object_where_value_belongs(self) -> None:
        """An object in place of model_provider is a problem, not a missing provider."""
        document = _completion()
        document["json"]["jsonPayload"]["model_provider"] = {"name": "anthropic"}
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert "json.jsonPayload.model_provider is an object" in problem.reason

    def test_reason_is_bounded(self) -> None:
        """Problem reasons stay short and do not quote the bad value."""
        document = _completion()
        document["json"]["jsonPayload"]["model_name"] = ["x" * 5000]
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert len(problem.reason) <= 300
        assert "xxxx" not in problem.reason
