"""Evaluations through the database (SQLite and PostgreSQL): the mirror, the profile, the pauses
and the outbox together, run after run."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select

from core.db import session_scope
from rules.defaults import starter
from rules.jobs import run_evaluation
from rules.models import Action
from tests.rules.factories import activate
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row

NOW = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)  # a Wednesday
TODAY = NOW.date()
DAY = timedelta(days=1)
ACTIVATED = datetime(2025, 1, 1, tzinfo=UTC)


def seed(session_factory, rules=None, invoices=(), activated=ACTIVATED) -> int:
    """An organization with customer C1, its invoices (ext, due, total, extra columns) and
    `rules` active since `activated`."""
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=NOW, currency="USD")
        customer_row(db, org, "C1")
        for ext, due, total, extra in invoices:
            invoice_row(db, org, ext, "C1", due, total, **extra)
        activate(db, org, rules or starter(), at=activated)
        return org.id


def run(ctx, session_factory, org_id: int, now: datetime) -> dict:
    with session_scope(session_factory) as db:
        from core.models import Organization

        db.get(Organization, org_id).last_synced_at = now
    return run_evaluation(ctx, org_id, None, now=now)


def actions(session_factory) -> list[tuple[str, str, str]]:
    with session_scope(session_factory) as db:
        rows = db.execute(select(Action.kind, Action.step, Action.period).order_by(Action.id))
        return [tuple(r) for r in rows]


def test_a_due_on_receipt_invoice_gets_the_due_step_not_due_soon(ctx, session_factory) -> None:
    org_id = seed(session_factory, invoices=[("I1", TODAY, 100, {"issue_date": TODAY})])
    run(ctx, session_factory, org_id, NOW)
    assert actions(session_factory) == [("reminder", "due", TODAY.isoformat())]
