"""Idempotent, set-based upsert of provider records into the mirror.

Per page: one query reads the versions we already hold, the records that are newer are written
with one executemany of INSERT ... ON CONFLICT DO UPDATE, and the conflict clause repeats the
version guard, so a concurrent writer can never put an older version over a newer one. A row
changes only when the incoming `updated_at` is later, or equal with a different version marker.
A deletion notice only flags the row; it never blanks what we knew of it. Allocations of a
payment or credit note are replaced whole when, and only when, their parent changed; so is the
credit a payment applies from credit notes (QuickBooks), which lands in `credit_allocation`
under that payment's name and waits for a credit note not mirrored yet. The caller owns the
transaction.

The write goes to the driver directly: the generic statement machinery costs three times the
database's own work at backfill volume (docs/benchmarks.md). On SQLite live records become
parameter tuples straight away (sync/sqlite_rows.py), in the form the column types store; on
PostgreSQL too (sync/postgres_rows.py), as the types hand them to psycopg; deletion stubs are
converted by the columns' own SQLAlchemy types. On PostgreSQL a page of rows is COPYed into a
temporary table and upserted from there in one statement
(sync/copy_write.py), which takes about half the server's time of an executemany of the same
rows; a page of records none of which we hold (a first backfill) is COPYed straight into the
table, falling back to the staged upsert if another writer inserted one of them meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Date
from sqlalchemy import Table
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from core.db import utcnow
from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Customer
from core.models import Invoice
from core.models import Payment
from core.models import PaymentAllocation
from core.models import hold_organization
from providers.base import AnyRecord
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import PaymentRecord
from sync import postgres_rows
from sync import sqlite_rows
from sync.copy_write import COPY_FROM
from sync.copy_write import copy_insert
from sync.copy_write import copy_upsert

FLAGGED_COLUMNS = ("version", "updated_at", "deleted", "synced_at")


@dataclass
class UpsertResult:
    """What a page changed: row counts and the customers whose facts moved."""

    written: int = 0
    customers: set[str] = field(default_factory=set)

    def add(self, other: UpsertResult) -> None:
        self.written += other.written
        self.customers |= other.customers


@dataclass(frozen=True)
class _Held:
    row_id: int
    updated_at: datetime
    version: str
    customer: str


def upsert_page(
    session: Session, org_id: int, entity: Entity, records: Sequence[AnyRecord]
) -> UpsertResult:
    """Write a page of records into the mirror: only records newer than the stored version
    (a provider may send one twice or out of order), deletions as flagged stubs, and the
    allocations of payments and credit notes replaced whole."""
    if not records:
        return UpsertResult()
    table: Table = _ENTITIES[entity][0].__table__
    latest = _latest_per_id(records)
    held = _held_versions(session, table, org_id, [r.external_id for r in latest])
    fresh = [r for r in latest if _is_newer(r, held.get(r.external_id))]
    if not fresh:
        return UpsertResult()
    hold_organization(session, org_id)  # the mirror's rows name it without a foreign key
    now = utcnow()
    live = [r for r in fresh if not r.deleted]
    if live:
        _write_live(session, table, entity, org_id, live, now, none_held=not held)
    gone = [_head(org_id, r, now) | _deleted_defaults(entity) for r in fresh if r.deleted]
    if gone:
        flagged = [*FLAGGED_COLUMNS, *(["status"] if entity in _WITH_STATUS else [])]
        _write(session, table, gone, flagged)
    if entity in (Entity.PAYMENT, Entity.CREDIT_NOTE):
        _replace_allocations(session, org_id, entity, fresh)
    if entity == Entity.PAYMENT:
        _replace_credit_applications(session, org_id, fresh)
    if entity == Entity.CREDIT_NOTE:
        _attach_waiting_applications(session, org_id, [r.external_id for r in fresh])
    return UpsertResult(written=len(fresh), customers=_customers_touched(fresh, held))


_KEY = ("organization_id", "external_id")
_WITH_STATUS = (Entity.INVOICE, Entity.CREDIT_NOTE)


def _latest_per_id(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    latest: dict[str, AnyRecord] = {}
    for record in records:
        seen = latest.get(record.external_id)
        if seen is None or record.updated_at >= seen.updated_at:
            latest[record.external_id] = record
    return list(latest.values())


def _held_versions(
    session: Session, table: Table, org_id: int, external_ids: list[str]
) -> dict[str, _Held]:
    customer = _customer_column(table)
    if session.get_bind().dialect.name == "sqlite":
        held = sqlite_rows.held_versions(
            session.connection(), table, customer.name, org_id, external_ids
        )
        return {ext: _Held(row_id, at, version, cust) for ext, row_id, at, version, cust in held}
    wanted = _among(session.get_bind().dialect, table.c.external_id, external_ids)
    rows = session.execute(
        select(
            table.c.external_id, table.c.id, table.c.updated_at, table.c.version, customer
        ).where(table.c.organization_id == org_id, wanted)
    )
    return {ext: _Held(row_id, at, version, cust) for ext, row_id, at, version, cust in rows}


def _among(dialect: Dialect, column: Any, values: list[str]) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`, one parameter instead of one
    per value (rendering and parsing 1,000 parameters took ~14 ms a page)."""
    if dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _is_newer(record: AnyRecord, held: _Held | None) -> bool:
    if held is None or record.updated_at > held.updated_at:
        return True
    return record.updated_at == held.updated_at and record.version != held.version


def _head(org_id: int, record: AnyRecord, now: Any) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "external_id": record.external_id,
        "version": record.version,
        "updated_at": record.updated_at,
        "deleted": record.deleted,
        "synced_at": now,
    }


def _write_live(
    session: Session,
    table: Table,
    entity: Entity,
    org_id: int,
    records: list[AnyRecord],
    now: datetime,
    none_held: bool,
) -> None:
    if session.get_bind().dialect.name == "sqlite":
        _write_tuples(session, table, entity, org_id, records, now)
    elif session.get_bind().dialect.name == "postgresql":
        _write_postgres_tuples(session, table, entity, org_id, records, now, none_held)
    else:
        _write_rows(session, table, entity, org_id, records, now, none_held)


def _write_tuples(
    session: Session,
    table: Table,
    entity: Entity,
    org_id: int,
    records: list[AnyRecord],
    now: datetime,
) -> None:
    """SQLite: parameter tuples made straight from the records (sync/sqlite_rows.py), with
    no row dicts and no type processors in between."""
    columns = sqlite_rows.columns(entity)
    update_columns = tuple(c for c in columns if c not in _KEY)
    sql = _insert_sql(session.get_bind().dialect, table, columns, update_columns)
    params = sqlite_rows.rows(entity, org_id, records, now)
    sqlite_rows.execute_many(session.connection(), sql, params)


def _write_postgres_tuples(
    session: Session,
    table: Table,
    entity: Entity,
    org_id: int,
    records: list[AnyRecord],
    now: datetime,
    none_held: bool,
) -> None:
    """PostgreSQL: rows made straight from the records (sync/postgres_rows.py), COPYed (or,
    for a few, one executemany)."""
    columns = sqlite_rows.columns(entity)
    update_columns = tuple(c for c in columns if c not in _KEY)
    params = postgres_rows.rows(entity, org_id, records, now)
    _upsert(session, table, columns, update_columns, params, none_held)


def _write_rows(
    session: Session,
    table: Table,
    entity: Entity,
    org_id: int,
    records: list[AnyRecord],
    now: datetime,
    none_held: bool = False,
) -> None:
    """Any database: a row per record, its values converted by the columns' types."""
    to_row = _ENTITIES[entity][1]
    rows = [to_row(r) | _head(org_id, r, now) for r in records]
    _write(session, table, rows, [c for c in rows[0] if c not in _KEY], none_held)


def _write(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    update_columns: list[str],
    none_held: bool = False,
) -> None:
    """Upsert `rows`; `none_held`: the table held none of their keys when the page looked."""
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    converted = []
    for name in columns:
        values = [row[name] for row in rows]
        convert = _bind_processor(dialect, table, name)
        converted.append(values if convert is None else _converted(convert, values))
    params = list(zip(*converted, strict=True))
    _upsert(session, table, columns, tuple(update_columns), params, none_held)


def _upsert(
    session: Session,
    table: Table,
    columns: tuple[str, ...],
    update_columns: tuple[str, ...],
    params: list[tuple[Any, ...]],
    none_held: bool,
) -> None:
    """Upsert rows of driver-ready `params`: a COPY on PostgreSQL past COPY_FROM rows
    (sync/copy_write.py), else one executemany of INSERT ... ON CONFLICT."""
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and len(params) >= COPY_FROM:
        on_conflict = _on_conflict_sql(dialect, table, update_columns)
        copy_upsert(session.connection(), table, columns, params, on_conflict, none_held)
        return
    sql = _insert_sql(dialect, table, columns, update_columns)
    session.connection().exec_driver_sql(sql, params)


@cache
def _insert_sql(
    dialect: Dialect, table: Table, columns: tuple[str, ...], update_columns: tuple[str, ...]
) -> str:
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join([marker] * len(columns))}) "
        f"{_on_conflict_sql(dialect, table, update_columns)}"
    )


def _converted(convert: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """`convert` of every value, once per run of the same object (`synced_at` is one object
    for the whole page; a datetime's conversion costs several microseconds on SQLite)."""
    out = []
    last: object = _converted
    done = None
    for value in values:
        if value is not last:
            last, done = value, convert(value)
        out.append(done)
    return out


@cache
def _on_conflict_sql(dialect: Dialect, table: Table, update_columns: tuple[str, ...]) -> str:
    """The conflict clause of the upsert, with the version guard."""
    quote = dialect.identifier_preparer.quote
    name = quote(table.name)
    sets = [f"{quote(c)} = excluded.{quote(c)}" for c in update_columns]
    if "merged_into" in update_columns:
        # Reads never say a customer was merged away; only the Merge webhook does. Keep it.
        sets[update_columns.index("merged_into")] = (
            f"merged_into = COALESCE(excluded.merged_into, {name}.merged_into)"
        )
    if "link" in update_columns:
        # Xero's online-invoice URL is fetched once at send time (outbox.channels), not read.
        sets[update_columns.index("link")] = f"link = COALESCE(excluded.link, {name}.link)"
    return (
        f"ON CONFLICT (organization_id, external_id) DO UPDATE SET {', '.join(sets)} "
        f"WHERE {name}.updated_at < excluded.updated_at OR "
        f"({name}.updated_at = excluded.updated_at AND {name}.version <> excluded.version)"
    )


@cache
def _bind_processor(dialect: Dialect, table: Table, column: str) -> Callable[[Any], Any] | None:
    column_type = table.c[column].type
    convert = column_type.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name == "sqlite" and convert is not None:
        if isinstance(column_type, UTCDateTime):
            return _sqlite_instant(convert)
        if type(column_type) is Date:
            return _sqlite_date(convert)
    return convert


def _sqlite_instant(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """UTCDateTime's text on SQLite made in one step (the type's chain takes three times as
    long, for every row); anything but an aware datetime goes through the chain."""

    def text(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return convert(value)

    return text


def _sqlite_date(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Date's text on SQLite ("YYYY-MM-DD") in one step; anything but a date goes through
    the chain."""

    def text(value: Any) -> Any:
        return value.isoformat() if type(value) is date else convert(value)

    return text


def _customer_column(table: Table) -> Any:
    if "customer_external_id" in table.c:
        return table.c.customer_external_id
    return table.c.external_id


def _deleted_defaults(entity: Entity) -> dict[str, Any]:
    """Columns a deletion stub must fill if we never saw the record alive."""
    document = {"customer_external_id": "", "currency": ""}
    defaults: dict[Entity, dict[str, Any]] = {
        Entity.CUSTOMER: {"name": "", "active": False},
        Entity.INVOICE: document | {"total": 0, "balance": 0, "status": "deleted"},
        Entity.PAYMENT: document | {"amount": 0, "unapplied": 0},
        Entity.CREDIT_NOTE: document
        | {"total": 0, "remaining": 0, "voided": False, "status": "deleted"},
    }
    return defaults[entity]


def _replace_allocations(
    session: Session, org_id: int, entity: Entity, records: Sequence[AnyRecord]
) -> None:
    model: type[PaymentAllocation] | type[CreditAllocation]
    owner: type[Payment] | type[CreditNote]
    if entity == Entity.PAYMENT:
        model, parent, owner = PaymentAllocation, "payment_id", Payment
    else:
        model, parent, owner = CreditAllocation, "credit_note_id", CreditNote
    by_id = {r.external_id: r for r in records if isinstance(r, PaymentRecord | CreditNoteRecord)}
    ids = _row_ids(session, owner, org_id, list(by_id))
    gone = delete(model).where(getattr(model, parent).in_(list(ids.values())))
    if model is CreditAllocation:
        gone = gone.where(CreditAllocation.payment_external_id.is_(None))
    session.execute(gone)
    rows = [
        {
            parent: ids[external_id],
            "organization_id": org_id,
            "invoice_external_id": allocation.invoice_id,
            "amount": allocation.amount,
        }
        for external_id, record in by_id.items()
        if not record.deleted and external_id in ids
        for allocation in record.allocations
    ]
    if rows:
        _insert_new(session, model, rows)


def _insert_new(
    session: Session, model: type[PaymentAllocation | CreditAllocation], rows: list[dict[str, Any]]
) -> None:
    """Insert allocations (replaced whole: no conflict possible): COPYed on PostgreSQL, where
    an executemany runs a statement per row (a backfill writes one per payment line)."""
    if session.get_bind().dialect.name != "postgresql" or len(rows) < COPY_FROM:
        session.execute(insert(model), rows)
        return
    table: Table = model.__table__  # type: ignore[assignment]
    columns = tuple(rows[0])
    values = [
        tuple(postgres_rows.exact(v) if c == "amount" else v for c, v in row.items())
        for row in rows
    ]
    copy_insert(session.connection(), table, columns, values)


def _row_ids(session: Session, owner: Any, org_id: int, external_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(owner.external_id, owner.id).where(
            owner.organization_id == org_id, owner.external_id.in_(external_ids)
        )
    )
    return dict(rows.all())


def _replace_credit_applications(
    session: Session, org_id: int, records: Sequence[AnyRecord]
) -> None:
    """Credit the payments apply from credit notes, as those credit notes' allocations."""
    payments = [r for r in records if isinstance(r, PaymentRecord)]
    session.execute(
        delete(CreditAllocation).where(
            CreditAllocation.organization_id == org_id,
            CreditAllocation.payment_external_id.in_([p.external_id for p in payments]),
        )
    )
    applied = [(p.external_id, c) for p in payments if not p.deleted for c in p.credits]
    if not applied:
        return
    notes = _row_ids(session, CreditNote, org_id, [c.credit_note_id for _, c in applied])
    rows = [
        {
            "credit_note_id": notes.get(credit.credit_note_id),
            "organization_id": org_id,
            "invoice_external_id": credit.invoice_id,
            "amount": credit.amount,
            "credit_note_external_id": credit.credit_note_id,
            "payment_external_id": payment_id,
        }
        for payment_id, credit in applied
    ]
    _insert_new(session, CreditAllocation, rows)


def _attach_waiting_applications(session: Session, org_id: int, external_ids: list[str]) -> None:
    """Credit applied by payments mirrored before their credit note finds its credit note."""
    note_id = (
        select(CreditNote.id)
        .where(
            CreditNote.organization_id == CreditAllocation.organization_id,
            CreditNote.external_id == CreditAllocation.credit_note_external_id,
        )
        .scalar_subquery()
    )
    session.execute(
        update(CreditAllocation)
        .where(
            CreditAllocation.organization_id == org_id,
            CreditAllocation.credit_note_id.is_(None),
            CreditAllocation.credit_note_external_id.in_(external_ids),
        )
        .values(credit_note_id=note_id)
    )


def _customers_touched(records: Sequence[AnyRecord], held: dict[str, _Held]) -> set[str]:
    """The customers whose facts a page moved: new owners, previous owners (a document moved
    between customers changes both), and the survivors of merges."""
    customers: set[str] = set()
    for record in records:
        customers.add(getattr(record, "customer_id", None) or record.external_id)
        if isinstance(record, CustomerRecord) and record.merged_into:
            customers.add(record.merged_into)
        previous = held.get(record.external_id)
        if previous is not None and previous.customer:
            customers.add(previous.customer)
    customers.discard("")
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
        "sent_to_customer": r.sent_to_customer,
        "home_rate": r.home_rate,
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
        "status": str(r.status),
    }


_ENTITIES: dict[Entity, tuple[Any, Any]] = {
    Entity.CUSTOMER: (Customer, _customer_row),
    Entity.INVOICE: (Invoice, _invoice_row),
    Entity.PAYMENT: (Payment, _payment_row),
    Entity.CREDIT_NOTE: (CreditNote, _credit_note_row),
}
