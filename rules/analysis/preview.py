"""Preview: what the active (or a draft) rule set would do today, without writing anything.

It reads the real outbox history (what already happened), so it shows exactly what the next
run would add, and beside it what is already decided and still to go (`queued`: actions
waiting for their time, for quiet hours or a cap, or for approval). Before a rule set was ever
active, nothing from before today is acted on (as on the day it is switched on), so the preview
shows no settlements of old payments or steps reached long ago.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.deadline import NO_LIMIT
from core.deadline import Deadline
from core.models import Organization
from outbox.models import Action
from outbox.models import ActionStatus
from rules.engine.decisions import MESSAGE_KINDS
from rules.engine.decisions import ActionKind
from rules.engine.decisions import Decision
from rules.engine.evaluate import evaluate
from rules.engine.messages import render_reminder
from rules.engine.timing import local_date
from rules.load import load_facts
from rules.models import RuleSetVersion
from rules.ruleset.book import RuleBook


def preview(
    session: Session,
    org: Organization,
    book: RuleBook,
    now: datetime,
    since: date | None = None,
    as_of: date | None = None,
    deadline: Deadline = NO_LIMIT,
) -> dict[str, Any]:
    """What `book` would do on `as_of`; `deadline` is checked between the steps."""
    as_of = as_of or local_date(now, org.timezone)
    since = since or as_of
    facts = load_facts(session, org, as_of, now, book, None, since)
    deadline.check()
    result = evaluate(book, facts, as_of, now)
    messages = sum(1 for d in result.decisions if d.kind in MESSAGE_KINDS)
    decisions = []
    for decision in result.decisions:
        deadline.check()
        decisions.append(rendered(book, decision, org.name, as_of))
    return {
        "organization": org.id,
        "as_of": as_of.isoformat(),
        "rule_set": book.name,
        "version": book.version,
        "mirror_synced_at": org.last_synced_at.isoformat() if org.last_synced_at else None,
        "counts": result.counts(),
        "decisions": decisions,
        "suppressed": [s.as_dict() for s in result.suppressed],
        "cancellations": [{"action": a, "reason": r} for a, r in result.cancellations],
        "approval": _approval(session, org, book, messages),
        "queued": queued(session, org.id),
    }


def _approval(session: Session, org: Organization, book: RuleBook, messages: int) -> str:
    """Whether the next run's new actions will wait for an admin's approval, in words."""
    version = session.get(RuleSetVersion, book.version_id) if book.version_id else None
    if version is None or version.first_run_approved_at is None:
        return "The first run of this rule set waits for your approval before anything is sent."
    limit = book.limits.approve_runs_over
    if limit is not None and messages > limit:
        return (
            f"This run would send {messages} messages, more than the {limit} the rule set "
            "allows without approval: it waits for your approval."
        )
    return ""


def queued(session: Session, org_id: int) -> list[dict[str, Any]]:
    """The actions already decided and not yet done, soonest first, with their messages."""
    from outbox.rendering import rendered as rendered_action

    rows = session.scalars(
        select(Action)
        .where(
            Action.organization_id == org_id,
            Action.status.in_(
                (*ActionStatus.unsent(), ActionStatus.PENDING, ActionStatus.NEEDS_RECONNECT)
            ),
        )
        .order_by(Action.scheduled_for, Action.id)
    )
    out = []
    for action in rows:
        item = {
            "id": action.id,
            "kind": action.kind,
            "customer": action.customer_external_id,
            "status": action.status,
            "scheduled_for": action.scheduled_for.isoformat(),
            "reason": action.reason,
        }
        message = rendered_action(session, action)
        if message is not None:
            item.update(to=message.to, subject=message.subject, body=message.body)
        out.append(item)
    return out


def rendered(book: RuleBook, decision: Decision, org_name: str, as_of: date) -> dict[str, Any]:
    """The decision as JSON, with its message rendered when it is a reminder."""
    out = decision.as_dict()
    if decision.kind == ActionKind.REMINDER:
        try:
            out["subject"], out["body"] = render_reminder(
                book, decision.payload, org_name, as_of, decision.payload.get("step")
            )
        except TemplateError as exc:
            out["render_error"] = str(exc)
    return out
