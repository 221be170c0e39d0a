from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from failover_verify._mapping import plan_fields
from failover_verify._policy import Policy
from failover_verify._queries import all_field_names, esql, kql, signal_search
from failover_verify._signals import SIGNALS, Condition, Signal
from failover_verify._window import parse_window

# The signals of the runbook: one per feature.
RUNBOOK = {"completion": "completion.input", "generation": "generation.registry"}


def _signal(feature: str) -> Signal:
    return next(signal for signal in SIGNALS if signal.id == RUNBOOK[feature])


def feature_search(feature: str, plan: Any, window: Any, policy: Policy) -> Any:
    return signal_search(_signal(feature), plan, window, policy)


def feature_conditions(feature: str, policy: Policy) -> tuple[Condition, ...]:
    signal = _signal(feature)
    return signal.conditions(policy.settings_for(signal))


WINDOW = parse_window("2026-01-21T10:00Z", "2026-01-21T11:00Z")
KEYWORD = {"keyword": {"type": "keyword", "searchable": True, "aggregatable": True}}
TEXT = {"text": {"type": "text", "searchable": True, "aggregatable": False}}


def _plan(text_message: bool = False, keyword_subfields: bool = True) -> Any:
    fields: dict[str, Any] = {"@timestamp": {"date": {"type": "date", "aggregatable": True}}}
    for name in all_field_names():
        if text_message:
            fields[name] = TEXT
            if keyword_subfields:
                fields[f"{name}.keyword"] = KEYWORD
        else:
            fields[name] = KEYWORD
    return plan_fields(
        {"indices": ["i"], "fields": fields},
        index="logs-*",
        time_field="@timestamp",
        names=all_field_names(),
    )


def _filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = body["query"]["bool"]["filter"]
    return result


class TestFeatureSearch:
    def test_completion_on_keyword_mapping(self) -> None:
        """Completion: a time range and an exact message term, grouped by provider and model."""
        body = feature_search("completion", _plan(), WINDOW, Policy.default()).to_dict()
        assert _filters(body) == [
            {
                "range": {
                    "@timestamp": {
                        "gte": "2026-01-21T10:00:00+00:00",
                        "lt": "2026-01-21T11:00:00+00:00",
                        "format": "strict_date_optional_time",
                    }
                }
            },
            {"term": {"json.jsonPayload.message": "code completion input:"}},
        ]
        assert body["size"] == 0
        assert body["track_total_hits"] is True
        sources = body["aggs"]["groups"]["composite"]["sources"]
        assert sources == [
            {
                "model_provider": {
                    "terms": {"field": "json.jsonPayload.model_provider", "missing_bucket": True}
                }
            },
            {
                "model_name": {
                    "terms": {"field": "json.jsonPayload.model_name", "missing_bucket": True}
                }
            },
        ]

    def test_text_mapping_uses_keyword_subfield(self) -> None:
        """With text + .keyword, filters and groups use the .keyword sub-field."""
        body = feature_search(
            "generation", _plan(text_message=True), WINDOW, Policy.default()
        ).to_dict()
        filters = _filters(body)
        assert filters[1] == {
            "term": {"json.jsonPayload.message.keyword": "Returning prompt from the registry"}
        }
        assert filters[2] == {
            "bool": {
                "should": [
                    {
                        "term": {
                            "json.jsonPayload.prompt_id.keyword": "code_suggestions/generations"
                        }
                    },
                    {
                        "prefix": {
                            "json.jsonPayload.prompt_id.keyword": "code_suggestions/generations/"
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        }
        fields = [
            next(iter(s.values()))["terms"]["field"]
            for s in body["aggs"]["groups"]["composite"]["sources"]
        ]
        assert all(field.endswith(".keyword") for field in fields)

    def test_text_only_mapping_falls_back_to_phrase(self) -> None:
        """With text and no keyword form, the message is matched as a phrase."""
        body = feature_search(
            "completion",
            _plan(text_message=True, keyword_subfields=False),
            WINDOW,
            Policy.default(),
        ).to_dict()
        assert _filters(body)[1] == {
            "match_phrase": {"json.jsonPayload.message": "code completion input:"}
        }

    def test_evidence_excludes_private_fields(self) -> None:
        """Sample hits never fetch users' code or the api_key field."""
        body = feature_search("completion", _plan(), WINDOW, Policy.default()).to_dict()
        includes = body["aggs"]["groups"]["aggs"]["latest"]["top_hits"]["_source"]["includes"]
        for private in ("prompt", "prefix", "suffix", "api_key"):
            assert f"json.jsonPayload.{private}" not in includes

    def test_values_are_never_query_strings(self) -> None:
        """Policy values with query syntax are sent as plain term values, never parsed."""
        hostile = 'x" OR *:* OR message:"y'
        text = Policy.default().model_dump()
        settings = {**text["settings"], "generation": {"prompt_ids": (hostile,)}}
        policy = Policy.model_validate({**text, "settings": settings})
        body = feature_search("generation", _plan(), WINDOW, policy).to_dict()
        dumped = json.dumps(body)
        assert "query_string" not in dumped
        assert "simple_query_string" not in dumped
        assert _filters(body)[2]["bool"]["should"][0] == {
            "term": {"json.jsonPayload.prompt_id": hostile}
        }


class TestKql:
    def test_runbook_queries(self) -> None:
        """The KQL matches what the runbook tells engineers to type into Kibana."""
        policy = Policy.default()
        assert (
            kql(feature_conditions("completion", policy))
            == 'json.jsonPayload.message: "code completion input:"'
        )
        assert kql(feature_conditions("generation", policy)) == (
            'json.jsonPayload.message: "Returning prompt from the registry" and '
            "json.jsonPayload.prompt_id: "
            '("code_suggestions/generations" or code_suggestions/generations/*)'
        )

    def test_escaping(self) -> None:
        """Quotes, backslashes and KQL syntax in values are escaped."""
        expression = kql([Condition("f", ('a "b" \\ c',)), Condition("g", ("x y*(z)",), "under")])
        assert expression == r'f: "a \"b\" \\ c" and g: ("x y*(z)" or x\ y\*\(z\)/*)'

    def test_window_instants_round_trip(self) -> None:
        """The window sent is exactly the window asked for."""
        assert WINDOW.start == datetime(2026, 1, 21, 10, tzinfo=UTC)


class TestEsql:
    def test_runbook_query(self) -> None:
        """The ES|QL form names the indices, the window on the time field and the filters."""
        conditions = feature_conditions("generation", Policy.default())
        assert esql(
            conditions, index="pubsub-mlops-inf-gprod-*", time_field="@timestamp", window=WINDOW
        ) == (
            "FROM pubsub-mlops-inf-gprod-* | WHERE "
            '@timestamp >= TO_DATETIME("2026-01-21T10:00:00.000Z") AND '
            '@timestamp < TO_DATETIME("2026-01-21T11:00:00.000Z") AND '
            'json.jsonPayload.message == "Returning prompt from the registry" AND '
            '(json.jsonPayload.prompt_id == "code_suggestions/generations" OR '
            'STARTS_WITH(json.jsonPayload.prompt_id, "code_suggestions/generations/")) '
            "| SORT @timestamp DESC"
        )

    def test_escaping(self) -> None:
        """Quotes, backslashes and line breaks in values are escaped; odd field names are
        quoted with backticks; index entries outside ES|QL's bare form are quoted."""
        window = parse_window("2026-01-21T10:00:00.25Z", "2026-01-21T10:00:01Z")
        expression = esql(
            [Condition("f", ('a "b" \\ c\nd',)), Condition("odd-name.x", ("1", "2"))],
            index="far:logs-*, we ird,-logs-old*",
            time_field="json.timestamp",
            window=window,
        )
        assert expression == (
            'FROM far:logs-*,"we ird",-logs-old* | WHERE '
            'json.timestamp >= TO_DATETIME("2026-01-21T10:00:00.250Z") AND '
            'json.timestamp < TO_DATETIME("2026-01-21T10:00:01.000Z") AND '
            'f == "a \\"b\\" \\\\ c\\nd" AND `odd-name.x` IN ("1", "2") '
            "| SORT json.timestamp DESC"
        )
