"""What needs a person today: writes that failed or were given up on (dead letters), actions
waiting for approval, a connection that needs reconnecting, and tasks due today (or late)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Organization
from core.models import OrgStatus
from outbox.models import Action
from outbox.models import ActionStatus as S
from tasks.store import due_by


@dataclass(frozen=True)
class Attention:
    failed: int
    dead: int
    awaiting_approval: int
    waiting_for_reconnect: int
    needs_reconnect: bool
    tasks_due: int

    @property
    def anything(self) -> bool:
        return bool(
            self.failed
            or self.dead
            or self.awaiting_approval
            or self.waiting_for_reconnect
            or self.needs_reconnect
            or self.tasks_due
        )


def attention(session: Session, org: Organization, today: date) -> Attention:
    per_status = dict(
        session.execute(
            select(Action.status, func.count())
            .where(
                Action.organization_id == org.id,
                Action.status.in_((S.FAILED, S.DEAD, S.AWAITING_APPROVAL, S.NEEDS_RECONNECT)),
            )
            .group_by(Action.status)
        ).all()
    )
    return Attention(
        failed=per_status.get(S.FAILED, 0),
        dead=per_status.get(S.DEAD, 0),
        awaiting_approval=per_status.get(S.AWAITING_APPROVAL, 0),
        waiting_for_reconnect=per_status.get(S.NEEDS_RECONNECT, 0),
        needs_reconnect=org.status == OrgStatus.NEEDS_RECONNECT,
        tasks_due=due_by(session, org.id, today),
    )
