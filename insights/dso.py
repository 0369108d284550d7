"""Days sales outstanding, in the home currency, two ways.

Countback (the headline): today's receivables are matched against credit sales month by month,
going back from the current month (its days so far) through whole calendar months; every month
the receivables cover adds its days, and the month where they run out adds its share of days
(receivables left / that month's sales × its days). It follows recent sales, so a seasonal
business does not look better or worse than it is.

Simple: receivables ÷ credit sales of the last 90 days × 90.

Credit sales are the totals of invoices issued (open or paid; not voided, deleted or draft).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal

from insights.fx import Home
from insights.ledger import LedgerInvoice

SIMPLE_DAYS = 90
MAX_MONTHS = 12
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    sales: Decimal

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class DSO:
    receivables: Decimal
    countback: Decimal | None  # None: no sales to count back against
    countback_capped: bool  # receivables exceed the last 12 months' sales
    simple: Decimal | None
    simple_sales: Decimal
    periods: list[Period]


def months_back(today: date, count: int = MAX_MONTHS) -> list[tuple[date, date]]:
    """The current month to `today`, then whole months before it, newest first."""
    spans = [(today.replace(day=1), today)]
    while len(spans) < count:
        first = spans[-1][0]
        end = first - timedelta(days=1)
        spans.append((end.replace(day=1), end))
    return spans


def sales_between(ledger: list[LedgerInvoice], start: date, end: date, home: str | None) -> Home:
    total = Home()
    for inv in ledger:
        if inv.issue_date is not None and start <= inv.issue_date <= end:
            total.add(inv.total, inv.currency, inv.rate, home)
    return total


def receivables_on(ledger: list[LedgerInvoice], day: date, home: str | None) -> Home:
    total = Home()
    for inv in ledger:
        owed = inv.owed_on(day)
        if owed > 0:
            total.add(owed, inv.currency, inv.rate, home)
    return total


def countback(receivables: Decimal, periods: list[Period]) -> tuple[Decimal | None, bool]:
    left, days = receivables, Decimal(0)
    if receivables <= 0:
        return Decimal(0), False
    for period in periods:
        if period.sales <= 0:
            days += period.days
            continue
        if left <= period.sales:
            days += left / period.sales * period.days
            return days.quantize(TENTH, ROUND_HALF_UP), False
        left -= period.sales
        days += period.days
    if not any(p.sales > 0 for p in periods):
        return None, False
    return days.quantize(TENTH, ROUND_HALF_UP), True


def dso(ledger: list[LedgerInvoice], today: date, home: str | None) -> DSO:
    ar = receivables_on(ledger, today, home)
    periods = [
        Period(start, end, sales_between(ledger, start, end, home).amount)
        for start, end in months_back(today)
    ]
    days, capped = countback(ar.amount, periods)
    recent = sales_between(ledger, today - timedelta(days=SIMPLE_DAYS - 1), today, home).amount
    simple = None
    if recent > 0:
        simple = (ar.amount / recent * SIMPLE_DAYS).quantize(TENTH, ROUND_HALF_UP)
    return DSO(ar.amount, days, capped, simple, recent, periods)
