"""Credit in the mirror: QuickBooks credit applied through payments becomes the credit note's
allocation, a credit note's own allocations and status, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.db import session_scope
from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Payment
from core.models import PaymentAllocation
from providers.base import Allocation
from providers.base import CreditApplication
from providers.base import CreditNoteRecord
from providers.base import Entity
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from sync.upsert import upsert_page

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def credit_note(at: datetime, **kw: object) -> CreditNoteRecord:
    fields: dict[str, object] = {
        "customer_id": "C1",
        "number": "CM-1",
        "issue_date": date(2026, 10, 5),
        "currency": "USD",
        "total": Decimal("40.00"),
        "remaining": Decimal("0.00"),
        "status": InvoiceStatus.PAID,
    }
    fields.update(kw)
    return CreditNoteRecord(external_id="148", version=str(at.timestamp()), updated_at=at, **fields)


def payment(at: datetime, credits: tuple[CreditApplication, ...], **kw: object) -> PaymentRecord:
    return PaymentRecord(
        external_id="170",
        version=str(at.timestamp()),
        updated_at=at,
        customer_id="C1",
        paid_on=date(2026, 10, 20),
        currency="USD",
        amount=Decimal("80.00"),
        allocations=(Allocation("132", Decimal("60.00")), Allocation("133", Decimal("20.00"))),
        credits=credits,
        **kw,
    )


APPLIED = (CreditApplication("148", "132", Decimal("40.00")),)


def upsert(session_factory, org_id: int, entity: Entity, *records) -> None:
    with session_scope(session_factory) as session:
        upsert_page(session, org_id, entity, list(records))


def allocations(session_factory) -> list[tuple]:
    with session_scope(session_factory) as session:
        rows = session.execute(
            select(
                CreditNote.external_id,
                CreditAllocation.credit_note_external_id,
                CreditAllocation.invoice_external_id,
                CreditAllocation.amount,
                CreditAllocation.payment_external_id,
            )
            .outerjoin(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
            .order_by(CreditAllocation.invoice_external_id)
        )
        return [tuple(row) for row in rows]


def test_credit_applied_by_a_payment_is_the_credit_notes_allocation(session_factory, org_id):
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, credit_note(T0))
    upsert(session_factory, org_id, Entity.PAYMENT, payment(T0, APPLIED))
    assert allocations(session_factory) == [("148", "148", "132", Decimal("40.00"), "170")]


def test_a_newer_credit_note_keeps_what_payments_applied(session_factory, org_id):
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, credit_note(T0))
    upsert(session_factory, org_id, Entity.PAYMENT, payment(T0, APPLIED))
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, credit_note(T0 + timedelta(hours=1)))
    assert allocations(session_factory) == [("148", "148", "132", Decimal("40.00"), "170")]


def test_a_changed_or_deleted_payment_replaces_what_it_applied(session_factory, org_id):
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, credit_note(T0))
    upsert(session_factory, org_id, Entity.PAYMENT, payment(T0, APPLIED))
    moved = (CreditApplication("148", "133", Decimal("15.00")),)
    upsert(session_factory, org_id, Entity.PAYMENT, payment(T0 + timedelta(hours=1), moved))
    assert allocations(session_factory) == [("148", "148", "133", Decimal("15.00"), "170")]
    gone = payment(T0 + timedelta(hours=2), (), deleted=True)
    upsert(session_factory, org_id, Entity.PAYMENT, gone)
    assert allocations(session_factory) == []


def test_a_payment_before_its_credit_note_waits_for_it(session_factory, org_id):
    upsert(session_factory, org_id, Entity.PAYMENT, payment(T0, APPLIED))
    assert allocations(session_factory) == [(None, "148", "132", Decimal("40.00"), "170")]
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, credit_note(T0))
    assert allocations(session_factory) == [("148", "148", "132", Decimal("40.00"), "170")]


def test_a_credit_notes_own_allocations_are_replaced_beside_payment_ones(session_factory, org_id):
    listed = credit_note(T0, allocations=(Allocation("131", Decimal("10.00")),))
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, listed)
    upsert(session_factory, org_id, Entity.PAYMENT, payment(T0, APPLIED))
    newer = credit_note(T0 + timedelta(hours=1), allocations=(Allocation("134", Decimal("5")),))
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, newer)
    assert allocations(session_factory) == [
        ("148", "148", "132", Decimal("40.00"), "170"),
        ("148", None, "134", Decimal("5.00"), None),
    ]


def test_credit_note_status_is_mirrored(session_factory, org_id):
    draft = credit_note(T0, status=InvoiceStatus.DRAFT, remaining=Decimal("0"))
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, draft)
    with session_scope(session_factory) as session:
        assert session.scalar(select(CreditNote.status)) == "draft"
    stub = CreditNoteRecord(
        external_id="148", version="x", updated_at=T0 + timedelta(hours=1), deleted=True
    )
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, stub)
    with session_scope(session_factory) as session:
        assert session.scalar(select(CreditNote.status)) == "deleted"


def test_a_page_of_payments_writes_every_allocation_and_credit_exactly(session_factory, org_id):
    """Past COPY_FROM rows, allocations go by COPY on PostgreSQL (an executemany on SQLite)."""
    upsert(session_factory, org_id, Entity.CREDIT_NOTE, credit_note(T0))
    pays = [
        PaymentRecord(
            external_id=f"P{n}",
            version="1",
            updated_at=T0,
            customer_id="C1",
            amount=Decimal("3.3333"),
            allocations=(
                Allocation(f"I{n}", Decimal("1.1111")),
                Allocation("I0", Decimal("2.2222")),
            ),
            credits=(CreditApplication("148", f"I{n}", Decimal("0.0001")),) * 2,
        )
        for n in range(40)
    ]
    upsert(session_factory, org_id, Entity.PAYMENT, *pays)
    with session_scope(session_factory) as session:
        cash = session.execute(
            select(
                Payment.external_id, PaymentAllocation.invoice_external_id, PaymentAllocation.amount
            )
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.organization_id == org_id)
        ).all()
    assert len(cash) == 80 and {row.amount for row in cash} == {
        Decimal("1.1111"),
        Decimal("2.2222"),
    }
    assert ("P7", "I7", Decimal("1.1111")) in [tuple(row) for row in cash]
    credit = allocations(session_factory)
    assert len(credit) == 80 and ("148", "148", "I7", Decimal("0.0001"), "P7") in credit
