"""Seeded credit notes, overpayments, prepayments, refunds and batch payments."""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from decimal import Decimal

from sandbox.xero.data import HISTORY_DAYS
from sandbox.xero.data import Builder
from sandbox.xero.dates import latest
from sandbox.xero.models import ZERO
from sandbox.xero.models import Allocation
from sandbox.xero.models import BatchPayment
from sandbox.xero.models import Contact
from sandbox.xero.models import CreditDoc
from sandbox.xero.models import CreditLink
from sandbox.xero.models import Invoice
from sandbox.xero.models import Line
from sandbox.xero.models import Payment

DOC_TYPES = {
    "creditnote": ("ACCRECCREDIT", "Credit for returned goods"),
    "overpayment": ("RECEIVE-OVERPAYMENT", "Overpayment"),
    "prepayment": ("RECEIVE-PREPAYMENT", "Deposit received"),
}


def new_doc(
    b: Builder,
    kind: str,
    contact_id: str,
    total: Decimal,
    currency: str,
    rate: Decimal,
    day: date,
    doc_type: str | None = None,
) -> CreditDoc:
    """An AUTHORISED document worth `total`; credit notes carry tax inclusively."""
    default_type, description = DOC_TYPES[kind]
    taxed = kind == "creditnote"
    tax = b.money(total * b.org.tax_rate / (1 + b.org.tax_rate)) if taxed else ZERO
    line = Line(
        id=b.uuid(),
        description=description,
        quantity=Decimal(1),
        unit_amount=total,
        account_code="200" if taxed else "610",
        tax_type=b.org.tax_type if taxed else "NONE",
        tax_amount=tax,
        line_amount=total,
    )
    doc = CreditDoc(
        kind=kind,
        id=b.uuid(),
        type=doc_type or default_type,
        number="",
        reference="",
        contact_id=contact_id,
        date=day,
        status="AUTHORISED",
        lines=[line],
        line_amount_types="Inclusive" if taxed else "NoTax",
        sub_total=total - tax,
        total_tax=tax,
        total=total,
        currency=currency,
        currency_rate=rate,
        updated=b.stamp(day),
    )
    b.ledger.docs(kind)[doc.id] = doc
    return doc


def build_credits(b: Builder) -> None:
    customers = [c for c in b.ledger.contacts.values() if c.is_customer]
    suppliers = [c for c in b.ledger.contacts.values() if not c.is_customer]
    count = max(6, b.invoice_count // 50)
    for index in range(count):
        contact = customers[0] if index < 6 else b.rng.choice(customers)
        _credit_note(b, index % 6, contact, suppliers[0])
    for index in range(max(2, count // 3)):
        _standalone(b, "overpayment", b.rng.choice(customers), apply=index == 0)
    for index in range(max(1, count // 4)):
        _standalone(b, "prepayment", b.rng.choice(customers), apply=index == 0)


def _credit_note(b: Builder, case: int, contact: Contact, supplier: Contact) -> None:
    """Cases: 0 unallocated, 1 part refunded, 2 draft, 3 voided, 4 supplier draft, 5 part
    allocated to an open invoice."""
    if case == 5:
        _standalone(b, "creditnote", contact, apply=True)
        return
    owner = supplier if case == 4 else contact
    total = b.money(Decimal(b.rng.randrange(2000, 60000)) / 100)
    currency = owner.currency or b.org.base_currency
    rate = dict(b.org.other_currencies).get(currency, Decimal("1.000000"))
    day = b.days_ago(b.rng.randrange(HISTORY_DAYS // 2))
    doc = new_doc(
        b, "creditnote", owner.id, total, currency, rate, day, "ACCPAYCREDIT" if case == 4 else None
    )
    doc.reference = b.rng.choice(("Damaged in transit", "Pricing error", "Goodwill", ""))
    if case == 1:
        _refund(b, doc, b.money(total / 2), b.between(day, b.today))
    elif case in (2, 4):
        doc.status = "DRAFT"
    elif case == 3:
        doc.status = "VOIDED"


def _standalone(b: Builder, kind: str, contact: Contact, apply: bool) -> None:
    total = b.money(Decimal(b.rng.randrange(5000, 90000)) / 100)
    currency = contact.currency or b.org.base_currency
    rate = dict(b.org.other_currencies).get(currency, Decimal("1.000000"))
    day = b.days_ago(b.rng.randrange(5, 120))
    doc = new_doc(b, kind, contact.id, total, currency, rate, day)
    target = _open_invoice(b, contact, currency) if apply else None
    if target is not None:
        amount = min(target.amount_due, b.money(total / 2))
        on = max(day, target.date)
        link = CreditLink(kind, doc.id, b.uuid(), amount, on)
        doc.allocations.append(Allocation(link.allocation_id, target.id, amount, on))
        target.credits.append(link)
        target.amount_credited += amount
        target.updated = latest(target.updated or doc.updated, b.stamp(on))
        doc.updated = b.stamp(on)


def _open_invoice(b: Builder, contact: Contact, currency: str) -> Invoice | None:
    for invoice_id in b.ledger.invoices_by_contact.get(contact.id, []):
        invoice = b.ledger.invoices[invoice_id]
        if (invoice.type, invoice.status, invoice.currency) == ("ACCREC", "AUTHORISED", currency):
            if invoice.amount_due > Decimal(20) and not invoice.string_amounts:
                return invoice
    return None


def _refund(b: Builder, doc: CreditDoc, amount: Decimal, day: date) -> None:
    payment = Payment(
        id=b.uuid(),
        target_kind="creditnote",
        target_id=doc.id,
        date=day,
        amount=amount,
        currency_rate=doc.currency_rate,
        reference="Refund",
        payment_type="ARCREDITPAYMENT",
        updated=b.stamp(day),
    )
    b.ledger.payments[payment.id] = payment
    doc.refund_ids.append(payment.id)
    doc.refunded += amount
    doc.updated = payment.updated


def build_batches(b: Builder) -> None:
    """Several paid invoices of one customer settled by one remittance (a RECBATCH)."""
    wanted = max(1, b.invoice_count // 400)
    for invoices in _batch_candidates(b)[:wanted]:
        group = invoices[: b.rng.randrange(2, 5)]
        day = min(b.today, max(i.date for i in group) + timedelta(days=b.rng.randrange(6)))
        batch = BatchPayment(
            id=b.uuid(),
            date=day,
            reference=f"Remittance {b.rng.randrange(1000, 9999)}",
            payment_ids=[],
            total=ZERO,
            updated=b.stamp(day),
        )
        for invoice in group:
            payment = b.ledger.payments[invoice.payment_ids[0]]
            payment.date, payment.batch_id, payment.updated = day, batch.id, batch.updated
            batch.payment_ids.append(payment.id)
            batch.total += payment.amount
            invoice.fully_paid_on = day
            invoice.updated = latest(invoice.updated, batch.updated)
        b.ledger.batch_payments[batch.id] = batch


def _batch_candidates(b: Builder) -> list[list[Invoice]]:
    groups: dict[str, list[Invoice]] = {}
    for invoice in b.ledger.invoices.values():
        if _batchable(b, invoice):
            groups.setdefault(invoice.contact_id, []).append(invoice)
    return [group for group in groups.values() if len(group) >= 2]


def _batchable(b: Builder, invoice: Invoice) -> bool:
    return (
        invoice.type == "ACCREC"
        and invoice.status == "PAID"
        and len(invoice.payment_ids) == 1
        and not invoice.credits
        and invoice.currency == b.org.base_currency
        and not invoice.string_amounts
    )
