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

from rules.engine.decisions import ActionKind
from rules.engine.decisions import FiringClaim
from rules.engine.facts import CustomerFact
from rules.engine.facts import Firing
from rules.engine.facts import InvoiceFact
from rules.engine.run import CustomerRun
from rules.engine.timing import next_allowed
from rules.ruleset.features import INVOICE_DELIVERY
from rules.templates.render import iso

DELIVERY_RULE = "invoice_delivery"
SEND = "send"


def send_on(inv: InvoiceFact, after_days: int) -> date | None:
    return inv.issue_date + timedelta(days=after_days) if inv.issue_date else None


def due_to_send(
    inv: InvoiceFact, after_days: int, as_of: date, since: date | None, fired: list[Firing]
) -> bool:
    """Whether the unsent invoice is to be sent today: its send day has come, it is not from
    before the rules started (`since`), and it was never sent by the delivery rule."""
    day = send_on(inv, after_days)
    if day is None or day > as_of or (since is not None and day < since):
        return False
    return not any(f.rule == DELIVERY_RULE for f in fired)


def recipient(inv: InvoiceFact, customer: CustomerFact) -> str | None:
    """The invoice's own address, else the customer's."""
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


def send_unsent(run: CustomerRun) -> None:
    """Send the invoices not yet sent to the customer whose send day has come."""
    after = run.book.delivery_after
    if after is None:
        return
    since = run.facts.since_for(INVOICE_DELIVERY)
    for inv in sorted(run.customer.unsent, key=lambda i: (i.issue_date, i.external_id)):
        fired = run.facts.history.fired(inv.external_id)
        if due_to_send(inv, after, run.as_of, since, fired):
            _send(run, inv, after)


def _send(run: CustomerRun, inv: InvoiceFact, after_days: int) -> None:
    target = inv.external_id
    if run.customer.do_not_contact:
        run.suppress(target, DELIVERY_RULE, SEND, "0", "do_not_contact")
        return
    if recipient(inv, run.customer) is None:
        why = "neither the invoice nor the customer has an email address"
        run.suppress(target, DELIVERY_RULE, SEND, "0", "no_email", why)
        return
    cid = run.customer.external_id
    claim = FiringClaim(DELIVERY_RULE, SEND, target, "0", inv.total, customer=cid)
    sent = run.facts.history.messages.get(cid, [])
    when, waited = next_allowed(run.now, run.timezone(), run.book.limits, sent)
    explanation = delivery_explanation(inv, after_days)
    explanation["schedule"] = {"scheduled_for": when.isoformat(), "waited_for": waited}
    payload = delivery_payload(inv, run.customer)
    run.evaluation_claims.append(claim)
    run.add(
        ActionKind.SEND_INVOICE,
        DELIVERY_RULE,
        SEND,
        target,
        "0",
        when,
        payload,
        explanation,
        [claim],
    )
