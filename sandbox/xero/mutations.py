"""Changes to invoices, payments, contacts and notes. Callers hold `store.lock`."""

from __future__ import annotations

import uuid
from datetime import date
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sandbox.xero.models import ZERO
from sandbox.xero.models import Contact
from sandbox.xero.models import HistoryRecord
from sandbox.xero.models import Invoice
from sandbox.xero.models import Ledger
from sandbox.xero.models import Line
from sandbox.xero.models import Payment
from sandbox.xero.store import Invalid
from sandbox.xero.store import NotFound
from sandbox.xero.store import Store

API_USER = "Sandbox User"
NOT_MODIFIABLE = "Invoice not of valid status for modification"
HAS_ALLOCATIONS = (
    "This document cannot be edited as it has a payment or credit note allocated to it."
)
TRANSITIONS = {
    "DRAFT": ("SUBMITTED", "AUTHORISED", "DELETED"),
    "SUBMITTED": ("DRAFT", "AUTHORISED", "DELETED"),
    "AUTHORISED": ("VOIDED",),
}


def get_invoice(ledger: Ledger, invoice_id: str) -> Invoice:
    invoice = ledger.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


def get_contact(ledger: Ledger, contact_id: str) -> Contact:
    contact = ledger.contacts.get(contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


def add_payment(
    store: Store,
    ledger: Ledger,
    invoice_id: str,
    amount: Decimal | None,
    day: date | None = None,
    reference: str = "",
) -> Payment:
    """Applies a payment (default: the whole amount due) and settles the invoice if it's paid."""
    invoice = get_invoice(ledger, invoice_id)
    if invoice.status != "AUTHORISED":
        raise Invalid(
            "Payments can only be made against Authorised documents",
            {"InvoiceID": invoice.id, "Status": invoice.status},
        )
    amount = invoice.amount_due if amount is None else amount
    if amount <= ZERO or amount > invoice.amount_due:
        raise Invalid(
            f"Payment amount must be more than 0 and at most the amount due "
            f"({invoice.amount_due:.2f})",
            {"InvoiceID": invoice.id},
        )
    day = day or store.today()
    payment = Payment(
        id=str(uuid.uuid4()),
        target_kind="invoice",
        target_id=invoice.id,
        date=day,
        amount=amount,
        currency_rate=invoice.currency_rate,
        reference=reference,
        payment_type="ACCRECPAYMENT" if invoice.type == "ACCREC" else "ACCPAYPAYMENT",
    )
    ledger.payments[payment.id] = payment
    invoice.payment_ids.append(payment.id)
    invoice.amount_paid += amount
    if invoice.amount_due <= ZERO:
        invoice.status, invoice.fully_paid_on = "PAID", day
    store.touch(ledger, payment, invoice)
    store.changed(ledger, "INVOICE", "UPDATE", invoice.id)
    return payment


def create_invoice(
    store: Store,
    ledger: Ledger,
    contact_id: str,
    amount: Decimal,
    due_in_days: int = 30,
    *,
    reference: str = "",
    status: str = "AUTHORISED",
    description: str = "Services rendered",
    issued: date | None = None,
) -> Invoice:
    """A one-line, tax-free sales invoice for `amount` in the contact's currency."""
    contact = get_contact(ledger, contact_id)
    if contact.status != "ACTIVE":
        raise Invalid(
            f"The contact {contact.name} is archived and cannot be used", {"ContactID": contact.id}
        )
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        raise Invalid("Status must be DRAFT, SUBMITTED or AUTHORISED")
    issued = issued or store.today()
    currency = contact.currency or ledger.org.base_currency
    line = Line(
        id=str(uuid.uuid4()),
        description=description,
        quantity=Decimal(1),
        unit_amount=amount,
        account_code="200",
        tax_type="NONE",
        tax_amount=ZERO,
        line_amount=amount,
    )
    invoice = Invoice(
        id=str(uuid.uuid4()),
        type="ACCREC",
        number=f"INV-{ledger.next_invoice_number:04d}",
        reference=reference,
        contact_id=contact.id,
        date=issued,
        due_date=issued + timedelta(days=due_in_days),
        status=status,
        lines=[line],
        line_amount_types="NoTax",
        sub_total=amount,
        total_tax=ZERO,
        total=amount,
        currency=currency,
        currency_rate=dict(ledger.org.other_currencies).get(currency, Decimal("1.000000")),
    )
    ledger.next_invoice_number += 1
    ledger.add_invoice(invoice)
    store.touch(ledger, invoice)
    store.changed(ledger, "INVOICE", "CREATE", invoice.id)
    return invoice


def set_invoice_status(store: Store, ledger: Ledger, invoice_id: str, status: str) -> Invoice:
    """Xero's allowed transitions; voiding needs no payments or credits applied."""
    invoice = get_invoice(ledger, invoice_id)
    if status == invoice.status:
        return invoice
    if status not in TRANSITIONS.get(invoice.status, ()):
        raise Invalid(NOT_MODIFIABLE, {"InvoiceID": invoice.id, "Status": invoice.status})
    if status == "VOIDED" and (invoice.payment_ids or invoice.credits):
        raise Invalid(HAS_ALLOCATIONS, {"InvoiceID": invoice.id, "Status": invoice.status})
    invoice.status = status
    store.touch(ledger, invoice)
    store.changed(ledger, "INVOICE", "UPDATE", invoice.id)
    return invoice


EMAILABLE = ("SUBMITTED", "AUTHORISED", "PAID")


def email_invoice(store: Store, ledger: Ledger, invoice_id: str) -> list[str]:
    """Xero's own invoice email to the contact and its persons who get emails; the recipients.

    Only sales invoices that are SUBMITTED, AUTHORISED or PAID can be emailed (not DRAFT, VOIDED
    or DELETED); the message wording is the sandbox's own.
    """
    invoice = get_invoice(ledger, invoice_id)
    element = {"InvoiceID": invoice.id, "Status": invoice.status, "Type": invoice.type}
    if invoice.type != "ACCREC" or invoice.status not in EMAILABLE:
        raise Invalid(
            "Only sales invoices that are SUBMITTED, AUTHORISED or PAID can be emailed. "
            f"This invoice is {invoice.status}.",
            element,
        )
    contact = ledger.contacts[invoice.contact_id]
    recipients = [contact.email] if contact.email else []
    recipients += [p.email for p in contact.persons if p.include_in_emails and p.email]
    if not recipients:
        raise Invalid(f"The contact {contact.name} does not have an email address", element)
    invoice.sent_to_contact = True
    details = f"{invoice.number} emailed to {', '.join(recipients)}."
    invoice.history.append(HistoryRecord(store.clock.now(), API_USER, "Emailed", details))
    store.emails.append(
        {
            "tenantId": ledger.org.tenant_id,
            "invoiceId": invoice.id,
            "invoiceNumber": invoice.number,
            "to": recipients,
        }
    )
    store.touch(ledger, invoice)
    store.changed(ledger, "INVOICE", "UPDATE", invoice.id)
    return recipients


def add_notes(
    store: Store, ledger: Ledger, kind: str, object_id: str, details: list[Any]
) -> list[HistoryRecord]:
    """Appends notes to an invoice's or contact's history (Xero's `Changes: Note`)."""
    target = get_invoice(ledger, object_id) if kind == "invoice" else get_contact(ledger, object_id)
    if not details or any(not isinstance(d, str) or not d.strip() for d in details):
        raise Invalid("Details is required for each HistoryRecord")
    if any(len(d) > 2500 for d in details):
        raise Invalid("Details must not be longer than 2500 characters")
    now = store.clock.now()
    records = [HistoryRecord(now, API_USER, "Note", text) for text in details]
    target.history.extend(records)
    store.touch(ledger, target)
    store.changed(ledger, "INVOICE" if kind == "invoice" else "CONTACT", "UPDATE", target.id)
    return records


def update_contact(store: Store, ledger: Ledger, contact_id: str, changes: dict) -> Contact:
    contact = get_contact(ledger, contact_id)
    status = changes.get("status", contact.status)
    if status not in ("ACTIVE", "ARCHIVED"):
        raise Invalid("status must be ACTIVE or ARCHIVED")
    name = changes.get("name", contact.name)
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must be a non-empty string")
    contact.status, contact.name = status, name.strip()
    contact.email = str(changes.get("email", contact.email))
    store.touch(ledger, contact)
    store.changed(ledger, "CONTACT", "UPDATE", contact.id)
    return contact


def create_contact(
    store: Store, ledger: Ledger, name: str, email: str = "", currency: str | None = None
) -> Contact:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must be a non-empty string")
    if any(c.name == name.strip() and c.status == "ACTIVE" for c in ledger.contacts.values()):
        raise Invalid(
            f"The contact name {name} is already assigned to another contact. The "
            "contact name must be unique across all active contacts."
        )
    known = {ledger.org.base_currency, *dict(ledger.org.other_currencies)}
    if currency is not None and currency not in known:
        raise Invalid(f"currency must be one of {sorted(known)}")
    contact = Contact(
        id=str(uuid.uuid4()),
        name=name.strip(),
        first_name="",
        last_name="",
        email=email,
        number="",
        account_number="",
        status="ACTIVE",
        is_supplier=False,
        is_customer=True,
        currency=None if currency == ledger.org.base_currency else currency,
        terms_days=30,
        phone="",
        city="",
        region="",
        postal_code="",
        country="",
    )
    ledger.contacts[contact.id] = contact
    store.touch(ledger, contact)
    store.changed(ledger, "CONTACT", "CREATE", contact.id)
    return contact
