"""Taking an action: re-check it against the mirror right before writing, respect quiet hours and
caps at send time, render it, and fix the command it will write.

`take` runs in a short transaction of its own and hands back what to write (`Taken`), which
outbox.deliver then writes outside any transaction. It:
- cancels the action, with the reason, if its facts changed (paid, voided, deleted, merged,
  disputed, promised, do-not-contact, a settlement's balance moved, a hold's condition cleared);
- drops from a reminder the invoices that no longer need it and refreshes the balances;
- reschedules it (still `planned`) when quiet hours, business days or a cap forbid it now;
- skips it when there is no one to write to;
- otherwise stores the command, moves it to `pending` and leases it for a while, so that no other
  worker takes it meanwhile and a worker that dies mid-write leaves it to be resumed.

A `pending` action whose lease ran out (its worker died mid-write) is finished first, before any
re-check, with the command it already has and the same idempotency key: the provider replays its
first answer (an email finds its receipt) instead of writing twice, and a write that may have
happened is never recorded as cancelled. One whose retry time came (an outage) is re-checked
first, then written with its command and key. The lease is DELIVERY_LEASE_SECONDS (120).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer
from core.models import Organization
from core.models import OrgStatus
from outbox.commands import Command
from outbox.commands import SendEmail
from outbox.commands import command_for
from outbox.commands import command_from_json
from outbox.commands import command_json
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionStatus as S
from outbox.recheck import DO_NOT_CONTACT
from outbox.recheck import MANUAL
from outbox.recheck import recheck
from providers.base import SendReminder
from rules.engine.decisions import MESSAGE_KINDS
from rules.engine.decisions import ActionKind
from rules.engine.facts import CustomerFact
from rules.engine.messages import render_reminder
from rules.engine.timing import local_date
from rules.engine.timing import next_allowed
from rules.held_back import hold_back
from rules.load import load_facts
from rules.ruleset.book import RuleBook
from rules.ruleset.store import active_book
from rules.ruleset.store import book_of_version
from rules.ruleset.store import since_activation

LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Performed:
    """Where an action was left, when it was not handed over for writing."""

    status: str
    reason: str
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Taken:
    """An action leased for writing: the command and the idempotency key to write it with."""

    action_id: int
    organization_id: int
    kind: str
    key: str
    command: Command
    timezone: str | None = None  # the organization's


def take(
    session: Session, action_id: int, now: datetime, lease: timedelta = LEASE
) -> Taken | Performed | None:
    """Check and lease one action for writing. The caller commits."""
    action = session.get(Action, action_id, with_for_update=True)
    if action is None:
        return None
    if action.status not in (S.PLANNED, S.PENDING):
        return Performed(action.status, f"already {action.status}")
    if action.lease_until is not None and action.lease_until > now:
        return Performed(action.status, "being written by another worker", action.lease_until)
    if action.scheduled_for > now:
        return Performed(action.status, "not due yet", action.scheduled_for)
    org = session.get(Organization, action.organization_id)
    if org is None:
        transition(action, S.CANCELLED, "the organization is gone", now)
        return Performed(S.CANCELLED, action.reason)
    if org.status != OrgStatus.CONNECTED:
        reason = f"waiting for {org.name or 'the organization'} to be connected again"
        transition(action, S.NEEDS_RECONNECT, reason, now)
        return Performed(S.NEEDS_RECONNECT, reason)
    if _cut_off(action):
        # Its worker died mid-write: the write may have reached the provider or the mail
        # server. It is finished with the same command and key (replayed, or found in the
        # email receipts), not re-decided: a cancel now could leave a write done but unrecorded.
        command = command_from_json(action.command or {})
        return _lease(action, command, now, lease, "resumed: its worker stopped mid-write", org)
    if _unconditional_kind(action):
        return _unconditional(session, action, org, now, lease)
    found = _book(session, action)
    if found is None:
        transition(action, S.CANCELLED, "the organization's rules are gone", now)
        return Performed(S.CANCELLED, action.reason)
    book, first_activated = found
    as_of = local_date(now, org.timezone)
    since = since_activation(org.timezone, first_activated)
    facts = load_facts(session, org, as_of, now, book, [action.customer_external_id], since)
    customer = facts.customers.get(action.customer_external_id)
    outcome = recheck(action, facts, customer, book, as_of, now)
    if outcome.cancel:
        if action.kind == ActionKind.REMINDER and outcome.cancel == DO_NOT_CONTACT:
            hold_back(session, action)  # owed once contact is allowed again, not lost
        transition(action, S.CANCELLED, outcome.cancel, now)
        return Performed(S.CANCELLED, outcome.cancel)
    if action.status == S.PENDING and action.command is not None:
        return _lease(action, command_from_json(action.command), now, lease, "resumed", org)
    if outcome.payload is not None:
        action.payload = outcome.payload
    assert customer is not None
    if action.kind in MESSAGE_KINDS:
        waiting = _wait_for_limits(session, action, book, org, customer, now)
        if waiting is not None:
            return waiting
    if action.kind == ActionKind.REMINDER:
        return _reminder(action, book, org, customer, as_of, now, lease, outcome.notes)
    command = command_for(action)
    return _lease(action, command, now, lease, _notes("ready to write", outcome.notes), org)


def _cut_off(action: Action) -> bool:
    """A pending action still leased (the lease ran out, checked above) was being written when
    its worker died; one waiting for a retry after an outage has no lease."""
    return (
        action.status == S.PENDING and action.lease_until is not None and action.command is not None
    )


def _unconditional_kind(action: Action) -> bool:
    by_hand = action.payload.get("record_of") or action.rule == MANUAL
    return bool(by_hand) and action.kind not in MESSAGE_KINDS


def _unconditional(
    session: Session, action: Action, org: Organization, now: datetime, lease: timedelta
) -> Taken | Performed:
    """The ledger's record of a message that went out, or a person's order (a hold, a note):
    nothing the rules decided to re-check, only that the customer is still there. Loading the
    organization's facts for it would cost more than the write itself."""
    row = session.execute(
        select(Customer.deleted, Customer.merged_into).where(
            Customer.organization_id == action.organization_id,
            Customer.external_id == action.customer_external_id,
        )
    ).first()
    problem = None
    if row is None:
        problem = "the customer is no longer in the mirror"
    elif row.merged_into is not None:
        problem = f"the customer was merged into {row.merged_into}"
    elif row.deleted:
        problem = "the customer was deleted"
    if problem is not None:
        transition(action, S.CANCELLED, problem, now)
        return Performed(S.CANCELLED, problem)
    if action.status == S.PENDING and action.command is not None:
        return _lease(action, command_from_json(action.command), now, lease, "resumed", org)
    return _lease(action, command_for(action), now, lease, "ready to write", org)


def _book(session: Session, action: Action) -> tuple[RuleBook, datetime | None] | None:
    """The book of the version that decided `action`, else the active one, and when the rules
    were first activated."""
    if action.rule_version_id is not None:
        found = book_of_version(session, action.rule_version_id)
        if found is not None:
            return found
    return active_book(session, action.organization_id)


def _wait_for_limits(
    session: Session,
    action: Action,
    book: RuleBook,
    org: Organization,
    customer: CustomerFact,
    now: datetime,
) -> Performed | None:
    """Reschedule a message that quiet hours, business days or a cap forbid now."""
    tz = customer.timezone if book.limits.use_customer_timezone and customer.timezone else None
    capped = action.kind == ActionKind.REMINDER and book.limits.caps
    sent = _sent(session, action, book, now) if capped else []
    when, waited = next_allowed(now, tz or org.timezone, book.limits, sent)
    if when <= now:
        return None
    action.scheduled_for = when
    reason = f"rescheduled to {when.isoformat()}: waiting for {', '.join(waited)}"
    transition(action, S.PLANNED, reason, now)
    return Performed(S.PLANNED, reason, when)


def _reminder(
    action: Action,
    book: RuleBook,
    org: Organization,
    customer: CustomerFact,
    as_of: date,
    now: datetime,
    lease: timedelta,
    notes: list[str],
) -> Taken | Performed:
    to = action.payload.get("to") or customer.email
    if not to:
        transition(action, S.SKIPPED, "the customer has no email address to remind", now)
        return Performed(S.SKIPPED, action.reason)
    try:
        subject, body = render_reminder(
            book, action.payload, org.name, as_of, action.payload.get("step")
        )
    except TemplateError as exc:
        reason = f"template {action.payload.get('template')} failed: {exc}"
        transition(action, S.FAILED, reason, now)
        return Performed(S.FAILED, reason)
    action.rendered_subject, action.rendered_body = subject, body
    lines = tuple(action.payload.get("invoices", [])) + tuple(action.payload.get("offers", []))
    lines = _with_links(lines, customer)
    command: Command
    if action.payload.get("channel") == "provider":
        ids = tuple(dict.fromkeys(line["external_id"] for line in lines))
        command = SendReminder(customer.external_id, ids, to, subject, body)
    else:
        command = SendEmail(customer.external_id, to, subject, body, tuple(lines))
    return _lease(action, command, now, lease, _notes("ready to send", notes), org)


def _with_links(
    lines: tuple[dict[str, Any], ...], customer: CustomerFact
) -> tuple[dict[str, Any], ...]:
    """Each invoice line with the payment link the mirror knows for it (outbox.channels asks
    the provider for the ones it does not)."""
    links = {i.external_id: i.link for i in customer.invoices if i.link}
    return tuple(
        {**line, "link": links[line["external_id"]]}
        if not line.get("link") and line.get("external_id") in links
        else line
        for line in lines
    )


def _sent(session: Session, action: Action, book: RuleBook, now: datetime) -> list[datetime]:
    """When this customer's other reminders went (or were handed over for sending)."""
    horizon = now - timedelta(days=max(book.limits.longest_cap_days, 1))
    rows = session.scalars(
        select(Action.performed_at).where(
            Action.organization_id == action.organization_id,
            Action.customer_external_id == action.customer_external_id,
            Action.kind == ActionKind.REMINDER,
            Action.status.in_((S.PENDING, S.SENT)),
            Action.performed_at >= horizon,
            Action.id != action.id,
        )
    )
    return [r for r in rows if r is not None]


def _notes(reason: str, notes: list[str]) -> str:
    return f"{reason} ({'; '.join(notes)})" if notes else reason


def _lease(
    action: Action,
    command: Command,
    now: datetime,
    lease: timedelta,
    reason: str,
    org: Organization,
) -> Taken:
    action.command = command_json(command)
    action.performed_at = action.performed_at or now
    action.lease_until = now + lease
    transition(action, S.PENDING, reason, now, actor="worker")
    return Taken(action.id, action.organization_id, action.kind, action.key, command, org.timezone)
