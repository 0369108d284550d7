"""rules.load.reads runs the loader's statements together (one psycopg pipeline on PostgreSQL)
and must give exactly the rows SQLAlchemy gives for each: money as Decimal, instants in UTC,
JSON decoded, the customers of a scoped run expanded."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy import table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.models import CreditNote
from outbox.models import Action
from rules.load import queries as q
from rules.load.reads import Reads
from rules.load.reads import _Units
from rules.models import CustomerProfile
from rules.models import StepFiring
from rules.pauses.load import queue_pauses
from rules.pauses.models import Dispute
from rules.pauses.models import PromiseToPay
from tests.rules.factories import D
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import payment_row

AS_OF = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 12, 30, tzinfo=UTC)


def _seed(db: Session) -> int:
    org = org_row(db)
    for cid in ("C1", "C2"):
        customer_row(db, org, cid)
        invoice_row(db, org, f"{cid}-I1", cid, AS_OF - timedelta(days=40), 500, "120.50")
        invoice_row(db, org, f"{cid}-I2", cid, AS_OF - timedelta(days=5), "99.99")
        payment_row(db, org, f"{cid}-P", cid, AS_OF - timedelta(days=9), {f"{cid}-I1": "379.50"})
    changed = datetime(2025, 5, 1, 9, 15, tzinfo=UTC)
    db.add_all(
        [
            CustomerProfile(
                organization_id=org.id,
                customer_external_id="C1",
                tags=["vip", "wholesale"],
                credit_hold=True,
                credit_hold_source="rule",
                credit_hold_changed_at=changed,
            ),
            CreditNote(
                organization_id=org.id,
                external_id="CN1",
                version="1",
                updated_at=changed,
                customer_external_id="C2",
                currency="USD",
                total=D("30"),
                remaining=D("12.3456"),
            ),
            StepFiring(
                organization_id=org.id,
                rule="offer:aged",
                step="offer",
                target="C1-I1",
                period="1",
                customer_external_id="C1",
                fired_on=AS_OF - timedelta(days=3),
                amount=D("120.50"),
            ),
            Action(
                organization_id=org.id,
                rule="policy:std",
                step="first",
                target="C1",
                period="p",
                kind="reminder",
                customer_external_id="C1",
                decided_on=AS_OF,
                scheduled_for=NOW - timedelta(hours=30),
            ),
            Dispute(
                organization_id=org.id,
                invoice_external_id="C2-I2",
                customer_external_id="C2",
                reason="pricing",
                opened_on=AS_OF - timedelta(days=2),
            ),
            PromiseToPay(
                organization_id=org.id,
                customer_external_id="C1",
                invoice_external_ids=["C1-I2"],
                promised_on=AS_OF - timedelta(days=1),
                until=AS_OF + timedelta(days=6),
                balance_at_promise=D("99.99"),
            ),
        ]
    )
    db.flush()
    return org.id


def _queue(reads: Reads, org_id: int, ids: list[str] | None) -> None:
    scoped = ids is not None
    args = q.params(org_id, ids)
    year = q.params(org_id, ids, as_of=AS_OF, year_ago=AS_OF - timedelta(days=365))
    for stmt in (q.customers, q.open_invoices, q.credit, q.last_paid, q.firings):
        reads.add(stmt(scoped), args)
    reads.add(q.billed(scoped), year)
    reads.add(q.lateness(scoped), year)
    reads.add(q.live_actions(scoped), q.params(org_id, ids, horizon=NOW - timedelta(days=7)))
    queue_pauses(reads, org_id, AS_OF, ids)


@pytest.mark.parametrize("ids", [None, ["C1"], ["C1", "C2", "C9"]])
def test_reads_give_the_rows_sqlalchemy_gives(db: Session, ids: list[str] | None) -> None:
    org_id = _seed(db)
    reads = Reads(db.connection())
    _queue(reads, org_id, ids)
    queued = list(reads.queued)
    together = reads.run()
    one_by_one = [[tuple(r) for r in db.connection().execute(s, p)] for s, p in queued]
    assert repr(together) == repr(one_by_one)  # same values, types and time zones
    customers, invoices, credit = together[0], together[1], together[2]
    assert customers[0][8] == ["vip", "wholesale"]
    assert customers[0][12] == datetime(2025, 5, 1, 9, 15, tzinfo=UTC)
    assert customers[0][12].tzinfo is UTC
    assert Decimal("120.5") in {row[7] for row in invoices}
    assert credit == ([] if ids == ["C1"] else [("C2", "USD", Decimal("12.3456"))])


def test_a_failing_read_is_a_sqlalchemy_error(db: Session) -> None:
    org_id = _seed(db)
    reads = Reads(db.connection())
    _queue(reads, org_id, ["C1"])
    reads.add(select(literal_column("1")).select_from(table("no_such_table")), {})
    with pytest.raises(DBAPIError):
        reads.run()


def test_each_run_binds_its_own_values(db: Session) -> None:
    """The rendering of a statement is reused for lists of the same length, never the values."""
    org_id = _seed(db)
    found = []
    for ids in (["C1"], ["C2"], ["C1", "C2"], ["C2", "C9"]):
        reads = Reads(db.connection())
        reads.add(q.open_invoices(True), q.params(org_id, ids))
        reads.add(q.credit(True), q.params(org_id, ids))
        invoices, _ = reads.run()
        found.append(sorted(row[0] for row in invoices))
    assert found == [
        ["C1-I1", "C1-I2"],
        ["C2-I1", "C2-I2"],
        ["C1-I1", "C1-I2", "C2-I1", "C2-I2"],
        ["C2-I1", "C2-I2"],
    ]


def test_a_lost_connection_is_invalidated(db: Session, engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL connection is lost when its server process ends")
    org_id = _seed(db)
    pid = db.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with engine.connect() as other:
        other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    reads = Reads(db.connection())
    _queue(reads, org_id, ["C1"])
    with pytest.raises(OperationalError) as raised:
        reads.run()
    assert raised.value.connection_invalidated


def test_plain_values_are_bound_as_their_column_types_bind_them(db: Session) -> None:
    """A single value (not only a list) goes through its type's bind processing: an aware
    instant and Money compare as SQLAlchemy's own execution compares them (on SQLite, Money is
    stored in 1/10,000 units and instants as naive UTC text)."""
    org_id = _seed(db)
    changed = db.scalar(select(CreditNote.updated_at).where(CreditNote.external_id == "CN1"))
    stmts = [
        (
            select(CreditNote.external_id).where(
                CreditNote.organization_id == org_id, CreditNote.updated_at >= changed
            ),
            {},
        ),
        (
            select(CreditNote.external_id).where(
                CreditNote.organization_id == org_id, CreditNote.remaining > D("12.30")
            ),
            {},
        ),
        (
            select(CreditNote.external_id).where(
                CreditNote.organization_id == org_id, CreditNote.remaining > D("12.35")
            ),
            {},
        ),
    ]
    reads = Reads(db.connection())
    for stmt, params in stmts:
        reads.add(stmt, params)
    together = reads.run()
    one_by_one = [[tuple(r) for r in db.connection().execute(s, p)] for s, p in stmts]
    assert together == one_by_one == [[("CN1",)], [("CN1",)], []]


@pytest.mark.parametrize("amount", ["0.0001", "12.5", "12.50", "99999999999999.9999", "7"])
def test_money_reads_as_money_columns_read_it(db: Session, amount: str) -> None:
    """Money through the loader's own decoding (rules.load.reads._money_processor) is the
    Decimal SQLAlchemy gives, with its exponent, read once or again (SQLite's decoded values
    are kept), NULL as None."""
    org = org_row(db)
    customer_row(db, org, "C1")
    invoice_row(db, org, "I1", "C1", AS_OF, amount, amount, discount_percent=D("2"))
    invoice_row(db, org, "I2", "C1", AS_OF, amount, amount)
    db.flush()
    stmt, args = q.open_invoices(False), q.params(org.id, None)
    for _ in range(2):
        reads = Reads(db.connection())
        reads.add(stmt, args)
        (rows,) = reads.run()
        expected = [tuple(r) for r in db.connection().execute(stmt, args)]
        assert repr(sorted(rows)) == repr(sorted(expected))
    assert {r[8] for r in rows} == {D("2"), None}


def test_sqlite_money_units_decode_past_the_kept_values() -> None:
    units = _Units()
    units.LIMIT = 2
    decoded = [units[v] for v in (1, 125_000, -5, 1, None, 10**18)]
    assert repr(decoded) == repr(
        [D("0.0001"), D("12.5000"), D("-0.0005"), D("0.0001"), None, D("100000000000000.0000")]
    )
    assert len(units) == 2
