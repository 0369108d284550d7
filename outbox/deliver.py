"""Delivering one action: take it (outbox.perform), write it (outbox.channels), record the outcome.

The write happens outside any database transaction, between two short ones, so a slow provider
holds no lock. Outcomes, by the kind of answer:
- written: `sent` with the provider's or mail server's reference; the records the provider
  returns are upserted into the mirror at once, so the webhook that echoes our own write finds
  nothing new and the rules do not fire again. A reminder that went out gets its record in the
  ledger (a note on the customer) as an action of its own.
- refused (providers.base.Rejected, Unsupported, NotFound; a permanent mail failure): `failed`
  with the provider's own message. Not retried.
- unavailable (5xx, timeouts, a temporary mail failure): still `pending`, retried after
  Settings.delivery_retry_seconds; one failure more than that list allows makes it `dead`, the
  dead letter the admin page shows.
- rate limited: still `pending`, retried after the provider's Retry-After (not counted as an
  attempt).
- a dead grant: `needs_reconnect`, and the organization is marked so; it resumes after a reconnect.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.context import JobContext
from core.db import insert_ignore
from core.db import session_scope
from core.db import utcnow
from core.models import Organization
from core.ratelimit import LimitWaitExceeded
from core.tokens import GrantDead
from core.tokens import mark_grant_dead
from outbox import channels
from outbox.commands import SendEmail
from outbox.commands import command_json
from outbox.email.errors import PermanentFailure
from outbox.email.errors import TemporaryFailure
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from outbox.models import new_key
from outbox.perform import Performed
from outbox.perform import Taken
from outbox.perform import take
from providers.base import AddNote
from providers.base import AnyRecord
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import NotFound
from providers.base import PaymentRecord
from providers.base import ProviderError
from providers.base import RateLimited
from providers.base import Reauthorize
from providers.base import Rejected
from providers.base import SendReminder
from providers.base import Unsupported
from rules.engine.decisions import ActionKind
from rules.engine.timing import local_date
from sync.upsert import upsert_page

log = logging.getLogger(__name__)

REFUSED = (Rejected, Unsupported, NotFound, PermanentFailure)
_ENTITY = {
    CustomerRecord: Entity.CUSTOMER,
    InvoiceRecord: Entity.INVOICE,
    PaymentRecord: Entity.PAYMENT,
    CreditNoteRecord: Entity.CREDIT_NOTE,
}


@dataclass(frozen=True)
class Delivered(Performed):
    """The outcome of one delivery; `outage` and `rate_limited` tell the caller to hold off
    writing to this organization for a while."""

    outage: bool = False
    rate_limited: bool = False
    follow_up: Taken | None = None  # the ledger note recording a reminder that went out


def deliver(
    rt: JobContext,
    action_id: int,
    now: datetime | None = None,
    run: channels.Run | None = None,
) -> Performed | None:
    """Take `action_id`, write it, and record what happened. A delivery run passes its `run`
    (one provider client and one SMTP connection for all its actions)."""
    now = now or utcnow()
    with session_scope(rt.sessions) as session:
        taken = take(session, action_id, now, _lease(rt))
    if not isinstance(taken, Taken):
        return taken
    return deliver_taken(rt, taken, run)


def deliver_taken(rt: JobContext, taken: Taken, run: channels.Run | None = None) -> Delivered:
    """Write an action already taken (leased, its command fixed) and record what happened."""
    try:
        written = channels.write(rt, taken, run)
    except (GrantDead, Reauthorize) as exc:
        if run is not None:
            run.forget_provider()
        _mark_needs_reconnect(rt, taken.organization_id, str(exc))
        return _record(rt, taken, S.NEEDS_RECONNECT, f"the connection needs renewing: {exc}")
    except RateLimited as exc:
        return _later(rt, taken, exc.retry_after, f"rate limited: {exc.message}", counted=False)
    except LimitWaitExceeded as exc:  # our share of the provider's limit is used up for now
        return _later(rt, taken, exc.retry_after, f"rate limited: {exc}", counted=False)
    except REFUSED as exc:
        return _record(rt, taken, S.FAILED, f"refused: {_message(exc)}", attempted=True)
    except (ProviderError, TemporaryFailure) as exc:
        return _outage(rt, taken, _message(exc))
    except Exception as exc:  # a bug or an unexpected transport error: retried, then dead
        log.exception("writing action %s failed", taken.action_id)
        return _outage(rt, taken, f"unexpected error: {type(exc).__name__}")
    return _sent(rt, taken, written)


def release(rt: JobContext, taken: Taken) -> None:
    """Hand back an action taken but not written (its lease lifted, its command kept): the next
    run writes it at once instead of waiting for the lease to run out."""
    with session_scope(rt.sessions) as session:
        session.execute(
            update(Action)
            .where(Action.id == taken.action_id, Action.status == S.PENDING)
            .values(lease_until=None)
        )


def _lease(rt: JobContext) -> timedelta:
    return timedelta(seconds=rt.settings.delivery_lease_seconds)


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def _sent(rt: JobContext, taken: Taken, written: channels.Written) -> Delivered:
    with session_scope(rt.sessions) as session:
        action = session.get_one(Action, taken.action_id, with_for_update=True)
        _upsert(session, taken.organization_id, written.records)
        action.provider_reference = written.reference[:200]
        action.attempts += 1
        transition(action, S.SENT, f"sent: {written.reference}"[:2000], actor="worker")
        follow_up = _ledger_note(session, action, taken, _lease(rt))
        return Delivered(S.SENT, action.reason, follow_up=follow_up)


def _record(
    rt: JobContext, taken: Taken, status: str, reason: str, attempted: bool = False
) -> Delivered:
    with session_scope(rt.sessions) as session:
        action = session.get_one(Action, taken.action_id, with_for_update=True)
        action.attempts += int(attempted)
        transition(action, status, reason, actor="worker")
        return Delivered(status, reason)


def _outage(rt: JobContext, taken: Taken, message: str) -> Delivered:
    retries = rt.settings.delivery_retry_seconds
    with session_scope(rt.sessions) as session:
        action = session.get_one(Action, taken.action_id, with_for_update=True)
        action.attempts += 1
        if action.attempts > len(retries):
            reason = f"gave up after {action.attempts} attempts: {message}"
            transition(action, S.DEAD, reason, actor="worker")
            return Delivered(S.DEAD, reason, outage=True)
        wait = retries[action.attempts - 1]
        return _reschedule(action, wait, f"unavailable: {message}", outage=True)


def _later(rt: JobContext, taken: Taken, seconds: float, message: str, counted: bool) -> Delivered:
    with session_scope(rt.sessions) as session:
        action = session.get_one(Action, taken.action_id, with_for_update=True)
        action.attempts += int(counted)
        return _reschedule(action, seconds, message, rate_limited=True)


def _reschedule(
    action: Action, seconds: float, message: str, outage: bool = False, rate_limited: bool = False
) -> Delivered:
    now = utcnow()
    retry_at = now + timedelta(seconds=max(seconds, 0))
    action.scheduled_for = retry_at
    action.lease_until = None
    reason = f"{message}; retrying at {retry_at.isoformat(timespec='seconds')}"
    transition(action, S.PENDING, reason, now, actor="worker")
    return Delivered(S.PENDING, reason, retry_at, outage=outage, rate_limited=rate_limited)


def _upsert(session: Session, org_id: int, records: tuple[AnyRecord, ...]) -> None:
    by_entity: dict[Entity, list[AnyRecord]] = defaultdict(list)
    for record in records:
        by_entity[_ENTITY[type(record)]].append(record)
    for entity, found in by_entity.items():
        upsert_page(session, org_id, entity, found)


def _ledger_note(session: Session, action: Action, taken: Taken, lease: timedelta) -> Taken | None:
    """Record a reminder that went out as a note on the customer in the accounting system, so
    sales and finance see it there. An action of its own, retried and kept like any other; it
    is taken (leased, its command fixed) as it is made, since there is nothing to re-check: the
    reminder's own checks just passed."""
    command = taken.command
    if not isinstance(command, (SendEmail, SendReminder)):
        return None
    numbers = ", ".join(
        str(line.get("number") or line.get("external_id"))
        for line in action.payload.get("invoices", []) + action.payload.get("offers", [])
    )
    now = utcnow()
    when = local_date(now, taken.timezone).isoformat()
    text = f'Dunwell reminder emailed to {command.to} on {when}: "{command.subject}"'
    if numbers:
        text += f" (invoices {numbers})"
    note = AddNote(Entity.CUSTOMER, action.customer_external_id, text[:1900])
    key = new_key()
    row: dict[str, Any] = {
        "organization_id": action.organization_id,
        "rule": action.rule,
        "step": f"{action.step}:logged"[:80],
        "target": f"action:{action.id}",
        "period": action.period,
        "kind": "note",
        "customer_external_id": action.customer_external_id,
        "rule_version_id": action.rule_version_id,
        "rule_version": action.rule_version,
        "status": S.PENDING,
        "reason": "ready to write",
        "decided_on": action.decided_on,
        "scheduled_for": now,
        "performed_at": now,
        "lease_until": now + lease,
        "batch": action.batch,
        "payload": {"on": "customer", "text": note.text, "record_of": action.id},
        "explanation": {"summary": f"the record of reminder {action.id}"},
        "command": command_json(note),
        "key": key,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    ids = [r[0] for r in insert_ignore(session, Action.__table__, [row], (Action.id,))]
    if not ids:
        return None
    note_id = ids[0]
    for was, status, reason in (
        ("", S.PLANNED, f"records reminder {action.id} in the ledger"),
        (S.PLANNED, S.PENDING, "ready to write"),
    ):
        session.add(
            ActionEvent(
                action_id=note_id,
                organization_id=action.organization_id,
                at=now,
                from_status=was,
                to_status=status,
                actor="worker",
                reason=reason,
            )
        )
    return Taken(
        note_id, action.organization_id, ActionKind.NOTE, key, note, timezone=taken.timezone
    )


def _mark_needs_reconnect(rt: JobContext, org_id: int, detail: str) -> None:
    with session_scope(rt.sessions) as session:
        org = session.get(Organization, org_id)
        grant_id = org.grant_id if org is not None else None
    if grant_id is not None:
        mark_grant_dead(rt.sessions, grant_id, detail)
