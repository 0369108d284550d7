"""History records: what Xero's system writes on its own plus notes added through the API."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time

from sandbox.xero.models import Contact
from sandbox.xero.models import HistoryRecord
from sandbox.xero.models import Invoice
from sandbox.xero.models import Ledger

SYSTEM = "System Generated"


def invoice_history(ledger: Ledger, inv: Invoice) -> list[HistoryRecord]:
    start = datetime.combine(inv.date, time(9), UTC)
    total = f"{inv.total:.2f}"
    name = ledger.contacts[inv.contact_id].name
    records = [HistoryRecord(start, SYSTEM, "Created", f"{inv.number} to {name} for {total}.")]
    if inv.status not in ("DRAFT", "DELETED"):
        records.append(HistoryRecord(start, SYSTEM, "Approved", f"{inv.number} to {name}."))
    for payment_id in inv.payment_ids:
        payment = ledger.payments[payment_id]
        at = datetime.combine(payment.date, time(10), UTC)
        details = (
            f"Payment received from {name} on {payment.date:%d %B %Y} for {payment.amount:.2f}."
        )
        records.append(HistoryRecord(at, SYSTEM, "Paid", details))
    return records + inv.history


def contact_history(contact: Contact) -> list[HistoryRecord]:
    created = contact.updated or datetime.now(UTC)
    records = [HistoryRecord(created, SYSTEM, "Created", f"Contact {contact.name} created.")]
    return records + contact.history
