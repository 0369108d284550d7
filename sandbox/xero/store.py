"""The sandbox's ledgers behind one lock, with change stamping and change notification.

Mutations (in `mutations*`) hold `store.lock`, change objects, call `store.touch` for each changed
object (a strictly increasing `UpdatedDateUTC` per organisation, at millisecond precision like
Xero) and `store.changed` for each webhook event to send.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from sandbox.xero.clock import Clock
from sandbox.xero.models import CENT
from sandbox.xero.models import Ledger

Notify = Callable[[str, str, str, str, "dict[str, Any] | None"], None]


class Invalid(Exception):
    """A request Xero would answer with a 400 ValidationException."""

    def __init__(self, messages: list[str] | str, element: dict[str, Any] | None = None) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.element = element or {}
        super().__init__("; ".join(self.messages))


class NotFound(Exception):
    """The addressed object does not exist in this organisation."""


class Store:
    def __init__(self, ledgers: dict[str, Ledger], clock: Clock, notify: Notify) -> None:
        self.lock = threading.RLock()
        self.ledgers = ledgers
        self.clock = clock
        self._notify = notify
        self.emails: list[dict[str, Any]] = []
        self.version = 0  # moved by every change: part of a cached page's key (page_cache)

    def ledger(self, tenant_id: str | None) -> Ledger | None:
        return self.ledgers.get(tenant_id or "")

    def today(self) -> date:
        return self.clock.today()

    def stamp(self, ledger: Ledger) -> datetime:
        self.version += 1
        now = self.clock.now()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if ledger.last_stamp and now <= ledger.last_stamp:
            now = ledger.last_stamp + timedelta(milliseconds=1)
        ledger.last_stamp = now
        return now

    def touch(self, ledger: Ledger, *objects: Any) -> datetime:
        instant = self.stamp(ledger)
        for obj in objects:
            obj.updated = instant
        return instant

    def changed(
        self,
        ledger: Ledger,
        category: str,
        event_type: str,
        resource_id: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.version += 1
        self._notify(ledger.org.tenant_id, category, event_type, resource_id, data)


def parse_amount(value: Any) -> Decimal | None:
    """A positive money amount from JSON (number or string), rounded to cents; else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number <= 0:
        return None
    return number.quantize(CENT)
