"""Streaming the matching raw records out of Elasticsearch, in constant memory.

A point in time keeps the view consistent while pages are fetched with ``search_after``,
so records indexed meanwhile neither shift pages nor appear twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final

import elasticsearch
from elasticsearch.dsl import Q

from failover_verify import _fields as f
from failover_verify._answers import read_answer
from failover_verify._exceptions import ElasticsearchError
from failover_verify._queries import DEFAULT_INDEX, signal_filter
from failover_verify._types import FEATURES
from failover_verify._verify import (
    DEFAULT_TIME_FIELD,
    Since,
    Verifier,
    check_features,
    chosen_signals,
    window_of,
)

__all__ = ["export_hits"]

PAGE_SIZE: Final = 1000
KEEP_ALIVE: Final = "2m"
# Users' code and credentials stay out of exports unless asked for (code) or ever (api_key).
_CODE_FIELDS: Final = (f.PROMPT, f.PREFIX, f.SUFFIX)


def export_hits(
    client: elasticsearch.Elasticsearch | Verifier,
    *,
    since: Since,
    until: str | datetime | None = None,
    features: Sequence[str] = FEATURES,
    index: str = DEFAULT_INDEX,
    time_field: str = DEFAULT_TIME_FIELD,
    include_code: bool = False,
    page_size: int = PAGE_SIZE,
    on_total: Callable[[int], None] | None = None,
    retries: int = 2,
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield each hit (``_index``, ``_id``, ``_source``) a verification would count, in time order.

    ``client`` is a client or a :class:`Verifier` (whose index, time field and policy are then
    used). ``on_total`` is called once with the number of matching records, for progress.
    Raises :class:`ElasticsearchError` if the server cannot be read or a page is partial: an
    export with silent gaps would be worse evidence than none. The records' ``api_key`` field
    is never exported; users' code (``prompt``, ``prefix``, ``suffix``) only with
    ``include_code``.
    """
    verifier = (
        client
        if isinstance(client, Verifier)
        else Verifier(client, index=index, time_field=time_field, retries=retries)
    )
    window = window_of(since, until, now)
    signals = chosen_signals(check_features(features))
    plan = verifier.field_plan()
    blockers, _ = verifier.preflight(plan, signals)
    problems = sorted({problem for signal in signals for problem in blockers[signal.id]})
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
            Q("bool", filter=signal_filter(signal, plan, window, policy)) for signal in signals
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
            answer = read_answer(reader.search(None, body))
            if not answer.complete:
                why = answer.refused or "; ".join(answer.problems)
                raise ElasticsearchError(
                    f"Elasticsearch returned a partial page ({why}); "
                    "the export stopped rather than skip records"
                )
            pit_id = str(answer.body.get("pit_id", pit_id))
            if first and on_total is not None:
                on_total(answer.total)
            first = False
            hits = (answer.body.get("hits") or {}).get("hits") or []
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
