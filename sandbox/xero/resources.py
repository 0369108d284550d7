"""The collections the sandbox serves: how each is listed, filtered, ordered and rendered."""

from __future__ import annotations

from typing import Any

from sandbox.xero.models import Ledger
from sandbox.xero.queries import Collection
from sandbox.xero.queries import View
from sandbox.xero.render import render_contact
from sandbox.xero.render import render_invoice
from sandbox.xero.render_docs import render_doc
from sandbox.xero.render_docs import render_payment

SUMMARY_DROPS = ("Addresses", "Phones", "ContactPersons", "Balances", "PaymentTerms")


def _invoice(ledger: Ledger, inv: Any, view: View) -> dict[str, Any]:
    return render_invoice(ledger, inv, lines=view.paged and not view.summary, summary=view.summary)


def _contact(ledger: Ledger, contact: Any, view: View) -> dict[str, Any]:
    out = render_contact(ledger, contact, balances_on=view.today if view.paged else None)
    if view.summary:
        for key in SUMMARY_DROPS:
            out.pop(key, None)
    return out


def _doc(ledger: Ledger, doc: Any, view: View) -> dict[str, Any]:
    return render_doc(ledger, doc, lines=view.paged)


COMMON = {
    "UpdatedDateUTC": lambda o: o.updated,
    "Status": lambda o: o.status,
    "Date": lambda o: o.date,
}

INVOICES = Collection(
    key="Invoices",
    entity="Invoice",
    items=lambda ledger: ledger.invoices.values(),
    render=_invoice,
    fields={
        **COMMON,
        "Type": lambda i: i.type,
        "InvoiceNumber": lambda i: i.number,
        "Reference": lambda i: i.reference,
        "DueDate": lambda i: i.due_date,
        "AmountDue": lambda i: i.amount_due,
        "AmountPaid": lambda i: i.amount_paid,
        "AmountCredited": lambda i: i.amount_credited,
        "Total": lambda i: i.total,
        "SubTotal": lambda i: i.sub_total,
        "CurrencyCode": lambda i: i.currency,
        "SentToContact": lambda i: i.sent_to_contact,
        "FullyPaidOnDate": lambda i: i.fully_paid_on,
        "HasAttachments": lambda i: i.has_attachments,
    },
    id_fields={"InvoiceID": "IDs", "Contact.ContactID": "ContactIDs", "ContactID": "ContactIDs"},
    filters={
        "Statuses": lambda i: i.status,
        "InvoiceNumbers": lambda i: i.number,
        "ContactIDs": lambda i: i.contact_id,
    },
)

CONTACTS = Collection(
    key="Contacts",
    entity="Contact",
    items=lambda ledger: ledger.contacts.values(),
    render=_contact,
    fields={
        "UpdatedDateUTC": lambda c: c.updated,
        "ContactStatus": lambda c: c.status,
        "Name": lambda c: c.name,
        "FirstName": lambda c: c.first_name,
        "LastName": lambda c: c.last_name,
        "EmailAddress": lambda c: c.email,
        "ContactNumber": lambda c: c.number,
        "AccountNumber": lambda c: c.account_number,
        "IsCustomer": lambda c: c.is_customer,
        "IsSupplier": lambda c: c.is_supplier,
        "DefaultCurrency": lambda c: c.currency,
    },
    id_fields={"ContactID": "IDs"},
    archived=True,
)

PAYMENTS = Collection(
    key="Payments",
    entity="Payment",
    items=lambda ledger: ledger.payments.values(),
    render=lambda ledger, payment, view: render_payment(ledger, payment),
    fields={
        **COMMON,
        "PaymentType": lambda p: p.payment_type,
        "Amount": lambda p: p.amount,
        "Reference": lambda p: p.reference,
        "IsReconciled": lambda p: p.is_reconciled,
        "Invoice.InvoiceID": lambda p: p.target_id,
    },
    id_fields={"PaymentID": "IDs"},
)


def _docs(key: str, entity: str, kind: str, number: bool) -> Collection:
    fields = {
        **COMMON,
        "Type": lambda d: d.type,
        "Reference": lambda d: d.reference,
        "Total": lambda d: d.total,
        "RemainingCredit": lambda d: d.remaining,
        "CurrencyCode": lambda d: d.currency,
        "Contact.ContactID": lambda d: d.contact_id,
    }
    if number:
        fields["CreditNoteNumber"] = lambda d: d.number
    return Collection(
        key=key,
        entity=entity,
        items=lambda ledger: ledger.docs(kind).values(),
        render=_doc,
        fields=fields,
        id_fields={f"{entity}ID": "IDs"},
        filters={"Statuses": lambda d: d.status},
    )


CREDIT_NOTES = _docs("CreditNotes", "CreditNote", "creditnote", number=True)
OVERPAYMENTS = _docs("Overpayments", "Overpayment", "overpayment", number=False)
PREPAYMENTS = _docs("Prepayments", "Prepayment", "prepayment", number=False)

COLLECTIONS = {
    c.key: c for c in (INVOICES, CONTACTS, PAYMENTS, CREDIT_NOTES, OVERPAYMENTS, PREPAYMENTS)
}
