"""Delivers signed webhooks from a background thread, batched like the real providers do.

Each provider hands `send()` a target URL, a function that turns the batch of queued events into
(body bytes, headers), and the event. Events queued within `delay_seconds` go out together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

Encoder = Callable[[list[Any]], tuple[bytes, dict[str, str]]]


class WebhookSender:
    def __init__(self, delay_seconds: float = 0.2) -> None:
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, Encoder], list[Any]] = {}
        self._log: list[dict[str, Any]] = []
        self._timer: threading.Timer | None = None

    def send(self, url: str, encode: Encoder, event: Any) -> None:
        if not url:
            return
        with self._lock:
            self._pending.setdefault((url, encode), []).append(event)
            if self._timer is None:
                self._timer = threading.Timer(self.delay_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            batches, self._pending = self._pending, {}
            self._timer = None
        for (url, encode), events in batches.items():
            body, headers = encode(events)
            self._deliver(url, body, headers, len(events))

    def redeliver(self, number: int, times: int = 1) -> list[dict[str, Any]]:
        """Send delivery `number` (its index in the log) again, `times` times, byte for byte
        with its signature, as a provider does when it is unsure the first one arrived."""
        with self._lock:
            if not 0 <= number < len(self._log):
                raise IndexError(f"no webhook delivery {number}")
            first = self._log[number]
        for _ in range(times):
            self._deliver(first["url"], first["body"].encode(), first["headers"], first["events"])
        with self._lock:
            return list(self._log[-times:]) if times else []

    def _deliver(self, url: str, body: bytes, headers: dict[str, str], count: int) -> None:
        status: int | str
        for attempt in range(3):
            try:
                status = requests.post(url, data=body, headers=headers, timeout=5).status_code
            except requests.RequestException as exc:
                status = f"error: {exc.__class__.__name__}"
            if status == 200:
                break
            time.sleep(0.5 * (attempt + 1))
        with self._lock:
            self._log.append(
                {
                    "url": url,
                    "events": count,
                    "status": status,
                    "at": time.time(),
                    "body": body.decode("utf-8", "replace"),
                    "headers": dict(headers),
                }
            )

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)
