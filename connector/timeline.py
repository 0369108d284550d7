"""Everything that happened with a customer, newest first: reminders (with the text that went),
notes, tasks, credit holds, invoices sent, disputes, promises, payment plans, payments, and the
approvals people gave. One builder serves the customer page and the contact-history export.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Invoice
from core.models import Organization
from core.models import Payment
from outbox.models import Action
from outbox.models import ActionEvent
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PromiseToPay
from tasks.models import Task

KIND_LABELS = {
    "reminder": "Reminder",
    "note": "Note",
    "task": "Task",
    "credit_hold": "Credit hold placed",
    "release_hold": "Credit hold released",
    "send_invoice": "Invoice sent",
    "settle_discount": "Discount settled",
}
PEOPLE_MOVES = ("approved by", "not approved by", "cancelled by", "retried by")


@dataclass(frozen=True)
class Entry:
    customer: str
    at: datetime  # for ordering; a day without a time sorts at its local midnight
    when: str  # as shown, in the organization's zone
    kind: str
    title: str
    detail: str = ""
    to: str = ""
    body: str = ""
    by: str = ""
    action_id: int | None = None


class _Clock:
    def __init__(self, org: Organization):
        self.zone = ZoneInfo(org.timezone or "UTC")

    def instant(self, at: datetime) -> tuple[datetime, str]:
        return at, at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def day(self, on: date, end: bool = False) -> tuple[datetime, str]:
        """A day without a time: at its start, or (`end`) at its end, for things that closed
        or were cancelled some time that day, after what opened them."""
        at = time(23, 59, 59) if end else time(0)
        return datetime.combine(on, at, self.zone), on.isoformat()

    def opened(self, on: date, created: datetime) -> tuple[datetime, str]:
        """The day something was opened; the instant it was recorded, when that is the day."""
        if created.astimezone(self.zone).date() == on:
            return self.instant(created)
        return self.day(on)


def timeline(
    session: Session, org: Organization, customer: str | None = None
) -> dict[str, list[Entry]]:
    """Per customer (only `customer` when given), newest first."""
    clock = _Clock(org)
    entries: list[Entry] = []
    entries += _actions(session, org.id, customer, clock)
    entries += _approvals(session, org.id, customer, clock)
    numbers = invoice_numbers(session, org.id, customer)
    entries += _disputes(session, org.id, customer, clock, numbers)
    entries += _promises(session, org.id, customer, clock, numbers)
    entries += _plans(session, org.id, customer, clock)
    entries += _payments(session, org.id, customer, clock)
    entries += _tasks(session, org.id, customer, clock)
    out: dict[str, list[Entry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: (e.at, e.kind), reverse=True):
        out[entry.customer].append(entry)
    return out


def invoice_numbers(session: Session, org_id: int, customer: str | None) -> dict[str, str]:
    query = _scoped(
        select(Invoice.external_id, Invoice.number),
        Invoice.customer_external_id,
        Invoice.organization_id,
        org_id,
        customer,
    )
    return {ext: number or ext for ext, number in session.execute(query)}


def _scoped(query, column, org_column, org_id: int, customer: str | None):
    query = query.where(org_column == org_id)
    return query.where(column == customer) if customer is not None else query


def _actions(session: Session, org_id: int, customer: str | None, clock: _Clock) -> list[Entry]:
    query = _scoped(
        select(Action), Action.customer_external_id, Action.organization_id, org_id, customer
    )
    out = []
    for a in session.scalars(query):
        at, when = clock.instant(a.performed_at or a.updated_at or a.created_at)
        p = a.payload or {}
        title = KIND_LABELS.get(a.kind, a.kind.replace("_", " ").capitalize())
        detail = f"{a.status.replace('_', ' ')}"
        if a.reason:
            detail += f": {a.reason}"
        if a.provider_reference:
            detail += f" (reference {a.provider_reference})"
        text = p.get("text") or ""
        if a.kind in ("credit_hold", "release_hold") and p.get("reason"):
            text = str(p["reason"])
        out.append(
            Entry(
                a.customer_external_id,
                at,
                when,
                a.kind,
                title + (" (by hand)" if a.rule == "manual" else ""),
                detail,
                to=str(p.get("to") or ""),
                body=(a.rendered_subject or "")
                + ("\n\n" if a.rendered_subject else "")
                + (a.rendered_body or text),
                by=str((a.explanation or {}).get("by") or ""),
                action_id=a.id,
            )
        )
    return out


def _approvals(session: Session, org_id: int, customer: str | None, clock: _Clock) -> list[Entry]:
    query = select(ActionEvent, Action.customer_external_id, Action.kind).join(
        Action, Action.id == ActionEvent.action_id
    )
    query = _scoped(
        query, Action.customer_external_id, ActionEvent.organization_id, org_id, customer
    )
    out = []
    for event, cid, kind in session.execute(query):
        if not event.reason.startswith(PEOPLE_MOVES):
            continue
        at, when = clock.instant(event.at)
        label = KIND_LABELS.get(kind, kind).lower()
        title = f"{event.reason.capitalize()}: {label}"
        out.append(
            Entry(cid, at, when, "approval", title, by=event.actor, action_id=event.action_id)
        )
    return out


def _disputes(
    session: Session, org_id: int, customer: str | None, clock: _Clock, numbers: dict[str, str]
) -> list[Entry]:
    query = _scoped(
        select(Dispute), Dispute.customer_external_id, Dispute.organization_id, org_id, customer
    )
    out = []
    for d in session.scalars(query):
        number = numbers.get(d.invoice_external_id) or d.invoice_external_id
        at, when = clock.opened(d.opened_on, d.created_at)
        why = f"{d.reason.replace('_', ' ')}. {d.note}".strip()
        title = f"Dispute opened on invoice {number}"
        out.append(Entry(d.customer_external_id, at, when, "dispute", title, why))
        if d.closed_on is not None:
            at, when = clock.day(d.closed_on, end=True)
            out.append(
                Entry(
                    d.customer_external_id,
                    at,
                    when,
                    "dispute",
                    f"Dispute on invoice {number} closed",
                    d.resolution,
                )
            )
    return out


def _promises(
    session: Session, org_id: int, customer: str | None, clock: _Clock, numbers: dict[str, str]
) -> list[Entry]:
    query = _scoped(
        select(PromiseToPay),
        PromiseToPay.customer_external_id,
        PromiseToPay.organization_id,
        org_id,
        customer,
    )
    out = []
    for p in session.scalars(query):
        at, when = clock.instant(p.created_at)
        amount = f" {p.amount:,.2f}" if p.amount is not None else ""
        out.append(
            Entry(
                p.customer_external_id,
                at,
                when,
                "promise",
                f"Promise to pay{amount} by {p.until.isoformat()}",
                _covers(p.invoice_external_ids, numbers, p.note),
            )
        )
        if p.cancelled_on is not None:
            at, when = clock.day(p.cancelled_on, end=True)
            out.append(Entry(p.customer_external_id, at, when, "promise", "Promise cancelled"))
    return out


def _plans(session: Session, org_id: int, customer: str | None, clock: _Clock) -> list[Entry]:
    query = _scoped(
        select(PaymentPlan),
        PaymentPlan.customer_external_id,
        PaymentPlan.organization_id,
        org_id,
        customer,
    )
    out = []
    for plan in session.scalars(query):
        at, when = clock.instant(plan.created_at)
        steps = "; ".join(f"{i.amount:,.2f} by {i.due_on.isoformat()}" for i in plan.instalments)
        out.append(
            Entry(
                plan.customer_external_id,
                at,
                when,
                "plan",
                f"Payment plan of {plan.start_balance:,.2f} {plan.currency}",
                steps,
            )
        )
        if plan.cancelled_on is not None:
            at, when = clock.day(plan.cancelled_on, end=True)
            out.append(Entry(plan.customer_external_id, at, when, "plan", "Payment plan cancelled"))
    return out


def _payments(session: Session, org_id: int, customer: str | None, clock: _Clock) -> list[Entry]:
    query = _scoped(
        select(Payment), Payment.customer_external_id, Payment.organization_id, org_id, customer
    ).where(Payment.deleted.is_(False), Payment.paid_on.is_not(None))
    out = []
    for p in session.scalars(query):
        at, when = clock.day(p.paid_on)
        out.append(
            Entry(
                p.customer_external_id,
                at,
                when,
                "payment",
                f"Payment of {p.amount:,.2f} {p.currency}",
                f"reference {p.external_id}",
            )
        )
    return out


def _tasks(session: Session, org_id: int, customer: str | None, clock: _Clock) -> list[Entry]:
    query = _scoped(
        select(Task), Task.customer_external_id, Task.organization_id, org_id, customer
    ).where(Task.done_at.is_not(None))
    out = []
    for t in session.scalars(query):
        at, when = clock.instant(t.done_at)
        out.append(
            Entry(t.customer_external_id, at, when, "task", f"Task done: {t.title}", by=t.done_by)
        )
    return out


def _covers(invoices: list[str], numbers: dict[str, str], note: str) -> str:
    covered = ", ".join(numbers.get(i) or i for i in invoices)
    return f"covers {covered}. {note}".strip()
