"""What the admin page shows of the mirror: counts and the aging summary.

Aging buckets open invoices by days past due, counted in the organization's time zone, and
sums balances per currency (amounts in different currencies are never added together).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import CreditNote
from core.models import Customer
from core.models import Invoice
from core.models import MirrorModel
from core.models import Organization
from core.models import Payment
from core.models import WebhookEvent
from outbox.models import Action
from rules.models import RuleSet

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass
class AgingRow:
    currency: str
    buckets: dict[str, Decimal]
    counts: dict[str, int]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal("0"))


def local_today(org: Organization, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(org.timezone or "UTC")).date()


def aging(session: Session, org: Organization, today: date | None = None) -> list[AgingRow]:
    today = today or local_today(org)
    bucket = case(
        (Invoice.due_date.is_(None), "current"),
        (Invoice.due_date >= today, "current"),
        (Invoice.due_date >= today - timedelta(days=30), "1-30"),
        (Invoice.due_date >= today - timedelta(days=60), "31-60"),
        (Invoice.due_date >= today - timedelta(days=90), "61-90"),
        else_="90+",
    ).label("bucket")
    rows = session.execute(
        select(Invoice.currency, bucket, func.sum(Invoice.balance), func.count())
        .where(
            Invoice.organization_id == org.id,
            Invoice.status == "open",
            Invoice.deleted.is_(False),
            Invoice.balance > 0,
        )
        .group_by(Invoice.currency, bucket)
    )
    table: dict[str, AgingRow] = {}
    for currency, name, amount, count in rows:
        row = table.setdefault(
            currency,
            AgingRow(currency, {b: Decimal("0.00") for b in BUCKETS}, {b: 0 for b in BUCKETS}),
        )
        row.buckets[name] = Decimal(amount)
        row.counts[name] = count
    return [table[c] for c in sorted(table)]


def counts(session: Session, org_id: int) -> dict[str, int]:
    def count(model: MirrorModel | type[WebhookEvent], *where: ColumnElement[bool]) -> int:
        stmt = (
            select(func.count()).select_from(model).where(model.organization_id == org_id, *where)
        )
        return int(session.scalar(stmt) or 0)

    return {
        "customers": count(Customer, Customer.deleted.is_(False)),
        "invoices": count(Invoice, Invoice.deleted.is_(False)),
        "open_invoices": count(Invoice, Invoice.status == "open", Invoice.deleted.is_(False)),
        "voided_invoices": count(Invoice, Invoice.status == "voided"),
        "deleted_invoices": count(Invoice, Invoice.deleted.is_(True)),
        "payments": count(Payment, Payment.deleted.is_(False)),
        "credit_notes": count(CreditNote, CreditNote.deleted.is_(False)),
        "webhook_events": count(WebhookEvent),
    }


def recent_events(session: Session, org_id: int, limit: int = 10) -> list[WebhookEvent]:
    return list(
        session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.organization_id == org_id)
            .order_by(WebhookEvent.id.desc())
            .limit(limit)
        )
    )


def outbox(session: Session, org_id: int, limit: int = 8) -> dict[str, object]:
    """The outbox at a glance: actions per status, and the newest few with their reasons."""
    per_status = dict(
        session.execute(
            select(Action.status, func.count())
            .where(Action.organization_id == org_id)
            .group_by(Action.status)
        ).all()
    )
    newest = list(
        session.scalars(
            select(Action)
            .where(Action.organization_id == org_id)
            .order_by(Action.id.desc())
            .limit(limit)
        )
    )
    ids = {a.customer_external_id for a in newest}
    names = dict(
        session.execute(
            select(Customer.external_id, Customer.name).where(
                Customer.organization_id == org_id, Customer.external_id.in_(ids)
            )
        ).all()
    )
    active = session.scalar(select(RuleSet.active_number).where(RuleSet.organization_id == org_id))
    return {"per_status": per_status, "newest": newest, "names": names, "active_version": active}
