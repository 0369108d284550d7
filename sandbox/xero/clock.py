"""A controllable clock: real time plus an offset that tests (or the control API) can move.

Everything time-dependent in the Xero sandbox reads this clock: token expiry and the refresh
grace, rate-limit windows, `UpdatedDateUTC` stamps and webhook `eventDateUtc`.
"""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def today(self) -> date:
        return self.now().date()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def anchor_to(self, day: date) -> None:
        """Make `today()` return `day`, keeping the real time of day."""
        real = datetime.now(UTC)
        with self._lock:
            self._offset = datetime.combine(day, real.timetz()) - real
