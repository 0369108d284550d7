"""Ledger objects -> Xero JSON: payments, credit notes, over/prepayments, groups, history."""

from __future__ import annotations

from datetime import datetime

from sandbox.xero import dates
from sandbox.xero.models import CENT
from sandbox.xero.models import ContactGroup
from sandbox.xero.models import CreditDoc
from sandbox.xero.models import HistoryRecord
from sandbox.xero.models import Invoice
from sandbox.xero.models import Ledger
from sandbox.xero.models import Payment
from sandbox.xero.render import Json
from sandbox.xero.render import amount
from sandbox.xero.render import contact_ref
from sandbox.xero.render import local_day
from sandbox.xero.render import render_line
from sandbox.xero.render import updated

DOC_ID_FIELDS = {
    "creditnote": "CreditNoteID",
    "overpayment": "OverpaymentID",
    "prepayment": "PrepaymentID",
}
BLANK_LINKS: dict[str, list[Json]] = {
    "Payments": [],
    "CreditNotes": [],
    "Prepayments": [],
    "Overpayments": [],
}


def render_payment(ledger: Ledger, payment: Payment) -> Json:
    org = ledger.org
    out: Json = {"PaymentID": payment.id}
    if payment.batch_id:
        out["BatchPaymentID"] = payment.batch_id
        out["BatchPayment"] = _batch_ref(ledger, payment.batch_id)
    bank_amount = payment.amount / payment.currency_rate
    out.update(
        {
            "Date": local_day(org, payment.date),
            "BankAmount": amount(bank_amount.quantize(CENT)),
            "Amount": amount(payment.amount),
            "Reference": payment.reference,
            "CurrencyRate": float(payment.currency_rate),
            "PaymentType": payment.payment_type,
            "Status": payment.status,
            **updated(payment),
            "HasAccount": True,
            "IsReconciled": payment.is_reconciled,
            "Account": {"AccountID": org.bank_account_id, "Code": org.bank_code},
            "Invoice": _target_ref(ledger, payment),
            "HasValidationErrors": False,
        }
    )
    return out


def _batch_ref(ledger: Ledger, batch_id: str) -> Json:
    batch = ledger.batch_payments[batch_id]
    # A number and a boolean, as the Accounting API returns them: the strings in older examples
    # of Xero's OpenAPI were the specification's mistake (XeroAPI/Xero-OpenAPI pull request 526).
    return {
        "Account": {"AccountID": ledger.org.bank_account_id},
        "BatchPaymentID": batch.id,
        "Date": local_day(ledger.org, batch.date),
        "Type": "RECBATCH",
        "Status": "AUTHORISED",
        "TotalAmount": amount(batch.total),
        "UpdatedDateUTC": dates.net_instant(dates.saved(batch.updated)),
        "IsReconciled": all(ledger.payments[pid].is_reconciled for pid in batch.payment_ids),
    }


def _target_ref(ledger: Ledger, payment: Payment) -> Json:
    if payment.target_kind == "invoice":
        target: Invoice | CreditDoc = ledger.invoices[payment.target_id]
        kind, number = target.type, target.number
    else:
        target = ledger.credit_notes[payment.target_id]
        kind, number = target.type, target.number
    contact = ledger.contacts[target.contact_id]
    return {
        "Type": kind,
        "InvoiceID": target.id,
        "InvoiceNumber": number,
        **BLANK_LINKS,
        "HasErrors": False,
        "IsDiscounted": False,
        "Contact": {**contact_ref(contact), "ContactNumber": contact.number},
        "LineItems": [],
        "CurrencyCode": target.currency,
    }


def render_doc(ledger: Ledger, doc: CreditDoc, lines: bool = True) -> Json:
    """A credit note, overpayment or prepayment in its own endpoint's shape."""
    out: Json = {DOC_ID_FIELDS[doc.kind]: doc.id}
    if doc.kind == "creditnote":
        out["CreditNoteNumber"] = doc.number
    out.update(
        {
            "Payments": [_refund_ref(ledger, pid) for pid in doc.refund_ids],
            "ID": doc.id,
            "CurrencyRate": float(doc.currency_rate),
            "Type": doc.type,
            "Reference": doc.reference,
            "RemainingCredit": amount(doc.remaining),
            "Allocations": [render_allocation(ledger, doc, a.id) for a in doc.allocations],
            "HasAttachments": False,
            "Contact": contact_ref(ledger.contacts[doc.contact_id]),
            "DateString": dates.date_string(doc.date),
            "Date": dates.net_date(doc.date),
            "Status": doc.status,
            "LineAmountTypes": doc.line_amount_types,
            "LineItems": [render_line(line) for line in doc.lines] if lines else [],
            "SubTotal": amount(doc.sub_total),
            "TotalTax": amount(doc.total_tax),
            "Total": amount(doc.total),
            **updated(doc),
            "CurrencyCode": doc.currency,
        }
    )
    if doc.fully_paid_on and doc.status == "PAID":
        out["FullyPaidOnDate"] = local_day(ledger.org, doc.fully_paid_on)
    return out


def _refund_ref(ledger: Ledger, payment_id: str) -> Json:
    payment = ledger.payments[payment_id]
    return {
        "PaymentID": payment.id,
        "Date": local_day(ledger.org, payment.date),
        "Amount": amount(payment.amount),
        "Reference": payment.reference,
        "CurrencyRate": float(payment.currency_rate),
        "HasAccount": False,
        "HasValidationErrors": False,
    }


def render_allocation(
    ledger: Ledger, doc: CreditDoc, allocation_id: str, with_doc: bool = False
) -> Json:
    allocation = next(a for a in doc.allocations if a.id == allocation_id)
    invoice = ledger.invoices[allocation.invoice_id]
    out: Json = {
        "AllocationID": allocation.id,
        "Amount": amount(allocation.amount),
        "Date": local_day(ledger.org, allocation.date),
        "Invoice": {
            "InvoiceID": invoice.id,
            "InvoiceNumber": invoice.number,
            **BLANK_LINKS,
            "HasErrors": False,
            "IsDiscounted": False,
            "LineItems": [],
        },
        "IsDeleted": False,
    }
    if with_doc:
        out[doc_key(doc)] = {DOC_ID_FIELDS[doc.kind]: doc.id, "ID": doc.id}
    return out


def doc_key(doc: CreditDoc) -> str:
    return {"creditnote": "CreditNote", "overpayment": "Overpayment", "prepayment": "Prepayment"}[
        doc.kind
    ]


def render_group(ledger: Ledger, group: ContactGroup, members: bool = False) -> Json:
    contacts = []
    if members:
        contacts = [
            {"ContactID": cid, "Name": ledger.contacts[cid].name} for cid in group.contact_ids
        ]
    return {
        "ContactGroupID": group.id,
        "Name": group.name,
        "Status": group.status,
        "Contacts": contacts,
        "HasValidationErrors": False,
    }


def render_history(ledger: Ledger, records: list[HistoryRecord]) -> list[Json]:
    """Newest first, like Xero. NZ organisations stamp `DateUTC` with their local offset."""
    return [
        _history(ledger, record) for record in sorted(records, key=lambda r: r.at, reverse=True)
    ]


def _history(ledger: Ledger, record: HistoryRecord) -> Json:
    return {
        "Changes": record.changes,
        "DateUTCString": record.at.strftime("%Y-%m-%dT%H:%M:%S"),
        "DateUTC": _history_stamp(ledger, record.at),
        "User": record.user,
        "Details": record.details,
    }


def _history_stamp(ledger: Ledger, at: datetime) -> str:
    if not ledger.org.local_offsets:
        return dates.net_instant(at)
    offset = dates.nz_offset_minutes(at.date())
    return f"/Date({dates.ms(at)}+{offset // 60:02d}{offset % 60:02d})/"
