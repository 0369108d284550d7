"""Online invoices: `GET Invoices/{id}/OnlineInvoice` and the page its URL leads to.

Xero gives no online invoice for a DRAFT (or DELETED) invoice or a bill and answers 400. The
sandbox's OnlineInvoiceUrl points at its own "pay online" page on the host the request came to:
`<host>/_sandbox/pay/xero/<tenant>/<invoice id>`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import request

from sandbox.xero import mutations
from sandbox.xero.models import Invoice
from sandbox.xero.models import Ledger
from sandbox.xero.state import current_store
from sandbox.xero.store import NotFound

NO_ONLINE_INVOICE = ("DRAFT", "DELETED")


def url(ledger: Ledger, invoice: Invoice) -> str | None:
    """The invoice's OnlineInvoiceUrl, or None where Xero refuses one."""
    if invoice.type != "ACCREC" or invoice.status in NO_ONLINE_INVOICE:
        return None
    return f"{request.host_url}_sandbox/pay/xero/{ledger.org.tenant_id}/{invoice.id}"


def _ledger(tenant_id: str) -> Ledger:
    ledger = current_store().ledger(tenant_id.lower())
    if ledger is None:
        raise NotFound(f"unknown tenant {tenant_id}")
    return ledger


def invoice_page(tenant_id: str, invoice_id: str) -> dict[str, Any]:
    """What the pay-online page shows (NotFound for an unknown organisation or invoice)."""
    store = current_store()
    with store.lock:
        ledger = _ledger(tenant_id)
        invoice = mutations.get_invoice(ledger, invoice_id.lower())
        contact = ledger.contacts.get(invoice.contact_id)
        return {
            "provider": "Xero",
            "company": ledger.org.name,
            "number": invoice.number,
            "customer": contact.name if contact else invoice.contact_id,
            "currency": invoice.currency,
            "total": invoice.total,
            "balance": invoice.amount_due,
            "due_date": invoice.due_date.isoformat(),
            "payable": invoice.status == "AUTHORISED" and invoice.amount_due > 0,
        }


def pay_in_full(tenant_id: str, invoice_id: str) -> Decimal:
    """Pay what is due, as the customer paying online would (fires the INVOICE webhook)."""
    store = current_store()
    with store.lock:
        payment = mutations.add_payment(store, _ledger(tenant_id), invoice_id.lower(), None)
        return payment.amount
