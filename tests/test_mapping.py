from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import Elasticsearch

from failover_verify import Verifier
from failover_verify._mapping import plan_fields

FIELD = "json.jsonPayload.model_provider"
KEYWORD = {"type": "keyword", "searchable": True, "aggregatable": True}
TEXT = {"type": "text", "searchable": True, "aggregatable": False}
UNMAPPED = {"type": "unmapped", "searchable": False, "aggregatable": False}
DATE = {"@timestamp": {"date": {"type": "date", "searchable": True, "aggregatable": True}}}


def _plan(fields: dict[str, Any], indices: tuple[str, ...] = ("a", "b")) -> Any:
    response = {"indices": list(indices), "fields": {**DATE, **fields}}
    return plan_fields(response, index="p-*", time_field="@timestamp", names=[FIELD])


class TestPlanFields:
    def test_keyword(self) -> None:
        """A keyword field is used as it is."""
        choice = _plan({FIELD: {"keyword": KEYWORD}}).choice(FIELD)
        assert (choice.mapped, choice.exact_field, choice.problem) == (True, FIELD, None)

    def test_text_with_keyword_subfield(self) -> None:
        """A text field with a .keyword sub-field is counted through the sub-field."""
        choice = _plan({FIELD: {"text": TEXT}, f"{FIELD}.keyword": {"keyword": KEYWORD}}).choice(
            FIELD
        )
        assert choice.exact_field == f"{FIELD}.keyword"
        assert choice.match_field == f"{FIELD}.keyword"

    def test_text_only(self) -> None:
        """A text field without a keyword form cannot be counted; the problem says how to fix it."""
        choice = _plan({FIELD: {"text": TEXT}}).choice(FIELD)
        assert choice.exact_field is None
        assert choice.match_field == FIELD
        assert choice.problem is not None
        assert "keyword" in choice.problem

    def test_keyword_in_one_index_text_in_another(self) -> None:
        """keyword in one index and text+.keyword in another has no single exact field."""
        fields = {
            FIELD: {"keyword": {**KEYWORD, "indices": ["a"]}, "text": {**TEXT, "indices": ["b"]}},
            f"{FIELD}.keyword": {
                "keyword": {**KEYWORD, "indices": ["b"]},
                "unmapped": {**UNMAPPED, "indices": ["a"]},
            },
        }
        choice = _plan(fields).choice(FIELD)
        assert choice.exact_field is None
        assert choice.problem is not None

    def test_subfield_missing_in_one_index(self) -> None:
        """A .keyword sub-field that one index lacks is not used (it would miss that index)."""
        fields = {
            FIELD: {"text": TEXT},
            f"{FIELD}.keyword": {
                "keyword": {**KEYWORD, "indices": ["a"]},
                "unmapped": {**UNMAPPED, "indices": ["b"]},
            },
        }
        assert _plan(fields).choice(FIELD).exact_field is None

    def test_field_absent_from_some_indices(self) -> None:
        """A keyword field missing from some indices is still exact where it exists."""
        fields = {
            FIELD: {
                "keyword": {**KEYWORD, "indices": ["a"]},
                "unmapped": {**UNMAPPED, "indices": ["b"]},
            }
        }
        assert _plan(fields).choice(FIELD).exact_field == FIELD

    def test_unmapped(self) -> None:
        """A field no index maps is reported as unmapped."""
        choice = _plan({FIELD: {"unmapped": UNMAPPED}}).choice(FIELD)
        assert choice.mapped is False

    def test_time_field_checks(self) -> None:
        """The time field must be mapped, and as a date."""
        assert _plan({}).time_problem is None
        missing = plan_fields(
            {"indices": ["a"], "fields": {}}, index="p", time_field="@timestamp", names=[]
        )
        assert missing.time_problem is not None
        assert "not mapped" in missing.time_problem
        keyword_time = plan_fields(
            {"indices": ["a"], "fields": {"ts": {"keyword": KEYWORD}}},
            index="p",
            time_field="ts",
            names=[],
        )
        assert keyword_time.time_problem is not None
        assert "not as a date" in keyword_time.time_problem

    def test_no_indices(self) -> None:
        """A pattern that matches nothing shows as an empty index list."""
        plan = plan_fields(
            {"indices": [], "fields": {}}, index="p-*", time_field="@timestamp", names=[FIELD]
        )
        assert plan.indices == ()


def _create(client: Elasticsearch, name: str, kind: dict[str, Any] | None) -> None:
    properties: dict[str, Any] = {"@timestamp": {"type": "date"}}
    if kind is not None:
        properties["json"] = {
            "properties": {"jsonPayload": {"properties": {"model_provider": kind}}}
        }
    client.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={"dynamic": False, "properties": properties},
    )


TEXT_WITH_KEYWORD = {"type": "text", "fields": {"keyword": {"type": "keyword"}}}


class TestPlanFromTheNode:
    """The same cases as above, with the field-capabilities answer of a real node."""

    @pytest.mark.parametrize(
        ("first", "second", "exact"),
        [
            ({"type": "keyword"}, {"type": "keyword"}, FIELD),
            (TEXT_WITH_KEYWORD, TEXT_WITH_KEYWORD, f"{FIELD}.keyword"),
            # keyword here, text + .keyword there: no one field is exact in both
            ({"type": "keyword"}, TEXT_WITH_KEYWORD, None),
            # a .keyword sub-field that one index lacks would miss that index
            (TEXT_WITH_KEYWORD, {"type": "text"}, None),
            ({"type": "text"}, {"type": "text"}, None),
            # absent from one index: still exact where it exists
            ({"type": "keyword"}, None, FIELD),
            # both aggregatable: the plan takes it; a search that cannot mix them fails its
            # shards, which makes the verdict inconclusive (test_verify)
            ({"type": "keyword"}, {"type": "long"}, FIELD),
        ],
        ids=[
            "keyword",
            "text+keyword",
            "keyword-vs-text",
            "subfield-missing",
            "text-only",
            "absent-in-one",
            "keyword-vs-long",
        ],
    )
    def test_mixed_indices(
        self,
        es_client: Elasticsearch,
        es_index: str,
        first: dict[str, Any],
        second: dict[str, Any] | None,
        exact: str | None,
    ) -> None:
        """Two indices behind one pattern: the exact field only when it is exact in both."""
        _create(es_client, f"{es_index}-1", first)
        _create(es_client, f"{es_index}-2", second)
        plan = Verifier(es_client, index=f"{es_index}-*").field_plan()
        choice = plan.choice(FIELD)
        assert plan.indices == (f"{es_index}-1", f"{es_index}-2")
        assert choice.mapped
        assert choice.exact_field == exact
        assert (choice.problem is None) == (exact is not None)

    def test_unmapped_everywhere(self, es_client: Elasticsearch, es_index: str) -> None:
        """A field neither index maps is unmapped, not a problem."""
        _create(es_client, f"{es_index}-1", None)
        _create(es_client, f"{es_index}-2", None)
        choice = Verifier(es_client, index=f"{es_index}-*").field_plan().choice(FIELD)
        assert (choice.mapped, choice.exact_field, choice.problem) == (False, None, None)
