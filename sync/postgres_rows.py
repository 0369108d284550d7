"""PostgreSQL: a page of live records as COPY rows, made straight from the records.

As on SQLite (sync/sqlite_rows.py, whose `columns` give the order): the generic write builds a
dict per record and runs every value through its column's SQLAlchemy type, which at backfill
volume costs the writer more Python than the COPY itself. Here one function per entity returns
the row's tuple with the values the types would hand psycopg: instants aware (a naive one is
refused, as `UTCDateTime` refuses it; timestamptz stores the instant whatever the offset), Money
and Rate as `Decimal`, a status as its text. Dates, strings, integers and booleans go as they
are. tests/sync/test_postgres_rows.py compares the rows stored both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from providers.base import AnyRecord
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import PaymentRecord

Row = tuple[Any, ...]


def instant(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: Dunwell stores instants in UTC, pass an aware one")
    return value


def exact(value: Any) -> Decimal | None:
    """Money's and Rate's value for the driver: a Decimal (as the types make it)."""
    return value if value is None or type(value) is Decimal else Decimal(value)


def customer(r: CustomerRecord) -> Row:
    return (r.name, r.email, r.phone, r.currency, r.active, r.merged_into, exact(r.balance))


def invoice(r: InvoiceRecord) -> Row:
    return (
        r.customer_id,
        r.number,
        r.issue_date,
        r.due_date,
        r.currency,
        exact(r.total),
        exact(r.balance),
        str(r.status),
        r.email,
        exact(r.discount_percent),
        r.discount_days,
        r.link,
        r.sent_to_customer,
        exact(r.home_rate),
    )


def payment(r: PaymentRecord) -> Row:
    return (r.customer_id, r.paid_on, r.currency, exact(r.amount), exact(r.unapplied))


def credit_note(r: CreditNoteRecord) -> Row:
    return (
        r.customer_id,
        r.number,
        r.issue_date,
        r.currency,
        exact(r.total),
        exact(r.remaining),
        r.voided,
        str(r.status),
    )


BODY: dict[Entity, Callable[[Any], Row]] = {
    Entity.CUSTOMER: customer,
    Entity.INVOICE: invoice,
    Entity.PAYMENT: payment,
    Entity.CREDIT_NOTE: credit_note,
}


def rows(entity: Entity, org_id: int, records: Sequence[AnyRecord], now: datetime) -> list[Row]:
    """The values of `records` (live ones) for `sqlite_rows.columns(entity)`."""
    body = BODY[entity]
    synced_at = instant(now)
    return [
        (org_id, r.external_id, r.version, instant(r.updated_at), False, synced_at, *body(r))
        for r in records
    ]
