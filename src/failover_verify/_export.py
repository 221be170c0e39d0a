"""Streaming the matching raw records out of Elasticsearch, in constant memory.

A point in time keeps the view consistent while pages are fetched with ``search_after``,
so records indexed meanwhile neither shift pages nor appear twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from elasticsearch.dsl import Q

from failover_verify import _fields as f
from failover_verify._exceptions import ElasticsearchError
from failover_verify._policy import FEATURES
from failover_verify._queries import feature_filter
from failover_verify._verify import Verifier, check_features
from failover_verify._window import TimeWindow

__all__ = ["export_hits"]

PAGE_SIZE: Final = 1000
KEEP_ALIVE: Final = "2m"
# Users' code and credentials stay out of exports unless asked for (code) or ever (api_key).
_CODE_FIELDS: Final = (f.PROMPT, f.PREFIX, f.SUFFIX)


def export_hits(
    verifier: Verifier,
    window: TimeWindow,
    features: Sequence[str] = FEATURES,
    *,
    include_code: bool = False,
    page_size: int = PAGE_SIZE,
    on_total: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield each matching hit (``_index``, ``_id``, ``_source``) in time order.

    ``on_total`` is called once with the number of matching records, for progress display.
    Raises :class:`ElasticsearchError` if the server cannot be read or a page is partial:
    an export with silent gaps would be worse evidence than none.
    """
    chosen = check_features(features)
    plan = verifier.field_plan()
    blockers, _ = verifier.preflight(plan, chosen)
    problems = sorted({problem for feature in chosen for problem in blockers[feature]})
    if problems:
        raise ElasticsearchError(f"cannot export: {problems[0]}")
    if plan.unreachable:
        # A point in time silently leaves out a remote cluster that is skipped as unavailable.
        where = ", ".join(f"{index} ({why})" for index, why in sorted(plan.unreachable.items()))
        raise ElasticsearchError(
            f"cannot export: Elasticsearch could not read {where}; "
            "the export stopped rather than leave their records out"
        )
    policy = verifier.judge.policy
    query = Q(
        "bool",
        should=[
            Q("bool", filter=feature_filter(feature, plan, window, policy)) for feature in chosen
        ],
        minimum_should_match=1,
    )
    excludes = [f.API_KEY, *(() if include_code else _CODE_FIELDS)]
    reader = verifier.reader
    pit_id = reader.open_point_in_time(verifier.index, KEEP_ALIVE)
    try:
        after: list[Any] | None = None
        first = True
        while True:
            body: dict[str, Any] = {
                "query": query.to_dict(),
                "size": page_size,
                "sort": [{plan.time_field: {"order": "asc"}}, {"_shard_doc": {"order": "asc"}}],
                "pit": {"id": pit_id, "keep_alive": KEEP_ALIVE},
                "_source": {"excludes": excludes},
                "track_total_hits": first,
            }
            if after is not None:
                body["search_after"] = after
            response = reader.search(None, body)
            _check_complete(response)
            pit_id = str(response.get("pit_id", pit_id))
            if first and on_total is not None:
                on_total(int(((response.get("hits") or {}).get("total") or {}).get("value", 0)))
            first = False
            hits = (response.get("hits") or {}).get("hits") or []
            for hit in hits:
                yield {
                    "_index": hit.get("_index"),
                    "_id": hit.get("_id"),
                    "_source": hit.get("_source"),
                }
            if len(hits) < page_size:
                return
            after = hits[-1].get("sort")
    finally:
        reader.close_point_in_time(pit_id)


def _check_complete(response: dict[str, Any]) -> None:
    shards = response.get("_shards") or {}
    if response.get("timed_out") or int(shards.get("failed", 0)):
        failures = shards.get("failures") or []
        indices = sorted({str(item.get("index")) for item in failures if item.get("index")})
        where = f" (failed in {', '.join(indices)})" if indices else ""
        raise ElasticsearchError(
            f"Elasticsearch returned a partial page{where}; "
            "the export stopped rather than skip records"
        )
