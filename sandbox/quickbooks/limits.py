"""Per-realm throttling (500 requests a minute, 10 in flight; of them at most 40 batch requests a
minute), the request log, and the requestid cache that makes QuickBooks writes idempotent."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections import deque
from typing import Any

PER_MINUTE = 500
IN_FLIGHT = 10
BATCHES_PER_MINUTE = 40
LOG_SIZE = 2000
IDEMPOTENCY_SIZE = 20_000
LOGGED_HEADERS = ("Accept", "Content-Type", "User-Agent", "Authorization", "Intuit-Tid")


class RateLimiter:
    def __init__(self, per_minute: int = PER_MINUTE, in_flight: int = IN_FLIGHT) -> None:
        self.per_minute = per_minute
        self.in_flight = in_flight
        self._lock = threading.Lock()
        self._window: dict[str, deque[float]] = {}
        self._busy: dict[str, int] = {}

    def enter(self, realm_id: str) -> bool:
        """Admit a request, or refuse it (429) when the minute or the concurrency is used up."""
        now = time.monotonic()
        with self._lock:
            window = self._window.setdefault(realm_id, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            busy = self._busy.get(realm_id, 0)
            if len(window) >= self.per_minute or busy >= self.in_flight:
                return False
            window.append(now)
            self._busy[realm_id] = busy + 1
            return True

    def leave(self, realm_id: str) -> None:
        with self._lock:
            self._busy[realm_id] = max(0, self._busy.get(realm_id, 0) - 1)

    def reset(self) -> None:
        with self._lock:
            self._window.clear()


def _mask(name: str, value: str) -> str:
    if name == "Authorization" and len(value) > 16:
        return f"{value[:7]}…{value[-6:]}"
    return value


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._next = 0

    def start(self, method: str, path: str, args: dict[str, str], headers: Any) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            entry = {
                "seq": self._next,
                "at": time.time(),
                "method": method,
                "path": path,
                "query": args,
                "minorversion": args.get("minorversion"),
                "requestid": args.get("requestid"),
                "headers": {h: _mask(h, headers[h]) for h in LOGGED_HEADERS if h in headers},
                "status": None,
            }
            self._entries.append(entry)
            return entry

    @staticmethod
    def finish(entry: dict[str, Any], status: int, started: float) -> None:
        entry["status"] = status
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)

    def latest(self, limit: int, path_contains: str = "") -> list[dict[str, Any]]:
        with self._lock:
            entries = [dict(e) for e in self._entries if path_contains in e["path"]]
        return entries[-limit:]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class IdempotencyCache:
    """Successful write responses by (realm, requestid); a repeat gets the original back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: OrderedDict[tuple[str, str], tuple[int, dict[str, Any]]] = OrderedDict()

    def get(self, realm_id: str, request_id: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            return self._saved.get((realm_id, request_id))

    def put(self, realm_id: str, request_id: str, status: int, payload: dict[str, Any]) -> None:
        with self._lock:
            self._saved[(realm_id, request_id)] = (status, payload)
            while len(self._saved) > IDEMPOTENCY_SIZE:
                self._saved.popitem(last=False)
