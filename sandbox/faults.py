"""Fault switches shared by both sandbox providers.

Kinds: "rate_limit" (429 in the provider's own shape), "server_error" (503), "slow" (sleep
`seconds` before answering), "revoke" (every token of the provider becomes invalid). Each is armed
for `count` requests (revoke is permanent until cleared).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

KINDS = ("rate_limit", "server_error", "slow", "revoke")
PROVIDERS = ("quickbooks", "xero")


@dataclass
class _Armed:
    kind: str
    count: int
    seconds: float


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, list[_Armed]] = {p: [] for p in PROVIDERS}
        self._revoked: set[str] = set()

    def arm(self, provider: str, kind: str, count: int = 1, seconds: float = 0.0) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {PROVIDERS}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        with self._lock:
            if kind == "revoke":
                self._revoked.add(provider)
            else:
                self._armed[provider].append(_Armed(kind, int(count), float(seconds)))

    def clear(self) -> None:
        with self._lock:
            for armed in self._armed.values():
                armed.clear()
            self._revoked.clear()

    def take(self, provider: str) -> _Armed | None:
        """The fault to apply to the next request of `provider`, if any (consumes one)."""
        with self._lock:
            armed = self._armed[provider]
            while armed and armed[0].count <= 0:
                armed.pop(0)
            if not armed:
                return None
            armed[0].count -= 1
            return armed[0]

    def revoked(self, provider: str) -> bool:
        return provider in self._revoked

    def describe(self) -> dict[str, object]:
        with self._lock:
            return {
                "armed": {
                    p: [{"kind": a.kind, "count": a.count, "seconds": a.seconds} for a in armed]
                    for p, armed in self._armed.items()
                },
                "revoked": sorted(self._revoked),
            }
