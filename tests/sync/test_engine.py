"""The sync engine against an in-memory provider and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlalchemy import select

from core.db import session_scope
from core.models import Customer
from core.models import Invoice
from core.models import Payment
from core.models import PaymentAllocation
from core.models import SyncCursor
from providers.base import Allocation
from providers.base import ChangedPage
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from sync.engine import ENTITY_ORDER
from sync.engine import sync_entities
from sync.engine import sync_entity
from tests.fakes import Crash
from tests.fakes import FakeProvider
from tests.sync.conftest import mirror

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def invoice(n: int, at: datetime, **kw: object) -> InvoiceRecord:
    fields: dict[str, object] = {
        "customer_id": "C1",
        "number": f"INV-{n}",
        "issue_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 31),
        "currency": "USD",
        "total": Decimal("100.10"),
        "balance": Decimal("100.10"),
    }
    fields.update(kw)
    return InvoiceRecord(external_id=str(n), version="0", updated_at=at, **fields)


def test_backfill_then_incremental_picks_up_only_changes(session_factory, org_id):
    provider = FakeProvider()
    provider.put(*(invoice(n, T0 + timedelta(minutes=n)) for n in range(7)))
    report, customers = sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    assert (report.mode, report.pages, report.written) == ("backfill", 3, 7)
    assert customers == {"C1"}

    provider.touch(Entity.INVOICE, "3", T0 + timedelta(hours=2), balance=Decimal("40.05"))
    report, _ = sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    assert report.mode == "incremental"
    assert provider.calls[-1][1] == T0 + timedelta(minutes=6) - timedelta(minutes=5)
    assert report.written == 1
    assert mirror(session_factory, org_id)["3"].balance == Decimal("40.05")


def test_money_is_exact_decimal(session_factory, org_id):
    provider = FakeProvider()
    provider.put(invoice(1, T0, total=Decimal("1234567.89"), balance=Decimal("0.01")))
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    row = mirror(session_factory, org_id)["1"]
    assert row.total == Decimal("1234567.89") and row.balance == Decimal("0.01")
    with session_scope(session_factory) as session:
        total = session.scalar(select(func.sum(Invoice.total)))
    assert Decimal(total) == Decimal("1234567.89")


def test_whether_the_invoice_was_sent_is_mirrored(session_factory, org_id):
    provider = FakeProvider()
    provider.put(
        invoice(1, T0, sent_to_customer=False),
        invoice(2, T0, sent_to_customer=True),
        invoice(3, T0),
    )
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    provider.touch(Entity.INVOICE, "1", T0 + timedelta(hours=1), sent_to_customer=True)
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    rows = mirror(session_factory, org_id)
    assert [rows[n].sent_to_customer for n in "123"] == [True, True, None]


def test_older_version_never_overwrites_newer(session_factory, org_id):
    provider = FakeProvider()
    provider.put(invoice(1, T0 + timedelta(hours=1), balance=Decimal("10.00")))
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    from sync.upsert import upsert_page

    with session_scope(session_factory) as session:
        result = upsert_page(
            session, org_id, Entity.INVOICE, [invoice(1, T0, balance=Decimal("99"))]
        )
    assert result.written == 0
    assert mirror(session_factory, org_id)["1"].balance == Decimal("10.00")


def test_crash_mid_backfill_resumes_without_loss_or_duplicates(session_factory, org_id):
    provider = FakeProvider(page_size=2)
    provider.put(*(invoice(n, T0 + timedelta(minutes=n)) for n in range(9)))
    provider.crash_after_pages = 2
    with pytest.raises(Crash):
        sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    assert len(mirror(session_factory, org_id)) == 4  # two committed pages
    with session_scope(session_factory) as session:
        cursor = session.scalar(select(SyncCursor))
        assert cursor.high_water == T0 + timedelta(minutes=3)
        assert cursor.full_completed_at is None

    provider.crash_after_pages = None
    report, _ = sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    assert report.mode == "resume"
    rows = mirror(session_factory, org_id)
    assert sorted(rows, key=int) == [str(n) for n in range(9)]
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 9
        assert session.scalar(select(SyncCursor.full_completed_at)) is not None


def test_deleted_stub_flags_but_keeps_what_we_knew(session_factory, org_id):
    provider = FakeProvider()
    provider.put(invoice(1, T0))
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    provider.put(
        InvoiceRecord(
            external_id="1", version="5", updated_at=T0 + timedelta(hours=1), deleted=True
        )
    )
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    row = mirror(session_factory, org_id)["1"]
    assert row.deleted and row.status == "deleted"
    assert row.number == "INV-1" and row.total == Decimal("100.10")


def test_reconcile_beyond_the_change_window_flags_vanished_rows(session_factory, org_id):
    provider = FakeProvider(window=timedelta(days=30))
    provider.put(invoice(1, T0), invoice(2, T0), invoice(3, T0))
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    with session_scope(session_factory) as session:
        cursor = session.scalar(select(SyncCursor))
        cursor.high_water = datetime.now(UTC) - timedelta(days=45)
    provider.drop(Entity.INVOICE, "2")
    report, _ = sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    assert (report.mode, report.flagged_deleted) == ("reconcile", 1)
    rows = mirror(session_factory, org_id)
    assert rows["2"].deleted and not rows["1"].deleted and not rows["3"].deleted


def test_voided_invoice_is_mirrored_as_voided(session_factory, org_id):
    provider = FakeProvider()
    provider.put(invoice(1, T0, status=InvoiceStatus.VOIDED, total=Decimal(0), balance=Decimal(0)))
    sync_entity(session_factory, org_id, provider, Entity.INVOICE)
    assert mirror(session_factory, org_id)["1"].status == "voided"


def test_payment_allocations_are_replaced_when_the_payment_changes(session_factory, org_id):
    provider = FakeProvider()
    payment = PaymentRecord(
        external_id="P1",
        version="0",
        updated_at=T0,
        customer_id="C1",
        paid_on=date(2026, 11, 1),
        currency="USD",
        amount=Decimal("150.00"),
        allocations=(Allocation("1", Decimal("100.00")), Allocation("2", Decimal("50.00"))),
    )
    provider.put(payment)
    sync_entity(session_factory, org_id, provider, Entity.PAYMENT)
    provider.touch(
        Entity.PAYMENT,
        "P1",
        T0 + timedelta(hours=1),
        allocations=(Allocation("1", Decimal("150.00")),),
    )
    sync_entity(session_factory, org_id, provider, Entity.PAYMENT)
    with session_scope(session_factory) as session:
        allocations = session.execute(
            select(PaymentAllocation.invoice_external_id, PaymentAllocation.amount)
        ).all()
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert allocations == [("1", Decimal("150.00"))]


def test_merge_information_survives_later_reads(session_factory, org_id):
    from sync.engine import apply_merges

    provider = FakeProvider()
    provider.put(
        CustomerRecord(external_id="59", version="0", updated_at=T0, name="Old Acme"),
        CustomerRecord(external_id="58", version="0", updated_at=T0, name="Acme"),
    )
    sync_entities(session_factory, org_id, provider, [Entity.CUSTOMER])
    with session_scope(session_factory) as session:
        assert apply_merges(session, org_id, [("59", "58")]) == {"58", "59"}
    provider.touch(Entity.CUSTOMER, "59", T0 + timedelta(hours=1), active=False)
    sync_entities(session_factory, org_id, provider, [Entity.CUSTOMER])
    with session_scope(session_factory) as session:
        old = session.scalar(select(Customer).where(Customer.external_id == "59"))
        assert old.merged_into == "58" and old.active is False


class ListsTogether(FakeProvider):
    """A provider that also lists several entities in one call, as QuickBooks' CDC does,
    answering as of `now`."""

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now
        self.together: list[tuple[list[Entity], datetime]] = []

    def list_changed_many(self, entities, since):
        self.together.append((list(entities), since))
        for entity in entities:
            rows = sorted(self.records[entity].values(), key=lambda r: r.updated_at)
            yield ChangedPage(entity, [r for r in rows if r.updated_at >= since], self.now)


def customer(n: int, at: datetime) -> CustomerRecord:
    return CustomerRecord(external_id=f"C{n}", version="0", updated_at=at, name=f"Customer {n}")


def cursors(session_factory, org_id) -> dict[str, datetime]:
    with session_scope(session_factory) as db:
        rows = db.execute(select(SyncCursor.entity, SyncCursor.high_water)).all()
    return {entity: as_utc(high_water) for entity, high_water in rows}


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_incremental_entities_are_listed_in_one_call_and_quiet_cursors_move(
    session_factory, org_id
):
    provider = ListsTogether(now=T0 + timedelta(hours=1))
    provider.put(customer(1, T0), invoice(1, T0 + timedelta(minutes=1)))
    sync_entities(session_factory, org_id, provider)  # the first time: a backfill of each
    assert provider.together == [] and len(provider.calls) == 4

    provider.now = T0 + timedelta(days=3)
    provider.touch(Entity.INVOICE, "1", T0 + timedelta(days=2), balance=Decimal("1.00"))
    report = sync_entities(session_factory, org_id, provider)
    assert len(provider.calls) == 4  # no call of its own for any entity
    [(entities, since)] = provider.together
    assert entities == list(ENTITY_ORDER)
    assert since == T0 - timedelta(minutes=5)  # the oldest cursor, the customers'
    assert report.entities["invoice"].written == 1 and report.customers == {"C1"}
    assert mirror(session_factory, org_id)["1"].balance == Decimal("1.00")
    # every cursor, the quiet ones too, moved to the answer's time: the next call's window
    # starts there, not at the customers' last change days ago
    assert set(cursors(session_factory, org_id).values()) == {provider.now}
    sync_entities(session_factory, org_id, provider)
    assert provider.together[-1][1] == provider.now - timedelta(minutes=5)


def test_an_entity_that_needs_a_full_listing_sends_every_entity_its_own_way(
    session_factory, org_id
):
    provider = ListsTogether(now=T0 + timedelta(hours=1))
    provider.put(customer(1, T0), invoice(1, T0 + timedelta(minutes=1)))
    sync_entity(session_factory, org_id, provider, Entity.CUSTOMER)
    provider.calls.clear()
    sync_entities(session_factory, org_id, provider)  # the invoices were never listed
    assert provider.together == []
    assert [(entity, since is None) for entity, since in provider.calls] == [
        (Entity.CUSTOMER, False),
        (Entity.INVOICE, True),
        (Entity.CREDIT_NOTE, True),
        (Entity.PAYMENT, True),
    ]
