"""A credit hold placed or released by hand: an outbox action of rule "manual", written to
QuickBooks or Xero like any other (outbox.recheck lets a person's order through as it is), and
the profile change that tells the rules a person decided (rules.load keeps the later of the two,
so the action is dated just before the profile change)."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from sqlalchemy.orm import Session

from core.models import Organization
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from outbox.recheck import MANUAL
from rules.engine.timing import local_date
from rules.pauses import store as pauses_store


def set_hold(
    session: Session,
    org: Organization,
    customer: str,
    on_hold: bool,
    reason: str,
    actor: str,
    now: datetime,
) -> Action:
    """Place (`on_hold`) or release the customer's credit hold; the caller commits and asks
    for delivery (outbox.jobs.request_delivery)."""
    kind, step = ("credit_hold", "place") if on_hold else ("release_hold", "release")
    decided = now - timedelta(microseconds=1)
    why = f"{'Placed' if on_hold else 'Released'} by hand by {actor}" + (
        f": {reason}" if reason else ""
    )
    action = Action(
        organization_id=org.id,
        rule=MANUAL,
        step=step,
        target=f"customer:{customer}",
        period=now.isoformat(),
        kind=kind,
        customer_external_id=customer,
        status=S.PLANNED,
        reason=why,
        decided_on=local_date(now, org.timezone),
        scheduled_for=now,
        payload={"customer": customer, "on_hold": on_hold, "reason": reason},
        explanation={"summary": why, "by": actor},
        created_at=decided,
        updated_at=decided,
    )
    session.add(action)
    session.flush()
    session.add(
        ActionEvent(
            action_id=action.id,
            organization_id=org.id,
            at=decided,
            from_status="",
            to_status=S.PLANNED,
            actor=actor,
            reason=why,
        )
    )
    pauses_store.update_profile(
        session, org.id, customer, {"credit_hold": on_hold, "credit_hold_reason": reason}
    )
    return action
