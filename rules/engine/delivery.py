"""Invoices that go out on time, pure: which unsent invoice is due to be sent, to whom.

An invoice the business has not sent to its customer is sent `after_days` days after its issue
date through the provider's own invoice email, once (the decision claims the invoice's firing
of `invoice_delivery`). One whose send day came before the rules started running is history:
it is left to the business.
"""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from typing import Any

from rules.engine.facts import CustomerFact
from rules.engine.facts import Firing
from rules.engine.facts import InvoiceFact
from rules.templates.render import iso

DELIVERY_RULE = "invoice_delivery"
SEND = "send"


def send_on(inv: InvoiceFact, after_days: int) -> date | None:
    return inv.issue_date + timedelta(days=after_days) if inv.issue_date else None


def due_to_send(
    inv: InvoiceFact, after_days: int, as_of: date, since: date | None, fired: list[Firing]
) -> bool:
    day = send_on(inv, after_days)
    if day is None or day > as_of or (since is not None and day < since):
        return False
    return not any(f.rule == DELIVERY_RULE for f in fired)


def recipient(inv: InvoiceFact, customer: CustomerFact) -> str | None:
    return inv.email or customer.email


def delivery_payload(inv: InvoiceFact, customer: CustomerFact) -> dict[str, Any]:
    """What the writer needs: the invoice (the provider's id and its number) and the address."""
    return {
        "invoice": inv.external_id,
        "number": inv.number,
        "customer": customer.external_id,
        "to": recipient(inv, customer),
        "issue_date": iso(inv.issue_date),
        "due_date": iso(inv.due_date),
        "total": str(inv.total),
        "currency": inv.currency,
    }


def delivery_explanation(inv: InvoiceFact, after_days: int) -> dict[str, Any]:
    return {
        "invoice": inv.external_id,
        "number": inv.number,
        "issue_date": iso(inv.issue_date),
        "after_days": after_days,
        "send_on": iso(send_on(inv, after_days)),
        "sent_to_customer": inv.sent_to_customer,
        "recipient_from": "invoice" if inv.email else "customer",
    }
