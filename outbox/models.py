"""The outbox's tables: Action (one decision and its delivery) and ActionEvent (its history).

Action rows are written by the rules (outbox.intake stores an evaluation) and read by them (what
was already decided, what went out recently, for caps); everything after that, from approval to
`sent`, belongs to this package. The allowed status moves are in outbox.lifecycle.
"""

from __future__ import annotations

import secrets
from datetime import date
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DDL
from sqlalchemy import JSON
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from core.db import Base
from core.db import UTCDateTime
from core.db import utcnow

Json = JSON().with_variant(JSONB(), "postgresql")


def new_key() -> str:
    return f"dw-{secrets.token_hex(12)}"


class ActionStatus(StrEnum):
    """Where an action stands; outbox.lifecycle.TRANSITIONS lists the allowed moves."""

    PLANNED = "planned"  # decided, waiting for its time
    AWAITING_APPROVAL = "awaiting_approval"  # held until an admin approves it
    PENDING = "pending"  # checked and rendered; being written (or waiting to retry)
    SENT = "sent"  # written; provider_reference says where
    FAILED = "failed"  # refused (the provider's or mail server's own message); not retried
    DEAD = "dead"  # still failing after every retry: the dead letter an admin sees
    NEEDS_RECONNECT = "needs_reconnect"  # the grant is dead; resumes after a reconnect
    SKIPPED = "skipped"  # nothing to do (no one to write to)
    CANCELLED = "cancelled"  # the reason is gone (paid, disputed...) or not approved

    @classmethod
    def live(cls) -> tuple[ActionStatus, ...]:
        """Decided and not abandoned: what counts as already done or on its way."""
        return (
            cls.PLANNED,
            cls.AWAITING_APPROVAL,
            cls.PENDING,
            cls.SENT,
            cls.NEEDS_RECONNECT,
        )

    @classmethod
    def unsent(cls) -> tuple[ActionStatus, ...]:
        """Decided and not yet on its way: may still absorb new items or be cancelled."""
        return (cls.PLANNED, cls.AWAITING_APPROVAL)

    @classmethod
    def finished(cls) -> tuple[ActionStatus, ...]:
        return (cls.SENT, cls.FAILED, cls.DEAD, cls.SKIPPED, cls.CANCELLED)


class Action(Base):
    """The outbox: one decision, what it writes, and where it stands."""

    __tablename__ = "action"
    __table_args__ = (
        UniqueConstraint("organization_id", "rule", "step", "target", "period"),
        UniqueConstraint("key", name="uq_action_key"),
        Index("ix_action_org_customer", "organization_id", "customer_external_id"),
        Index("ix_action_status_scheduled", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(80))
    step: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    # Not a foreign key (a check per inserted action): versions are deleted only with their
    # organization, whose purge deletes its actions too, and every reader falls back to the
    # active version when this one is not found.
    rule_version_id: Mapped[int | None] = mapped_column(Integer)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.PLANNED)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_on: Mapped[date] = mapped_column(Date)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    batch: Mapped[str | None] = mapped_column(String(40))  # the evaluation run that decided it
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    explanation: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    rendered_subject: Mapped[str | None] = mapped_column(Text)
    rendered_body: Mapped[str | None] = mapped_column(Text)
    command: Mapped[dict[str, Any] | None] = mapped_column(Json)
    provider_reference: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    performed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[ActionEvent]] = relationship(
        back_populates="action",
        primaryjoin="Action.id == foreign(ActionEvent.action_id)",
        cascade="all, delete-orphan",
        order_by="ActionEvent.id",
    )

    # The idempotency key handed to the provider (QBO requestid, Xero Idempotency-Key) and the
    # local part of the email's Message-ID. Random, not made of row ids: ids start again in a
    # new database, and a provider remembers keys for days.
    key: Mapped[str] = mapped_column(String(40), default=new_key)


class ActionEvent(Base):
    """One status change of an action: who or what moved it, when, and why.

    `action_id` and `organization_id` are not foreign keys: their two checks were three quarters
    of the server's work to insert a history row, and a first run writes one per action. Every
    event is written in the transaction that inserts or holds its action (outbox.intake,
    outbox.lifecycle, outbox.deliver, connector.manual_actions), with that action's
    organization; nothing deletes an action but an organization's purge
    (connector.oauth.purge), which deletes the organization's actions and then their events
    (`purge_order`: a writer of an event holds its action's row, so the purge waits for it).
    A `session.delete` of an action deletes its events through the ORM (`Action.events`).
    """

    __tablename__ = "action_event"
    __table_args__ = (Index("ix_action_event_action", "action_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200), default="system")
    reason: Mapped[str] = mapped_column(Text, default="")

    action: Mapped[Action] = relationship(
        back_populates="events", primaryjoin="Action.id == foreign(ActionEvent.action_id)"
    )


# An action's two documents are compressed with lz4 where the server has it (PostgreSQL 14 and
# later, built --with-lz4): a reminder's are 4 to 5 kB of text, past the size at which
# PostgreSQL compresses, and its default pglz took a tenth of the server's work to store a first
# run; lz4 compresses several times faster, and decompresses faster for every reader.
LZ4_DOCUMENTS = """
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        ALTER TABLE action ALTER COLUMN payload SET COMPRESSION lz4,
            ALTER COLUMN explanation SET COMPRESSION lz4;
    END IF;
END $$
"""
_LZ4 = DDL(LZ4_DOCUMENTS).execute_if(dialect="postgresql")  # type: ignore[no-untyped-call]
event.listen(Action.__table__, "after_create", _LZ4)
