"""The tables the rules package owns, on the shared `core.db.Base`.

- RuleSet / RuleSetVersion: one rule set per organization; saving creates a new numbered version
  (a JSON document validated by rules.ruleset.schema); one version is active.
- CustomerProfile: Dunwell's own state of a customer (tags, do-not-contact, credit hold).
- The pauses' tables (disputes, promises, plans) are in rules.pauses.models.
- StepFiring: the exactly-once ledger of "this target reached this step in this period".
- OrgEvaluation: one row per organization and local date on which the daily run happened.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from core.db import Base
from core.db import Money
from core.db import UTCDateTime
from core.db import utcnow

Json = JSON().with_variant(JSONB(), "postgresql")

_ORG_FK = "organization.id"


class RuleSet(Base):
    __tablename__ = "rule_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey(_ORG_FK, ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    active_number: Mapped[int | None] = mapped_column(Integer)
    first_activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the active version's features that reach into the past were switched on
    # (rules.ruleset.features)
    early_payment_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invoice_delivery_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    versions: Mapped[list[RuleSetVersion]] = relationship(
        back_populates="rule_set", order_by="RuleSetVersion.number"
    )


class RuleSetVersion(Base):
    __tablename__ = "rule_set_version"
    __table_args__ = (UniqueConstraint("rule_set_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("rule_set.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(Json)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first run after activation waits for an admin's approval; set when it is given.
    first_run_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rule_set: Mapped[RuleSet] = relationship(back_populates="versions")


class CustomerProfile(Base):
    """What Dunwell knows of a customer beyond the mirror."""

    __tablename__ = "customer_profile"
    __table_args__ = (UniqueConstraint("organization_id", "customer_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_contact_reason: Mapped[str] = mapped_column(Text, default="")
    credit_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_hold_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credit_hold_reason: Mapped[str] = mapped_column(Text, default="")
    credit_hold_source: Mapped[str] = mapped_column(String(10), default="manual")  # or "rule"
    # When a person last set or lifted the hold here (other edits leave a rule's hold alone).
    credit_hold_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The team member who looks after this customer (connector.team says how one is named).
    owner: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StepFiring(Base):
    """One target (an invoice, or `plan:<id>`) reached one step of one rule in one period.

    Inserted before the action it causes, with ON CONFLICT DO NOTHING: the evaluation that
    wins the row is the only one that acts on it, however many run at once.

    `organization_id` is not a foreign key (its check, per row, was a fifth of the server's work
    to store a first run): a transaction that writes firings holds the organization once
    instead (core.models.hold_organization), and the organization's purge deletes them.
    """

    __tablename__ = "step_firing"
    __table_args__ = (
        UniqueConstraint("organization_id", "rule", "step", "target", "period"),
        Index("ix_step_firing_org_customer", "organization_id", "customer_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(80))
    step: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(40))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    fired_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Money)  # the balance the step saw


class OrgEvaluation(Base):
    """The daily evaluation of one organization for one local date (at most one row)."""

    __tablename__ = "org_evaluation"
    __table_args__ = (UniqueConstraint("organization_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decisions: Mapped[int] = mapped_column(Integer, default=0)
