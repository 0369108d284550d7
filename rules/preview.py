"""Preview: what the active (or a draft) rule set would do today, without writing anything.

It reads the real outbox history (what already happened), so it shows exactly what the next
run would add. For an organization whose rules were never activated, it shows what activating
them today would do (nothing decided from history before that).
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from sqlalchemy.orm import Session

from core.models import Organization
from rules.decisions import REMINDER
from rules.decisions import Decision
from rules.evaluate import evaluate
from rules.load import load_facts
from rules.messages import render_reminder
from rules.spec import RuleBook
from rules.timing import local_date


def preview(
    session: Session,
    org: Organization,
    book: RuleBook,
    now: datetime,
    since: date | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    as_of = as_of or local_date(now, org.timezone)
    since = since or as_of  # rules never activated would start running today
    facts = load_facts(session, org, as_of, now, book, None, since)
    result = evaluate(book, facts, as_of, now)
    return {
        "organization": org.id,
        "as_of": as_of.isoformat(),
        "rule_set": book.name,
        "version": book.version,
        "mirror_synced_at": org.last_synced_at.isoformat() if org.last_synced_at else None,
        "counts": result.counts(),
        "decisions": [rendered(book, d, org.name, as_of) for d in result.decisions],
        "suppressed": [s.as_dict() for s in result.suppressed],
        "cancellations": [{"action": a, "reason": r} for a, r in result.cancellations],
    }


def rendered(book: RuleBook, decision: Decision, org_name: str, as_of: date) -> dict[str, Any]:
    """The decision as JSON, with its message rendered when it is a reminder."""
    out = decision.as_dict()
    if decision.kind == REMINDER:
        try:
            out["subject"], out["body"] = render_reminder(
                book, decision.payload, org_name, as_of, decision.payload.get("step")
            )
        except TemplateError as exc:
            out["render_error"] = str(exc)
    return out
