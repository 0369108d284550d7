"""Unapplied credit, pure: when it covers what is overdue, and what a reminder says about it.

A customer may hold credit with the business (an unapplied credit note or overpayment, a
payment not yet applied) in the currency of its overdue invoices. Where that credit covers
everything overdue in the currency (disputed invoices left out, as in every overdue total),
chasing is wrong: the credit is to be applied. Where it covers part, the reminder says how much
credit there is and what is left to pay after it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rules.engine.conditions import Aggregate
from rules.engine.dunning import aggregates
from rules.engine.facts import CustomerFact
from rules.engine.facts import OrgFacts
from rules.engine.facts import days_past_anchor
from rules.ruleset.book import RuleBook

CREDIT_PAUSE = "unapplied_credit"


def covered(book: RuleBook, customer: CustomerFact, aggs: dict[str, Aggregate]) -> dict[str, str]:
    """Currency -> why, for each currency whose overdue total the customer's credit covers
    (nothing, when the rule set chases regardless)."""
    if not book.pause_when_credit_covers or not customer.credit:
        return {}
    out = {}
    for currency, agg in aggs.items():
        credit = customer.credit.get(currency, Decimal(0))
        if 0 < agg.total_overdue <= credit:
            out[currency] = (
                f"unapplied credit of {credit} {currency} covers the {agg.total_overdue} "
                f"{currency} overdue"
            )
    return out


def covered_on(
    book: RuleBook, facts: OrgFacts, customer: CustomerFact, as_of: date
) -> dict[str, str]:
    """`covered` for one customer on `as_of`, from its facts alone (for a re-check at send
    time: a reminder line in a covered currency, overdue, no longer needs sending)."""
    open_invoices = [i for i in customer.invoices if i.is_open and i.anchor is not None]
    days = days_past_anchor(open_invoices, as_of)
    disputed = {
        i.external_id
        for i in open_invoices
        if any(d.active_on(as_of) for d in facts.disputes.get(i.external_id, ()))
    }
    return covered(book, customer, aggregates(open_invoices, days, disputed))


def credit_lines(customer: CustomerFact, currencies: set[str]) -> list[dict[str, str]]:
    """The credit a reminder about invoices in `currencies` mentions (payload form)."""
    return [
        {"currency": cur, "amount": str(customer.credit[cur])}
        for cur in sorted(currencies)
        if customer.credit.get(cur, Decimal(0)) > 0
    ]


def credit_context(payload: dict[str, Any], totals: dict[str, Decimal]) -> list[dict[str, Any]]:
    """The template's `credit`: per currency, the credit available and what is left to pay of
    the reminder's invoices once it is applied."""
    out = []
    for line in payload.get("credit", []):
        amount = Decimal(line["amount"])
        due = totals.get(line["currency"], Decimal(0))
        out.append(
            {
                "currency": line["currency"],
                "amount": amount,
                "left_to_pay": max(due - amount, Decimal(0)),
            }
        )
    return out
