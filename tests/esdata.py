"""Putting synthetic gateway documents into the test node."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch, helpers

import gateway_logs as gl

Role = Literal["primary", "failover"]

# Mappings the production indices may have: dynamic (text + .keyword), all keyword, text only.
DYNAMIC: dict[str, Any] | None = None
KEYWORD: dict[str, Any] = {
    "properties": {"@timestamp": {"type": "date"}},
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
    ],
}
TEXT_ONLY: dict[str, Any] = {
    "properties": {"@timestamp": {"type": "date"}},
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "text"}}}
    ],
}


def create_index(client: Elasticsearch, name: str, mappings: dict[str, Any] | None = None) -> None:
    client.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings=mappings,
    )


def index_documents(
    client: Elasticsearch,
    index: str,
    documents: Iterable[dict[str, Any]],
    *,
    mappings: dict[str, Any] | None = None,
    create: bool = True,
) -> int:
    """Index documents (with refresh) and return how many were indexed."""
    if create and not client.indices.exists(index=index):
        create_index(client, index, mappings)
    actions = ({"_index": index, "_source": document} for document in documents)
    indexed, errors = helpers.bulk(client, actions, chunk_size=5000, refresh="wait_for")
    assert not errors, errors
    return indexed


def spread(start: datetime, minutes: float, count: int) -> Iterator[datetime]:
    """``count`` instants evenly spread over ``minutes`` from ``start``."""
    step = timedelta(minutes=minutes) / max(count, 1)
    for number in range(count):
        yield start + step * number


COMPLETION = {
    "primary": ("vertex-ai", "codestral-2501"),
    "failover": ("anthropic", "claude-sonnet-4-20250514"),
}
GENERATION = {"primary": "^1.0.0", "failover": "2.0.0"}


def completions(
    start: datetime, minutes: float, count: int, role: Role, *, seed: int = 1
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    provider, model = COMPLETION[role]
    return [
        gl.completion_doc(moment, provider, model, rng) for moment in spread(start, minutes, count)
    ]


def generations(
    start: datetime,
    minutes: float,
    count: int,
    role: Role,
    *,
    prompt_id: str = "code_suggestions/generations/base",
    seed: int = 2,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    version = GENERATION[role]
    return [
        gl.registry_doc(moment, prompt_id, version, rng) for moment in spread(start, minutes, count)
    ]
