"""How an action moves between statuses, each move kept in its history (ActionEvent).

    planned ──> pending ──> sent
       │  ▲        │ └────> failed ──> planned (retry by hand)
       │  │        ├──────> dead ────> planned (retry by hand)
       │  │        └──────> needs_reconnect ──> planned (after a reconnect)
       │  └─ awaiting_approval (first run of a rule set, or a run over the limit)
       └──> skipped / cancelled

`pending -> pending` is a retry being rescheduled; `planned -> planned` a reschedule for quiet
hours or a cap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import object_session

from core.db import utcnow
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLANNED: frozenset(
        {
            S.PLANNED,
            S.AWAITING_APPROVAL,
            S.PENDING,
            S.NEEDS_RECONNECT,
            S.CANCELLED,
            S.SKIPPED,
            S.FAILED,
        }
    ),
    S.AWAITING_APPROVAL: frozenset({S.PLANNED, S.CANCELLED}),
    S.PENDING: frozenset(
        {S.PENDING, S.SENT, S.FAILED, S.DEAD, S.NEEDS_RECONNECT, S.CANCELLED, S.SKIPPED}
    ),
    S.NEEDS_RECONNECT: frozenset({S.PLANNED, S.CANCELLED}),
    S.FAILED: frozenset({S.PLANNED, S.CANCELLED}),
    S.DEAD: frozenset({S.PLANNED, S.CANCELLED}),
    S.SENT: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


def transition(
    action: Action,
    to: str,
    reason: str = "",
    now: datetime | None = None,
    actor: str = "system",
) -> None:
    """Move `action` to status `to` and record the move, or raise InvalidTransition."""
    if to not in TRANSITIONS.get(action.status, frozenset()):
        raise InvalidTransition(f"action {action.id}: {action.status} -> {to} is not allowed")
    now = now or utcnow()
    event = ActionEvent(
        action_id=action.id,
        organization_id=action.organization_id,
        at=now,
        from_status=action.status,
        to_status=to,
        actor=actor,
        reason=reason,
    )
    action.status = to
    action.reason = reason
    action.updated_at = now
    if to in S.finished():
        action.finished_at = now
        action.lease_until = None
    session = object_session(action)
    if session is not None:
        session.add(event)
