"""A reminder cancelled at send time because the customer became do-not-contact is owed, not lost.

The evaluator sends the reminder of the latest step whose firing carries a `:held` marker once
contact is allowed again (rules.engine.dunning.held_reminder). `hold_back(session, action)` gives a
cancelled reminder's lines that standing: each invoice step gets the marker (a reminder that was
itself a resumed one gives its `:resumed` marker back), and the firings of its offers and plan
instalments are released so that they are decided afresh.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import hold_organization
from rules.engine.dunning import HELD
from rules.engine.dunning import RESUMED
from rules.models import StepFiring


class Reminder(Protocol):
    """What is read of the cancelled reminder (an outbox Action row)."""

    organization_id: int
    customer_external_id: str
    decided_on: date
    payload: dict[str, Any]


def hold_back(session: Session, action: Reminder) -> None:
    """Record that `action` (a reminder) did not reach the customer; the caller commits."""
    payload = action.payload or {}
    for line in payload.get("invoices", []):
        rule, step, target, period = line["claim"]
        if step.endswith(RESUMED):
            _forget(session, action.organization_id, line["claim"])
        else:
            _mark(session, action, (rule, step + HELD, target, period))
    for line in payload.get("offers", []) + payload.get("instalments", []):
        _forget(session, action.organization_id, line["claim"])


def _where(org_id: int, claim: Any) -> list[Any]:
    rule, step, target, period = claim
    return [
        StepFiring.organization_id == org_id,
        StepFiring.rule == rule,
        StepFiring.step == step,
        StepFiring.target == target,
        StepFiring.period == period,
    ]


def _forget(session: Session, org_id: int, claim: Any) -> None:
    session.execute(delete(StepFiring).where(*_where(org_id, claim)))


def _mark(session: Session, action: Reminder, claim: tuple[str, str, str, str]) -> None:
    if session.scalar(select(StepFiring.id).where(*_where(action.organization_id, claim))):
        return
    rule, step, target, period = claim
    hold_organization(session, action.organization_id)
    marker = StepFiring(
        organization_id=action.organization_id,
        rule=rule,
        step=step,
        target=target,
        period=period,
        customer_external_id=action.customer_external_id,
        fired_on=action.decided_on,
    )
    try:
        with session.begin_nested():
            session.add(marker)
    except IntegrityError:
        pass  # marked meanwhile by another worker
