"""Receivables on a past day, reconstructed from the mirror's payment history.

An invoice owed on day D what it owes today plus every reduction dated after D (payments
applied to it, and credit applied to it), never more than its total, and nothing before it was
issued. Dates: a payment's `paid_on`; credit applied through a QuickBooks payment, that
payment's date; credit a Xero credit note lists on itself, the credit note's date. A reduction
the mirror holds no date for (a write-off) counts as made before D. Voided, deleted and draft
invoices count nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Invoice
from core.models import Payment
from core.models import PaymentAllocation

COUNTED = ("open", "paid")


@dataclass
class LedgerInvoice:
    external_id: str
    customer: str
    currency: str
    rate: Decimal | None
    issue_date: date | None
    due_date: date | None
    total: Decimal
    balance: Decimal
    reductions: list[tuple[date, Decimal]] = field(default_factory=list)

    def owed_on(self, day: date) -> Decimal:
        if self.issue_date is not None and self.issue_date > day:
            return Decimal(0)
        later = sum((amount for on, amount in self.reductions if on > day), Decimal(0))
        return max(Decimal(0), min(self.total, self.balance + later))

    def overdue_on(self, day: date) -> bool:
        return self.due_date is not None and self.due_date < day


def load_ledger(session: Session, org_id: int, since: date) -> list[LedgerInvoice]:
    """The invoices that owed anything on some day from `since` on, with their reductions."""
    paid_since = (
        select(PaymentAllocation.invoice_external_id)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.organization_id == org_id, Payment.paid_on >= since)
    )
    rows = session.execute(
        select(
            Invoice.external_id,
            Invoice.customer_external_id,
            Invoice.currency,
            Invoice.home_rate,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.total,
            Invoice.balance,
        ).where(
            Invoice.organization_id == org_id,
            Invoice.status.in_(COUNTED),
            Invoice.deleted.is_(False),
            or_(
                Invoice.balance > 0,
                Invoice.issue_date >= since,
                Invoice.external_id.in_(paid_since),
                Invoice.external_id.in_(_credited_since(org_id, since)),
            ),
        )
    ).all()
    ledger = {r[0]: LedgerInvoice(*r) for r in rows}
    for invoice_id, on, amount in _reductions(session, org_id, ledger):
        ledger[invoice_id].reductions.append((on, amount))
    return list(ledger.values())


def _credited_since(org_id: int, since: date):
    by_payment = (
        select(CreditAllocation.invoice_external_id)
        .join(
            Payment,
            (Payment.organization_id == CreditAllocation.organization_id)
            & (Payment.external_id == CreditAllocation.payment_external_id),
        )
        .where(CreditAllocation.organization_id == org_id, Payment.paid_on >= since)
    )
    by_note = (
        select(CreditAllocation.invoice_external_id)
        .join(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
        .where(
            CreditAllocation.organization_id == org_id,
            CreditAllocation.payment_external_id.is_(None),
            CreditNote.issue_date >= since,
        )
    )
    return by_payment.union(by_note)


def _reductions(
    session: Session, org_id: int, ledger: dict[str, LedgerInvoice]
) -> Iterable[tuple[str, date, Decimal]]:
    ids = list(ledger)
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        yield from _dated(
            session.execute(
                select(
                    PaymentAllocation.invoice_external_id, Payment.paid_on, PaymentAllocation.amount
                )
                .join(Payment, Payment.id == PaymentAllocation.payment_id)
                .where(
                    PaymentAllocation.organization_id == org_id,
                    PaymentAllocation.invoice_external_id.in_(chunk),
                    Payment.deleted.is_(False),
                    Payment.paid_on.is_not(None),
                )
            ).all()
        )
        yield from _dated(
            session.execute(
                select(
                    CreditAllocation.invoice_external_id, Payment.paid_on, CreditAllocation.amount
                )
                .join(
                    Payment,
                    (Payment.organization_id == CreditAllocation.organization_id)
                    & (Payment.external_id == CreditAllocation.payment_external_id),
                )
                .where(
                    CreditAllocation.organization_id == org_id,
                    CreditAllocation.invoice_external_id.in_(chunk),
                    Payment.deleted.is_(False),
                    Payment.paid_on.is_not(None),
                )
            ).all()
        )
        yield from _dated(
            session.execute(
                select(
                    CreditAllocation.invoice_external_id,
                    CreditNote.issue_date,
                    CreditAllocation.amount,
                )
                .join(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
                .where(
                    CreditAllocation.organization_id == org_id,
                    CreditAllocation.invoice_external_id.in_(chunk),
                    CreditAllocation.payment_external_id.is_(None),
                    CreditNote.deleted.is_(False),
                    CreditNote.issue_date.is_not(None),
                )
            ).all()
        )


def _dated(
    rows: Iterable[tuple[str, date | None, Decimal]],
) -> Iterator[tuple[str, date, Decimal]]:
    """The rows with their date (each query above already asks for it to be there)."""
    for invoice_id, on, amount in rows:
        if on is not None:
            yield invoice_id, on, amount


def unconverted(ledger: list[LedgerInvoice], home: str | None) -> dict[str, int]:
    """Per currency, the invoices home-currency figures leave out for want of a rate."""
    out: dict[str, int] = {}
    for inv in ledger:
        if home is not None and inv.currency not in (home, "") and inv.rate is None:
            out[inv.currency] = out.get(inv.currency, 0) + 1
    return out
