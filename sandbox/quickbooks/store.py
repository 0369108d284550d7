"""The in-memory QuickBooks companies, one per realm, behind a single lock.

Stored entities are JSON-shaped dicts that are never mutated once stored (copy on write), so a
reader may take references under the lock and serialise them after releasing it. Every change
goes through a `Tx`, which bumps SyncToken and MetaData.LastUpdatedTime and records the webhook
events to fire.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.quickbooks.clock import Clock
from sandbox.quickbooks.wire import stamp

KINDS = ("Customer", "Invoice", "Payment", "CreditMemo", "Term", "CompanyInfo", "Preferences")
TXN_KINDS = ("Invoice", "Payment", "CreditMemo")
UNTRACKED = ("SyncToken", "MetaData")  # bumped by every update: not worth naming


class OpError(Exception):
    """A business rule refused the change; rendered as a QuickBooks ValidationFault."""

    def __init__(self, code: str, message: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail
        self.status = status


def not_found(kind: str, entity_id: str) -> OpError:
    detail = (
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees. "
        f"({kind} {entity_id})"
    )
    return OpError("610", "Object Not Found", detail)


@dataclass(frozen=True)
class Event:
    realm_id: str
    name: str
    entity_id: str
    operation: str  # Create, Update, Delete, Void, Merge
    when: datetime
    deleted_id: str | None = None


@dataclass
class Company:
    realm_id: str
    name: str
    currency: str
    tz: ZoneInfo
    multicurrency: bool
    country: str
    rates: dict[str, Decimal] = field(default_factory=dict)
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    updated: dict[str, dict[str, float]] = field(default_factory=dict)
    deleted: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    by_customer: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    emails: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for kind in KINDS:
            self.entities.setdefault(kind, {})
            self.updated.setdefault(kind, {})
            self.deleted.setdefault(kind, {})

    def next_id(self, kind: str) -> str:
        key = "txn" if kind in TXN_KINDS else kind
        self.seq[key] = self.seq.get(key, 0) + 1
        return str(self.seq[key])

    def next_doc_number(self) -> str:
        self.seq["doc"] = self.seq.get("doc", 1000) + 1
        return str(self.seq["doc"])

    def get(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        return self.entities[kind].get(str(entity_id))

    def require(self, kind: str, entity_id: Any) -> dict[str, Any]:
        found = self.get(kind, str(entity_id))
        if found is None:
            raise not_found(kind, str(entity_id))
        return found

    def editable(self, kind: str, entity_id: Any) -> dict[str, Any]:
        """A private deep copy to modify and hand back to `Tx.update`."""
        return copy.deepcopy(self.require(kind, entity_id))

    def store(self, kind: str, entity: dict[str, Any], when: datetime) -> None:
        entity_id = entity["Id"]
        self.entities[kind][entity_id] = entity
        self.updated[kind][entity_id] = when.timestamp()
        customer = entity.get("CustomerRef", {}).get("value")
        if customer:
            self.by_customer.setdefault(customer, set()).add((kind, entity_id))

    def unindex(self, kind: str, entity: dict[str, Any]) -> None:
        customer = entity.get("CustomerRef", {}).get("value")
        if customer:
            self.by_customer.get(customer, set()).discard((kind, entity["Id"]))

    def customer_transactions(self, customer_id: str) -> list[tuple[str, dict[str, Any]]]:
        pairs = sorted(self.by_customer.get(customer_id, ()), key=lambda p: int(p[1]))
        return [(kind, self.entities[kind][i]) for kind, i in pairs if i in self.entities[kind]]

    def open_balance(self, customer_id: str) -> Decimal:
        total = Decimal("0.00")
        for kind, entity in self.customer_transactions(customer_id):
            if kind == "Invoice":
                total += entity["Balance"]
            elif kind == "CreditMemo":
                total -= entity["Balance"]
            else:
                total -= entity.get("UnappliedAmt", Decimal("0"))
        return total

    def refresh_balance(self, customer_id: str) -> None:
        """Customer.Balance is derived: it changes without a new SyncToken or LastUpdatedTime."""
        customer = self.get("Customer", customer_id)
        if customer is None:
            return
        balance = self.open_balance(customer_id)
        if balance != customer["Balance"]:
            self.entities["Customer"][customer_id] = {
                **customer,
                "Balance": balance,
                "BalanceWithJobs": balance,
            }


class Tx:
    """One change to one company at one instant; collects the events it causes and, in
    `changes`, one plain line per object it created, changed or deleted."""

    def __init__(self, company: Company, when: datetime, silent: bool = False) -> None:
        self.company = company
        self.when = when
        self.silent = silent  # seeding: no events, no balance refresh
        self.events: list[Event] = []
        self.touched_customers: set[str] = set()
        self.changes: list[str] = []

    def note(self, line: str) -> None:
        """Describe what a change meant (an email sent, credit applied)."""
        if not self.silent:
            self.changes.append(line)

    def _event(self, name: str, entity_id: str, op: str, deleted_id: str | None = None) -> None:
        if not self.silent:
            event = Event(self.company.realm_id, name, entity_id, op, self.when, deleted_id)
            self.events.append(event)

    def _touch(self, entity: dict[str, Any]) -> None:
        customer = None if self.silent else entity.get("CustomerRef", {}).get("value")
        if customer:
            self.touched_customers.add(customer)

    def create(self, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
        when = stamp(self.when, self.company.tz)
        if "Id" not in entity:
            entity["Id"] = self.company.next_id(kind)
        entity["SyncToken"] = "0"
        entity["MetaData"] = {"CreateTime": when, "LastUpdatedTime": when}
        self.company.store(kind, entity, self.when)
        self._touch(entity)
        self._event(kind, entity["Id"], "Create")
        self.note(f"{kind} {entity['Id']} created")
        return entity

    def update(self, kind: str, entity: dict[str, Any], op: str = "Update") -> dict[str, Any]:
        old = self.company.require(kind, entity["Id"])
        if old.get("CustomerRef") != entity.get("CustomerRef"):
            self.company.unindex(kind, old)
            self._touch(old)
        entity["SyncToken"] = str(int(old["SyncToken"]) + 1)
        created = old["MetaData"]["CreateTime"]
        entity["MetaData"] = {
            "CreateTime": created,
            "LastUpdatedTime": stamp(self.when, self.company.tz),
        }
        self.company.store(kind, entity, self.when)
        self._touch(entity)
        if op:
            self._event(kind, entity["Id"], op)
        if not self.silent:
            self.note(f"{kind} {entity['Id']} updated: {changed_fields(old, entity)}")
        return entity

    def delete(self, kind: str, entity_id: str, op: str = "Delete") -> dict[str, Any]:
        old = self.company.require(kind, entity_id)
        self.company.unindex(kind, old)
        self._touch(old)
        del self.company.entities[kind][entity_id]
        stub = {
            "domain": "QBO",
            "status": "Deleted",
            "Id": entity_id,
            "MetaData": {"LastUpdatedTime": stamp(self.when, self.company.tz)},
        }
        self.company.deleted[kind][entity_id] = stub
        self.company.updated[kind][entity_id] = self.when.timestamp()
        if op:
            self._event(kind, entity_id, op)
        self.note(f"{kind} {entity_id} deleted")
        return stub

    def merged(self, into_id: str, from_id: str) -> None:
        self._event("Customer", into_id, "Merge", deleted_id=from_id)

    def finish(self) -> list[Event]:
        for customer in self.touched_customers:
            self.company.refresh_balance(customer)
        return self.events


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> str:
    names = [k for k in new if k not in UNTRACKED and new.get(k) != old.get(k)]
    names += [k for k in old if k not in new and k not in UNTRACKED]
    return ", ".join(names) or "nothing changed"


class Store:
    def __init__(self, clock: Clock, companies: list[Company]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.companies = {c.realm_id: c for c in companies}
        self.listeners: list[Callable[[list[Event]], None]] = []
        self.version = 0  # moved by every change: part of a cached page's key (page_cache)

    def company(self, realm_id: str) -> Company:
        found = self.companies.get(realm_id)
        if found is None:
            raise OpError(
                "3100", "ApplicationAuthorizationFailed", f"unknown realm {realm_id}", 403
            )
        return found

    @contextmanager
    def change(self, realm_id: str) -> Iterator[Tx]:
        """Run a change under the lock; its events go to the listeners once it succeeds."""
        with self.lock:
            self.version += 1
            try:
                tx = Tx(self.company(realm_id), self.clock.now())
                yield tx
                events = tx.finish()
            finally:
                self.version += 1
        for listener in self.listeners:
            listener(events)
