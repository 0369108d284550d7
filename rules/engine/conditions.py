"""Conditions: the facts a rule may test, the operators per fact type, and their evaluation.

Pure. A condition is checked against the value it saw, and that value is kept for the
explanation ("invoice_balance gt 50: saw 120.00 -> true").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MONEY = "money"
COUNT = "count"
CURRENCY = "currency"
SEGMENT = "segment"

FACT_TYPES: dict[str, str] = {
    "invoice_amount": MONEY,
    "invoice_balance": MONEY,
    "currency": CURRENCY,
    "customer_total_overdue": MONEY,
    "overdue_invoice_count": COUNT,
    "oldest_overdue_days": COUNT,
    "days_overdue": COUNT,
    "segment": SEGMENT,  # the key of the segment the customer falls in (None: in none)
}

# Facts about the customer as a whole (per currency): the only ones a credit-hold rule may use.
CUSTOMER_FACTS = frozenset(
    {
        "currency",
        "customer_total_overdue",
        "overdue_invoice_count",
        "oldest_overdue_days",
        "segment",
    }
)

_ORDERED_OPS = ("gt", "gte", "lt", "lte", "eq", "ne")
OPS: dict[str, tuple[str, ...]] = {
    MONEY: _ORDERED_OPS,
    COUNT: _ORDERED_OPS,
    CURRENCY: ("eq", "ne", "in", "not_in"),
    SEGMENT: ("eq", "ne", "in", "not_in"),
}


@dataclass(frozen=True, slots=True)
class Condition:
    fact: str
    op: str
    value: Any  # Decimal for money, int for counts, str or tuple[str, ...] for currency
    currency: str | None = None  # credit holds: the currency the condition is about

    def applies_in(self, currency: str, home: str | None) -> bool:
        """Whether this (credit-hold) condition tests the customer's position in `currency`:
        the one it names; for an amount without one, the home currency; else every one."""
        if self.currency is not None:
            return currency == self.currency
        if FACT_TYPES[self.fact] == MONEY:
            return home is not None and currency == home
        return True


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A customer's overdue position in one currency (disputed invoices left out)."""

    currency: str
    total_overdue: Decimal
    overdue_count: int
    oldest_days: int


def holds(cond: Condition, seen: Any) -> bool:
    """Whether the value `seen` satisfies `cond` (its operator against its value)."""
    op, value = cond.op, cond.value
    if op == "in":
        return seen in value
    if op == "not_in":
        return seen not in value
    if op == "eq":
        return bool(seen == value)
    if op == "ne":
        return bool(seen != value)
    if op == "gt":
        return bool(seen > value)
    if op == "gte":
        return bool(seen >= value)
    if op == "lt":
        return bool(seen < value)
    return bool(seen <= value)


def customer_value(fact: str, agg: Aggregate, segment: str | None = None) -> Any:
    """The value of a customer-level fact in one currency's aggregate (`oldest_days` for
    the last fact there is); `segment` is the key of the customer's segment."""
    if fact == "segment":
        return segment
    if fact == "currency":
        return agg.currency
    if fact == "customer_total_overdue":
        return agg.total_overdue
    if fact == "overdue_invoice_count":
        return agg.overdue_count
    return agg.oldest_days


def invoice_value(
    fact: str,
    amount: Decimal,
    balance: Decimal,
    days_overdue: int,
    agg: Aggregate,
    segment: str | None = None,
) -> Any:
    if fact == "invoice_amount":
        return amount
    if fact == "invoice_balance":
        return balance
    if fact == "days_overdue":
        return days_overdue
    return customer_value(fact, agg, segment)


def check_all(
    conditions: tuple[Condition, ...], values: list[Any]
) -> tuple[bool, list[dict[str, Any]]]:
    """Whether every condition holds, with one explanation entry per condition."""
    trace = []
    ok = True
    for cond, seen in zip(conditions, values, strict=True):
        result = holds(cond, seen)
        ok = ok and result
        trace.append(
            {
                "fact": cond.fact,
                "op": cond.op,
                "value": plain(cond.value),
                "seen": plain(seen),
                "result": result,
            }
        )
    return ok, trace


def plain(value: Any) -> Any:
    """A JSON-friendly copy: Decimal as a string, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (frozenset, set)):
        return [plain(v) for v in sorted(value)]
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value
