"""When a message may go: business days and quiet hours in a local time zone, and rolling
per-customer caps ("at most 1 message in 3 days and 2 in 7").

Pure. A message that may not go now is scheduled for the next allowed instant, never dropped.
Local times become instants through zoneinfo, so daylight-saving changes land on the right UTC
hour for the date in question (not for today).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from rules.ruleset.book import Limits

DAY = 86_400
_MAX_STEPS = 400


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    """The zone called `name`; UTC for an empty or unknown name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(now: datetime, tz: str | None) -> date:
    """The calendar date at `now` in time zone `tz` (UTC when None)."""
    return now.astimezone(zone(tz)).date()


def local_instant(day: date, at: time, tz: str | None) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz` (a skipped hour maps just past it)."""
    return datetime.combine(day, at, tzinfo=zone(tz)).astimezone(UTC)


def in_quiet_hours(at: time, limits: Limits) -> bool:
    """Whether `at` falls in the quiet hours, which may wrap past midnight (22:00-07:00)."""
    start, end = limits.quiet_start, limits.quiet_end
    if start is None or end is None:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


def next_open(t: datetime, tz: str | None, limits: Limits) -> datetime:
    """The first instant at or after `t` on a business day and outside quiet hours."""
    return _open(t, tz, limits)[0]


def _open(t: datetime, tz: str | None, limits: Limits) -> tuple[datetime, list[str]]:
    start, end = limits.quiet_start, limits.quiet_end
    wraps = start is not None and end is not None and start > end
    day_start = limits.quiet_end if wraps else time(0)
    reasons: list[str] = []
    for _ in range(16):
        local = t.astimezone(zone(tz))
        if local.weekday() not in limits.business_days:
            _note(reasons, "not a business day")
            t = local_instant(local.date() + timedelta(days=1), day_start or time(0), tz)
            continue
        if in_quiet_hours(local.time(), limits):
            _note(reasons, "quiet hours")
            day = local.date()
            if wraps and local.time() >= (limits.quiet_start or time(0)):
                day += timedelta(days=1)
            t = local_instant(day, limits.quiet_end or time(0), tz)
            continue
        return t, reasons
    raise ValueError("no business day in a fortnight: check limits.business_days")


def cap_violation(t: datetime, sent: list[datetime], caps: Iterable[tuple[int, int]]) -> bool:
    """Whether one more message at `t` breaks a cap in some window [s, s + days) holding `t`."""
    point = int(t.timestamp())
    stamps = sorted(int(m.timestamp()) for m in sent)
    for limit, days in caps:
        width = days * DAY
        starts = {point - width + 1, point}
        starts.update(m - width + 1 for m in stamps)
        starts.update(m + 1 for m in stamps)
        for s in starts:
            if point - width < s <= point:
                inside = bisect_left(stamps, s + width) - bisect_left(stamps, s)
                if inside + 1 > limit:
                    return True
    return False


def next_allowed(
    earliest: datetime, tz: str | None, limits: Limits, sent: list[datetime]
) -> tuple[datetime, list[str]]:
    """The first instant at or after `earliest` that respects every limit, and what it waited
    for (empty when `earliest` itself is fine)."""
    waited: list[str] = []
    t = earliest
    frees = sorted({m + timedelta(days=d) for m in sent for _, d in limits.caps})
    for _ in range(_MAX_STEPS):
        t, closed = _open(t, tz, limits)
        for reason in closed:
            _note(waited, reason)
        if not cap_violation(t, sent, limits.caps):
            return t, waited
        _note(waited, "per-customer message cap")
        later = [f for f in frees if f > t]
        t = later[0] if later else t + timedelta(days=1)
    raise ValueError("could not find an allowed time; the caps look contradictory")


def _note(waited: list[str], reason: str) -> None:
    if reason not in waited:
        waited.append(reason)
