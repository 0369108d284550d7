"""Every figure of one organization's dashboard, computed from the mirror as of today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime

from sqlalchemy.orm import Session

from core.models import Organization
from insights.aging import Aging
from insights.aging import aging
from insights.aging import load_open
from insights.attention import Attention
from insights.attention import attention
from insights.cei import CEI
from insights.cei import PERIODS
from insights.cei import cei
from insights.customers import CustomerState
from insights.customers import ReasonTotal
from insights.customers import load_states
from insights.customers import overdue_by_reason
from insights.customers import top_overdue
from insights.dso import DSO
from insights.dso import dso
from insights.fx import rate_note
from insights.ledger import load_ledger
from insights.ledger import unconverted
from insights.trend import Point
from insights.trend import trend
from insights.trend import window_start


@dataclass
class Dashboard:
    today: date
    home_currency: str | None
    rate_note: str
    aging: Aging
    dso: DSO
    cei: list[CEI]
    trend: list[Point]
    reasons: list[ReasonTotal]
    top: list[CustomerState]
    attention: Attention
    unconverted: dict[str, int]  # per currency: invoices home-currency figures leave out


def build(session: Session, org: Organization, today: date, now: datetime) -> Dashboard:
    home = org.currency
    ledger = load_ledger(session, org.id, window_start(today))
    states = load_states(session, org, today, now)
    return Dashboard(
        today=today,
        home_currency=home,
        rate_note=rate_note(org.provider),
        aging=aging(load_open(session, org.id), today, home),
        dso=dso(ledger, today, home),
        cei=[cei(ledger, today, days, home) for days in PERIODS],
        trend=trend(ledger, today, home),
        reasons=overdue_by_reason(states),
        top=top_overdue(states),
        attention=attention(session, org, today),
        unconverted=unconverted(ledger, home),
    )
