"""Recording pauses and customer state, from validated input (rules.pauses.schemas).

Promises and plans remember the balance they started from, so a partial payment counts towards
them; disputes name the invoice's customer from the mirror. A dispute, promise or plan must
name a customer and invoices that are in the organization's mirror (and not deleted there).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Customer
from core.models import Invoice
from rules.models import CustomerProfile
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PlanInstalment
from rules.pauses.models import PlanInvoice
from rules.pauses.models import PromiseToPay
from rules.pauses.schemas import PauseInvalid

_MIRROR = " (not in the mirror of QuickBooks or Xero; has it synced yet?)"


def _invoice(session: Session, org_id: int, external_id: str, field: str = "invoice") -> Invoice:
    row = session.scalar(
        select(Invoice).where(
            Invoice.organization_id == org_id,
            Invoice.external_id == external_id,
            Invoice.deleted.is_(False),
        )
    )
    if row is None:
        raise PauseInvalid({field: f"no invoice '{external_id}' in this organization{_MIRROR}"})
    return row


def _check_customer(session: Session, org_id: int, external_id: str) -> None:
    found = session.scalar(
        select(Customer.id).where(
            Customer.organization_id == org_id,
            Customer.external_id == external_id,
            Customer.deleted.is_(False),
        )
    )
    if found is None:
        raise PauseInvalid(
            {"customer": f"no customer '{external_id}' in this organization{_MIRROR}"}
        )


def _customers_invoices(
    session: Session, org_id: int, customer: str, invoices: list[str]
) -> list[Invoice]:
    """The named invoices, each checked to exist and to be `customer`'s."""
    _check_customer(session, org_id, customer)
    rows = []
    for i, invoice_id in enumerate(invoices):
        row = _invoice(session, org_id, invoice_id, f"invoices[{i}]")
        if row.customer_external_id != customer:
            raise PauseInvalid({f"invoices[{i}]": f"invoice {invoice_id} is not {customer}'s"})
        rows.append(row)
    return rows


def _open_balance(session: Session, org_id: int, customer: str, invoices: list[str]) -> Decimal:
    query = select(Invoice.balance).where(
        Invoice.organization_id == org_id,
        Invoice.customer_external_id == customer,
        Invoice.status == "open",
        Invoice.deleted.is_(False),
    )
    if invoices:
        query = query.where(Invoice.external_id.in_(invoices))
    return sum(session.scalars(query).all(), Decimal(0))


def open_dispute(session: Session, org_id: int, data: dict[str, Any], today: date) -> Dispute:
    invoice = _invoice(session, org_id, data["invoice"])
    dispute = Dispute(
        organization_id=org_id,
        invoice_external_id=invoice.external_id,
        customer_external_id=invoice.customer_external_id,
        reason=data["reason"],
        note=data["note"],
        opened_on=data["opened_on"] or today,
    )
    session.add(dispute)
    session.flush()
    return dispute


def close_dispute(dispute: Dispute, data: dict[str, Any], today: date) -> None:
    if dispute.closed_on is not None:
        raise PauseInvalid({"": f"dispute {dispute.id} is already closed"})
    closed_on = data["closed_on"] or today
    if closed_on < dispute.opened_on:
        raise PauseInvalid({"closed_on": "must not be before the day it was opened"})
    dispute.closed_on = closed_on
    dispute.resolution = data["resolution"]


def _open_invoice_ids(session: Session, org_id: int, customer: str) -> list[str]:
    query = select(Invoice.external_id).where(
        Invoice.organization_id == org_id,
        Invoice.customer_external_id == customer,
        Invoice.status == "open",
        Invoice.deleted.is_(False),
        Invoice.balance > 0,
    )
    return sorted(session.scalars(query).all())


def add_promise(session: Session, org_id: int, data: dict[str, Any], today: date) -> PromiseToPay:
    """Record a promise; one that names no invoices covers the customer's open invoices now
    (stored, so that an invoice issued later is dunned as usual)."""
    customer = data["customer"]
    _customers_invoices(session, org_id, customer, data["invoices"])
    if data["until"] < today:
        raise PauseInvalid({"until": "must not be in the past"})
    covered = list(data["invoices"]) or _open_invoice_ids(session, org_id, customer)
    if not covered:
        raise PauseInvalid({"invoices": f"customer {customer} has no open invoice to promise"})
    promise = PromiseToPay(
        organization_id=org_id,
        customer_external_id=customer,
        invoice_external_ids=covered,
        promised_on=today,
        until=data["until"],
        amount=data["amount"],
        balance_at_promise=_open_balance(session, org_id, customer, covered),
        note=data["note"],
    )
    session.add(promise)
    session.flush()
    return promise


def add_plan(session: Session, org_id: int, data: dict[str, Any], today: date) -> PaymentPlan:
    rows = _customers_invoices(session, org_id, data["customer"], data["invoices"])
    currencies = {row.currency for row in rows}
    if len(currencies) > 1:
        raise PauseInvalid({"invoices": "a plan covers invoices in one currency"})
    plan = PaymentPlan(
        organization_id=org_id,
        customer_external_id=data["customer"],
        currency=currencies.pop() if currencies else "",
        created_on=today,
        start_balance=_open_balance(session, org_id, data["customer"], data["invoices"]),
        note=data["note"],
    )
    plan.invoices = [PlanInvoice(invoice_external_id=i) for i in data["invoices"]]
    plan.instalments = [
        PlanInstalment(number=n, due_on=i["due_on"], amount=i["amount"])
        for n, i in enumerate(data["instalments"], start=1)
    ]
    session.add(plan)
    session.flush()
    return plan


def profile(session: Session, org_id: int, customer: str) -> CustomerProfile:
    row = session.scalar(
        select(CustomerProfile).where(
            CustomerProfile.organization_id == org_id,
            CustomerProfile.customer_external_id == customer,
        )
    )
    if row is None:
        row = CustomerProfile(organization_id=org_id, customer_external_id=customer, tags=[])
        session.add(row)
    return row


def update_profile(
    session: Session, org_id: int, customer: str, data: dict[str, Any]
) -> CustomerProfile:
    """Set the fields of `data` that are given; a credit hold set or lifted here is a person's
    ("manual"), which the hold rules do not lift (only a step's explicit release does)."""
    row = profile(session, org_id, customer)
    for key, value in data.items():
        if value is not None:
            setattr(row, key, sorted(set(value)) if key == "tags" else value)
    if data.get("credit_hold") is not None:
        now = utcnow()
        row.credit_hold_source = "manual"
        row.credit_hold_since = now if data["credit_hold"] else None
        row.credit_hold_changed_at = now
    row.updated_at = utcnow()
    session.flush()
    return row
