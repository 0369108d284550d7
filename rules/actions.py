"""Performing an outbox action: re-check the facts, respect quiet hours and caps, and record the
write command it would issue.

Writing to QuickBooks or Xero is the next step of the pipeline: here a performed action ends in
`pending` with its rendered message and its WriteCommand stored, ready for the writer, which
moves it to `sent` or `failed`. Before that, `perform`:
- cancels it, with the reason, if its facts changed (paid, voided, deleted, merged, disputed,
  do-not-contact, balance moved for a settlement, hold condition cleared);
- drops from a reminder the invoices that no longer need it and refreshes the balances;
- reschedules it (status stays `planned`) when quiet hours or a cap forbid it now;
- skips it when there is no one to write to.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Organization
from providers.base import AddNote
from providers.base import Entity
from providers.base import SendReminder
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.base import WriteCommand
from rules.actions_check import recheck
from rules.discounts import EARLY_RULE
from rules.facts import CustomerFact
from rules.load import load_facts
from rules.messages import render_reminder
from rules.models import Action
from rules.models import ActionStatus as S
from rules.models import RuleSet
from rules.models import RuleSetVersion
from rules.outbox import transition
from rules.spec import RuleBook
from rules.store import active_version
from rules.store import book_for
from rules.timing import local_date
from rules.timing import next_allowed


@dataclass(frozen=True)
class Performed:
    status: str
    reason: str
    retry_at: datetime | None = None


def perform(session: Session, action_id: int, now: datetime) -> Performed | None:
    """Take one planned action as far as this issue goes. The caller commits."""
    action = session.get(Action, action_id, with_for_update=True)
    if action is None:
        return None
    if action.status != S.PLANNED:
        return Performed(action.status, f"already {action.status}")
    if action.scheduled_for > now:
        return Performed(S.PLANNED, "not due yet", action.scheduled_for)
    org = session.get(Organization, action.organization_id)
    book = _book(session, action)
    if org is None or book is None:
        transition(action, S.CANCELLED, "the organization or its rules are gone", now)
        return Performed(S.CANCELLED, action.reason)
    as_of = local_date(now, org.timezone)
    facts = load_facts(
        session, org, as_of, now, book, [action.customer_external_id], _since(session, org)
    )
    customer = facts.customers.get(action.customer_external_id)
    outcome = recheck(action, facts, customer, book, as_of, now)
    if outcome.cancel:
        transition(action, S.CANCELLED, outcome.cancel, now)
        return Performed(S.CANCELLED, outcome.cancel)
    if outcome.payload is not None:
        action.payload = outcome.payload
    assert customer is not None
    if action.kind == "reminder":
        return _reminder(session, action, book, org, customer, as_of, now, outcome.notes)
    return _record(action, command_for(action), now, outcome.notes)


def _book(session: Session, action: Action) -> RuleBook | None:
    version = None
    if action.rule_version_id is not None:
        version = session.get(RuleSetVersion, action.rule_version_id)
    version = version or active_version(session, action.organization_id)
    return book_for(version) if version is not None else None


def _since(session: Session, org: Organization) -> date | None:
    owner = session.scalar(select(RuleSet).where(RuleSet.organization_id == org.id))
    if owner is None or owner.first_activated_at is None:
        return None
    return local_date(owner.first_activated_at, org.timezone)


def _reminder(
    session: Session,
    action: Action,
    book: RuleBook,
    org: Organization,
    customer: CustomerFact,
    as_of: date,
    now: datetime,
    notes: list[str],
) -> Performed:
    tz = customer.timezone if book.limits.use_customer_timezone and customer.timezone else None
    tz = tz or org.timezone
    when, waited = next_allowed(now, tz, book.limits, _sent(session, action, book, now))
    if when > now:
        action.scheduled_for = when
        reason = f"rescheduled to {when.isoformat()}: waiting for {', '.join(waited)}"
        transition(action, S.PLANNED, reason, now)
        return Performed(S.PLANNED, reason, when)
    to = action.payload.get("to") or customer.email
    if not to:
        transition(action, S.SKIPPED, "the customer has no email address to remind", now)
        return Performed(S.SKIPPED, action.reason)
    try:
        subject, body = render_reminder(
            book, action.payload, org.name, as_of, action.payload.get("step")
        )
    except TemplateError as exc:
        transition(
            action, S.FAILED, f"template {action.payload.get('template')} failed: {exc}", now
        )
        return Performed(S.FAILED, action.reason)
    action.rendered_subject, action.rendered_body = subject, body
    invoice_ids = tuple(line["external_id"] for line in action.payload.get("invoices", []))
    offers = tuple(line["external_id"] for line in action.payload.get("offers", []))
    command = SendReminder(customer.external_id, invoice_ids + offers, to, subject, body)
    return _record(action, command, now, notes)


def _sent(session: Session, action: Action, book: RuleBook, now: datetime) -> list[datetime]:
    """When this customer's other messages went (or were handed to the writer)."""
    horizon = now - timedelta(days=max(book.limits.longest_cap_days, 1))
    rows = session.scalars(
        select(Action.performed_at).where(
            Action.organization_id == action.organization_id,
            Action.customer_external_id == action.customer_external_id,
            Action.kind == "reminder",
            Action.status.in_((S.PENDING, S.SENT)),
            Action.performed_at >= horizon,
            Action.id != action.id,
        )
    )
    return [r for r in rows if r is not None]


def _record(action: Action, command: WriteCommand, now: datetime, notes: list[str]) -> Performed:
    action.command = command_json(command)
    action.attempts += 1
    action.performed_at = now
    reason = "ready to write back"
    if notes:
        reason += " (" + "; ".join(notes) + ")"
    transition(action, S.PENDING, reason, now)
    return Performed(S.PENDING, reason)


def command_for(action: Action) -> WriteCommand:
    p = action.payload
    if action.kind == "note":
        if p.get("on") == "customer":
            return AddNote(Entity.CUSTOMER, action.customer_external_id, p["text"])
        return AddNote(Entity.INVOICE, p["invoice"], p["text"])
    if action.kind == "task":
        text = f"Task for {p['assignee']}: {p['text']}"
        return AddNote(Entity.CUSTOMER, action.customer_external_id, text)
    if action.kind in ("credit_hold", "release_hold"):
        return SetCreditHold(action.customer_external_id, bool(p["on_hold"]), p.get("reason", ""))
    if action.kind == "settle_discount":
        return SettleDiscount(
            invoice_id=p["invoice"],
            customer_id=action.customer_external_id,
            amount=Decimal(p["amount"]),
            currency=p["currency"],
            on=date.fromisoformat(p["on"]),
            memo="Early-payment discount" if action.rule == EARLY_RULE else "Settlement offer",
        )
    raise ValueError(f"no write command for a {action.kind} action")


def command_json(command: WriteCommand) -> dict[str, Any]:
    data = {k: _plain(v) for k, v in dataclasses.asdict(command).items()}
    return {"type": type(command).__name__, **data}


def _plain(value: Any) -> Any:
    if isinstance(value, (Decimal, date)):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
