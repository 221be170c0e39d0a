"""Reading Elasticsearch's answers: completeness, counts, groups, timeline rows and paging.

Every answer the package reads passes through :func:`read_answer`, which decides once whether
it is whole: an msearch item that failed, a search that timed out on the server, failed
shards, and clusters skipped or failed in a cross-cluster search all make it partial, with
the reason. A partial answer never passes for a complete one anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from failover_verify._es import Reader, describe_error
from failover_verify._queries import (
    GROUPS_AGG,
    HELD_AGG,
    LATEST_AGG,
    SEEN_AGG,
    SLICE_KEY,
    TIMELINE_BUCKET,
)
from failover_verify._summary import Group, Tally

__all__ = [
    "Answer",
    "groups_of",
    "held_counts",
    "read_answer",
    "scan_composite",
    "slice_groups",
    "tally_of",
    "timeline_rows",
]

_MAX_REASON: Final = 200


@dataclass
class Answer:
    """One search answer (or msearch item), and whether it can be trusted whole."""

    body: Mapping[str, Any]
    refused: str | None = None
    """Why the server refused the search as a whole, if it did."""
    problems: list[str] = field(default_factory=list)
    """Why the answer is partial: time-outs, failed shards, skipped clusters."""
    failed_indices: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.refused is None and not self.problems

    @property
    def total(self) -> int:
        hits = self.body.get("hits") or {}
        total = hits.get("total") or {}
        return int(total.get("value", 0)) if isinstance(total, Mapping) else int(total)

    @property
    def composite(self) -> Mapping[str, Any]:
        return (self.body.get("aggregations") or {}).get(GROUPS_AGG) or {}


def read_answer(body: Mapping[str, Any]) -> Answer:
    """Read one answer: refused, timed out, with failed shards or skipped clusters, or whole."""
    if "error" in body:
        return Answer(body, refused=describe_error(body))
    answer = Answer(body)
    if body.get("timed_out"):
        answer.problems.append("the search timed out on the server; the counts are partial")
    shards = body.get("_shards") or {}
    failures = shards.get("failures") or []
    answer.failed_indices = sorted(
        {
            str(item.get("index"))
            for item in failures
            if isinstance(item, Mapping) and item.get("index")
        }
    )
    if int(shards.get("failed", 0) or 0):
        reasons = sorted({_failure_reason(item) for item in failures if isinstance(item, Mapping)})
        where = f" in {_failed_shards(failures)}" if answer.failed_indices else ""
        answer.problems.append(
            f"{shards.get('failed')} of {shards.get('total')} shards failed{where}"
            + (": " + "; ".join(reasons) if reasons else "")
        )
    clusters = _missing_clusters(body)
    if clusters is not None:
        answer.problems.append(f"{clusters}; the counts lack their records")
    return answer


def _missing_clusters(body: Mapping[str, Any]) -> str | None:
    """Which clusters of a cross-cluster answer did not answer in full, or ``None``.

    A remote cluster with ``skip_unavailable`` that cannot be reached is left out of the
    answer, which still has status 200 and no failed shard: only ``_clusters`` says so.
    """
    clusters = body.get("_clusters") or {}
    missing = sum(int(clusters.get(state) or 0) for state in ("skipped", "failed", "partial"))
    if not missing:
        return None
    named = []
    for alias, detail in sorted((clusters.get("details") or {}).items()):
        status = detail.get("status") if isinstance(detail, Mapping) else None
        if status not in ("skipped", "failed", "partial"):
            continue
        failures = detail.get("failures") or []
        reason = (
            failures[0].get("reason") if failures and isinstance(failures[0], Mapping) else None
        )
        cause = (
            f" ({reason.get('type', 'error')}: {reason.get('reason') or ''})"
            if isinstance(reason, Mapping)
            else ""
        )
        named.append(f"{alias or '(local)'} was {status}{cause}")
    which = "; ".join(named) if named else "Elasticsearch named none"
    return f"{missing} of {clusters.get('total', '?')} clusters sent no records: {which}"


def _failure_reason(failure: Mapping[str, Any]) -> str:
    reason = failure.get("reason") or {}
    if isinstance(reason, Mapping):
        # A shard lost with its node fails with a type and no reason at all.
        detail = reason.get("reason")
        kind = str(reason.get("type", "error"))
        return f"{kind}: {str(detail)[:_MAX_REASON]}" if detail else kind
    return str(reason)[:_MAX_REASON]


def _failed_shards(failures: list[Any]) -> str:
    """``index (shard 1, 2)`` for each index with failed shards, as the failures name them."""
    shards: dict[str, set[str]] = {}
    for item in failures:
        if isinstance(item, Mapping) and item.get("index"):
            numbers = shards.setdefault(str(item["index"]), set())
            if item.get("shard") is not None:
                numbers.add(str(item["shard"]))
    return ", ".join(
        f"{index} (shard {', '.join(sorted(numbers, key=lambda n: (len(n), n)))})"
        if numbers
        else index
        for index, numbers in sorted(shards.items())
    )


def tally_of(answer: Answer | None, what: str) -> Tally:
    """The totals and the state of a verification search, for the summary."""
    if answer is None:
        return Tally(total=0, complete=False)
    if answer.refused is not None:
        return Tally(
            total=0,
            complete=False,
            blockers=[f"Elasticsearch refused the {what} search: {answer.refused}"],
        )
    return Tally(
        total=answer.total,
        complete=answer.complete,
        failed_indices=answer.failed_indices,
        blockers=list(answer.problems),
    )


def _key_values(key: Mapping[str, Any], names: list[str]) -> dict[str, str | None]:
    return {name: (None if key.get(name) is None else str(key.get(name))) for name in names}


def groups_of(answer: Answer | None, names: list[str]) -> list[Group]:
    """The composite buckets of a verification search, as groups of records."""
    if answer is None or answer.refused is not None:
        return []
    return [_group(bucket, names) for bucket in answer.composite.get("buckets") or []]


def slice_groups(answer: Answer, names: list[str]) -> Iterator[tuple[int, Group]]:
    """(slice start in epoch milliseconds, group) for each bucket of a slice search page."""
    for bucket in answer.composite.get("buckets") or []:
        key = bucket.get("key") or {}
        yield int(key.get(SLICE_KEY, 0)), _group(bucket, names)


def held_counts(answer: Answer) -> dict[str, int]:
    """Records per signal id in a held-counts answer (see ``held_counts_search``)."""
    buckets = ((answer.body.get("aggregations") or {}).get(HELD_AGG) or {}).get("buckets") or {}
    return {str(name): int(bucket.get("doc_count", 0)) for name, bucket in buckets.items()}


def _group(bucket: Mapping[str, Any], names: list[str]) -> Group:
    hits = ((bucket.get(LATEST_AGG) or {}).get("hits") or {}).get("hits") or []
    seen = bucket.get(SEEN_AGG) or {}
    last_seen = _epoch_ms(seen.get("max"))
    return Group(
        values=_key_values(bucket.get("key") or {}, names),
        count=int(bucket.get("doc_count", 0)),
        first_seen=_epoch_ms(seen.get("min")),
        last_seen=last_seen,
        sample=hits[0] if hits else None,
        sample_time=last_seen,
    )


def timeline_rows(
    answer: Answer, names: list[str]
) -> Iterator[tuple[datetime, dict[str, str | None], int]]:
    """(bucket start, grouped values, count) for each composite bucket of a timeline page."""
    for bucket in answer.composite.get("buckets") or []:
        key = bucket.get("key") or {}
        start = datetime.fromtimestamp(int(key.get(TIMELINE_BUCKET, 0)) / 1000, UTC)
        yield start, _key_values(key, names), int(bucket.get("doc_count", 0))


def scan_composite(
    reader: Reader,
    index: str,
    body_after: Callable[[dict[str, Any] | None], Mapping[str, Any]],
    page_size: int,
) -> Iterator[Answer]:
    """Every page of a composite aggregation, read in turn (as elasticsearch-dsl's scan does).

    ``body_after(after_key)`` builds the request for the page after ``after_key`` (``None``
    for the first). A page shorter than ``page_size`` is the last, so no empty page is asked
    for. A partial page is yielded like any other: the caller decides what partial means.
    """
    after: dict[str, Any] | None = None
    while True:
        answer = read_answer(reader.search(index, body_after(after)))
        yield answer
        buckets = answer.composite.get("buckets") or []
        next_key = answer.composite.get("after_key")
        if answer.refused is not None or len(buckets) < page_size or next_key is None:
            return
        after = dict(next_key)


def _epoch_ms(value: object) -> datetime | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)
