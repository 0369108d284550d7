"""The sandbox clock: real time, shifted when the data is anchored on another day, and advanceable.

Token expiry, the CDC look-back window and every new timestamp read this clock, so tests can
move time forward without sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta


class Clock:
    def __init__(self, today: date) -> None:
        self._lock = threading.Lock()
        self.today = today
        real = datetime.now(UTC)
        if today == date.today():
            self._offset = timedelta(0)
        else:
            self._offset = datetime.combine(today, time(12), UTC) - real

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return (datetime.now(UTC) + offset).replace(microsecond=0)

    def precise_now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def seed_horizon(self) -> datetime:
        """Seeded history ends here: before `now` in every time zone, and fixed for a given day."""
        return datetime.combine(self.today - timedelta(days=1), time(10), UTC)
