"""Full-size pages: on PostgreSQL they go through COPY and one INSERT ... SELECT
(sync/copy_write.py), on SQLite through executemany; both keep the version guard, and the
prefetching thread (sync/prefetch.py) keeps order, errors and the cursor with its page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import Invoice
from core.models import SyncCursor
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from sync import upsert
from sync.engine import sync_entity
from sync.prefetch import prefetched
from sync.upsert import upsert_page
from tests.fakes import Crash
from tests.fakes import FakeProvider
from tests.sync.conftest import mirror

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PAGE = 250  # above sync.copy_write.COPY_FROM


def invoice(n: int, at: datetime, version: str = "0", **kw: object) -> InvoiceRecord:
    fields: dict[str, object] = {
        "customer_id": f"C{n % 7}",
        "number": f"INV-{n}",
        "issue_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 31),
        "currency": "USD",
        "total": Decimal("100.10"),
        "balance": Decimal("100.10"),
        "home_rate": Decimal("1.234567890123"),
    }
    fields.update(kw)
    return InvoiceRecord(external_id=str(n), version=version, updated_at=at, **fields)


@pytest.mark.parametrize("prefetch", [None, 0, 2])
def test_a_backfill_of_full_pages_is_mirrored_exactly(session_factory, org_id, prefetch):
    provider = FakeProvider(page_size=PAGE)
    provider.put(*(invoice(n, T0 + timedelta(seconds=n)) for n in range(3 * PAGE + 17)))
    provider.put(invoice(5000, T0, total=Decimal("-12.3456"), balance=Decimal("0"), email=None))
    report, customers = sync_entity(session_factory, org_id, provider, Entity.INVOICE, prefetch)
    assert (report.pages, report.written) == (4, 3 * PAGE + 18)
    assert customers == {f"C{n}" for n in range(7)}
    rows = mirror(session_factory, org_id)
    assert len(rows) == 3 * PAGE + 18
    assert rows["5000"].total == Decimal("-12.3456") and rows["5000"].balance == Decimal("0")
    assert rows["17"].updated_at == T0 + timedelta(seconds=17)
    assert rows["17"].home_rate == Decimal("1.234567890123")
    assert (rows["17"].issue_date, rows["17"].number) == (date(2026, 10, 1), "INV-17")
    with session_scope(session_factory) as session:
        cursor = session.scalar(select(SyncCursor))
        assert cursor.records_seen == 3 * PAGE + 18
        assert cursor.high_water == T0 + timedelta(seconds=3 * PAGE + 16)


def test_the_guard_in_the_statement_keeps_newer_rows(session_factory, org_id, monkeypatch):
    """As if another writer committed newer versions after this page read what we hold: the
    version guard in the statement itself decides."""
    with session_scope(session_factory) as session:
        newer = [invoice(n, T0 + timedelta(hours=1), balance=Decimal("10")) for n in range(PAGE)]
        upsert_page(session, org_id, Entity.INVOICE, newer)
    monkeypatch.setattr(upsert, "_held_versions", lambda *args: {})
    page = [invoice(n, T0, balance=Decimal("99")) for n in range(PAGE // 2)]  # older
    page += [  # same instant, another version: taken
        invoice(n, T0 + timedelta(hours=1), version="1", balance=Decimal("5"))
        for n in range(PAGE // 2, PAGE - 10)
    ]
    page += [
        invoice(n, T0 + timedelta(hours=2), balance=Decimal("0")) for n in range(PAGE - 10, PAGE)
    ]
    with session_scope(session_factory) as session:
        upsert_page(session, org_id, Entity.INVOICE, page)
    rows = mirror(session_factory, org_id)
    assert {rows[str(n)].balance for n in range(PAGE // 2)} == {Decimal("10")}
    assert {rows[str(n)].balance for n in range(PAGE // 2, PAGE - 10)} == {Decimal("5")}
    assert {rows[str(n)].status for n in range(PAGE - 10, PAGE)} == {"open"}
    assert {rows[str(n)].balance for n in range(PAGE - 10, PAGE)} == {Decimal("0")}


def test_two_full_pages_in_one_transaction(session_factory, org_id):
    """Callers other than the engine may write twice in one transaction: the staging table
    holds only the page being written."""
    with session_scope(session_factory) as session:
        upsert_page(session, org_id, Entity.INVOICE, [invoice(n, T0) for n in range(PAGE)])
        later = [invoice(n, T0 + timedelta(hours=1), balance=Decimal("1")) for n in range(60)]
        result = upsert_page(session, org_id, Entity.INVOICE, later)
    assert result.written == 60
    rows = mirror(session_factory, org_id)
    assert len(rows) == PAGE
    assert sum(row.balance == Decimal("1") for row in rows.values()) == 60


def test_deletion_stubs_in_a_full_page_flag_rows(session_factory, org_id):
    with session_scope(session_factory) as session:
        upsert_page(session, org_id, Entity.INVOICE, [invoice(n, T0) for n in range(PAGE)])
    gone = [
        InvoiceRecord(
            external_id=str(n),
            version="9",
            updated_at=T0 + timedelta(hours=1),
            deleted=True,
            status=InvoiceStatus.DELETED,
        )
        for n in range(PAGE)
    ]
    with session_scope(session_factory) as session:
        upsert_page(session, org_id, Entity.INVOICE, gone)
    rows = mirror(session_factory, org_id)
    assert {(row.deleted, row.status) for row in rows.values()} == {(True, "deleted")}
    assert {row.total for row in rows.values()} == {Decimal("100.10")}  # what we knew stays


def test_a_crash_while_prefetching_keeps_every_page_before_it(session_factory, org_id):
    provider = FakeProvider(page_size=PAGE)
    provider.put(*(invoice(n, T0 + timedelta(seconds=n)) for n in range(4 * PAGE)))
    provider.crash_after_pages = 3
    with pytest.raises(Crash):
        sync_entity(session_factory, org_id, provider, Entity.INVOICE, prefetch=2)
    assert len(mirror(session_factory, org_id)) == 3 * PAGE
    with session_scope(session_factory) as session:
        assert session.scalar(select(SyncCursor.high_water)) == T0 + timedelta(seconds=3 * PAGE - 1)
    assert all(t.name != "sync-prefetch" for t in threading.enumerate())


# ---------------------------------------------------------------- the prefetching thread


def test_prefetched_keeps_order_and_stays_bounded():
    made: list[int] = []

    def items() -> Iterator[int]:
        for n in range(50):
            made.append(n)
            yield n

    seen = []
    for n in prefetched(items(), depth=2):
        seen.append(n)
        assert len(made) <= n + 4  # at most depth queued, one in hand, one being made
    assert seen == list(range(50))


def test_an_error_comes_out_after_the_items_before_it():
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is malformed")

    got = []
    with pytest.raises(ValueError, match="page 3 is malformed"):
        for n in prefetched(items()):
            got.append(n)
    assert got == [1, 2]


def test_a_consumer_that_stops_stops_the_producer():
    made: list[int] = []

    def items() -> Iterator[int]:
        for n in range(1000):
            made.append(n)
            yield n

    listing = prefetched(items(), depth=2)
    assert next(listing) == 0
    listing.close()
    assert len(made) <= 5
    assert all(t.name != "sync-prefetch" for t in threading.enumerate())


# ---------------------------------------------------------------- SQLite text, in one step

INSTANTS = [
    datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-7))),
    datetime(1, 1, 1, 0, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=13, minutes=45))),
]
DAYS = [date(2026, 2, 28), date(1, 1, 1), date(999, 12, 31), date(9999, 12, 31)]


@pytest.mark.parametrize(("column", "values"), [("updated_at", INSTANTS), ("due_date", DAYS)])
def test_sqlite_text_is_what_the_column_type_stores(column, values):
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    table = Invoice.__table__
    chain = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    fast = upsert._bind_processor(dialect, table, column)
    assert fast is not chain
    assert [fast(v) for v in [*values, None]] == [chain(v) for v in [*values, None]]


def test_sqlite_text_refuses_a_naive_instant_as_the_type_does():
    from sqlalchemy.dialects import sqlite

    fast = upsert._bind_processor(sqlite.dialect(), Invoice.__table__, "updated_at")
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 1, 1, 12, 0))
