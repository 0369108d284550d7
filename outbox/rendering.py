"""The message an action would send, rendered for a person to read before it goes (approval,
the activity page). What is actually sent is rendered again at send time, from fresh balances."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Customer
from core.models import Organization
from outbox.models import Action
from rules.engine.decisions import ActionKind
from rules.engine.messages import render_reminder
from rules.engine.timing import local_date
from rules.models import RuleSetVersion
from rules.ruleset.store import active_version
from rules.ruleset.store import book_for


@dataclass(frozen=True)
class Rendered:
    to: str
    subject: str
    body: str
    error: str = ""


def rendered(session: Session, action: Action) -> Rendered | None:
    """The message of a reminder (as sent, once sent); None for actions that send none."""
    if action.kind != ActionKind.REMINDER:
        return None
    to = str(action.payload.get("to") or _email(session, action) or "")
    if action.rendered_body is not None:
        return Rendered(to, action.rendered_subject or "", action.rendered_body)
    version = None
    if action.rule_version_id is not None:
        version = session.get(RuleSetVersion, action.rule_version_id)
    version = version or active_version(session, action.organization_id)
    org = session.get(Organization, action.organization_id)
    if version is None or org is None:
        return Rendered(to, "", "", "the rule set that decided it is gone")
    as_of = local_date(utcnow(), org.timezone)
    try:
        subject, body = render_reminder(
            book_for(version), action.payload, org.name, as_of, action.payload.get("step")
        )
    except TemplateError as exc:
        return Rendered(to, "", "", f"the template cannot be rendered: {exc}")
    return Rendered(to, subject, body)


def _email(session: Session, action: Action) -> str | None:
    return session.scalar(
        select(Customer.email).where(
            Customer.organization_id == action.organization_id,
            Customer.external_id == action.customer_external_id,
        )
    )
