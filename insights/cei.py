"""Collection effectiveness index over the last 30 and 90 days, in the home currency.

CEI = (receivables at the start + credit sales in the period − receivables now)
      ÷ (receivables at the start + credit sales in the period − current receivables now) × 100

where "current" is what is not yet due. 100 means everything collectable was collected. The
receivables at the start are reconstructed from payment history (insights.ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal

from insights.dso import receivables_on
from insights.dso import sales_between
from insights.fx import Home
from insights.ledger import LedgerInvoice

PERIODS = (30, 90)
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class CEI:
    days: int
    start: date
    beginning: Decimal
    sales: Decimal
    ending: Decimal
    ending_current: Decimal
    index: Decimal | None  # None when nothing was collectable


def cei(ledger: list[LedgerInvoice], today: date, days: int, home: str | None) -> CEI:
    start = today - timedelta(days=days)
    beginning = receivables_on(ledger, start, home).amount
    sales = sales_between(ledger, start + timedelta(days=1), today, home).amount
    ending = receivables_on(ledger, today, home).amount
    current = Home()
    for inv in ledger:
        owed = inv.owed_on(today)
        if owed > 0 and not inv.overdue_on(today):
            current.add(owed, inv.currency, inv.rate, home)
    collectable = beginning + sales - current.amount
    index = None
    if collectable > 0:
        index = ((beginning + sales - ending) / collectable * 100).quantize(TENTH, ROUND_HALF_UP)
    return CEI(days, start, beginning, sales, ending, current.amount, index)
