"""Early-payment discounts and settlement offers, pure.

Terms come from the invoice (QuickBooks DiscountPercent/DiscountDays) when the rule allows it,
else from the rule. A payment made inside the window that leaves exactly the discount unpaid
(within a cent of rounding) is settled: the remaining balance is written off as the discount.
Settlement offers on aged debt work the same way, counted from the day the offer was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any

from rules.engine.facts import Firing
from rules.engine.facts import InvoiceFact
from rules.ruleset.book import Offer
from rules.ruleset.book import RuleBook

CENT = Decimal("0.01")
EARLY_RULE = "discount:early"


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent, half up (as on an invoice)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Terms:
    percent: Decimal
    days: int
    source: str


@dataclass(frozen=True, slots=True)
class Settlement:
    rule: str
    amount: Decimal
    explanation: dict[str, Any]


def early_terms(book: RuleBook, inv: InvoiceFact) -> Terms | None:
    """The early-payment discount that applies to `inv`: its own terms when the rule says to
    use them and it has some, else the rule's; None without an early-payment rule."""
    rule = book.early
    if rule is None:
        return None
    if rule.use_invoice_terms and inv.discount_percent and inv.discount_days:
        return Terms(Decimal(inv.discount_percent), int(inv.discount_days), "invoice terms")
    if rule.percent is not None and rule.days is not None:
        return Terms(rule.percent, rule.days, "rule")
    return None


def early_offer(book: RuleBook, inv: InvoiceFact, as_of: date) -> dict[str, Any] | None:
    """The early-payment offer to print in a reminder, if the window is still open."""
    terms = early_terms(book, inv)
    if terms is None or not book.early or not book.early.offer_in_reminders:
        return None
    if inv.issue_date is None or inv.balance != inv.total:
        return None
    pay_by = inv.issue_date + timedelta(days=terms.days)
    if as_of > pay_by:
        return None
    amount = cents(inv.total * terms.percent / 100)
    return {
        "percent": terms.percent,
        "amount": amount,
        "pay_by": pay_by.isoformat(),
        "pay_amount": inv.total - amount,
    }


def early_settlement(
    book: RuleBook, inv: InvoiceFact, since: date | None = None
) -> Settlement | None:
    """The write-off of an early payment's discount; only for a payment made once the rules
    were running (`since`): a short payment from before is history, not a decision to make."""
    terms = early_terms(book, inv)
    if terms is None or not book.early or not book.early.settle_short_payments:
        return None
    if inv.issue_date is None or inv.last_paid_on is None or inv.balance <= 0:
        return None
    if since is not None and inv.last_paid_on < since:
        return None
    window_end = inv.issue_date + timedelta(days=terms.days)
    expected = cents(inv.total * terms.percent / 100)
    if inv.last_paid_on > window_end or abs(inv.balance - expected) > CENT:
        return None
    return Settlement(
        EARLY_RULE,
        inv.balance,
        {
            "terms": {"percent": str(terms.percent), "days": terms.days, "source": terms.source},
            "window_end": window_end.isoformat(),
            "paid_on": inv.last_paid_on.isoformat(),
            "expected_discount": str(expected),
            "balance": str(inv.balance),
        },
    )


def offer_settlement(offer: Offer, made: Firing, inv: InvoiceFact) -> Settlement | None:
    """The discount to write off when the customer paid within `offer`'s window leaving exactly
    the discount offered (to the cent) unpaid; None otherwise."""
    if inv.last_paid_on is None or made.amount is None or inv.balance <= 0:
        return None
    valid_until = made.fired_on + timedelta(days=offer.valid_days)
    expected = cents(made.amount * offer.percent / 100)
    if not made.fired_on <= inv.last_paid_on <= valid_until:
        return None
    if abs(inv.balance - expected) > CENT:
        return None
    return Settlement(
        f"offer:{offer.key}",
        inv.balance,
        {
            "offer": offer.key,
            "offered_on": made.fired_on.isoformat(),
            "valid_until": valid_until.isoformat(),
            "paid_on": inv.last_paid_on.isoformat(),
            "expected_discount": str(expected),
            "balance": str(inv.balance),
        },
    )


def settlement_for(
    book: RuleBook, inv: InvoiceFact, fired: list[Firing], since: date | None = None
) -> Settlement | None:
    """The settlement this invoice qualifies for now, if any (`since`: the day the rules
    started running; settlement offers are made by the rules, so always after it)."""
    found = early_settlement(book, inv, since)
    if found:
        return found
    for offer in book.offers:
        rule = f"offer:{offer.key}"
        made = next((f for f in fired if f.rule == rule and f.step == "offer"), None)
        if made is not None:
            found = offer_settlement(offer, made, inv)
            if found:
                return found
    return None


def offer_item(offer: Offer, inv: InvoiceFact, as_of: date) -> dict[str, Any]:
    amount = cents(inv.balance * offer.percent / 100)
    return {
        "number": inv.number or inv.external_id,
        "external_id": inv.external_id,
        "currency": inv.currency,
        "balance": inv.balance,
        "percent": offer.percent,
        "amount": amount,
        "pay_amount": inv.balance - amount,
        "valid_until": (as_of + timedelta(days=offer.valid_days)).isoformat(),
    }
