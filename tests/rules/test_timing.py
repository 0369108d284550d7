"""Local dates, quiet hours, business days and caps, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from rules.engine.timing import cap_violation
from rules.engine.timing import local_date
from rules.engine.timing import local_instant
from rules.engine.timing import next_allowed
from rules.engine.timing import next_open
from rules.ruleset.book import Limits

WEEKDAYS = frozenset(range(5))
OFFICE = Limits(((1, 3), (2, 7)), time(20, 0), time(8, 0), WEEKDAYS, True)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_days_overdue_count_in_the_organization_zone() -> None:
    instant = utc(2025, 3, 10, 3, 30)  # 23:30 the day before in New York
    assert local_date(instant, "America/New_York") == date(2025, 3, 9)
    assert local_date(instant, "Asia/Tokyo") == date(2025, 3, 10)
    assert local_date(instant, "Not/AZone") == date(2025, 3, 10)  # unknown zone: UTC


def test_local_morning_moves_with_daylight_saving() -> None:
    before = local_instant(date(2025, 3, 7), time(8, 0), "America/New_York")
    after = local_instant(date(2025, 3, 10), time(8, 0), "America/New_York")
    assert (before.hour, after.hour) == (13, 12)
    autumn = local_instant(date(2025, 10, 27), time(8, 0), "Europe/London")
    assert autumn.hour == 8  # GMT again after the last Sunday of October


def test_a_skipped_wall_clock_hour_lands_just_after_the_gap() -> None:
    # 02:30 does not exist in New York on 2025-03-09; it maps to 03:30 EDT (07:30 UTC).
    assert local_instant(date(2025, 3, 9), time(2, 30), "America/New_York") == utc(
        2025, 3, 9, 7, 30
    )


def test_quiet_hours_that_wrap_midnight() -> None:
    evening = utc(2025, 3, 12, 1, 0)  # 21:00 EDT, Tuesday 11th
    assert next_open(evening, "America/New_York", OFFICE) == utc(2025, 3, 12, 12, 0)
    early = utc(2025, 3, 12, 10, 0)  # 06:00 EDT
    assert next_open(early, "America/New_York", OFFICE) == utc(2025, 3, 12, 12, 0)
    daytime = utc(2025, 3, 12, 15, 0)
    assert next_open(daytime, "America/New_York", OFFICE) == daytime


def test_quiet_hours_inside_the_day() -> None:
    lunch = Limits((), time(12, 0), time(13, 0), frozenset(range(7)), True)
    assert next_open(utc(2025, 3, 12, 12, 30), "UTC", lunch) == utc(2025, 3, 12, 13, 0)
    assert next_open(utc(2025, 3, 12, 13, 0), "UTC", lunch) == utc(2025, 3, 12, 13, 0)


def test_friday_evening_waits_for_monday_morning_across_the_dst_change() -> None:
    friday_evening = utc(2025, 3, 8, 2, 0)  # Friday 21:00 EST
    assert next_open(friday_evening, "America/New_York", OFFICE) == utc(2025, 3, 10, 12, 0)


def test_caps_count_rolling_windows() -> None:
    sent = [utc(2025, 3, 1, 12), utc(2025, 3, 5, 12)]
    assert cap_violation(utc(2025, 3, 6, 12), sent, [(1, 3)])  # 1 day after the last
    assert not cap_violation(utc(2025, 3, 8, 12), sent, [(1, 3)])  # exactly 3 days after
    assert cap_violation(utc(2025, 3, 7, 13), sent, [(2, 7)])  # 3 in [Mar 1, Mar 8)
    assert not cap_violation(utc(2025, 3, 8, 12), sent, [(2, 7)])
    # A planned message in the future counts too.
    assert cap_violation(utc(2025, 3, 1, 12), [utc(2025, 3, 2, 12)], [(1, 3)])


def test_next_allowed_waits_for_the_cap_then_for_office_hours() -> None:
    sent = [utc(2025, 3, 11, 23, 0)]  # Tuesday 19:00 EDT
    when, waited = next_allowed(utc(2025, 3, 12, 14), "America/New_York", OFFICE, sent)
    # Three days after is Friday 19:00 EDT: allowed (before 20:00), and a business day.
    assert when == utc(2025, 3, 14, 23, 0)
    assert waited == ["per-customer message cap"]
    late = [utc(2025, 3, 12, 1, 30)]  # Tuesday 21:30 EDT
    when, waited = next_allowed(utc(2025, 3, 12, 14), "America/New_York", OFFICE, late)
    # The cap frees at Friday 21:30, inside quiet hours; then the weekend: Monday 08:00 EDT.
    assert when == utc(2025, 3, 17, 12, 0)
    assert set(waited) == {"per-customer message cap", "quiet hours", "not a business day"}


def test_next_allowed_now_when_nothing_stands_in_the_way() -> None:
    now = utc(2025, 3, 12, 15)
    assert next_allowed(now, "UTC", OFFICE, []) == (now, [])
    assert next_allowed(now, "UTC", OFFICE, [now - timedelta(days=8)]) == (now, [])
