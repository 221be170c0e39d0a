from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from failover_verify import WindowError
from failover_verify._window import TimeWindow, parse_duration, parse_window

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class TestRelative:
    @pytest.mark.parametrize(
        ("since", "expected"),
        [
            ("15m", timedelta(minutes=15)),
            ("2h", timedelta(hours=2)),
            ("1d", timedelta(days=1)),
            ("30s", timedelta(seconds=30)),
            ("1w", timedelta(weeks=1)),
            ("now-30m", timedelta(minutes=30)),
            ("NOW - 2H", timedelta(hours=2)),
        ],
    )
    def test_duration_before_now(self, since: str, expected: timedelta) -> None:
        """A duration or now-<duration> starts that long before now and ends now."""
        window = parse_window(since, now=NOW)
        assert window.start == NOW - expected
        assert window.end == NOW
        assert window.notes == ()

    def test_until_relative(self) -> None:
        """`until` accepts the same relative forms as `since`."""
        window = parse_window("2h", "now-1h", now=NOW)
        assert (window.start, window.end) == (NOW - timedelta(hours=2), NOW - timedelta(hours=1))


class TestAbsolute:
    def test_iso_with_zone(self) -> None:
        """ISO 8601 with an offset is converted to UTC."""
        window = parse_window("2026-11-27T10:00:00+01:00", "2026-11-27T10:30:00Z", now=NOW)
        assert window.start == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        assert window.end == datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
        assert window.notes == ()

    def test_naive_is_utc_and_said(self) -> None:
        """A time without a zone is taken as UTC, and the window notes say so."""
        window = parse_window("2026-11-27 10:00", now=NOW)
        assert window.start == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
        assert any("taken as UTC" in note for note in window.notes)

    def test_dateutil_forms(self) -> None:
        """Free-form dates that python-dateutil reads are accepted."""
        window = parse_window("27 Nov 2026 09:15 +0000", now=NOW)
        assert window.start == datetime(2026, 11, 27, 9, 15, tzinfo=UTC)

    def test_datetimes(self) -> None:
        """Datetimes are accepted; aware ones keep their instant, naive ones become UTC."""
        aware = datetime(2026, 11, 27, 11, 0, tzinfo=timezone(timedelta(hours=2)))
        window = parse_window(aware, datetime(2026, 11, 27, 11, 0), now=NOW)
        assert window.start == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        assert window.end == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
        assert len(window.notes) == 1


class TestErrors:
    @pytest.mark.parametrize(
        ("since", "until", "message"),
        [
            ("", None, "empty"),
            ("   ", None, "empty"),
            ("yesterday-ish", None, "cannot read the since time"),
            ("now", None, "the time window is empty"),
            ("1h", "2h", "inverted"),
            ("2026-11-27T11:00Z", "2026-11-27T10:00Z", "inverted"),
            ("0026-01-01", None, "check the year"),
            ("15m", "whenever", "cannot read the until time"),
        ],
    )
    def test_bad_windows(self, since: str, until: str | None, message: str) -> None:
        """Empty, inverted and unparseable windows raise WindowError naming the problem."""
        with pytest.raises(WindowError, match=message):
            parse_window(since, until, now=NOW)

    def test_error_suggests_formats(self) -> None:
        """An unreadable time says which forms are accepted."""
        with pytest.raises(WindowError, match=r"15m, 2h"):
            parse_window("fortnight", now=NOW)

    def test_serialises_with_from_and_to(self) -> None:
        """The window's JSON form uses `from` and `to`."""
        data = parse_window("15m", now=NOW).model_dump(mode="json", by_alias=True)
        assert data["from"] == "2026-11-27T11:45:00Z"
        assert data["to"] == "2026-11-27T12:00:00Z"


class TestDescribe:
    def test_describe_in_utc(self) -> None:
        """A window describes itself in UTC with Z, whatever offset it was given in."""
        plus_two = timezone(timedelta(hours=2))
        window = TimeWindow(
            start=datetime(2026, 11, 27, 13, 0, tzinfo=plus_two),
            end=datetime(2026, 11, 27, 14, 30, 15, tzinfo=plus_two),
        )
        assert window.describe() == "2026-11-27T11:00:00Z to 2026-11-27T12:30:15Z"
        assert window.duration == timedelta(hours=1, minutes=30, seconds=15)

    def test_inverted_window_names_both_ends(self) -> None:
        """An inverted window's error gives both ends in UTC and says what is needed."""
        with pytest.raises(WindowError) as caught:
            parse_window("2026-11-27T11:00Z", "2026-11-27T11:30+01:00", now=NOW)
        assert str(caught.value) == (
            "the time window is inverted: it starts at 2026-11-27T11:00:00Z and ends at "
            "2026-11-27T10:30:00Z; the start must be before the end"
        )

    def test_naive_notes_name_the_input(self) -> None:
        """Each end taken as UTC is noted with the text or datetime it came from."""
        window = parse_window("2026-11-27 10:00", datetime(2026, 11, 27, 11, 0), now=NOW)
        assert window.notes == (
            "since '2026-11-27 10:00' had no timezone; taken as UTC",
            "until 2026-11-27T11:00:00 had no timezone; taken as UTC",
        )


class TestDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("30s", timedelta(seconds=30)),
            ("5m", timedelta(minutes=5)),
            (" 2H ", timedelta(hours=2)),
            ("1d", timedelta(days=1)),
            ("1w", timedelta(weeks=1)),
            (timedelta(seconds=1), timedelta(seconds=1)),
        ],
    )
    def test_durations(self, text: str | timedelta, expected: timedelta) -> None:
        """A number and a unit, or a timedelta, is a duration."""
        assert parse_duration(text, what="interval") == expected

    @pytest.mark.parametrize("value", ["0s", timedelta(0), timedelta(seconds=-1)])
    def test_zero_or_negative_is_refused(self, value: str | timedelta) -> None:
        """A duration must be longer than zero, and the error names what it is for."""
        with pytest.raises(WindowError) as caught:
            parse_duration(value, what="interval")
        assert str(caught.value) == "the interval must be longer than zero"

    @pytest.mark.parametrize("text", ["5", "m", "5 minutes", "1.5h", "-5m"])
    def test_not_a_duration(self, text: str) -> None:
        """Text that is not a number and a unit is refused, showing the accepted form."""
        with pytest.raises(WindowError) as caught:
            parse_duration(text, what="poll interval")
        assert str(caught.value) == (
            f"the poll interval {text!r} is not a duration; use a number and s, m, h, d or w "
            "(30s, 5m)"
        )


FORMATS = (
    "use a duration before now (15m, 2h, 1d, 30s, 1w), now-<duration>, now, or an absolute "
    "time such as 2026-03-01T14:05:00Z"
)


class TestMessages:
    @pytest.mark.parametrize(
        ("since", "until", "message"),
        [
            ("", None, f"the since time is empty; {FORMATS}"),
            ("15m", " ", f"the until time is empty; {FORMATS}"),
            ("now-99999999w", None, "the since time 'now-99999999w' reaches too far back"),
            (
                "fortnight",
                None,
                (
                    f"cannot read the since time 'fortnight' (Unknown string format: fortnight); "
                    f"{FORMATS}"
                ),
            ),
            (
                "1999-12-31T23:59Z",
                None,
                "the since time '1999-12-31T23:59Z' is before 2000; check the year",
            ),
            (
                "now",
                None,
                (
                    "the time window is empty: it starts at 2026-11-27T12:00:00Z and ends at "
                    "2026-11-27T12:00:00Z; the start must be before the end"
                ),
            ),
        ],
    )
    def test_errors_in_full(self, since: str, until: str | None, message: str) -> None:
        """Each window error says what was wrong with which end, and how to write it."""
        with pytest.raises(WindowError) as caught:
            parse_window(since, until, now=NOW)
        assert str(caught.value) == message

    def test_year_2000_is_the_earliest(self) -> None:
        """The first instant of 2000 is accepted; anything earlier is taken for a typo."""
        window = parse_window("2000-01-01T00:00Z", now=NOW)
        assert window.start == datetime(2000, 1, 1, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("27 Nov", datetime(2026, 11, 27, 0, 0, tzinfo=UTC)),
            ("10:30", datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
        ],
    )
    def test_missing_parts_default_to_today_at_midnight(
        self, text: str, expected: datetime
    ) -> None:
        """A date without a time is midnight, a time without a date is today: never now."""
        assert parse_window(text, now=NOW).start == expected


NOW_ODD = datetime(2026, 11, 27, 12, 34, 56, 789_000, tzinfo=UTC)
"""A 'now' with minutes, seconds and microseconds, none of which a default may take."""


class TestDefaultsAtOddMoments:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("27 Nov", datetime(2026, 11, 27, 0, 0, tzinfo=UTC)),
            ("26 Nov 2026", datetime(2026, 11, 26, 0, 0, tzinfo=UTC)),
            ("10:30", datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
        ],
    )
    def test_missing_parts_are_zero(self, text: str, expected: datetime) -> None:
        """Parts the text lacks are midnight's, never the minutes or seconds of now; and the
        result has no timezone given, so it is taken as UTC and said."""
        window = parse_window(text, now=NOW_ODD)
        assert window.start == expected
        assert window.start.tzinfo is UTC
        assert window.notes == (f"since {text!r} had no timezone; taken as UTC",)


@pytest.fixture
def new_york() -> Iterator[None]:
    """The process's local time zone is New York's (UTC-5 in November) for one test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.mark.usefixtures("new_york")
class TestLocalZoneIsIgnored:
    def test_naive_text_is_utc_not_local(self) -> None:
        """Text without a zone is UTC even where the machine's zone is not, and the window
        is held and described in UTC."""
        window = parse_window("2026-11-27 10:00", "2026-11-27T11:00:00Z", now=NOW)
        assert window.start == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
        assert (window.start.utcoffset(), window.end.utcoffset()) == (timedelta(0),) * 2
        data = window.model_dump(mode="json", by_alias=True)
        assert (data["from"], data["to"]) == ("2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z")

    def test_describe_is_utc_not_local(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        window = TimeWindow(
            start=datetime(2026, 11, 27, 13, 0, tzinfo=plus_two),
            end=datetime(2026, 11, 27, 14, 0, tzinfo=plus_two),
        )
        assert window.describe() == "2026-11-27T11:00:00Z to 2026-11-27T12:00:00Z"

    def test_naive_datetime_is_utc_not_local(self) -> None:
        window = parse_window(datetime(2026, 11, 27, 10, 0), now=NOW)
        assert window.start == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
        assert window.start.utcoffset() == timedelta(0)

    def test_aware_datetime_is_held_in_utc(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        window = parse_window(datetime(2026, 11, 27, 12, 0, tzinfo=plus_two), now=NOW)
        assert window.start == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
        assert window.start.utcoffset() == timedelta(0)

    def test_relative_window_is_held_in_utc(self) -> None:
        """A window before now is in UTC, both ends, whatever the local zone."""
        data = parse_window("15m", now=NOW).model_dump(mode="json", by_alias=True)
        assert (data["from"], data["to"]) == ("2026-11-27T11:45:00Z", "2026-11-27T12:00:00Z")
