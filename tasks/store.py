"""Tasks: made from the rules' task actions, listed, reassigned and done.

A task is shown while its action stands (planned, being written, written, or failing); one whose
action waits for approval appears once approved, and one whose action was cancelled or skipped
(the invoice was paid meanwhile, the run was not approved) is not shown at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression

from core import team
from core.db import insert_ignore
from core.db import utcnow
from outbox.models import Action
from outbox.models import ActionStatus as S
from rules.engine.decisions import ActionKind
from tasks.models import Task
from tasks.models import TaskStatus

HIDDEN_ACTION_STATUSES = (S.AWAITING_APPROVAL, S.CANCELLED, S.SKIPPED)


class TaskProblem(LookupError):
    """No such task here, or a change it cannot take (a message a person can act on)."""


def adopt_task_actions(session: Session, org_id: int) -> list[int]:
    """Make a task of every task action of `org_id` that has none yet; returns the new ids.

    Run after each evaluation (rules.jobs); repeating it makes nothing twice."""
    have = select(Task.action_id).where(Task.organization_id == org_id, Task.action_id.is_not(None))
    actions = session.scalars(
        select(Action).where(
            Action.organization_id == org_id,
            Action.kind == ActionKind.TASK,
            Action.id.not_in(have),
        )
    ).all()
    now = utcnow()
    rows = [
        {
            "organization_id": org_id,
            "action_id": a.id,
            "customer_external_id": a.customer_external_id,
            "invoice_external_id": a.payload.get("invoice"),
            "title": str(a.payload.get("text") or a.step),
            "owner": team.member_from_rule(a.payload.get("assignee")),
            "due_on": a.decided_on,
            "status": TaskStatus.OPEN,
            "created_at": now,
            "updated_at": now,
            "done_by": "",
        }
        for a in actions
    ]
    return [row[0] for row in insert_ignore(session, Task.__table__, rows, (Task.id,))]


def visible(org_id: int) -> Select:
    """The organization's tasks a person sees (see the module doc)."""
    return (
        select(Task)
        .outerjoin(Action, Action.id == Task.action_id)
        .where(
            Task.organization_id == org_id,
            or_(Action.id.is_(None), Action.status.not_in(HIDDEN_ACTION_STATUSES)),
        )
    )


@dataclass(frozen=True)
class TaskFilter:
    status: str = TaskStatus.OPEN  # or "done", or "" for both
    owner: str | None = None  # a stored member; None: anyone
    customer: str | None = None  # a customer's external id


def listing(
    session: Session, org_id: int, wanted: TaskFilter, limit: int, offset: int
) -> tuple[list[Task], int]:
    """One page of tasks (open ones by due date, done ones newest first) and how many match."""
    query = visible(org_id)
    if wanted.status:
        query = query.where(Task.status == wanted.status)
    if wanted.owner is not None:
        query = query.where(func.lower(Task.owner) == wanted.owner.lower())
    if wanted.customer is not None:
        query = query.where(Task.customer_external_id == wanted.customer)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: tuple[UnaryExpression[Any], ...]
    if wanted.status == TaskStatus.DONE:
        order = (Task.done_at.desc(), Task.id.desc())
    else:
        order = (Task.due_on.asc(), Task.id.asc())
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def due_by(session: Session, org_id: int, day: date) -> int:
    """Open tasks due on or before `day`."""
    query = visible(org_id).where(Task.status == TaskStatus.OPEN, Task.due_on <= day)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def owned(session: Session, org_id: int, task_id: int) -> Task:
    task = session.scalar(visible(org_id).where(Task.id == task_id).with_for_update(of=Task))
    if task is None:
        raise TaskProblem(f"There is no task {task_id} in this organization.")
    return task


def complete(session: Session, org_id: int, task_id: int, by: str, now: datetime) -> Task:
    """Mark a task done, recording who and when (done twice: the first one stands)."""
    task = owned(session, org_id, task_id)
    if task.status == TaskStatus.DONE:
        raise TaskProblem(
            f"Task {task_id} was already done by {team.label(task.done_by)}; nothing changed."
        )
    task.status, task.done_at, task.done_by, task.updated_at = TaskStatus.DONE, now, by, now
    return task


def reopen(session: Session, org_id: int, task_id: int, now: datetime) -> Task:
    task = owned(session, org_id, task_id)
    task.status, task.done_at, task.done_by, task.updated_at = TaskStatus.OPEN, None, "", now
    return task


def reassign(
    session: Session, org_id: int, task_id: int, owner: str, due_on: date, now: datetime
) -> Task:
    task = owned(session, org_id, task_id)
    task.owner, task.due_on, task.updated_at = owner, due_on, now
    return task
