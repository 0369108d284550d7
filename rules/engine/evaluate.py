"""The evaluator: mirror facts + a rule book + an "as of" date -> explained decisions. Pure.

`evaluate(book, facts, as_of, now)` walks every customer (or the ones named): it sends the
invoices not yet sent to the customer (invoice delivery), picks the customer's policy by
segment, finds the step each open invoice is due for, applies pauses (unapplied credit that
covers the overdue amount among them), settles early-payment discounts, makes settlement
offers, reminds of plan instalments, gathers everything a customer is due into one reminder
scheduled for the next allowed time, and places or releases credit holds. A do-not-contact
customer's steps fire without their reminder, which is sent once contact is allowed again.
Same inputs, same decisions, in the same order.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

from rules.engine.credit import covered
from rules.engine.decisions import Decision
from rules.engine.decisions import Evaluation
from rules.engine.decisions import Suppression
from rules.engine.delivery import send_unsent
from rules.engine.dunning import aggregates
from rules.engine.dunning import choose_policy
from rules.engine.facts import OrgFacts
from rules.engine.facts import days_past_anchor
from rules.engine.holds import credit_holds
from rules.engine.instalments import plan_instalments
from rules.engine.invoices import invoice_steps
from rules.engine.invoices import never_chased
from rules.engine.messages import NoteTexts
from rules.engine.reminder import consolidated_reminder
from rules.engine.run import CustomerRun
from rules.ruleset.book import RuleBook


def evaluate(
    book: RuleBook,
    facts: OrgFacts,
    as_of: date,
    now: datetime,
    customer_ids: list[str] | None = None,
) -> Evaluation:
    """Decisions for `as_of` (a date in the organization's time zone), scheduled from `now`."""
    evaluation = Evaluation(as_of, book.version)
    ids = sorted(facts.customers) if customer_ids is None else sorted(set(customer_ids))
    texts = NoteTexts(facts.name, as_of)
    for cid in ids:
        customer = facts.customers.get(cid)
        if customer is not None:
            _evaluate_customer(CustomerRun(book, facts, customer, as_of, now, evaluation, texts))
    return evaluation


def _evaluate_customer(run: CustomerRun) -> None:
    c = run.customer
    open_invoices = sorted(
        (i for i in c.invoices if i.is_open and i.anchor is not None),
        key=lambda i: (i.anchor, i.external_id),
    )
    if c.deleted or c.merged_into is not None:
        never_chased(run, open_invoices)
        return
    send_unsent(run)
    if not open_invoices and not run.has_customer_state():
        return
    run.policy, run.segment = choose_policy(run.book, c)
    run.days = days_past_anchor(open_invoices, run.as_of)
    disputes = run.facts.disputes
    disputed = {
        i.external_id
        for i in open_invoices
        if i.external_id in disputes
        and any(d.active_on(run.as_of) for d in disputes[i.external_id])
    }
    run.aggs = aggregates(open_invoices, run.days, disputed)
    run.covered = covered(run.book, c, run.aggs)
    for inv in open_invoices:
        invoice_steps(run, inv)
    plan_instalments(run)
    consolidated_reminder(run)
    credit_holds(run)


__all__ = ["evaluate", "Decision", "Suppression"]
