"""A time limit for long work that runs inside a web request (the rules preview and backtest).

The work calls `check()` between its steps; past the limit it stops with `TimeLimitExceeded`,
which the web app answers with a 422 that says what to ask for instead. A limit below the web
server's own worker timeout means a request is stopped politely, never killed.
"""

from __future__ import annotations

import time


class TimeLimitExceeded(Exception):
    def __init__(self, seconds: float, doing: str):
        self.seconds = seconds
        self.doing = doing
        super().__init__(
            f"The {doing} took longer than its {seconds:g}-second limit and was stopped. "
            "Ask for less at once (fewer months, an earlier end date, or fewer rules)."
        )


class Deadline:
    def __init__(self, seconds: float, doing: str):
        self.seconds = seconds
        self.doing = doing
        self._ends = time.monotonic() + seconds

    def check(self) -> None:
        """Raise TimeLimitExceeded once the time is up; call it between units of work."""
        if time.monotonic() > self._ends:
            raise TimeLimitExceeded(self.seconds, self.doing)


NO_LIMIT = Deadline(float("inf"), "work")
