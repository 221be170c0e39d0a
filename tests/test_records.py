from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import gateway_logs as gl
from failover_verify import _records as records
from failover_verify._records import (
    CompletionRecord,
    ParseProblem,
    RegistryRecord,
    ServedRecord,
    parse_fast,
    parse_hit,
    parse_hit_json,
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

    def test_wrong_type_reasons_in_full(self) -> None:
        """The first wrong field is named by its path with what is wrong, then how many more
        there are; one wrong field has no count."""
        document = _completion()
        document["json"]["jsonPayload"].update(model_provider=7, timestamp="not a time")
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert problem.reason == (
            "json.jsonPayload.timestamp: Input should be a valid datetime or date, invalid "
            "character in year (and 1 more)"
        )
        document = _completion()
        document["json"]["jsonPayload"]["model_provider"] = 7
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert problem.reason == "json.jsonPayload.model_provider: Input should be a valid string"

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

    def test_conflict_where_nothing_is_read(self) -> None:
        """A conflict in a field no record reads leaves the record readable; a conflicting
        GitLab context field is left out of the context, not guessed."""
        document = _completion("anthropic")
        document["json"]["other"] = {"part": 1}
        document["json.other.part"] = 2
        document["json.jsonPayload.gitlab_realm"] = "self-managed"
        assert document["json"]["jsonPayload"]["gitlab_realm"] != "self-managed"
        for record in (parse_hit(_hit(document)), parse_hit_json(json.dumps(_hit(document)))):
            assert isinstance(record, CompletionRecord)
            assert record.model_provider == "anthropic"
            assert "gitlab_realm" not in record.gitlab_context
            assert "gitlab_instance_id" in record.gitlab_context

    def test_conflicting_message(self) -> None:
        document = _completion("anthropic")
        document["json.jsonPayload.message"] = "something else"
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert problem.reason == "json.jsonPayload.message appears twice with different values"

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


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class TestFromJsonText:
    """parse_hit_json reads a hit's text as parse_hit reads it decoded: on the fast path for
    nested ``_source``, on the general path for every other shape."""

    @pytest.mark.parametrize("era", sorted(gl.ERAS))
    def test_agrees_on_the_fixtures(self, era: str) -> None:
        lines = (FIXTURES / f"incident-{era}.ndjson").read_bytes().splitlines()
        fast = 0
        for line in lines:
            expected = parse_hit(json.loads(line))
            got = parse_hit_json(line)
            assert got == expected
            assert repr(got) == repr(expected)
            if isinstance(got, CompletionRecord | RegistryRecord | ServedRecord):
                assert got.model_dump() == expected.model_dump()  # type: ignore[union-attr]
                assert got.gitlab_context == expected.gitlab_context  # type: ignore[union-attr]
            fast += not isinstance(parse_fast(line), str)
        nested = gl.ERAS[era].shape == "nested"
        # Nested eras are read on the fast path (every record of ours), dotted ones never.
        records = sum(
            isinstance(
                parse_hit(json.loads(line)), CompletionRecord | RegistryRecord | ServedRecord
            )
            for line in lines
        )
        assert fast == (records if nested else 0)
        assert records > 1000

    @pytest.mark.parametrize(
        ("case", "mutate"),
        [
            ("dotted key beside nested", lambda s: s.update({"json.jsonPayload.model_name": "x"})),
            ("dotted payload key", lambda s: s["json"].update({"jsonPayload.model_name": "x"})),
            ("object for a value", lambda s: s["json"]["jsonPayload"].update({"model_name": {}})),
            ("number for text", lambda s: s["json"]["jsonPayload"].update({"model_name": 3})),
            ("blank text", lambda s: s["json"]["jsonPayload"].update({"model_name": "  "})),
            ("payload is a list", lambda s: s["json"].update({"jsonPayload": [1]})),
            ("no message", lambda s: s["json"]["jsonPayload"].pop("message")),
        ],
    )
    def test_agrees_on_odd_shapes(self, case: str, mutate: Any) -> None:
        document = _completion()
        mutate(document)
        hit = _hit(document)
        text = json.dumps(hit)
        assert parse_hit_json(text) == parse_hit(hit), case
        # \u escapes, as json.dumps writes non-ASCII by default, decode the same way.
        assert parse_hit_json(json.dumps(hit, ensure_ascii=True).encode()) == parse_hit(hit)

    def test_escaped_dot_in_a_key_takes_the_general_path(self) -> None:
        """A dotted key spelled with a \\u escape is still a dotted key."""
        document = _completion()
        document["json.jsonPayload"] = document["json"].pop("jsonPayload")
        text = json.dumps(_hit(document)).replace('"json.jsonPayload"', '"json\\u002EjsonPayload"')
        assert '"json.' not in text
        assert parse_fast(text.encode()) == "general"
        record = parse_hit_json(text)
        assert isinstance(record, CompletionRecord)
        assert record == parse_hit(json.loads(text))
        assert record.model_provider == "anthropic"

    def test_not_json(self) -> None:
        problem = parse_hit_json(b'{"_index": "i", "_source": {')
        assert isinstance(problem, ParseProblem)
        assert problem.reason.startswith("the hit is not JSON")

    def test_lone_surrogate(self) -> None:
        hit = _hit(_completion())
        hit["_source"]["json"]["jsonPayload"]["current_file_name"] = "\ud800.py"
        assert parse_hit_json(json.dumps(hit, ensure_ascii=False)) == parse_hit(hit)

    def test_context_is_read_when_asked(self) -> None:
        hit = _hit(_completion())
        record = parse_hit_json(json.dumps(hit))
        assert isinstance(record, CompletionRecord)
        assert (
            record.gitlab_context["gitlab_realm"]
            == hit["_source"]["json"]["jsonPayload"]["gitlab_realm"]
        )
        assert "gitlab_realm" in record.model_dump()["gitlab_context"]


def _hit_text(hit: dict[str, Any]) -> bytes:
    return json.dumps(hit).encode()


class TestProblemReasons:
    """Every way a hit can be unreadable has its own reason, word for word, and the problem
    keeps whichever of the hit's _index and _id it has."""

    @pytest.mark.parametrize(
        ("hit", "kind"), [([], "list"), ("text", "str"), (None, "NoneType"), (3.5, "float")]
    )
    def test_hit_that_is_not_an_object(self, hit: Any, kind: str) -> None:
        """A hit that is not a JSON object is named by its type."""
        expected = ParseProblem(index=None, id=None, reason=f"a hit must be an object, not {kind}")
        assert parse_hit(hit) == expected
        assert parse_hit_json(json.dumps(hit)) == expected

    def test_any_mapping_is_a_hit(self) -> None:
        """A hit may be any mapping, not only a dict."""
        hit = _hit(_completion())
        record = parse_hit(MappingProxyType(hit))
        assert isinstance(record, CompletionRecord)
        assert record == parse_hit(hit)

    @pytest.mark.parametrize(
        ("key", "value", "reason"),
        [
            ("_source", [], "_source is a list, not an object"),
            ("_source", "text", "_source is a str, not an object"),
            ("fields", [1], "fields is a list, not an object"),
        ],
    )
    def test_source_or_fields_not_an_object(self, key: str, value: Any, reason: str) -> None:
        """A _source or fields that is not an object is a problem of the hit as a whole."""
        hit = {"_index": "logs-1", "_id": "x", key: value}
        expected = ParseProblem(index="logs-1", id="x", reason=reason)
        assert parse_hit(hit) == expected
        assert parse_hit_json(_hit_text(hit)) == expected

    @pytest.mark.parametrize(
        ("message", "reason"),
        [
            ({"text": "code completion input:"}, "json.jsonPayload.message is an object, not text"),
            (["code completion input:"], "json.jsonPayload.message is a list, not text"),
            (True, "json.jsonPayload.message is a bool, not text"),
        ],
    )
    def test_message_that_is_not_text(self, message: Any, reason: str) -> None:
        """A message that is not text cannot say which record the hit is."""
        document = _completion()
        document["json"]["jsonPayload"]["message"] = message
        hit = _hit(document, doc_id="bad-1")
        expected = ParseProblem(index=hit["_index"], id="bad-1", reason=reason)
        assert parse_hit(hit) == expected
        assert parse_hit_json(_hit_text(hit)) == expected

    def test_conflicting_message_keeps_index_and_id(self) -> None:
        """A message given twice is a problem that still says which hit it is."""
        document = _completion()
        document["json.jsonPayload.message"] = "Request to LLM complete"
        hit = _hit(document, doc_id="bad-2")
        expected = ParseProblem(
            index=hit["_index"],
            id="bad-2",
            reason="json.jsonPayload.message appears twice with different values",
        )
        assert parse_hit(hit) == expected
        assert parse_hit_json(_hit_text(hit)) == expected

    @pytest.mark.parametrize(
        ("index", "doc_id"),
        [
            (None, "d1"),
            ("logs-1", None),
            ("", "d1"),
            ("logs-1", ""),
            (5, "d1"),
            ("logs-1", 7),
        ],
    )
    def test_no_index_or_id(self, index: Any, doc_id: Any) -> None:
        """A record without a usable _index or _id (absent, empty or not text) cannot be cited
        as evidence; the problem keeps the one it has."""
        hit: dict[str, Any] = {"_source": _completion()}
        if index is not None:
            hit["_index"] = index
        if doc_id is not None:
            hit["_id"] = doc_id
        expected = ParseProblem(
            index=index if isinstance(index, str) and index else None,
            id=doc_id if isinstance(doc_id, str) and doc_id else None,
            reason="the hit has no _index or _id",
        )
        assert parse_hit(hit) == expected
        assert parse_hit_json(_hit_text(hit)) == expected

    def test_object_in_place_of_a_value(self) -> None:
        """The first field the record reads that holds an object is named, in the order the
        record declares its fields."""
        document = _completion()
        document["json"]["jsonPayload"]["model_name"] = {"name": "claude"}
        document["json"]["jsonPayload"]["model_provider"] = {"name": "anthropic"}
        hit = _hit(document, doc_id="bad-3")
        expected = ParseProblem(
            index=hit["_index"],
            id="bad-3",
            reason="json.jsonPayload.model_provider is an object, not a value",
        )
        assert parse_hit(hit) == expected
        assert parse_hit_json(_hit_text(hit)) == expected

    def test_missing_field_is_not_an_object(self) -> None:
        """A field the hit leaves out is no value, not an object, even where another field
        holds an object."""
        document = _completion()
        del document["json"]["jsonPayload"]["correlation_id"]
        document["json"]["jsonPayload"]["model_provider"] = {"name": "anthropic"}
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert problem.reason == "json.jsonPayload.model_provider is an object, not a value"

    def test_value_beside_an_object_at_the_same_path(self) -> None:
        """A dotted key that gives a field its value is read even where a nested object
        also sits at that path."""
        document = _completion()
        document["json"]["jsonPayload"]["model_provider"] = {"name": "anthropic"}
        document["json.jsonPayload.model_provider"] = "vertex-ai"
        record = parse_hit(_hit(document))
        assert isinstance(record, CompletionRecord)
        assert record.model_provider == "vertex-ai"

    def test_first_of_several_conflicts(self) -> None:
        """Of several read fields given twice, the first path in sorted order is named."""
        document = _completion("anthropic")
        document["json.jsonPayload.model_provider"] = "vertex-ai"
        document["json.jsonPayload.model_name"] = "codestral-2508"
        problem = parse_hit(_hit(document))
        assert isinstance(problem, ParseProblem)
        assert problem.reason == "json.jsonPayload.model_name appears twice with different values"
        assert (problem.index, problem.id) == ("pubsub-mlops-inf-gprod-2026.01.21", "d1")

    def test_wrong_type_keeps_index_and_id(self) -> None:
        """A field of the wrong type is a problem that still says which hit it is."""
        document = _completion()
        document["json"]["jsonPayload"]["stream"] = "sometimes"
        problem = parse_hit(_hit(document, doc_id="bad-4"))
        assert problem == ParseProblem(
            index="pubsub-mlops-inf-gprod-2026.01.21",
            id="bad-4",
            reason="json.jsonPayload.stream: Input should be a valid boolean, unable to "
            "interpret input",
        )

    def test_index_too_long(self) -> None:
        """A hit's own key is named as the hit spells it."""
        hit = _hit(_completion())
        hit["_index"] = "i" * 1_000_001
        expected = ParseProblem(
            index=hit["_index"],
            id="d1",
            reason="_index: String should have at most 1000000 characters",
        )
        assert parse_hit(hit) == expected
        assert parse_hit_json(_hit_text(hit)) == expected

    def test_not_json(self) -> None:
        """Text that is not JSON says where the JSON reader gave up."""
        assert parse_hit_json(b'{"_index": "i", "_source": {') == ParseProblem(
            index=None,
            id=None,
            reason="the hit is not JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 29 (char 28))",
        )


class TestReasonLength:
    """A reason is at most 300 characters: a longer one is cut to 299 and ends in an
    ellipsis, so it still fits one line of a report."""

    @staticmethod
    def _problem_naming_a_type(length: int) -> ParseProblem:
        # The only reason whose length a hit can choose: a _source of a type with a long name.
        source = type("S" * length, (), {})()
        problem = parse_hit({"_index": "logs-1", "_id": "x", "_source": source})
        assert isinstance(problem, ParseProblem)
        return problem

    def test_300_characters_are_kept_whole(self) -> None:
        """A reason of exactly 300 characters is kept as it is."""
        problem = self._problem_naming_a_type(272)
        assert problem.reason == f"_source is a {'S' * 272}, not an object"
        assert len(problem.reason) == 300

    def test_301_characters_are_cut(self) -> None:
        """A reason of 301 characters is cut to 299 and an ellipsis."""
        problem = self._problem_naming_a_type(273)
        assert problem.reason == f"_source is a {'S' * 273}, not an obje…"
        assert len(problem.reason) == 300

    def test_much_longer_is_cut_the_same(self) -> None:
        problem = self._problem_naming_a_type(5000)
        assert problem.reason == f"_source is a {'S' * 286}…"


class TestFlags:
    """error and streaming of a served record read as "yes" or "no" whether the pipeline
    kept the gateway's text or made booleans of it; blank text is no value."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(True, "yes"), (False, "no"), ("yes", "yes"), ("no", "no"), ("  ", None), (None, None)],
    )
    def test_flag_values(self, value: Any, expected: str | None) -> None:
        document = gl.served_doc(
            WHEN, "generate_code", "litellm-chat", "claude-sonnet-4-6", random.Random(1)
        )
        document["json"]["jsonPayload"].update(error=value, streaming=value)
        hit = _hit(document)
        for record in (parse_hit(hit), parse_fast(_hit_text(hit))):
            assert isinstance(record, ServedRecord)
            assert (record.error, record.streaming) == (expected, expected)


def _escaped_key(hit: dict[str, Any], key: str, escape: str) -> bytes:
    """The hit's text with the dot of one _source key spelled as a \\u escape."""
    text = json.dumps(hit)
    spelled = json.dumps(key).replace(".", escape)
    assert text.count(json.dumps(key)) == 1
    return text.replace(json.dumps(key), spelled).encode()


class TestFastPath:
    """parse_fast reads only nested _source; every hit it cannot read exactly as parse_hit
    does is left to the general path ("general"), and parse_hit_json gives the same answer
    either way."""

    def test_nested_source_is_read_here(self) -> None:
        hit = _hit(_completion())
        record = parse_fast(_hit_text(hit))
        assert isinstance(record, CompletionRecord)
        assert record == parse_hit(hit)

    @pytest.mark.parametrize(
        ("case", "mutate", "path"),
        [
            (
                "dotted key under _source",
                lambda h: h["_source"].update({"json.severity": "ERROR"}),
                "json.severity",
            ),
            (
                "dotted key under json",
                lambda h: h["_source"]["json"].update({"jsonPayload.model_name": "codestral-2508"}),
                "json.jsonPayload.model_name",
            ),
            (
                "dotted key ending in resource",
                lambda h: h["_source"]["json"].update({"resource.labels": {"location": "mars"}}),
                "json.resource.labels.location",
            ),
            (
                "dotted key under resource",
                lambda h: h["_source"]["json"]["resource"].update({"labels.location": "mars"}),
                "json.resource.labels.location",
            ),
            (
                "fields beside _source",
                lambda h: h.update(fields={"@timestamp": ["2020-01-01T00:00:00Z"]}),
                "@timestamp",
            ),
        ],
    )
    def test_dotted_keys_and_fields_take_the_general_path(
        self, case: str, mutate: Any, path: str
    ) -> None:
        """A dotted key or a fields object beside nested _source goes the general path, which
        sees the second value of a field."""
        hit = _hit(_completion())
        mutate(hit)
        text = _hit_text(hit)
        expected = ParseProblem(
            index=hit["_index"], id="d1", reason=f"{path} appears twice with different values"
        )
        assert parse_fast(text) == "general", case
        assert parse_hit_json(text) == parse_hit(hit) == expected, case

    @pytest.mark.parametrize("escape", ["\\u002e", "\\u002E"])
    def test_escaped_dot_beside_nested_source(self, escape: str) -> None:
        """A dotted key spelled with a \\u escape, in either case, is seen as the dotted key
        it is."""
        hit = _hit(_completion())
        hit["_source"]["json.severity"] = "ERROR"
        text = _escaped_key(hit, "json.severity", escape)
        assert b"json.severity" not in text
        assert parse_fast(text) == "general"
        assert parse_hit_json(text) == parse_hit(hit)
        assert parse_hit_json(text) == ParseProblem(
            index=hit["_index"],
            id="d1",
            reason="json.severity appears twice with different values",
        )

    def test_longest_text(self) -> None:
        """Text of up to a million characters is read; one more is a problem, on both paths."""
        for length in (1_000_000, 1_000_001):
            document = _completion()
            document["json"]["jsonPayload"]["model_name"] = "m" * length
            hit = _hit(document)
            general, fast = parse_hit(hit), parse_hit_json(_hit_text(hit))
            assert fast == general
            if length == 1_000_000:
                assert isinstance(fast, CompletionRecord)
                assert fast.model_name == "m" * length
            else:
                assert fast == ParseProblem(
                    index=hit["_index"],
                    id="d1",
                    reason="json.jsonPayload.model_name: String should have at most 1000000 "
                    "characters",
                )

    @pytest.mark.parametrize(("given", "read"), [(9970, [9970]), ("9970", ["9970"])])
    def test_one_namespace_id_is_a_list(self, given: Any, read: list[Any]) -> None:
        """A single enabling namespace id reads as a list of one, on both paths."""
        document = gl.registry_doc(
            WHEN, "code_suggestions/generations", "2.0.0", random.Random(3), namespace_ids=[1]
        )
        document["json"]["jsonPayload"]["gitlab_feature_enabled_by_namespace_ids"] = given
        hit = _hit(document)
        for record in (parse_hit(hit), parse_fast(_hit_text(hit))):
            assert isinstance(record, RegistryRecord)
            assert record.enabled_by_namespace_ids == read


class TestGitLabContext:
    """A record's GitLab context: its gitlab_* fields, unprefixed, the same from either path."""

    def test_context_in_full(self) -> None:
        """Every gitlab_* field but the enabling namespaces is in the context, and nothing
        else is."""
        document = gl.registry_doc(
            WHEN,
            "code_suggestions/generations",
            "2.0.0",
            random.Random(3),
            namespace_ids=[9970],
        )
        payload = document["json"]["jsonPayload"]
        hit = _hit(document)
        expected = {key: value for key, value in payload.items() if key.startswith("gitlab_")}
        del expected["gitlab_feature_enabled_by_namespace_ids"]
        assert set(expected) == {
            "gitlab_realm",
            "gitlab_host_name",
            "gitlab_instance_id",
            "gitlab_global_user_id",
            "gitlab_version",
        }
        fast = parse_fast(_hit_text(hit))
        for record in (parse_hit(hit), fast):
            assert isinstance(record, RegistryRecord)
            assert record.gitlab_context == expected
            # Asked again, the same (the fast path parses the text only the first time).
            assert record.gitlab_context == expected

    def test_conflicting_context_field_is_left_out(self) -> None:
        """A context field given twice with different values is left out on the fast path
        too, where the context is read from the text."""
        document = _completion()
        payload = document["json"]["jsonPayload"]
        payload["gitlab_meta"] = {"plan": "free"}
        payload["gitlab_meta.plan"] = "ultimate"
        hit = _hit(document)
        record = parse_fast(_hit_text(hit))
        assert isinstance(record, CompletionRecord)
        assert "gitlab_meta.plan" not in record.gitlab_context
        assert record.gitlab_context["gitlab_realm"] == payload["gitlab_realm"]
        assert record == parse_hit(hit)

    def test_records_differing_only_in_context_differ(self) -> None:
        """Two records alike but for their GitLab context are not equal, on either path."""
        first = _hit(_completion())
        second = _hit(_completion())
        second["_source"]["json"]["jsonPayload"]["gitlab_version"] = "18.8.0"
        assert parse_hit(first) != parse_hit(second)
        assert parse_hit_json(_hit_text(first)) != parse_hit_json(_hit_text(second))
        assert parse_hit(first) == parse_hit_json(_hit_text(first))


class TestFastPathOutcomes:
    """What parse_fast says of a hit it gives no record for: "not ours" when parse_hit would
    give None too, "general" when only parse_hit can read the hit."""

    def test_other_message_is_not_ours(self) -> None:
        """A hit of another gateway message is not ours, with or without _index and _id (a
        bare document read from a file has neither)."""
        document = gl.other_doc(WHEN, random.Random(4))
        document["json"]["jsonPayload"]["message"] = "200 POST /v2/code/completions"
        for hit in (_hit(document), {"_source": document}):
            assert parse_fast(_hit_text(hit)) == "not ours"
            assert parse_hit_json(_hit_text(hit)) is None

    def test_nested_hit_is_not_decoded_in_python(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """parse_hit_json reads a nested hit without handing it to parse_hit."""
        hit = _hit(_completion())
        text = _hit_text(hit)

        def refuse(_hit: Any) -> None:
            raise AssertionError("read on the general path")

        monkeypatch.setattr(records, "parse_hit", refuse)
        record = parse_hit_json(text)
        monkeypatch.undo()
        assert isinstance(record, CompletionRecord)
        assert record == parse_hit(hit)

    def test_escaped_source_key(self) -> None:
        """The fast path looks for the _source key as it is usually written; spelled with an
        escape, it is read on the general path, to the same record."""
        hit = _hit(_completion())
        text = _hit_text(hit).replace(b'"_source"', b'"\\u005fsource"')
        assert b'"_source"' not in text
        assert parse_fast(text) == "general"
        assert parse_hit_json(text) == parse_hit(hit)


class TestRecordValues:
    """Records from either path behave as the pydantic models they are."""

    def test_copy_with_changes(self) -> None:
        """A record read from text can be copied with a field changed, as a validated one can,
        and the copy knows the field was set."""
        hit = _hit(_completion())
        for record in (parse_hit(hit), parse_fast(_hit_text(hit))):
            assert isinstance(record, CompletionRecord)
            changed = record.model_copy(update={"model_name": "codestral-2508"})
            assert changed.model_name == "codestral-2508"
            assert "model_name" in changed.model_fields_set
            assert changed.model_provider == record.model_provider

    def test_hash_by_hit(self) -> None:
        """Equal records hash alike whichever path read them; records of different hits hash
        apart, so sets of records stay fast."""
        hits = [_hit(_completion(), doc_id=f"d{number}") for number in range(50)]
        general = [parse_hit(hit) for hit in hits]
        fast = [parse_fast(_hit_text(hit)) for hit in hits]
        assert [hash(record) for record in general] == [hash(record) for record in fast]
        assert len({hash(record) for record in general}) == len(hits)
        assert set(general) == set(fast)
