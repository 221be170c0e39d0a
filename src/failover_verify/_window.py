"""Time windows: relative ("15m", "now-2h") or absolute (ISO 8601, anything dateutil reads)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self

from dateutil import parser as dateutil_parser
from pydantic import AwareDatetime, Field, model_validator

from failover_verify._exceptions import FailoverVerifyError, WindowError
from failover_verify._model import Model

__all__ = ["TimeWindow", "parse_duration", "parse_window"]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(
    r"^\s*(?:(?P<now>now)\s*(?:-\s*(?P<n1>\d+)\s*(?P<u1>[smhdw]))?"
    r"|(?P<n2>\d+)\s*(?P<u2>[smhdw]))\s*$",
    re.IGNORECASE,
)
# Far enough back for any log retention, near enough to catch typos like "0026".
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

FORMATS_HELP = (
    "use a duration before now (15m, 2h, 1d, 30s, 1w), now-<duration>, now, "
    "or an absolute time such as 2026-03-01T14:05:00Z"
)


class TimeWindow(Model):
    """A half-open interval [start, end) in UTC, with notes on how the input was read."""

    invalid_error: ClassVar[type[FailoverVerifyError]] = WindowError

    start: AwareDatetime = Field(serialization_alias="from")
    end: AwareDatetime = Field(serialization_alias="to")
    notes: tuple[str, ...] = ()
    requested_end: AwareDatetime | None = Field(default=None, serialization_alias="requested_to")
    """The end asked for, when the window was ended earlier, where its records are surely
    searchable; ``None`` when it ends where it was asked to."""
    searchable_until: AwareDatetime | None = None
    """The last moment whose records were surely searchable when the window was read, when
    the window reached that far; records after it, up to ``end``, may not all be counted."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end <= self.start:
            what = "empty" if self.end == self.start else "inverted"
            raise WindowError(
                f"the time window is {what}: it starts at {_iso(self.start)} "
                f"and ends at {_iso(self.end)}; the start must be before the end"
            )
        return self

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def describe(self) -> str:
        return f"{_iso(self.start)} to {_iso(self.end)}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(
    value: str | datetime, *, now: datetime, what: str
) -> tuple[datetime, str | None]:
    """Read one end of a window. Returns the UTC instant and a note when input was naive."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(
                tzinfo=UTC
            ), f"{what} {value.isoformat()} had no timezone; taken as UTC"
        return value.astimezone(UTC), None
    if not isinstance(value, str) or not value.strip():
        raise WindowError(f"the {what} time is empty; {FORMATS_HELP}")
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount = relative["n1"] or relative["n2"]
        unit = relative["u1"] or relative["u2"]
        if amount is None or unit is None:
            return now, None
        try:
            return now - timedelta(**{_UNITS[unit.lower()]: int(amount)}), None
        except OverflowError:
            raise WindowError(f"the {what} time {text!r} reaches too far back") from None
    return _parse_absolute(text, now=now, what=what)


def _parse_absolute(text: str, *, now: datetime, what: str) -> tuple[datetime, str | None]:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            # Missing parts default to midnight today rather than to the current time of day.
            default = now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
            moment = dateutil_parser.parse(text, default=default)
        except (ValueError, OverflowError) as exc:
            raise WindowError(
                f"cannot read the {what} time {text!r} ({exc}); {FORMATS_HELP}"
            ) from None
    note = None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
        note = f"{what} {text!r} had no timezone; taken as UTC"
    moment = moment.astimezone(UTC)
    if moment < _EARLIEST:
        raise WindowError(f"the {what} time {text!r} is before {_EARLIEST.year}; check the year")
    return moment, note


_DURATION = re.compile(r"^\s*(?P<n>\d+)\s*(?P<u>[smhdw])\s*$", re.IGNORECASE)


def parse_duration(value: str | timedelta, *, what: str) -> timedelta:
    """Read a positive duration such as ``30s``, ``5m`` or ``2h``."""
    if isinstance(value, timedelta):
        duration = value
    else:
        match = _DURATION.match(value)
        if match is None:
            raise WindowError(
                f"the {what} {value!r} is not a duration; "
                "use a number and s, m, h, d or w (30s, 5m)"
            )
        duration = timedelta(**{_UNITS[match["u"].lower()]: int(match["n"])})
    if duration <= timedelta(0):
        raise WindowError(f"the {what} must be longer than zero")
    return duration


def parse_window(
    since: str | datetime,
    until: str | datetime | None = None,
    *,
    now: datetime | None = None,
) -> TimeWindow:
    """Build a window from the CLI's strings or from datetimes; ``until`` defaults to now."""
    current = (now or datetime.now(UTC)).astimezone(UTC)
    start, start_note = parse_instant(since, now=current, what="since")
    end, end_note = (
        (current, None) if until is None else parse_instant(until, now=current, what="until")
    )
    notes = tuple(note for note in (start_note, end_note) if note)
    return TimeWindow(start=start, end=end, notes=notes)
