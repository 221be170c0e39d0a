"""Verification that costs what is new: each signal's groups kept per settled time slice.

A verifier cuts a window into slices aligned on multiples of a slice length since the epoch,
as a ``date_histogram`` cuts time. Once a slice lies wholly inside a verified window, its
answer was complete and it ended longer than the settle delay ago (so every record of it is
searchable), its groups are kept: count, first and last seen, and the latest sample per
combination of grouped values. A later verification of an overlapping window asks
Elasticsearch only for what it does not hold (the newest slices, and the part of a slice at
each ragged edge) and merges: counts add up, first seen is the earliest, last seen and the
sample are the latest. The result is the one a verification of the whole window gives.

Records can still arrive late (a stalled pipeline) or leave (an index deleted), so the same
request also counts, per signal, the records now in the kept slices, from the index
structures alone. When a count differs from what was kept, that signal's slices are dropped
and asked for again, in a second request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from failover_verify._answers import (
    Answer,
    groups_of,
    held_counts,
    read_answer,
    slice_groups,
    tally_of,
)
from failover_verify._es import LOG, Reader
from failover_verify._exceptions import UsageError
from failover_verify._mapping import FieldPlan
from failover_verify._policy import Policy
from failover_verify._queries import (
    GROUP_PAGE_SIZE,
    held_counts_search,
    signal_search,
    slice_search,
)
from failover_verify._signals import Signal
from failover_verify._summary import Group, Tally
from failover_verify._window import TimeWindow

__all__ = [
    "SliceCache",
    "count_with_slices",
    "gaps_of",
    "merge_groups",
    "slice_length",
    "spans_of",
]

DEFAULT_SETTLE: Final = timedelta(seconds=60)
"""How long after a slice ends its groups may be kept when the indices' ingest delay is not
known: past GitLab's 30 s index refresh and the few seconds the log pipeline takes, with room
to spare."""
SLICE_LENGTHS: Final = tuple(
    timedelta(seconds=seconds) for seconds in (10, 30, 60, 300, 600, 1800, 3600, 21600, 86400)
)
SLICES_PER_WINDOW: Final = 60
"""About how many slices a window is cut into: what a poll asks again is one or two of them."""
MAX_SLICE_PAGES: Final = 10
"""Composite pages of slices read before a signal is counted over its window in one go."""
MAX_KEPT_SLICES: Final = 5_000
"""Per signal; beyond it the oldest slices are let go (a few MB at most)."""
_NUMERIC_TYPES: Final = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
     "unsigned_long", "date", "date_nanos"}
)  # fmt: skip


def slice_length(window: TimeWindow) -> timedelta:
    """The slice length for a window: the shortest of :data:`SLICE_LENGTHS` that cuts it into
    at most about :data:`SLICES_PER_WINDOW` slices."""
    wanted = (window.end - window.start) / SLICES_PER_WINDOW
    return next((length for length in SLICE_LENGTHS if length >= wanted), SLICE_LENGTHS[-1])


@dataclass(frozen=True)
class _Slice:
    total: int
    groups: tuple[Group, ...]


@dataclass
class _Held:
    """One signal's kept slices, valid for one query shape (its fingerprint)."""

    fingerprint: str
    slices: dict[int, _Slice] = field(default_factory=dict)


class SliceCache:
    """The slices a :class:`~failover_verify.Verifier` keeps between verifications."""

    def __init__(self, settle: timedelta | None = None) -> None:
        if settle is not None and settle < timedelta(0):
            raise UsageError(f"settle= must not be negative, not {settle}")
        self.settle = settle
        """``None``: the indices' ingest delay when it is known, else :data:`DEFAULT_SETTLE`."""
        self._held: dict[str, _Held] = {}

    def __repr__(self) -> str:
        kept = sum(len(held.slices) for held in self._held.values())
        settle = "the ingest delay" if self.settle is None else str(self.settle)
        return f"<SliceCache {kept} slices, settle {settle}>"

    def settled_before(self, now: datetime, ingest_delay: timedelta) -> datetime:
        """The moment before which a slice may be kept: every record of it is searchable."""
        if self.settle is None:
            wait = ingest_delay if ingest_delay > timedelta(0) else DEFAULT_SETTLE
        else:
            wait = max(self.settle, ingest_delay)
        return now.astimezone(UTC) - wait

    def clear(self) -> None:
        self._held.clear()

    def held(self, signal_id: str, fingerprint: str) -> _Held:
        """The kept slices of a signal, emptied if its query has changed shape since."""
        held = self._held.get(signal_id)
        if held is None or held.fingerprint != fingerprint:
            held = self._held[signal_id] = _Held(fingerprint)
        return held


@dataclass
class _Work:
    """What one signal needs in this verification."""

    signal: Signal
    held: _Held
    used: list[int]
    """Starts (epoch ms) of the kept slices this window uses."""
    gaps: list[TimeWindow]
    """The parts of the window to ask Elasticsearch for."""
    pages: list[Answer] = field(default_factory=list)


def count_with_slices(
    reader: Reader,
    plan: FieldPlan,
    policy: Policy,
    signals: Sequence[Signal],
    window: TimeWindow,
    *,
    now: datetime,
    cache: SliceCache,
    ingest_delay: timedelta = timedelta(0),
) -> dict[str, tuple[list[Group], Tally]]:
    """Each signal's groups and tally in the window, asking only for what ``cache`` lacks.

    A slice is kept once ``ingest_delay`` (the indices' refresh interval and pipeline margin)
    has passed since it ended, and ``cache.settle`` when that is set and longer: until then
    records may still become searchable in it. Records later still are caught by the count
    of the kept slices.
    """
    length_ms = int(slice_length(window).total_seconds() * 1000)
    works = [
        _plan_work(signal, plan, policy, window, length_ms=length_ms, cache=cache)
        for signal in signals
    ]
    checked = [work for work in works if work.used]
    bodies = [_slice_body(work, plan, policy, length_ms) for work in works if work.gaps]
    if checked:
        spans = [(work.signal, spans_of(work.used, length_ms)) for work in checked]
        bodies.append(held_counts_search(spans, plan, policy).to_dict())
    items = [read_answer(item) for item in reader.msearch(plan.index, bodies)] if bodies else []
    asked = [work for work in works if work.gaps]
    for work, answer in zip(asked, items, strict=False):
        work.pages = [answer]
    stale = _stale(checked, items[-1] if checked else None)
    if stale:
        # Records arrived in, or left, slices already kept: forget them and ask again.
        LOG.info("kept slices changed for %s; asking again", ", ".join(w.signal.id for w in stale))
        for work in stale:
            for start in work.used:
                work.held.slices.pop(start, None)
            work.used, work.gaps = [], [window]
        redo = reader.msearch(
            plan.index, [_slice_body(work, plan, policy, length_ms) for work in stale]
        )
        for work, item in zip(stale, redo, strict=True):
            work.pages = [read_answer(item)]
    results = {}
    edge = cache.settled_before(now, ingest_delay)
    for work in works:
        if _read_more_pages(reader, work, plan, policy, length_ms):
            results[work.signal.id] = _result(work, plan, edge, length_ms)
        else:
            results[work.signal.id] = _whole(reader, work.signal, plan, policy, window)
    return results


def _whole(
    reader: Reader, signal: Signal, plan: FieldPlan, policy: Policy, window: TimeWindow
) -> tuple[list[Group], Tally]:
    answer = read_answer(
        reader.search(plan.index, signal_search(signal, plan, window, policy).to_dict())
    )
    return groups_of(answer, list(signal.group_fields)), tally_of(answer, signal.id)


def _plan_work(
    signal: Signal,
    plan: FieldPlan,
    policy: Policy,
    window: TimeWindow,
    *,
    length_ms: int,
    cache: SliceCache,
) -> _Work:
    fingerprint = json.dumps(
        slice_search(
            signal, plan, [_EPOCH_SPAN], policy, slice_seconds=length_ms // 1000
        ).to_dict(),
        sort_keys=True,
    )
    held = cache.held(signal.id, fingerprint)
    # Slices wholly before the window are of no further use to a window that moves forward.
    for start in [start for start in held.slices if _moment(start + length_ms) <= window.start]:
        del held.slices[start]
    while len(held.slices) > MAX_KEPT_SLICES:
        del held.slices[min(held.slices)]
    used = sorted(
        start
        for start in held.slices
        if _moment(start) >= window.start and _moment(start + length_ms) <= window.end
    )
    return _Work(signal, held, used, gaps_of(window, used, length_ms))


_EPOCH_SPAN: Final = TimeWindow(
    start=datetime(1970, 1, 1, tzinfo=UTC), end=datetime(1970, 1, 2, tzinfo=UTC)
)


def _slice_body(work: _Work, plan: FieldPlan, policy: Policy, length_ms: int) -> dict[str, Any]:
    return slice_search(
        work.signal, plan, work.gaps, policy, slice_seconds=length_ms // 1000
    ).to_dict()


def _stale(checked: Sequence[_Work], answer: Answer | None) -> list[_Work]:
    """The signals whose kept slices no longer hold what they held when kept."""
    if not checked:
        return []
    counts = held_counts(answer) if answer is not None and answer.complete else None
    if counts is None:
        # Unchecked slices are not trusted: ask for the whole window.
        return list(checked)
    return [
        work
        for work in checked
        if counts.get(work.signal.id, 0) != sum(work.held.slices[s].total for s in work.used)
    ]


def _read_more_pages(
    reader: Reader, work: _Work, plan: FieldPlan, policy: Policy, length_ms: int
) -> bool:
    """Follow a full composite page to the next, as long as each page is whole.

    False when the slices hold too many groups to page through (thousands of distinct
    values): the signal is then better counted over the window in one go.
    """
    while work.pages:
        last = work.pages[-1]
        buckets = last.composite.get("buckets") or []
        after = last.composite.get("after_key")
        if not last.complete or len(buckets) < GROUP_PAGE_SIZE or after is None:
            return True
        if len(work.pages) >= MAX_SLICE_PAGES:
            return False
        body = slice_search(
            work.signal,
            plan,
            work.gaps,
            policy,
            slice_seconds=length_ms // 1000,
            after=dict(after),
        ).to_dict()
        work.pages.append(read_answer(reader.search(plan.index, body)))
    return True


def _result(
    work: _Work, plan: FieldPlan, edge: datetime, length_ms: int
) -> tuple[list[Group], Tally]:
    names = list(work.signal.group_fields)
    kept = [work.held.slices[start] for start in work.used]
    tally = Tally(total=sum(piece.total for piece in kept))
    fresh: dict[int, list[Group]] = {}
    if work.pages:
        tally = tally_of(work.pages[0], work.signal.id)
        tally.total += sum(piece.total for piece in kept)
        for page in work.pages[1:]:
            more = tally_of(page, work.signal.id)
            tally.complete = tally.complete and more.complete
            tally.blockers += [item for item in more.blockers if item not in tally.blockers]
            tally.failed_indices = sorted({*tally.failed_indices, *more.failed_indices})
        for page in work.pages:
            if page.refused is None:
                for start, group in slice_groups(page, names):
                    fresh.setdefault(start, []).append(group)
        if tally.complete:
            _keep(work, fresh, edge, length_ms)
    groups = [group for piece in kept for group in piece.groups]
    groups += [group for pieces in fresh.values() for group in pieces]
    # A verification in one go reads one composite page of groups: the same first groups are
    # kept here, and the records of the others are counted but not broken down alike.
    return merge_groups(groups, _numeric_positions(work.signal, plan))[:GROUP_PAGE_SIZE], tally


def _keep(work: _Work, fresh: dict[int, list[Group]], edge: datetime, length_ms: int) -> None:
    """Keep every whole, settled slice of the parts asked for (empty ones too)."""
    for gap in work.gaps:
        start = _ms(gap.start) // length_ms * length_ms
        if _moment(start) < gap.start:
            start += length_ms
        while _moment(start + length_ms) <= min(gap.end, edge):
            groups = tuple(fresh.get(start, ()))
            work.held.slices[start] = _Slice(sum(g.count for g in groups), groups)
            start += length_ms


def merge_groups(groups: Iterable[Group], numeric: frozenset[int]) -> list[Group]:
    """Groups of the same values made one, ordered as a composite aggregation orders them."""
    merged: dict[tuple[str | None, ...], Group] = {}
    for group in groups:
        key = tuple(group.values.values())
        into = merged.get(key)
        if into is None:
            merged[key] = replace(group, values=dict(group.values))
            continue
        into.count += group.count
        if group.first_seen is not None and (
            into.first_seen is None or group.first_seen < into.first_seen
        ):
            into.first_seen = group.first_seen
        if group.last_seen is not None and (
            into.last_seen is None or group.last_seen > into.last_seen
        ):
            into.last_seen = group.last_seen
        if group.sample_time is not None and (
            into.sample_time is None or group.sample_time > into.sample_time
        ):
            into.sample, into.sample_time = group.sample, group.sample_time
    return sorted(merged.values(), key=_composite_order(numeric))


def _composite_order(numeric: frozenset[int]) -> Callable[[Group], tuple[Any, ...]]:
    # Composite buckets come missing values first, then keywords by their UTF-8 bytes (which
    # is Python's order of code points) and numbers by value.
    def key(group: Group) -> tuple[Any, ...]:
        return tuple(
            (0, 0.0, "")
            if value is None
            else (1, float(value), "")
            if position in numeric
            else (1, 0.0, value)
            for position, value in enumerate(group.values.values())
        )

    return key


def _numeric_positions(signal: Signal, plan: FieldPlan) -> frozenset[int]:
    return frozenset(
        position
        for position, path in enumerate(signal.group_fields.values())
        if set(plan.choice(path).types) & _NUMERIC_TYPES
    )


def gaps_of(window: TimeWindow, used: Sequence[int], length_ms: int) -> list[TimeWindow]:
    """The parts of the window not covered by the kept slices ``used`` (sorted starts)."""
    gaps = []
    cursor = window.start
    for start in used:
        begin = _moment(start)
        if begin > cursor:
            gaps.append(TimeWindow(start=cursor, end=begin))
        cursor = _moment(start + length_ms)
    if cursor < window.end:
        gaps.append(TimeWindow(start=cursor, end=window.end))
    return gaps


def spans_of(starts: Sequence[int], length_ms: int) -> list[TimeWindow]:
    """Sorted slice starts as the fewest time spans."""
    spans: list[tuple[int, int]] = []
    for start in starts:
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + length_ms)
        else:
            spans.append((start, start + length_ms))
    return [TimeWindow(start=_moment(begin), end=_moment(end)) for begin, end in spans]


def _ms(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH_SPAN.start
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _moment(epoch_ms: int) -> datetime:
    return _EPOCH_SPAN.start + timedelta(milliseconds=epoch_ms)
