"""What an admin decides about the outbox: approve or reject actions held for approval, retry a
failed or dead one, cancel one that has not gone yet. Every move is recorded with who made it.

Approving or rejecting any action of a version's first run marks that run as reviewed, so the
version's later runs flow without approval (unless a run is over the rule set's limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.db import utcnow
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionStatus as S
from rules.models import RuleSetVersion


class NotFoundInOrganization(LookupError):
    """An action id that is not one of this organization's (or not in a state to be changed)."""


def waiting(session: Session, org_id: int) -> list[Action]:
    """The actions held for approval, oldest first."""
    return list(
        session.scalars(
            select(Action)
            .where(Action.organization_id == org_id, Action.status == S.AWAITING_APPROVAL)
            .order_by(Action.scheduled_for, Action.id)
        )
    )


def decide(
    session: Session,
    org_id: int,
    approve: Iterable[int] | None,
    reject: Iterable[int] | None,
    actor: str,
    now: datetime | None = None,
) -> dict[str, list[int]]:
    """Approve the actions in `approve` and reject those in `reject` (None: every waiting one).
    Rejected actions are cancelled. The caller commits."""
    now = now or utcnow()
    held = {a.id: a for a in waiting(session, org_id)}
    approved = _pick(held, approve)
    rejected = _pick(held, reject)
    overlap = set(approved) & set(rejected)
    if overlap:
        raise ValueError(f"actions {sorted(overlap)} cannot be approved and rejected at once")
    for action_id in approved:
        transition(held[action_id], S.PLANNED, f"approved by {actor}", now, actor=actor)
    for action_id in rejected:
        transition(held[action_id], S.CANCELLED, f"not approved by {actor}", now, actor=actor)
    versions = {held[i].rule_version_id for i in approved + rejected} - {None}
    if versions:
        session.execute(
            update(RuleSetVersion)
            .where(RuleSetVersion.id.in_(versions), RuleSetVersion.first_run_approved_at.is_(None))
            .values(first_run_approved_at=now)
        )
    session.flush()
    return {"approved": approved, "rejected": rejected}


def _pick(held: dict[int, Action], ids: Iterable[int] | None) -> list[int]:
    if ids is None:
        return []
    wanted = list(dict.fromkeys(ids))
    missing = [i for i in wanted if i not in held]
    if missing:
        raise NotFoundInOrganization(
            f"actions {missing} are not waiting for approval in this organization"
        )
    return wanted


def all_waiting(session: Session, org_id: int) -> list[int]:
    return [a.id for a in waiting(session, org_id)]


def retry(session: Session, org_id: int, action_id: int, actor: str) -> Action:
    """Send a failed, dead or reconnect-waiting action again: it is taken afresh, re-checked
    against the mirror, and written with its original idempotency key."""
    action = _own(session, org_id, action_id)
    if action.status not in (S.FAILED, S.DEAD, S.NEEDS_RECONNECT):
        raise NotFoundInOrganization(
            f"action {action_id} is {action.status}; only a failed one is retried"
        )
    now = utcnow()
    action.scheduled_for = now
    action.command = None
    transition(action, S.PLANNED, f"retried by {actor}", now, actor=actor)
    return action


def cancel(session: Session, org_id: int, action_id: int, actor: str) -> Action:
    action = _own(session, org_id, action_id)
    if action.status not in (*S.unsent(), S.FAILED, S.DEAD, S.NEEDS_RECONNECT):
        raise NotFoundInOrganization(
            f"action {action_id} is {action.status}; it cannot be cancelled"
        )
    transition(action, S.CANCELLED, f"cancelled by {actor}", actor=actor)
    return action


def _own(session: Session, org_id: int, action_id: int) -> Action:
    action = session.get(Action, action_id, with_for_update=True)
    if action is None or action.organization_id != org_id:
        raise NotFoundInOrganization(f"no action {action_id} in this organization")
    return action
