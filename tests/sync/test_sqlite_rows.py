"""SQLite's page write from parameter tuples (sync/sqlite_rows.py) stores exactly what the
generic write, its values converted by the columns' SQLAlchemy types, stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table
from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from core.db import session_scope
from core.models import Organization
from providers.base import AnyRecord
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from sync import sqlite_rows
from sync import upsert
from sync.upsert import upsert_page

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 5, 0, 0, 250, tzinfo=UTC)
PACIFIC = timezone(timedelta(hours=-8))

INSTANTS = [
    T0,
    datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-7))),
    datetime(1, 1, 1, 0, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=13, minutes=45))),
    datetime(2026, 6, 1, 0, 0, tzinfo=timezone(timedelta(0))),
]
DAYS = [date(2026, 2, 28), date(1, 1, 1), date(999, 12, 31), date(9999, 12, 31), None]
AMOUNTS = [
    Decimal("0"),
    Decimal("-12.3456"),
    Decimal("100.10"),
    Decimal("0.00005"),  # half way: rounds to even, as the type does
    Decimal("0.00015"),
    Decimal("-0.00005"),
    Decimal("99999999999999.9999"),
    Decimal("1E+3"),
    5,
    None,
]
RATES = [Decimal("1.234567890123"), Decimal("0.5"), Decimal("1E-7"), Decimal("3"), None]


def chain(table: Table, column: str) -> Any:
    """The column type's own conversion on SQLite (identity where it has none)."""
    dialect = sqlite.dialect()
    convert = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return convert or (lambda value: value)


@pytest.mark.parametrize(
    ("convert", "column", "values"),
    [
        (sqlite_rows.instant, "updated_at", INSTANTS),
        (sqlite_rows.day, "due_date", DAYS),
        (sqlite_rows.money, "total", AMOUNTS),
        (sqlite_rows.money, "discount_percent", AMOUNTS),
        (sqlite_rows.rate, "home_rate", RATES),
    ],
)
def test_each_value_is_what_the_column_type_stores(convert, column, values):
    from core.models import Invoice

    assert [convert(v) for v in values] == [chain(Invoice.__table__, column)(v) for v in values]


def test_a_naive_instant_and_a_datetime_for_a_date_are_refused():
    with pytest.raises(ValueError, match="naive"):
        sqlite_rows.instant(datetime(2026, 1, 1, 12, 0))
    with pytest.raises(TypeError):
        sqlite_rows.day(datetime(2026, 1, 1, 12, 0))


def records(entity: Entity, start: int, at: datetime) -> list[AnyRecord]:
    """A page of one entity: every optional field set and unset, odd amounts, instants in
    and out of UTC, and a deletion notice."""
    page: list[AnyRecord] = []
    for n in range(start, start + 12):
        amount = AMOUNTS[n % len(AMOUNTS)] or Decimal("0")
        updated = (at + timedelta(seconds=n, microseconds=n)).astimezone(PACIFIC if n % 3 else UTC)
        head: dict[str, Any] = {"external_id": f"X{n}", "version": str(n), "updated_at": updated}
        page.append(_record(entity, n, head, amount))
    page.append(replace(page[-1], deleted=True, updated_at=at + timedelta(minutes=5)))
    return page


def _record(entity: Entity, n: int, head: dict[str, Any], amount: Decimal) -> AnyRecord:
    maybe = n % 2 == 0
    day = DAYS[n % len(DAYS)]
    if entity == Entity.CUSTOMER:
        return CustomerRecord(
            **head,
            name=f"Customer {n}",
            email=f"c{n}@example.com" if maybe else None,
            currency="EUR" if maybe else None,
            active=maybe,
            merged_into="X0" if n % 5 == 4 else None,
            balance=amount if maybe else None,
            phone="+1 555 0100" if maybe else None,
        )
    if entity == Entity.INVOICE:
        return InvoiceRecord(
            **head,
            customer_id=f"C{n % 3}",
            number=f"INV-{n}" if maybe else None,
            issue_date=day,
            due_date=DAYS[(n + 1) % len(DAYS)],
            currency="USD",
            total=amount,
            balance=-amount,
            status=list(InvoiceStatus)[n % len(InvoiceStatus)],
            email="ap@example.com" if maybe else None,
            discount_percent=Decimal("2.5") if maybe else None,
            discount_days=10 if maybe else None,
            link=f"https://example.com/{n}" if maybe else None,
            sent_to_customer=[True, False, None][n % 3],
            home_rate=RATES[n % len(RATES)],
        )
    if entity == Entity.PAYMENT:
        return PaymentRecord(
            **head,
            customer_id=f"C{n % 3}",
            paid_on=day,
            currency="GBP",
            amount=amount,
            unapplied=amount,
        )
    return CreditNoteRecord(
        **head,
        customer_id=f"C{n % 3}",
        number=f"CN-{n}" if maybe else None,
        issue_date=day,
        currency="NZD",
        total=amount,
        remaining=amount,
        voided=not maybe,
        status=list(InvoiceStatus)[n % len(InvoiceStatus)],
    )


@pytest.mark.parametrize("entity", list(Entity))
def test_the_tuples_write_the_columns_the_rows_write(entity):
    record = records(entity, 0, T0)[0]
    generic = upsert._ENTITIES[entity][1](record) | upsert._head(1, record, NOW)
    assert sorted(sqlite_rows.columns(entity)) == sorted(generic)


def _org(session_factory, name: str) -> int:
    with session_scope(session_factory) as session:
        org = Organization(provider="fake", external_id=name, name=name)
        session.add(org)
        session.flush()
        return org.id


def _stored(session_factory, entity: Entity, org_id: int) -> dict[str, tuple[Any, ...]]:
    """Every column of the org's rows as SQLite holds them (no type conversion on the way
    out), but the row id and the organization."""
    table = upsert._ENTITIES[entity][0].__table__
    with session_scope(session_factory) as session:
        rows = session.execute(
            text(f'SELECT * FROM "{table.name}" WHERE organization_id = :org'), {"org": org_id}
        )
        names = list(rows.keys())
        out = {}
        for row in rows:
            values = dict(zip(names, row, strict=True))
            del values["id"], values["organization_id"]
            out[values["external_id"]] = tuple(
                (name, values[name], type(values[name]).__name__) for name in sorted(values)
            )
        return out


def _sync(session_factory, org_id: int, entity: Entity, pages: list[list[AnyRecord]]) -> None:
    for page in pages:
        with session_scope(session_factory) as session:
            upsert_page(session, org_id, entity, page)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("entity", list(Entity))
def test_the_tuples_store_what_the_converted_rows_store(session_factory, entity, monkeypatch):
    """Two pages, the second with newer versions, the same versions, older ones, new records
    and deletions of rows we hold, written once by the tuples and once by the generic rows."""
    monkeypatch.setattr(upsert, "utcnow", lambda: NOW)
    first = records(entity, 0, T0)
    second = [
        *records(entity, 6, T0 + timedelta(hours=1)),  # 6-11 newer, 12-17 new
        *records(entity, 0, T0)[:3],  # held already: no change
        *records(entity, 3, T0 - timedelta(days=1))[:3],  # older than held: ignored
    ]
    second.append(replace(first[1], deleted=True, updated_at=T0 + timedelta(hours=2)))
    pages = [first, second]

    by_tuples = _org(session_factory, "tuples")
    _sync(session_factory, by_tuples, entity, pages)
    monkeypatch.setattr(upsert, "_write_tuples", upsert._write_rows)
    by_rows = _org(session_factory, "rows")
    _sync(session_factory, by_rows, entity, pages)

    stored = _stored(session_factory, entity, by_tuples)
    assert stored == _stored(session_factory, entity, by_rows)
    assert len(stored) == 18
    assert {dict((n, v) for n, v, _ in row)["deleted"] for row in stored.values()} == {0, 1}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_what_we_hold_is_read_back_as_the_type_reads_it(session_factory):
    org_id = _org(session_factory, "held")
    page = records(Entity.INVOICE, 0, T0)
    _sync(session_factory, org_id, Entity.INVOICE, [page])
    table = upsert._ENTITIES[Entity.INVOICE][0].__table__
    wanted = [r.external_id for r in page] + ["not-held"]
    with session_scope(session_factory) as session:
        held = upsert._held_versions(session, table, org_id, wanted)
    latest = {r.external_id: r for r in upsert._latest_per_id(page)}
    assert set(held) == set(latest)
    for external_id, record in latest.items():
        assert held[external_id].updated_at == record.updated_at
        assert held[external_id].updated_at.tzinfo is UTC
        assert held[external_id].version == record.version
        assert held[external_id].customer == (record.customer_id if not record.deleted else "")
