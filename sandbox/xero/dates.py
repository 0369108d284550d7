"""Xero's date formats, both ways.

Xero JSON writes instants and dates in the Microsoft .NET style `/Date(1518739200000+0000)/`
(Unix milliseconds, optional `+hhmm`), with ISO twins such as `DateString`
(`2018-02-16T00:00:00`, no zone). Some fields of organisations ahead of UTC carry the local
midnight with a `+1300` offset, so converting them to UTC moves the date back a day (a real
pitfall: XeroAPI/xero-python#179). Webhook `eventDateUtc` and `/connections` timestamps are ISO
without `Z`. `If-Modified-Since` arrives as RFC 1123 or ISO 8601.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email.utils import parsedate_to_datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def latest(*instants: datetime | None) -> datetime | None:
    """The latest of the instants given (None if there are none)."""
    return max((i for i in instants if i is not None), default=None)


def saved(instant: datetime | None) -> datetime:
    """A record's update stamp, which the store sets whenever it saves the record."""
    if instant is None:
        raise ValueError("the record was never saved, so it has no update stamp")
    return instant


def net_instant(instant: datetime) -> str:
    """`/Date(1518739200000+0000)/` for an aware instant."""
    return f"/Date({ms(instant)}+0000)/"


def net_plain(instant: datetime) -> str:
    """`/Date(1518739200000)/`, the envelope's `DateTimeUTC` style."""
    return f"/Date({ms(instant)})/"


def net_date(day: date, offset_minutes: int = 0) -> str:
    """A calendar date as its local midnight, in UTC milliseconds plus the offset suffix."""
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    stamp = ms(local_midnight - timedelta(minutes=offset_minutes))
    return f"/Date({stamp}{sign}{hours:02d}{minutes:02d})/"


def date_string(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def utc_string(instant: datetime) -> str:
    """`UpdatedDateUTCString` style: `2018-11-02T16:36:32Z`."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_string(instant: datetime) -> str:
    """Webhook `eventDateUtc`: milliseconds, no zone designator."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def connection_string(instant: datetime) -> str:
    """`/connections` `createdDateUtc`: seven fractional digits, no zone designator."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def expired_string(instant: datetime) -> str:
    """The timestamp inside `TokenExpired: token expired at ...` (US style, UTC)."""
    return instant.astimezone(UTC).strftime("%m/%d/%Y %H:%M:%S")


def parse_http_instant(value: str | None) -> datetime | None:
    """An `If-Modified-Since` value (RFC 1123 or ISO 8601) as aware UTC; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_body_date(value: object) -> date | None:
    """A request body date: `2026-05-01`, `2026-05-01T00:00:00` or `/Date(ms+hhmm)/`."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("/Date("):
        return _parse_net(value)
    try:
        return (
            datetime.fromisoformat(value[:19]).date() if "T" in value else date.fromisoformat(value)
        )
    except ValueError:
        return None


def _parse_net(value: str) -> date | None:
    body = value[6:].split(")")[0]
    digits, sign, offset = body, "+", "0000"
    for mark in "+-":
        if mark in body[1:]:
            digits, offset = body.rsplit(mark, 1)
            sign = mark
    try:
        minutes = int(offset[:2]) * 60 + int(offset[2:])
        zone = timezone(timedelta(minutes=minutes if sign == "+" else -minutes))
        return datetime.fromtimestamp(int(digits) / 1000, zone).date()
    except ValueError:
        return None


def nz_offset_minutes(day: date) -> int:
    """New Zealand's offset at local midnight: NZDT (+13:00) from the day after the last Sunday
    of September until the first Sunday of April inclusive, NZST (+12:00) otherwise."""
    sept_end = date(day.year, 9, 30)
    last_sunday_sept = sept_end - timedelta(days=(sept_end.weekday() + 1) % 7)
    april_first = date(day.year, 4, 1)
    first_sunday_april = april_first + timedelta(days=(6 - april_first.weekday()) % 7)
    daylight = day > last_sunday_sept or day <= first_sunday_april
    return 780 if daylight else 720
