"""SQLite: a page of live records as driver parameters, made straight from the records.

The generic write (sync.upsert) builds a dict per record and runs every value through its
column's SQLAlchemy type; at backfill volume that Python work cost more than SQLite's own. Here
one function per entity returns the row's tuple in column order, already in the form the column
types store on SQLite: instants as naive UTC text with microseconds, dates as ISO text, Money as
an integer of 1/10,000 units, Rate as its decimal text (tests/sync/test_sqlite_rows.py pins each
against the types). Strings, integers and booleans go to the driver as they are.

Also the "which versions do we hold" query, on the driver with the page's ids as one JSON
parameter, instead of a statement with an IN of one parameter per id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Table

from core.db import MONEY_SCALE
from providers.base import AnyRecord
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import PaymentRecord

Row = tuple[Any, ...]
HeldRow = tuple[str, int, datetime, str, str]

_SCALE = Decimal(10) ** MONEY_SCALE


def instant(value: datetime) -> str:
    """UTCDateTime's stored text: the instant in UTC, naive, with microseconds. An instant
    already in UTC is cut from its own text (without the "+00:00"), a third quicker than
    dropping its timezone first."""
    if value.tzinfo is UTC:
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError("naive datetime: Dunwell stores instants in UTC, pass an aware one")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def day(value: date | None) -> str | None:
    """Date's stored text: YYYY-MM-DD."""
    if value is None:
        return None
    if type(value) is not date:
        raise TypeError(f"a date is wanted, not {type(value).__name__}")
    return value.isoformat()


def money(value: Decimal | None) -> int | None:
    """Money's stored form: an integer of 1/10,000 units, rounded as the type rounds."""
    return None if value is None else int((Decimal(value) * _SCALE).to_integral_value())


def rate(value: Decimal | None) -> str | None:
    """Rate's stored form: its decimal text."""
    return None if value is None else str(Decimal(value))


def customer(r: CustomerRecord) -> Row:
    return (r.name, r.email, r.phone, r.currency, r.active, r.merged_into, money(r.balance))


def invoice(r: InvoiceRecord) -> Row:
    return (
        r.customer_id,
        r.number,
        day(r.issue_date),
        day(r.due_date),
        r.currency,
        money(r.total),
        money(r.balance),
        str(r.status),
        r.email,
        money(r.discount_percent),
        r.discount_days,
        r.link,
        r.sent_to_customer,
        rate(r.home_rate),
    )


def payment(r: PaymentRecord) -> Row:
    return (r.customer_id, day(r.paid_on), r.currency, money(r.amount), money(r.unapplied))


def credit_note(r: CreditNoteRecord) -> Row:
    return (
        r.customer_id,
        r.number,
        day(r.issue_date),
        r.currency,
        money(r.total),
        money(r.remaining),
        r.voided,
        str(r.status),
    )


HEAD = ("organization_id", "external_id", "version", "updated_at", "deleted", "synced_at")

# Each entity's columns after HEAD, in the order its function returns them.
BODY: dict[Entity, tuple[tuple[str, ...], Callable[[Any], Row]]] = {
    Entity.CUSTOMER: (
        ("name", "email", "phone", "currency", "active", "merged_into", "balance"),
        customer,
    ),
    Entity.INVOICE: (
        (
            "customer_external_id",
            "number",
            "issue_date",
            "due_date",
            "currency",
            "total",
            "balance",
            "status",
            "email",
            "discount_percent",
            "discount_days",
            "link",
            "sent_to_customer",
            "home_rate",
        ),
        invoice,
    ),
    Entity.PAYMENT: (
        ("customer_external_id", "paid_on", "currency", "amount", "unapplied"),
        payment,
    ),
    Entity.CREDIT_NOTE: (
        (
            "customer_external_id",
            "number",
            "issue_date",
            "currency",
            "total",
            "remaining",
            "voided",
            "status",
        ),
        credit_note,
    ),
}


def columns(entity: Entity) -> tuple[str, ...]:
    return (*HEAD, *BODY[entity][0])


def rows(entity: Entity, org_id: int, records: Sequence[AnyRecord], now: datetime) -> list[Row]:
    """The parameters of `records` (live ones) for `columns(entity)`."""
    body = BODY[entity][1]
    synced_at = instant(now)
    return [
        (org_id, r.external_id, r.version, instant(r.updated_at), False, synced_at, *body(r))
        for r in records
    ]


def held_versions(
    connection: Connection, table: Table, customer_column: str, org_id: int, external_ids: list[str]
) -> list[HeldRow]:
    """(external_id, id, updated_at, version, customer) of the rows we hold among
    `external_ids`."""
    sql = (
        f'SELECT external_id, id, updated_at, version, "{customer_column}" '
        f'FROM "{table.name}" WHERE organization_id = ? '
        "AND external_id IN (SELECT value FROM json_each(?))"
    )
    found = execute(connection, sql, (org_id, json.dumps(external_ids)))
    return [
        (ext, row_id, datetime.fromisoformat(at).replace(tzinfo=UTC), version, cust)
        for ext, row_id, at, version, cust in found
    ]


def execute(connection: Connection, sql: str, params: Row) -> list[Row]:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def execute_many(connection: Connection, sql: str, params: list[Row]) -> None:
    """`sql` once per row of `params`, on the DB-API cursor of `connection` (in its transaction:
    the writing session began it with `BEGIN IMMEDIATE`)."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()
