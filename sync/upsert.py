"""Idempotent, set-based upsert of provider records into the mirror.

One INSERT ... ON CONFLICT DO UPDATE per page, guarded so that an older version never overwrites
a newer one: a row changes only when the incoming `updated_at` is later, or equal with a different
version marker. A deletion notice only flags the row; it never blanks what we knew of it.
Allocations of a payment or credit note are replaced whole when, and only when, their parent
row changed. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Customer
from core.models import Invoice
from core.models import Payment
from core.models import PaymentAllocation
from providers.base import AnyRecord
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import PaymentRecord

HEAD = ("external_id", "version", "updated_at", "deleted", "synced_at")


@dataclass
class UpsertResult:
    """What a page changed: row counts and the customers whose facts moved."""

    written: int = 0
    customers: set[str] = field(default_factory=set)

    def add(self, other: UpsertResult) -> None:
        self.written += other.written
        self.customers |= other.customers


def upsert_page(
    session: Session, org_id: int, entity: Entity, records: Sequence[AnyRecord]
) -> UpsertResult:
    if not records:
        return UpsertResult()
    model, to_row = _ENTITIES[entity]
    table: Table = model.__table__  # type: ignore[assignment]
    now = utcnow()
    latest = _latest_per_id(records)
    live = [to_row(r) | _head(org_id, r, now) for r in latest if not r.deleted]
    gone = [_head(org_id, r, now) | _deleted_defaults(entity) for r in latest if r.deleted]
    changed: list[tuple[int, str, str]] = []
    if live:
        changed += _upsert(session, table, live, set(live[0]) - {"organization_id", "external_id"})
    if gone:
        flagged = {"version", "updated_at", "deleted", "synced_at"}
        if entity == Entity.INVOICE:
            flagged.add("status")
        changed += _upsert(session, table, gone, flagged)
    if entity in (Entity.PAYMENT, Entity.CREDIT_NOTE):
        _replace_allocations(session, org_id, entity, latest, changed)
    return UpsertResult(
        written=len(changed),
        customers=_customers_touched(entity, latest, changed),
    )


def _latest_per_id(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    latest: dict[str, AnyRecord] = {}
    for record in records:
        seen = latest.get(record.external_id)
        if seen is None or record.updated_at >= seen.updated_at:
            latest[record.external_id] = record
    return list(latest.values())


def _head(org_id: int, record: AnyRecord, now: Any) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "external_id": record.external_id,
        "version": record.version,
        "updated_at": record.updated_at,
        "deleted": record.deleted,
        "synced_at": now,
    }


def _upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], update_columns: set[str]
) -> list[tuple[int, str, str]]:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table)
    excluded = stmt.excluded
    newer = (table.c.updated_at < excluded.updated_at) | (
        (table.c.updated_at == excluded.updated_at) & (table.c.version != excluded.version)
    )
    set_ = {name: excluded[name] for name in update_columns}
    if "merged_into" in set_:
        # Reads never say a customer was merged away; only the Merge webhook does. Keep it.
        set_["merged_into"] = func.coalesce(excluded.merged_into, table.c.merged_into)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.organization_id, table.c.external_id],
        set_=set_,
        where=newer,
    ).returning(table.c.id, table.c.external_id, _customer_column(table))
    result = session.execute(stmt, rows)
    return [(row[0], row[1], row[2]) for row in result]


def _customer_column(table: Table) -> Any:
    if "customer_external_id" in table.c:
        return table.c.customer_external_id
    return table.c.external_id


def _deleted_defaults(entity: Entity) -> dict[str, Any]:
    """Columns a deletion stub must fill if we never saw the record alive."""
    zero = {"total": 0, "balance": 0}
    return {
        Entity.CUSTOMER: {"active": False},
        Entity.INVOICE: zero | {"customer_external_id": "", "status": "deleted"},
        Entity.PAYMENT: {"customer_external_id": "", "amount": 0, "unapplied": 0},
        Entity.CREDIT_NOTE: {"customer_external_id": "", "total": 0, "remaining": 0},
    }[entity]


def _replace_allocations(
    session: Session,
    org_id: int,
    entity: Entity,
    records: Sequence[AnyRecord],
    changed: list[tuple[int, str, str]],
) -> None:
    if not changed:
        return
    if entity == Entity.PAYMENT:
        model, parent = PaymentAllocation, "payment_id"
    else:
        model, parent = CreditAllocation, "credit_note_id"
    by_id = {r.external_id: r for r in records}
    ids = [row_id for row_id, _, _ in changed]
    session.execute(delete(model).where(getattr(model, parent).in_(ids)))
    rows = [
        {
            parent: row_id,
            "organization_id": org_id,
            "invoice_external_id": allocation.invoice_id,
            "amount": allocation.amount,
        }
        for row_id, external_id, _ in changed
        if not by_id[external_id].deleted
        for allocation in by_id[external_id].allocations  # type: ignore[union-attr]
    ]
    if rows:
        session.execute(insert(model), rows)


def _customers_touched(
    entity: Entity, records: Sequence[AnyRecord], changed: list[tuple[int, str, str]]
) -> set[str]:
    customers = {customer for _, _, customer in changed if customer}
    if entity == Entity.CUSTOMER:
        by_id = {r.external_id: r for r in records}
        customers |= {
            by_id[ext].merged_into  # type: ignore[union-attr]
            for _, ext, _ in changed
            if getattr(by_id[ext], "merged_into", None)
        }
    return customers


def _customer_row(r: CustomerRecord) -> dict[str, Any]:
    return {
        "name": r.name,
        "email": r.email,
        "phone": r.phone,
        "currency": r.currency,
        "active": r.active,
        "merged_into": r.merged_into,
        "balance": r.balance,
    }


def _invoice_row(r: InvoiceRecord) -> dict[str, Any]:
    return {
        "customer_external_id": r.customer_id,
        "number": r.number,
        "issue_date": r.issue_date,
        "due_date": r.due_date,
        "currency": r.currency,
        "total": r.total,
        "balance": r.balance,
        "status": str(r.status),
        "email": r.email,
        "discount_percent": r.discount_percent,
        "discount_days": r.discount_days,
        "link": r.link,
    }


def _payment_row(r: PaymentRecord) -> dict[str, Any]:
    return {
        "customer_external_id": r.customer_id,
        "paid_on": r.paid_on,
        "currency": r.currency,
        "amount": r.amount,
        "unapplied": r.unapplied,
    }


def _credit_note_row(r: CreditNoteRecord) -> dict[str, Any]:
    return {
        "customer_external_id": r.customer_id,
        "number": r.number,
        "issue_date": r.issue_date,
        "currency": r.currency,
        "total": r.total,
        "remaining": r.remaining,
        "voided": r.voided,
    }


_ENTITIES: dict[Entity, tuple[Any, Any]] = {
    Entity.CUSTOMER: (Customer, _customer_row),
    Entity.INVOICE: (Invoice, _invoice_row),
    Entity.PAYMENT: (Payment, _payment_row),
    Entity.CREDIT_NOTE: (CreditNote, _credit_note_row),
}
