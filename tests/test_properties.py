"""Property-based tests: odd log data, windows, policies and definitions never crash a run."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gateway_logs as gl
from examples import examples, suppressed
from failover_verify import (
    CompletionRecord,
    ParseProblem,
    Policy,
    PolicyError,
    PromptRegistry,
    RegistryRecord,
    Report,
    ServedRecord,
    TimeWindow,
    WindowError,
    parse_hit,
    parse_hit_json,
    parse_window,
    verify_hits,
)

WHEN = datetime(2026, 1, 21, 9, 30, tzinfo=UTC)
PAYLOAD_KEYS = [
    "message",
    "model_provider",
    "model_name",
    "prompt_id",
    "prompt_version",
    "prompt_name",
    "model_identifier",
    "model_class_provider",
    "timestamp",
    "correlation_id",
    "stream",
    "level",
    "logger",
    "gitlab_feature_enabled_by_namespace_ids",
    "gitlab_realm",
    "prefix",
]
MESSAGES = st.sampled_from(
    ["code completion input:", "Returning prompt from the registry", "other", ""]
)
ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
) | st.sampled_from(["\u202e", "\x00", "🙂" * 100, "a" * 100_000, "  ", "null", "NaN"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | ODD_TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ODD_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
FAST = settings(
    max_examples=examples(400),
    deadline=None,
    suppress_health_check=suppressed(HealthCheck.too_slow),
)


def _valid_hits() -> list[dict[str, Any]]:
    rng = random.Random(1)
    completion = gl.completion_doc(WHEN, "anthropic", "claude", rng)
    registry = gl.registry_doc(
        WHEN, "code_suggestions/generations", "^1.0.0", rng, model_class_provider="anthropic"
    )
    served = gl.served_doc(WHEN, "code_suggestions", "vertex_ai", "codestral-2501", rng)
    return [
        {"_index": "i", "_id": "c", "_source": completion},
        {"_index": "i", "_id": "r", "_source": registry},
        {"_index": "i", "_id": "d", "_source": gl.dotted(registry)},
        {"_index": "i", "_id": "s", "_source": served},
    ]


VALID = _valid_hits()


@st.composite
def mutated_hits(draw: st.DrawFn) -> dict[str, Any]:
    """A valid hit with some payload fields replaced, removed, duplicated dotted, or nested."""
    hit: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID)))
    source = hit["_source"]
    nested = "json" in source
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(PAYLOAD_KEYS))
        action = draw(st.sampled_from(["replace", "remove", "dotted-duplicate", "message"]))
        value = draw(MESSAGES) if action == "message" else draw(JSON)
        name = "message" if action == "message" else key
        if nested:
            payload = source["json"]["jsonPayload"]
            if action == "remove":
                payload.pop(name, None)
            elif action == "dotted-duplicate":
                source[f"json.jsonPayload.{name}"] = value
            else:
                payload[name] = value
        elif action == "remove":
            source.pop(f"json.jsonPayload.{name}", None)
        else:
            source[f"json.jsonPayload.{name}"] = value
    if draw(st.booleans()):
        hit[draw(st.sampled_from(["_id", "_index", "_source", "fields"]))] = draw(JSON)
    return hit


class TestRecordParsing:
    @FAST
    @given(hit=mutated_hits())
    def test_mutated_hits_never_raise(self, hit: dict[str, Any]) -> None:
        """Wrong types, missing, huge and conflicting fields give a record, a problem or None."""
        result = parse_hit(hit)
        assert result is None or isinstance(
            result, CompletionRecord | RegistryRecord | ServedRecord | ParseProblem
        )
        if isinstance(result, ParseProblem):
            assert len(result.reason) <= 300
        if isinstance(result, CompletionRecord):
            assert result.model_provider is None or isinstance(result.model_provider, str)

    @FAST
    @given(hit=mutated_hits() | JSON, ascii_only=st.booleans())
    def test_text_reads_as_decoded(self, hit: Any, ascii_only: bool) -> None:
        """A hit's JSON text reads exactly as the decoded hit does, on whichever path."""
        text = json.dumps(hit, ensure_ascii=ascii_only)
        expected = parse_hit(json.loads(text))
        assert parse_hit_json(text) == expected
        if isinstance(expected, CompletionRecord | RegistryRecord | ServedRecord):
            assert parse_hit_json(text).model_dump() == expected.model_dump()  # type: ignore[union-attr]

    @FAST
    @given(hit=JSON)
    def test_arbitrary_json_never_raises(self, hit: Any) -> None:
        """Any JSON value at all is handled."""
        result = parse_hit(hit)
        assert result is None or isinstance(
            result, CompletionRecord | RegistryRecord | ServedRecord | ParseProblem
        )

    @settings(max_examples=examples(100), deadline=None)
    @given(hits=st.lists(mutated_hits() | JSON, max_size=30))
    def test_runs_complete_and_count_everything(self, hits: list[Any]) -> None:
        """A run over bad records completes; every hit is a record, a problem, or ignored."""
        report = verify_hits(
            hits, since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 2, 1, tzinfo=UTC)
        )
        assert isinstance(report, Report)
        parsed = [parse_hit(hit) for hit in hits]
        problems = sum(isinstance(item, ParseProblem) for item in parsed)
        assert report.parse_problems.count == problems
        counted = sum(feature.total for feature in report.features.values())
        records = sum(isinstance(item, CompletionRecord | RegistryRecord) for item in parsed)
        assert counted <= records


class TestWindows:
    @FAST
    @given(since=ODD_TEXT, until=st.none() | ODD_TEXT)
    def test_any_text_is_a_window_or_a_window_error(self, since: str, until: str | None) -> None:
        """Arbitrary text for since/until gives a window or WindowError, nothing else."""
        try:
            result: TimeWindow | WindowError = parse_window(since, until, now=WHEN)
        except WindowError as exc:
            result = exc
        if isinstance(result, WindowError):
            assert str(result)
        else:
            assert result.start < result.end


class TestPolicies:
    @FAST
    @given(text=ODD_TEXT | st.sampled_from(["schema = 1", "schema = 1\n[completion]\nrules = 3"]))
    def test_any_text_is_a_policy_or_a_policy_error(self, text: str) -> None:
        """Arbitrary policy text gives a Policy or PolicyError."""
        try:
            result: Policy | PolicyError = Policy.from_toml(text, source="fuzz")
        except PolicyError as exc:
            result = exc
        if isinstance(result, PolicyError):
            assert "fuzz" in str(result)

    @FAST
    @given(
        data=st.dictionaries(
            st.sampled_from(["schema", "completion", "generation", "x"]), JSON, max_size=4
        )
    )
    def test_any_structure_is_a_policy_or_a_policy_error(self, data: dict[str, Any]) -> None:
        """Arbitrary TOML-shaped structures give a Policy or PolicyError naming the source."""
        result: Policy | PolicyError
        try:
            result = Policy._from_mapping(data, source="fuzz")
        except PolicyError as exc:
            result = exc
        if isinstance(result, PolicyError):
            assert "fuzz" in str(result)
            return
        policy = result
        # Only a structure with both feature tables and at least one rule each gets through.
        assert data.get("schema") == 1
        assert policy.completion
        assert policy.generation
        assert policy.generation_prompt_ids


class TestDefinitionFiles:
    @settings(
        max_examples=examples(200),
        deadline=None,
        suppress_health_check=suppressed(HealthCheck.function_scoped_fixture),
    )
    @given(
        content=ODD_TEXT | JSON.map(yaml.safe_dump),
        config=ODD_TEXT | JSON.map(str),
    )
    def test_any_file_content_resolves_to_a_result(
        self, tmp_path: Path, content: str, config: str
    ) -> None:
        """Definition and model config files with any content give a Resolution, never an error."""
        root = tmp_path / "ai_gateway" / "prompts"
        base = root / "definitions" / "code_suggestions" / "generations" / "base"
        base.mkdir(parents=True, exist_ok=True)
        (root / "model_configs").mkdir(exist_ok=True)
        (base / "1.0.0.yml").write_text(content, encoding="utf-8")
        (base / "2.0.0.yml").write_text("model:\n  config_file: fuzz\n", encoding="utf-8")
        (root / "model_configs" / "fuzz.yml").write_text(config, encoding="utf-8")
        registry = PromptRegistry.from_directory(tmp_path)
        for version in ("1.0.0", "^1.0.0", "2.0.0"):
            result = registry.resolve("code_suggestions/generations", version)
            assert result.status in {"resolved", "no_model", "unreadable", "no_matching_version"}
