"""Xero's rate limits: per tenant 60 a minute, 5 in flight and 5000 a day; 10,000 a minute per app.

Windows are fixed and, as in Xero, reset at different moments per tenant. Rejected calls do not
count. Headers report what is left after the call.

`usage()` tells, per tenant, the most calls made in one minute window (refused ones included),
the most in flight at once and how many were refused: what a benchmark checks to show a client
kept within the limits without the sandbox having to refuse it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from dataclasses import field

from sandbox.xero.clock import Clock


@dataclass
class Limits:
    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5
    app_per_minute: int = 10_000


@dataclass
class Decision:
    problem: str | None = None
    retry_after: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.limits = Limits()
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}
        self._in_flight: dict[str, int] = {}
        self._attempts: dict[str, tuple[int, int]] = {}  # tenant -> (minute window, calls)
        self._usage: dict[str, dict[str, int]] = {}

    def usage(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {tenant: dict(seen) for tenant, seen in self._usage.items()}

    def reset_usage(self) -> None:
        with self._lock:
            self._attempts.clear()
            self._usage.clear()

    def _note(self, tenant_id: str, window: int, refused: bool) -> None:
        seen = self._usage.setdefault(
            tenant_id, {"peak_minute_calls": 0, "peak_in_flight": 0, "refused": 0, "calls": 0}
        )
        stored, calls = self._attempts.get(tenant_id, (window, 0))
        calls = calls + 1 if stored == window else 1
        self._attempts[tenant_id] = (window, calls)
        seen["calls"] += 1
        seen["peak_minute_calls"] = max(seen["peak_minute_calls"], calls)
        seen["peak_in_flight"] = max(seen["peak_in_flight"], self._in_flight.get(tenant_id, 0))
        seen["refused"] += refused

    def acquire(self, tenant_id: str | None) -> Decision:
        """Counts one call for the app and, unless None (tenantless calls), for the tenant."""
        now = self.clock.now().timestamp()
        with self._lock:
            checks = [("appminute", "app", 60, 0, self.limits.app_per_minute)]
            if tenant_id:
                shift = int(tenant_id.replace("-", "")[:8], 16)
                checks += [
                    ("day", tenant_id, 86_400, shift % 86_400, self.limits.per_day),
                    ("minute", tenant_id, 60, shift % 60, self.limits.per_minute),
                ]
            windows = [
                (name, key, *self._window(name, key, now, length, shift), limit)
                for name, key, length, shift, limit in checks
            ]
            decision = self._decide(tenant_id, now, windows)
            if tenant_id:
                minute = next(w for name, _k, w, *_ in windows if name == "minute")
                self._note(tenant_id, minute, refused=decision.problem is not None)
            return decision

    def _decide(self, tenant_id: str | None, now: float, windows: list) -> Decision:
        for name, _key, _window, used, ends, limit in windows:
            if used >= limit:
                return self._reject(name, ends - now, windows)
        if tenant_id and self._in_flight.get(tenant_id, 0) >= self.limits.concurrent:
            return self._reject("concurrent", 1, windows)
        for name, key, window, used, _ends, _limit in windows:
            self._counts[(name, key)] = (window, used + 1)
        if tenant_id:
            self._in_flight[tenant_id] = self._in_flight.get(tenant_id, 0) + 1
        return Decision(headers=self._headers(windows, spent=1))

    def _window(
        self, name: str, key: str, now: float, length: int, shift: int
    ) -> tuple[int, int, float]:
        window = math.floor((now - shift) / length)
        stored, used = self._counts.get((name, key), (window, 0))
        return window, used if stored == window else 0, (window + 1) * length + shift

    def _reject(self, problem: str, wait: float, windows: list) -> Decision:
        return Decision(problem, max(1, math.ceil(wait)), self._headers(windows, spent=0))

    def _headers(self, windows: list, spent: int) -> dict[str, str]:
        names = {
            "appminute": "X-AppMinLimit-Remaining",
            "day": "X-DayLimit-Remaining",
            "minute": "X-MinLimit-Remaining",
        }
        return {
            names[name]: str(max(0, limit - used - spent))
            for name, _key, _window, used, _ends, limit in windows
        }

    def release(self, tenant_id: str) -> None:
        with self._lock:
            self._in_flight[tenant_id] = max(0, self._in_flight.get(tenant_id, 0) - 1)

    def set_limits(self, **values: int) -> Limits:
        for name, value in values.items():
            if not hasattr(self.limits, name) or not isinstance(value, int) or value < 1:
                raise ValueError(f"unknown limit or bad value: {name}={value!r}")
        for name, value in values.items():
            setattr(self.limits, name, value)
        return self.limits
