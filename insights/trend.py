"""Overdue receivables over the last 12 months, reconstructed from payment history: the amount
overdue (and the total owed) at the end of each month, and today for the current month, in the
home currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from insights.dso import months_back
from insights.fx import Home
from insights.ledger import LedgerInvoice

MONTHS = 12


@dataclass(frozen=True)
class Point:
    day: date
    overdue: Decimal
    total: Decimal

    @property
    def label(self) -> str:
        return self.day.strftime("%b %Y")


def trend(ledger: list[LedgerInvoice], today: date, home: str | None) -> list[Point]:
    points = []
    for _, end in reversed(months_back(today, MONTHS)):
        overdue, total = Home(), Home()
        for inv in ledger:
            owed = inv.owed_on(end)
            if owed <= 0:
                continue
            total.add(owed, inv.currency, inv.rate, home)
            if inv.overdue_on(end):
                overdue.add(owed, inv.currency, inv.rate, home)
        points.append(Point(end, overdue.amount, total.amount))
    return points


def window_start(today: date) -> date:
    return months_back(today, MONTHS)[-1][0]
