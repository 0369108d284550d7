"""Fault switches shared by both sandbox providers, armed through `POST /_sandbox/faults`.

A fault is armed for one provider and, optionally, one organization (`tenant`: a realm id or a
Xero tenant id), some API paths (`paths`: substrings of the request path, e.g. "/send",
"/History") and some methods. It answers the next `count` matching API requests the way the
real provider answers that failure; each provider renders it in its own shape:

- "rate_limit": 429 (QuickBooks' XML ThrottleExceeded fault; Xero's problem body with
  X-Rate-Limit-Problem). `retry_after` sets Retry-After in seconds (Xero sends 1 by default;
  QuickBooks sends none unless asked, as Intuit does not document one).
- "server_error": 503.
- "slow": sleep `seconds` before answering normally.
- "reject": 400 validation error carrying `message` (QuickBooks ValidationFault code 6000, Xero
  ValidationException). Writes only unless `methods` says otherwise.
- "stale": QuickBooks only: 400 Stale Object Error (code 5010), as when someone else saved the
  object first. Writes only unless `methods` says otherwise. Xero has no SyncToken.
- `share` (0 < share <= 1, default 1): the fault answers only that share of the matching
  requests, evenly spread (0.3: three in ten), the others pass; `count` still counts answers.
- "revoke": permanent until cleared. Provider-wide, every token of the provider is dead (401,
  and refreshing answers invalid_grant). With a `tenant`: QuickBooks kills that company's grant
  the same way; Xero removes that organisation's connection (403 on its requests) while the
  token itself still refreshes.

A "write" is any API request but a GET (and but QuickBooks' POST /query, which reads).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

KINDS = ("rate_limit", "server_error", "slow", "revoke", "reject", "stale")
WRITE_KINDS = ("reject", "stale")
PROVIDERS = ("quickbooks", "xero")
METHODS = ("GET", "POST", "PUT", "DELETE")
DEFAULT_MESSAGE = "The sandbox was told to refuse this request"


@dataclass(frozen=True)
class Target:
    """The API request a fault may apply to."""

    tenant: str
    method: str
    path: str
    write: bool


@dataclass
class Armed:
    provider: str
    kind: str
    count: int
    seconds: float = 0.0
    tenant: str | None = None
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    message: str = DEFAULT_MESSAGE
    retry_after: int | None = None
    share: float = 1.0
    credit: float = 0.0  # how much of `share` has built up since it last answered

    def matches(self, target: Target) -> bool:
        if self.tenant is not None and self.tenant != target.tenant.lower():
            return False
        if self.paths and not any(part in target.path for part in self.paths):
            return False
        if self.methods:
            return target.method.upper() in self.methods
        return target.write or self.kind not in WRITE_KINDS

    def describe(self) -> dict[str, Any]:
        described = {**asdict(self), "paths": list(self.paths), "methods": list(self.methods)}
        described.pop("credit")
        return described

    def due(self) -> bool:
        """Whether this matching request is one of the `share` the fault answers."""
        self.credit += self.share
        if self.credit >= 1 - 1e-9:
            self.credit -= 1
            return True
        return False


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Armed] = []
        self._revoked: list[Armed] = []

    def arm(
        self,
        provider: str,
        kind: str,
        count: int = 1,
        seconds: float = 0.0,
        tenant: str | None = None,
        paths: Iterable[str] | None = None,
        methods: Iterable[str] | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        share: float = 1.0,
    ) -> Armed:
        """Arm one fault; ValueError names the first bad argument."""
        armed = Armed(
            provider=_choice("provider", provider, PROVIDERS),
            kind=_choice("kind", kind, KINDS),
            count=_whole("count", count, minimum=1),
            seconds=_seconds(seconds),
            tenant=_tenant(tenant),
            paths=_strings("paths", paths),
            methods=tuple(m.upper() for m in _strings("methods", methods)),
            message=_message(message),
            retry_after=None if retry_after is None else _whole("retry_after", retry_after, 0),
            share=_share(share),
        )
        if armed.kind == "stale" and armed.provider != "quickbooks":
            raise ValueError("stale: Xero has no SyncToken, so nothing is ever stale (use reject)")
        if any(m not in METHODS for m in armed.methods):
            raise ValueError(f"methods must be among {METHODS}")
        with self._lock:
            (self._revoked if armed.kind == "revoke" else self._armed).append(armed)
        return armed

    def clear(self, provider: str | None = None, tenant: str | None = None) -> None:
        """Disarm everything, or only what was armed for `provider` (and `tenant`)."""

        def kept(armed: Armed) -> bool:
            if provider is not None and armed.provider != provider:
                return True
            return tenant is not None and armed.tenant != tenant.lower()

        with self._lock:
            self._armed = [a for a in self._armed if kept(a)]
            self._revoked = [a for a in self._revoked if kept(a)]

    def take(self, provider: str, target: Target) -> Armed | None:
        """The fault for this request of `provider`, if one matches (consumes one use)."""
        with self._lock:
            for armed in self._armed:
                if armed.provider == provider and armed.count > 0 and armed.matches(target):
                    if not armed.due():
                        continue
                    armed.count -= 1
                    found = Armed(**{**vars(armed), "count": armed.count, "credit": 0.0})
                    self._armed = [a for a in self._armed if a.count > 0]
                    return found
        return None

    def revoked(self, provider: str, tenant: str | None = None) -> bool:
        """Whether `provider`'s grants are dead, everywhere or (given `tenant`) for it."""
        with self._lock:
            return any(
                armed.provider == provider
                and (
                    armed.tenant is None or (tenant is not None and armed.tenant == tenant.lower())
                )
                for armed in self._revoked
            )

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "armed": [armed.describe() for armed in self._armed],
                "revoked": [
                    {"provider": armed.provider, "tenant": armed.tenant} for armed in self._revoked
                ],
            }


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}")
    return str(value)


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}")
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("seconds must be a number of at least 0")
    return float(value)


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError("share must be a number above 0 and at most 1")
    return float(value)


def _tenant(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError("tenant must be a realm id or a Xero tenant id")
    return value.strip().lower()


def _strings(name: str, values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{name} must be a list of non-empty strings")
    return tuple(values)


def _message(value: Any) -> str:
    if value is None:
        return DEFAULT_MESSAGE
    if not isinstance(value, str) or not value.strip():
        raise ValueError("message must be a non-empty string")
    return value.strip()
