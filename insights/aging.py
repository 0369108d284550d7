"""Aging: open balances by days past due (in the organization's time zone), per currency and in
the home currency (insights.fx)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Invoice
from insights.fx import ZERO
from insights.fx import to_home

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
LABELS = {
    "current": "Not yet due",
    "1-30": "1–30 days",
    "31-60": "31–60 days",
    "61-90": "61–90 days",
    "90+": "Over 90 days",
}


def bucket_of(due_date: date | None, today: date) -> str:
    days = (today - due_date).days if due_date is not None else 0
    if days <= 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass
class Row:
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: {b: ZERO for b in BUCKETS})
    counts: dict[str, int] = field(default_factory=lambda: {b: 0 for b in BUCKETS})

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.total - self.buckets["current"]


@dataclass
class Aging:
    rows: list[Row]  # one per currency: the home currency first, then by code
    home_currency: str | None
    home: Row | None  # every currency converted, or None without a home currency
    missing: dict[str, tuple[int, Decimal]]  # per currency: invoices and amount not converted


@dataclass(frozen=True)
class OpenInvoice:
    currency: str
    due_date: date | None
    balance: Decimal
    rate: Decimal | None


def aging(invoices: list[OpenInvoice], today: date, home_currency: str | None) -> Aging:
    rows: dict[str, Row] = {}
    home = Row(home_currency or "")
    missing: dict[str, tuple[int, Decimal]] = {}
    for inv in invoices:
        name = bucket_of(inv.due_date, today)
        row = rows.setdefault(inv.currency, Row(inv.currency))
        row.buckets[name] += inv.balance
        row.counts[name] += 1
        converted = to_home(inv.balance, inv.currency, inv.rate, home_currency)
        if converted is None:
            count, amount = missing.get(inv.currency, (0, ZERO))
            missing[inv.currency] = (count + 1, amount + inv.balance)
            continue
        home.buckets[name] += converted
        home.counts[name] += 1
    order = sorted(rows, key=lambda c: (c != home_currency, c))
    return Aging([rows[c] for c in order], home_currency, home if home_currency else None, missing)


def load_open(session: Session, org_id: int) -> list[OpenInvoice]:
    rows = session.execute(
        select(Invoice.currency, Invoice.due_date, Invoice.balance, Invoice.home_rate).where(
            Invoice.organization_id == org_id,
            Invoice.status == "open",
            Invoice.deleted.is_(False),
            Invoice.balance > 0,
        )
    ).all()
    return [OpenInvoice(*r) for r in rows]
