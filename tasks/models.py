"""The task table, on the shared `core.db.Base`."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from core.db import Base
from core.db import UTCDateTime
from core.db import utcnow


class TaskStatus:
    OPEN = "open"
    DONE = "done"
    ALL = (OPEN, DONE)


class Task(Base):
    """One task. `owner` names a team member as connector.team stores one; `done_by` likewise.

    A task made from a rule's task action keeps the action's id: the action is the rule's
    decision (and its note in QuickBooks or Xero), the task is the person's work on it.
    """

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("action_id", name="uq_task_action"),
        Index("ix_task_org_status_due", "organization_id", "status", "due_on"),
        Index("ix_task_org_owner", "organization_id", "owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id", ondelete="SET NULL"))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    invoice_external_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(300), default="")
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=TaskStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str] = mapped_column(String(300), default="")
