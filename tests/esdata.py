"""Putting synthetic gateway documents into the test node.

Gateway records go into indices of GitLab's production shape (:func:`index_gateway_records`):
numbered rollover indices behind a write alias, with the real mapping and settings (a 30 s
refresh interval, ``ignore_malformed``). :func:`index_documents` makes plain indices with other
mappings, for tests about those mappings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from elasticsearch import Elasticsearch, helpers

import gateway_logs as gl
import mlops_index

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


def create_gateway_index(client: Elasticsearch, alias: str) -> str:
    """GitLab's production shape: ``<alias>-000001`` with the real mapping and settings, behind
    the write alias ``alias``. Returns the index name."""
    name = mlops_index.first_index(alias)
    client.indices.create(index=name, **mlops_index.create_body(alias))
    return name


def rollover(client: Elasticsearch, alias: str) -> str:
    """Roll ``alias`` over to its next numbered index (same definition); returns its name."""
    response = client.indices.rollover(alias=alias, **mlops_index.rollover_body())
    assert response["rolled_over"], response
    return str(response["new_index"])


def index_gateway_records(
    client: Elasticsearch,
    alias: str,
    documents: Iterable[dict[str, Any]],
    *,
    refresh: bool = True,
) -> int:
    """Index documents through the write alias ``alias`` of a production-shaped index (created
    on first use), then refresh unless ``refresh=False``; returns how many were indexed.

    The indices refresh every 30 s, like production: ``refresh="wait_for"`` would wait for
    that, so the write is followed by an explicit refresh instead.
    """
    if not client.indices.exists_alias(name=alias):
        create_gateway_index(client, alias)
    actions = ({"_index": alias, "_source": document} for document in documents)
    indexed, errors = helpers.bulk(client, actions, chunk_size=5000, refresh=False)
    assert not errors, errors
    if refresh:
        client.indices.refresh(index=alias)
    return indexed


def load_fixture(client: Elasticsearch, path: Path, alias: str) -> int:
    """Load exported hits (``fixtures/*.ndjson``) into a production-shaped index behind
    ``alias``, keeping their ids; returns how many were loaded."""
    if not client.indices.exists_alias(name=alias):
        create_gateway_index(client, alias)
    with path.open(encoding="utf-8") as lines:
        hits = [json.loads(line) for line in lines if line.strip()]
    actions = ({"_index": alias, "_id": hit["_id"], "_source": hit["_source"]} for hit in hits)
    indexed, errors = helpers.bulk(client, actions, chunk_size=5000, refresh=False)
    assert not errors, errors
    client.indices.refresh(index=alias)
    return indexed


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timed(document: dict[str, Any], *, ingest: datetime, logged: datetime) -> dict[str, Any]:
    """``document`` with exact times: ``@timestamp`` at ``ingest``, the log's own times
    (``json.timestamp``, ``json.jsonPayload.timestamp``) at ``logged``."""
    document["@timestamp"] = _iso(ingest)
    document["json"]["timestamp"] = _iso(logged)
    document["json"]["jsonPayload"]["timestamp"] = _iso(logged)
    return document


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
