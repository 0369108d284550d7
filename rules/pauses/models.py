"""The pauses' tables: disputes, promises to pay and payment plans (with the invoices a plan
covers and its instalments). While one holds, the invoices it covers are not chased.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON
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


class DisputeReason:
    ALL = ("pricing", "quality", "not_received", "duplicate", "already_paid", "other")


class Dispute(Base):
    """An invoice the customer disputes; it is not chased from `opened_on` until `closed_on`."""

    __tablename__ = "dispute"
    __table_args__ = (Index("ix_dispute_org_invoice", "organization_id", "invoice_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"))
    invoice_external_id: Mapped[str] = mapped_column(String(64))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromiseToPay(Base):
    """The customer promised to pay by `until`; dunning of the covered invoices resumes by
    itself the day after, unless the promise was kept. `invoice_external_ids` are the invoices
    covered: the ones named, else the customer's open invoices when the promise was made."""

    __tablename__ = "promise_to_pay"
    __table_args__ = (Index("ix_promise_org_customer", "organization_id", "customer_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    invoice_external_ids: Mapped[list[str]] = mapped_column(Json, default=list)
    promised_on: Mapped[date] = mapped_column(Date)
    until: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    balance_at_promise: Mapped[Decimal] = mapped_column(Money)
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentPlan(Base):
    """Instalments over chosen invoices; while they are met, those invoices are not chased."""

    __tablename__ = "payment_plan"
    __table_args__ = (Index("ix_plan_org_customer", "organization_id", "customer_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey(_ORG_FK, ondelete="CASCADE"))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="")
    created_on: Mapped[date] = mapped_column(Date)
    start_balance: Mapped[Decimal] = mapped_column(Money)
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    invoices: Mapped[list[PlanInvoice]] = relationship(
        cascade="all, delete-orphan", order_by="PlanInvoice.id"
    )
    instalments: Mapped[list[PlanInstalment]] = relationship(
        cascade="all, delete-orphan", order_by="PlanInstalment.number"
    )


class PlanInvoice(Base):
    __tablename__ = "payment_plan_invoice"
    __table_args__ = (UniqueConstraint("plan_id", "invoice_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plan.id", ondelete="CASCADE"))
    invoice_external_id: Mapped[str] = mapped_column(String(64))


class PlanInstalment(Base):
    __tablename__ = "payment_plan_instalment"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plan.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
