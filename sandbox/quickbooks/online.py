"""Online invoices: the InvoiceLink QuickBooks hands out, and the page behind it.

QuickBooks returns InvoiceLink only when a request says `include=invoiceLink`, and only for an
invoice that accepts online payment and has a customer email address (BillEmail). The sandbox
builds the link when it answers (never stores it), pointing at its own "pay online" page on the
host the request came to: `<host>/_sandbox/pay/quickbooks/<realm>/<invoice id>`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import request

from sandbox.quickbooks import ops
from sandbox.quickbooks.state import current
from sandbox.quickbooks.store import not_found

INCLUDE = "invoicelink"


def wants_links() -> bool:
    return INCLUDE in request.args.get("include", "").lower().split(",")


def link(realm_id: str, invoice: dict[str, Any]) -> str | None:
    """The invoice's online payment link, if QuickBooks would give it one."""
    online = invoice.get("AllowOnlineCreditCardPayment") or invoice.get("AllowOnlineACHPayment")
    if not online or not (invoice.get("BillEmail") or {}).get("Address"):
        return None
    return f"{request.host_url}_sandbox/pay/quickbooks/{realm_id}/{invoice['Id']}"


def with_links(realm_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` with InvoiceLink on its invoices when the request asked for it (copies only:
    stored entities are shared and never changed)."""
    if not wants_links():
        return payload
    if isinstance(payload.get("Invoice"), dict):
        return {**payload, "Invoice": _linked(realm_id, payload["Invoice"])}
    if isinstance(payload.get("QueryResponse"), dict):
        return {**payload, "QueryResponse": _linked_lists(realm_id, payload["QueryResponse"])}
    if isinstance(payload.get("CDCResponse"), list):
        blocks = [
            {**block, "QueryResponse": [_linked_lists(realm_id, r) for r in block["QueryResponse"]]}
            for block in payload["CDCResponse"]
        ]
        return {**payload, "CDCResponse": blocks}
    return payload


def _linked_lists(realm_id: str, response: dict[str, Any]) -> dict[str, Any]:
    invoices = response.get("Invoice")
    if not isinstance(invoices, list):
        return response
    return {**response, "Invoice": [_linked(realm_id, invoice) for invoice in invoices]}


def _linked(realm_id: str, invoice: dict[str, Any]) -> dict[str, Any]:
    found = link(realm_id, invoice) if invoice.get("status") != "Deleted" else None
    return {**invoice, "InvoiceLink": found} if found else invoice


def invoice_page(realm_id: str, invoice_id: str) -> dict[str, Any]:
    """What the pay-online page shows (OpError 610 for an invoice the company does not have)."""
    store = current().store
    with store.lock:
        co = store.company(realm_id)
        invoice = co.get("Invoice", invoice_id)
        if invoice is None:
            raise not_found("Invoice", invoice_id)
        return {
            "provider": "QuickBooks Online",
            "company": co.name,
            "number": invoice.get("DocNumber") or invoice["Id"],
            "customer": invoice["CustomerRef"].get("name") or invoice["CustomerRef"]["value"],
            "currency": invoice["CurrencyRef"]["value"],
            "total": invoice["TotalAmt"],
            "balance": invoice["Balance"],
            "due_date": invoice.get("DueDate"),
            "payable": invoice["Balance"] > 0 and not ops.is_voided(invoice),
        }


def pay_in_full(realm_id: str, invoice_id: str) -> Decimal:
    """Pay what is left of the invoice, as its customer paying online would (fires webhooks)."""
    with current().store.change(realm_id) as tx:
        invoice = tx.company.require("Invoice", invoice_id)
        balance = invoice["Balance"]
        if balance <= 0 or ops.is_voided(invoice):
            raise ops.business_error(f"Invoice {invoice_id} has nothing left to pay")
        customer_id = invoice["CustomerRef"]["value"]
        ops.record_payment(tx, customer_id, balance, [("Invoice", invoice_id, balance)])
    return balance
