"""The mirror and the connections.

Mirrored rows are keyed on (organization, external_id), keep the provider's version marker and
the instant of their last change, and are never dropped: voided and deleted documents stay,
flagged. References between mirrored rows use the provider's ids (a payment may arrive before
the invoice it pays), indexed for joins.

A mirrored row's `organization_id` (and an allocation's) is not a foreign key: its check, a
locking read of the organization per inserted row, was half of PostgreSQL's work to ingest a
page. The sync holds the organization once per page instead (`hold_organization`), and the
organization's purge deletes every row that names it.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from core.db import Base
from core.db import Money
from core.db import Rate
from core.db import UTCDateTime
from core.db import utcnow


class OrgStatus:
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class OAuthGrant(Base):
    """One OAuth authorization. Xero may cover several organizations with one grant, so the
    token is refreshed once per grant, never per organization."""

    __tablename__ = "oauth_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    token_ciphertext: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
    generation: Mapped[int] = mapped_column(Integer, default=0)
    auth_event_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organizations: Mapped[list[Organization]] = relationship(back_populates="grant")


class Organization(Base):
    """A connected company: a QuickBooks realm or a Xero tenant."""

    __tablename__ = "organization"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    connection_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    currency: Mapped[str | None] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(20), default=OrgStatus.CONNECTED)
    status_detail: Mapped[str] = mapped_column(Text, default="")
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("oauth_grant.id", ondelete="SET NULL"))
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    grant: Mapped[OAuthGrant | None] = relationship(back_populates="organizations")

    @property
    def is_syncing(self) -> bool:
        """A sync started after the last one finished (a sync that died stays 'syncing' until
        the next one finishes; see sync.jobs.sync_is_stuck)."""
        started = self.sync_started_at
        return started is not None and (
            self.last_synced_at is None or started > self.last_synced_at
        )


def hold_organization(session: Session, org_id: int) -> None:
    """Lock organization `org_id` against deletion until this transaction ends (the lock a
    foreign key's check takes, once rather than per row), or raise NoResultFound if it is gone.

    Tables whose `organization_id` is not a foreign key rely on it (the mirror's, step_firing,
    action_event): their writers hold the organization first, and its purge
    (connector.oauth.purge) locks it FOR UPDATE before deleting anything, so a purge waits for a
    writer that holds it and a writer that comes during a purge finds it gone. SQLite writes one
    transaction at a time anyway.
    """
    session.execute(
        select(Organization.id).where(Organization.id == org_id).with_for_update(key_share=True)
    ).scalar_one()


class _Mirrored:
    """Columns every mirrored row has."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer)  # not a foreign key: see above
    external_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Customer(_Mirrored, Base):
    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),)

    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    merged_into: Mapped[str | None] = mapped_column(String(64))
    balance: Mapped[Decimal | None] = mapped_column(Money)
    timezone: Mapped[str | None] = mapped_column(String(64))


class Invoice(_Mirrored, Base):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_invoice_org_customer", "organization_id", "customer_external_id"),
        Index("ix_invoice_org_status_due", "organization_id", "status", "due_date"),
    )

    customer_external_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="")
    total: Mapped[Decimal] = mapped_column(Money)
    balance: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(300))
    discount_percent: Mapped[Decimal | None] = mapped_column(Money)
    discount_days: Mapped[int | None] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(Text)
    # Whether the business has sent it to the customer (None: the provider does not say).
    sent_to_customer: Mapped[bool | None] = mapped_column(Boolean)
    # Home-currency units per unit of `currency`, as the provider booked the invoice (None: the
    # provider did not say; 1 for an invoice in the home currency).
    home_rate: Mapped[Decimal | None] = mapped_column(Rate)


class Payment(_Mirrored, Base):
    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_payment_org_customer", "organization_id", "customer_external_id"),
    )

    customer_external_id: Mapped[str] = mapped_column(String(64))
    paid_on: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    unapplied: Mapped[Decimal] = mapped_column(Money)


class PaymentAllocation(Base):
    __tablename__ = "payment_allocation"
    __table_args__ = (
        Index("ix_payment_allocation_invoice", "organization_id", "invoice_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payment.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(Integer)  # not a foreign key: see above
    invoice_external_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)


class CreditNote(_Mirrored, Base):
    __tablename__ = "credit_note"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_credit_note_org_customer", "organization_id", "customer_external_id"),
    )

    customer_external_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    issue_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="")
    total: Mapped[Decimal] = mapped_column(Money)
    remaining: Mapped[Decimal] = mapped_column(Money)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    # draft (not issued yet: no usable credit), open (credit left), paid (used up), voided, deleted
    status: Mapped[str] = mapped_column(String(10), default="open")


class CreditAllocation(Base):
    """Credit of one credit note applied to one invoice.

    Xero lists allocations on the credit note itself (`payment_external_id` is NULL). QuickBooks
    applies a CreditMemo through a Payment's lines; such rows name that payment and are replaced
    whenever it changes. A payment may arrive before the credit note it applies: the row then
    waits with `credit_note_id` NULL and is attached, by `credit_note_external_id`, when the
    credit note arrives.
    """

    __tablename__ = "credit_allocation"
    __table_args__ = (
        Index("ix_credit_allocation_invoice", "organization_id", "invoice_external_id"),
        Index("ix_credit_allocation_payment", "organization_id", "payment_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_note.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(Integer)  # not a foreign key: see above
    invoice_external_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    credit_note_external_id: Mapped[str | None] = mapped_column(String(64))
    payment_external_id: Mapped[str | None] = mapped_column(String(64))


class SyncCursor(Base):
    """How far the mirror of one entity of one organization is known to be complete."""

    __tablename__ = "sync_cursor"
    __table_args__ = (UniqueConstraint("organization_id", "entity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    high_water: Mapped[datetime | None] = mapped_column(UTCDateTime)
    full_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    full_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    records_seen: Mapped[int] = mapped_column(Integer, default=0)


class WebhookEvent(Base):
    """The webhook inbox: one row per announced change, deduplicated on the provider's key."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    tenant_external_id: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(20))
    merged_from: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the event was set aside instead of synced (webhooks.inbox); None for a usable one.
    rejected_reason: Mapped[str | None] = mapped_column(Text)


MirrorModel = type[Customer] | type[Invoice] | type[Payment] | type[CreditNote]
MIRROR_MODELS: dict[str, MirrorModel] = {
    "customer": Customer,
    "invoice": Invoice,
    "payment": Payment,
    "credit_note": CreditNote,
}
