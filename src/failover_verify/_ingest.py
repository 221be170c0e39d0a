"""When records become searchable: the refresh intervals of the indices, and the end of a
window that is surely searchable now.

Elasticsearch makes a new record searchable at the next refresh of its index; GitLab's gateway
indices refresh every 30 s. Until then a search does not see it, so a window that ends near
now has a tail whose records may still be on their way: counted as they are, they would read
as traffic that stopped. By default the window ends where every record is surely
searchable; ``until="now"`` keeps the whole window and says that its tail may be incomplete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from failover_verify._model import Model
from failover_verify._window import TimeWindow

__all__ = [
    "DEFAULT_REFRESH",
    "PIPELINE_MARGIN",
    "SETTLED_AFTER",
    "IngestDelay",
    "assumed_delay",
    "latest",
    "local_targets",
    "read_refresh_intervals",
    "searchable_window",
]

DEFAULT_REFRESH: Final = timedelta(seconds=1)
"""Elasticsearch's ``index.refresh_interval`` when an index does not set one."""
PIPELINE_MARGIN: Final = timedelta(seconds=5)
"""From a record's time to its arrival in Elasticsearch: about a second for ``json.timestamp``
(the log's own time, 0.75-1.1 s before ``@timestamp``), plus bulk batching on the way."""
SETTLED_AFTER: Final = timedelta(hours=1)
"""A window that ended this long before now is searchable under any refresh interval a log
index uses, so the indices' settings are not asked for it."""
REMOTE_REFRESH: Final = timedelta(seconds=30)
"""Assumed for indices of remote clusters, whose settings cannot be read through this one:
GitLab's production setting, the longest a gateway index is known to use."""

_DURATION: Final = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<unit>nanos|micros|ms|s|m|h|d)$")
_UNIT_SECONDS: Final = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


class IngestDelay(Model):
    """How long after its time a record of the matched indices is surely searchable."""

    refresh: timedelta = DEFAULT_REFRESH
    """The longest refresh interval of the matched indices."""
    setting: str = "1s"
    """That interval as the index settings give it."""
    slowest: tuple[str, ...] = ()
    """The indices that refresh that slowly."""
    margin: timedelta = PIPELINE_MARGIN
    not_refreshing: tuple[str, ...] = ()
    """Indices with ``refresh_interval: -1``: their records appear only when refreshed by hand."""
    remote: tuple[str, ...] = ()
    """Remote ``cluster:pattern`` entries, whose refresh interval is assumed, not read."""
    unread: str | None = None
    """Why the settings could not be read, when the refresh interval is assumed for that."""

    @property
    def lag(self) -> timedelta:
        return self.refresh + self.margin

    def searchable_until(self, now: datetime) -> datetime:
        """The last moment whose records are surely searchable at ``now``."""
        return now.astimezone(UTC) - self.lag

    def describe(self) -> str:
        """Where the lag comes from, for notes: the interval, which indices, and the margin."""
        where = ""
        if self.slowest:
            shown = ", ".join(self.slowest[:2])
            more = f" and {len(self.slowest) - 2} more" if len(self.slowest) > 2 else ""
            where = f" of {shown}{more}"
        elif self.unread:
            where = f" (assumed: {self.unread})"
        elif self.remote:
            where = f" assumed for {', '.join(self.remote)}"
        parts = [
            f"refresh_interval {self.setting}{where}, plus {_seconds(self.margin)} for the pipeline"
        ]
        if self.not_refreshing:
            parts.append(
                f"{', '.join(self.not_refreshing)} do not refresh on their own "
                "(refresh_interval -1)"
            )
        return "; ".join(parts)


def assumed_delay(index: str, why: str) -> IngestDelay:
    """The delay assumed when the indices' settings cannot be read: GitLab's production
    refresh interval, the longest a gateway index is known to use."""
    return IngestDelay(
        refresh=REMOTE_REFRESH,
        setting=_seconds(REMOTE_REFRESH, short=True),
        remote=remote_entries(index),
        unread=why,
    )


def local_targets(index: str) -> str | None:
    """The entries of an index expression that this cluster's settings API can read.

    Remote ``cluster:pattern`` entries are left out (index names cannot contain a colon);
    ``None`` when nothing local remains to ask about.
    """
    entries = [entry.strip() for entry in index.split(",") if entry.strip()]
    local = [entry for entry in entries if ":" not in entry]
    if not any(not entry.startswith("-") for entry in local):
        return None
    return ",".join(local)


def remote_entries(index: str) -> tuple[str, ...]:
    return tuple(
        entry.strip()
        for entry in index.split(",")
        if ":" in entry and not entry.strip().startswith("-")
    )


def read_refresh_intervals(response: Mapping[str, Any], *, index: str) -> IngestDelay:
    """Read a ``GET <index>/_settings/index.refresh_interval?include_defaults`` answer."""
    intervals: dict[str, tuple[timedelta, str]] = {}
    stopped: list[str] = []
    for name, entry in response.items():
        value = _interval_of(entry)
        if value is None:
            continue
        if value.strip() == "-1":
            stopped.append(str(name))
            continue
        parsed = _parse(value)
        if parsed is not None:
            intervals[str(name)] = (parsed, value.strip())
    remote = remote_entries(index)
    refresh = max((interval for interval, _ in intervals.values()), default=DEFAULT_REFRESH)
    if remote and refresh < REMOTE_REFRESH:
        return IngestDelay(
            refresh=REMOTE_REFRESH,
            setting=_seconds(REMOTE_REFRESH, short=True),
            not_refreshing=tuple(sorted(stopped)),
            remote=remote,
        )
    slowest = sorted(name for name, (interval, _) in intervals.items() if interval == refresh)
    return IngestDelay(
        refresh=refresh,
        setting=intervals[slowest[0]][1] if slowest else _seconds(refresh, short=True),
        slowest=tuple(slowest),
        not_refreshing=tuple(sorted(stopped)),
        remote=remote,
    )


def _interval_of(entry: object) -> str | None:
    if not isinstance(entry, Mapping):
        return None
    for part in ("settings", "defaults"):
        value = ((entry.get(part) or {}).get("index") or {}).get("refresh_interval")
        if isinstance(value, str):
            return value
    return None


def _parse(value: str) -> timedelta | None:
    match = _DURATION.match(value.strip())
    if match is None:
        return None
    return timedelta(seconds=float(match["amount"]) * _UNIT_SECONDS[match["unit"]])


def _seconds(duration: timedelta, *, short: bool = False) -> str:
    number = f"{round(duration.total_seconds(), 3):g}"
    return f"{number}s" if short else f"{number} s"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def searchable_window(
    window: TimeWindow, *, now: datetime, delay: IngestDelay, keep_tail: bool
) -> TimeWindow:
    """The window as far as its records are surely searchable at ``now``.

    A window that ends before the searchable edge is returned as it is. Otherwise it ends at
    the edge, unless ``keep_tail`` (``until="now"``) or the whole window lies past the edge:
    then it keeps its end and a note says that its tail may be incomplete.
    """
    edge = delay.searchable_until(now)
    if window.end <= edge:
        return window
    how = delay.describe()
    if window.start >= edge:
        note = (
            f"the whole window is newer than {_iso(edge)}, the last moment whose records are "
            f"surely searchable ({how}): its records may be incomplete"
        )
        return window.model_copy(update={"searchable_until": edge, "notes": (*window.notes, note)})
    if keep_tail:
        pending = window.end - edge
        note = (
            f"records after {_iso(edge)} may not be searchable yet ({how}): the last "
            f"{_seconds(pending)} of the window may be incomplete"
        )
        return window.model_copy(update={"searchable_until": edge, "notes": (*window.notes, note)})
    note = (
        f"the window ends at {_iso(edge)}, not {_iso(window.end)}: later records may not be "
        f'searchable yet ({how}); give until="now" to count them as far as they are'
    )
    return TimeWindow(
        start=window.start,
        end=edge,
        requested_end=window.end,
        searchable_until=edge,
        notes=(*window.notes, note),
    )


def latest(length: timedelta, *, now: datetime, delay: IngestDelay) -> TimeWindow:
    """The latest window of ``length`` whose records are all surely searchable at ``now``.

    For polling: the window slides along behind now by the ingest delay, keeping its length,
    and its note says where it ends and why.
    """
    edge = delay.searchable_until(now)
    note = (
        f"the window ends at {_iso(edge)}, {_seconds(delay.lag)} before now: later records may "
        f"not be searchable yet ({delay.describe()})"
    )
    return TimeWindow(
        start=edge - length,
        end=edge,
        requested_end=now.astimezone(UTC),
        searchable_until=edge,
        notes=(note,),
    )
