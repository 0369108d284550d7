"""Features whose decisions reach into the mirror's past, each decided only from the day it was
switched on: settling early-payment discounts (judged on payment dates) and sending invoices not
yet sent (judged on issue dates). Pure.

Switching one on in a rule set that has run for months must not settle every short payment or
send every unsent invoice since: `RuleSet.<feature>_since` records when a version that has the
feature was activated after one that had not (rules.ruleset.store), the loader reads it (rules.load)
and the evaluator starts the feature from it (rules.engine.facts.OrgFacts.since_for).
"""

from __future__ import annotations

from rules.ruleset.book import RuleBook

EARLY_PAYMENT = "early_payment"
INVOICE_DELIVERY = "invoice_delivery"
COLUMNS = {EARLY_PAYMENT: "early_payment_since", INVOICE_DELIVERY: "invoice_delivery_since"}


def features_on(book: RuleBook) -> set[str]:
    """The features of the rule book that have a start date of their own (their "since"
    is when they were first switched on, not when the rules were)."""
    on = set()
    if book.early is not None and book.early.settle_short_payments:
        on.add(EARLY_PAYMENT)
    if book.delivery_after is not None:
        on.add(INVOICE_DELIVERY)
    return on
