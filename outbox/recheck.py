"""Re-checking an action's facts just before it is performed.

The mirror may have moved since the decision: a reminder keeps only the invoices that still
need it (with today's balances); anything else whose reason is gone is cancelled, with a reason
an admin can read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

from outbox.models import Action
from rules.engine.credit import covered_on
from rules.engine.credit import credit_lines
from rules.engine.decisions import ActionKind
from rules.engine.discounts import CENT
from rules.engine.discounts import settlement_for
from rules.engine.dunning import before_due_passed
from rules.engine.evaluate import evaluate
from rules.engine.facts import CustomerFact
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.pauses.checks import HONOURED
from rules.pauses.checks import invoice_pause
from rules.pauses.checks import plan_state
from rules.ruleset.book import RuleBook
from rules.ruleset.features import EARLY_PAYMENT

GONE = "was paid, voided or deleted meanwhile"
DO_NOT_CONTACT = "the customer was marked do-not-contact"
MANUAL = "manual"  # the rule name of actions a person placed by hand (holds, notes)


@dataclass
class Recheck:
    cancel: str | None = None
    payload: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def recheck(
    action: Action,
    facts: OrgFacts,
    customer: CustomerFact | None,
    book: RuleBook,
    as_of: date,
    now: datetime,
) -> Recheck:
    if customer is None:
        return Recheck("the customer is no longer in the mirror")
    if customer.merged_into is not None:
        return Recheck(f"the customer was merged into {customer.merged_into}")
    if customer.deleted:
        return Recheck("the customer was deleted")
    open_invoices = {i.external_id: i for i in customer.invoices if i.is_open}
    kind = action.kind
    if action.payload.get("record_of") or action.rule == MANUAL:
        return Recheck()  # the ledger's record of a message that went out, or a person's order
    if kind == ActionKind.SEND_INVOICE:
        invoice_id = action.payload.get("invoice")
        if customer.do_not_contact:
            return Recheck(DO_NOT_CONTACT)
        if invoice_id not in {i.external_id for i in customer.unsent}:
            return Recheck(
                f"invoice {_number(action.payload, invoice_id)} was sent, paid, voided or "
                "deleted meanwhile"
            )
        return Recheck()
    if kind == ActionKind.REMINDER:
        if customer.do_not_contact:
            return Recheck(DO_NOT_CONTACT)
        return _reminder(action, facts, customer, book, as_of, open_invoices)
    if kind in ("note", "task"):
        invoice_id = action.payload.get("invoice")
        if invoice_id is not None and invoice_id not in open_invoices:
            return Recheck(f"invoice {_number(action.payload, invoice_id)} {GONE}")
        return Recheck()
    if kind == ActionKind.SETTLE_DISCOUNT:
        return _settlement(action, open_invoices)
    return _hold(action, facts, book, as_of, now)


def _number(payload: dict[str, Any], fallback: Any) -> str:
    return str(payload.get("number") or fallback)


def _settlement(action: Action, open_invoices: dict[str, InvoiceFact]) -> Recheck:
    p = action.payload
    inv = open_invoices.get(p["invoice"])
    if inv is None:
        return Recheck(f"invoice {_number(p, p['invoice'])} {GONE}")
    if abs(inv.balance - Decimal(p["amount"])) > CENT:
        return Recheck(f"the balance changed from {p['amount']} to {inv.balance} meanwhile")
    return Recheck()


def _hold(action: Action, facts: OrgFacts, book: RuleBook, as_of: date, now: datetime) -> Recheck:
    result = evaluate(book, facts, as_of, now, [action.customer_external_id])
    for action_id, reason in result.cancellations:
        if action_id == action.id:
            return Recheck(reason.removeprefix("cancelled: "))
    return Recheck()


def _reminder(
    action: Action,
    facts: OrgFacts,
    customer: CustomerFact,
    book: RuleBook,
    as_of: date,
    open_invoices: dict[str, InvoiceFact],
) -> Recheck:
    payload = copy.deepcopy(action.payload)
    notes: list[str] = []
    covered = covered_on(book, facts, customer, as_of)
    for part in ("invoices", "offers"):
        kept = []
        for line in payload.get(part, []):
            problem = _invoice_problem(line, facts, customer, book, as_of, open_invoices, covered)
            if problem:
                notes.append(problem)
                continue
            inv = open_invoices[line["external_id"]]
            if Decimal(line["balance"]) != inv.balance:
                notes.append(f"invoice {line['number']} balance now {inv.balance}")
                line["balance"] = str(inv.balance)
            kept.append(line)
        payload[part] = kept
    payload["instalments"] = [
        line
        for line in payload.get("instalments", [])
        if _instalment_due(line, facts, customer, book, as_of, notes)
    ]
    if not (payload["invoices"] or payload["offers"] or payload["instalments"]):
        return Recheck("; ".join(notes) or "nothing left to remind of")
    if "credit" in payload:
        currencies = {line["currency"] for line in payload["invoices"] + payload["offers"]}
        payload["credit"] = credit_lines(customer, currencies)
    return Recheck(None, payload, notes)


def _invoice_problem(
    line: dict[str, Any],
    facts: OrgFacts,
    customer: CustomerFact,
    book: RuleBook,
    as_of: date,
    open_invoices: dict[str, InvoiceFact],
    covered: dict[str, str],
) -> str | None:
    inv = open_invoices.get(line["external_id"])
    label = f"invoice {line['number']}"
    if inv is None:
        return f"{label} {GONE}"
    pause, _ = invoice_pause(facts, customer, inv, as_of, book.plans.grace_days)
    if pause is not None:
        return f"{label} is paused meanwhile ({pause.replace('_', ' ')})"
    fired = facts.history.fired(inv.external_id)
    if settlement_for(book, inv, fired, facts.since_for(EARLY_PAYMENT)) is not None:
        return f"{label} awaits an early-payment settlement"
    if before_due_passed(line, as_of):
        return f"{label} is due now; a due-soon reminder no longer fits"
    if inv.currency in covered and line.get("days_overdue", 0) > 0:
        return f"{label}: {covered[inv.currency]}"
    return None


def _instalment_due(
    line: dict[str, Any],
    facts: OrgFacts,
    customer: CustomerFact,
    book: RuleBook,
    as_of: date,
    notes: list[str],
) -> bool:
    plan = next(
        (p for p in facts.plans.get(customer.external_id, ()) if p.id == line["plan"]), None
    )
    if plan is None:
        notes.append(f"payment plan {line['plan']} was cancelled meanwhile")
        return False
    state = plan_state(plan, customer, as_of, book.plans.grace_days)
    if state.status != HONOURED:
        notes.append(f"payment plan {plan.id} is {state.status}")
        return False
    due = sum((i.amount for i in plan.instalments if i.number <= line["number"]), Decimal(0))
    if state.paid >= due:
        notes.append(f"instalment {line['number']} of plan {plan.id} was paid meanwhile")
        return False
    return True
