"""Xero's date formats, turned into aware UTC instants and plain calendar dates.

Xero's JSON carries Microsoft .NET dates, `/Date(1518739200000+1300)/`: the number is Unix
milliseconds (a UTC instant), the optional offset says where the value was meant. Calendar
fields (Date, DueDate, FullyPaidOnDate) are the organisation's local midnight, so their day must
be read in that offset, never through UTC (xero-python#179 shifts NZ dates a day back). Most of
them have an ISO `*String` twin ("2018-02-16T00:00:00"), which we prefer. Other places (webhooks,
/connections) use ISO timestamps without a `Z`, which mean UTC.
See https://developer.xero.com/documentation/api/accounting/requests-and-responses
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email.utils import format_datetime
from typing import Any

_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{2})(\d{2}))?\)/$")
# The same, for an offset `timezone` takes (under 24 hours): the instant needs only the number.
_MS_INSTANT = re.compile(r"/Date\((-?\d+)(?:[+-](?:(?:[01]\d|2[0-2])\d\d|23[0-5]\d))?\)/")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# .NET's DateTime.MinValue, which Xero also uses for "no date".
_MIN_VALUE_MS = -62135596800000


def _ms_parts(value: str) -> tuple[int, timezone] | None:
    """(milliseconds, offset) of a /Date()/ string, or None when it is not one."""
    match = _MS_DATE.match(value.strip())
    if match is None:
        return None
    ms, sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    return int(ms), timezone(-offset if sign == "-" else offset)


def _is_placeholder(ms: int) -> bool:
    return ms in (0, _MIN_VALUE_MS)


def instant(value: Any) -> datetime | None:
    """An aware UTC datetime from a /Date()/ value or an ISO timestamp (no zone means UTC).

    ValueError for anything else, including instants out of datetime's range.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a Xero timestamp: {value!r}")
    well_formed = _MS_INSTANT.fullmatch(value.strip())
    parts = (int(well_formed[1]), UTC) if well_formed is not None else _ms_parts(value)
    try:
        if parts is not None:
            ms, _offset = parts
            return None if _is_placeholder(ms) else _EPOCH + timedelta(milliseconds=ms)
        parsed = datetime.fromisoformat(value.strip())
        if parsed.year <= 1:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"Xero timestamp out of range: {value!r}") from exc
    except ValueError as exc:
        raise ValueError(f"not a Xero timestamp: {value!r}") from exc


def calendar_date(twin: Any, value: Any) -> date | None:
    """A calendar date from the ISO `*String` twin when present, else from the /Date()/ value.

    The /Date()/ value's day is taken in the offset it carries (local midnight stays that day).
    """
    if isinstance(twin, str) and twin.strip():
        day = date.fromisoformat(twin.strip()[:10])
        return None if day.year <= 1 else day
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a Xero date: {value!r}")
    parts = _ms_parts(value)
    if parts is None:
        day = date.fromisoformat(value.strip()[:10])
        return None if day.year <= 1 else day
    ms, offset = parts
    if _is_placeholder(ms):
        return None
    try:
        return (_EPOCH + timedelta(milliseconds=ms)).astimezone(offset).date()
    except OverflowError as exc:
        raise ValueError(f"Xero date out of range: {value!r}") from exc


def if_modified_since(since: datetime) -> str:
    """`If-Modified-Since` header value (RFC 1123, GMT) for records changed at or after `since`.

    Xero compares against UpdatedDateUTC and returns only later changes; the header has whole
    seconds, so step one second back to keep a change at exactly `since`.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    moment = since.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return format_datetime(moment, usegmt=True)
