"""Pauses, pure: disputes, promises to pay and payment plans, as of one local date.

Each check says whether it pauses the invoice and why, and the explanation keeps the checks
that did not pause it too. Promises and plans resume dunning by themselves: a promise is broken
the day after `until` unless kept; a plan is broken once an instalment's date (plus grace) has
passed without the payments covering every instalment due so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rules.engine.facts import CustomerFact
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.engine.facts import PlanFact
from rules.engine.facts import PromiseFact

HONOURED = "honoured"
BROKEN = "broken"
COMPLETED = "completed"
CANCELLED = "cancelled"
NOT_STARTED = "not_started"


# The explanation of an invoice nothing could pause (shared: never mutated).
NO_PAUSES: list[dict[str, Any]] = [{"pause": "dispute", "active": False, "detail": ""}]


@dataclass(frozen=True, slots=True)
class PlanState:
    status: str
    paid: Decimal
    due_so_far: Decimal
    detail: str
    missed: int | None = None


def covered_balance(customer: CustomerFact, covers: Callable[[InvoiceFact], bool]) -> Decimal:
    """What is still open on the customer's invoices that `covers` picks."""
    return sum((i.balance for i in customer.invoices if i.is_open and covers(i)), Decimal(0))


def promise_state(promise: PromiseFact, customer: CustomerFact, day: date) -> str:
    """Where a promise to pay stands on `day`: not started, honoured (the pause holds),
    completed (paid, or the promised amount was), broken (past its date), or cancelled."""
    if promise.cancelled_on is not None and promise.cancelled_on <= day:
        return CANCELLED
    if day < promise.promised_on:
        return NOT_STARTED
    remaining = covered_balance(customer, promise.covers)
    paid = promise.balance_at_promise - remaining
    if remaining <= 0 or (promise.amount is not None and paid >= promise.amount):
        return COMPLETED
    return HONOURED if day <= promise.until else BROKEN


def plan_state(plan: PlanFact, customer: CustomerFact, day: date, grace_days: int) -> PlanState:
    """Where a payment plan stands on `day`: broken once an instalment is more than
    `grace_days` late and underpaid, completed once its invoices are paid, else honoured."""
    if plan.cancelled_on is not None and plan.cancelled_on <= day:
        return PlanState(CANCELLED, Decimal(0), Decimal(0), f"cancelled on {plan.cancelled_on}")
    if day < plan.created_on:
        return PlanState(NOT_STARTED, Decimal(0), Decimal(0), "not started")
    remaining = covered_balance(customer, lambda i: i.external_id in plan.invoice_ids)
    paid = max(plan.start_balance - remaining, Decimal(0))
    if remaining <= 0:
        return PlanState(COMPLETED, paid, plan.start_balance, "covered invoices paid")
    due = Decimal(0)
    for inst in plan.instalments:
        due += inst.amount
        if inst.due_on + timedelta(days=grace_days) < day and paid < due:
            detail = f"instalment {inst.number} due {inst.due_on} was missed (paid {paid} of {due})"
            return PlanState(BROKEN, paid, due, detail, inst.number)
    return PlanState(HONOURED, paid, due, f"instalments met so far (paid {paid})")


def invoice_pause(
    facts: OrgFacts, customer: CustomerFact, inv: InvoiceFact, day: date, grace_days: int
) -> tuple[str | None, list[dict[str, Any]]]:
    """The pause that holds this invoice back (None if none), and every check made."""
    cid = customer.external_id
    if (
        inv.external_id not in facts.disputes
        and cid not in facts.promises
        and cid not in facts.plans
    ):
        return None, NO_PAUSES
    checks: list[dict[str, Any]] = []
    blocking: str | None = None
    disputes = [d for d in facts.disputes.get(inv.external_id, ()) if d.active_on(day)]
    detail = f"open since {disputes[0].opened_on}, reason {disputes[0].reason}" if disputes else ""
    checks.append({"pause": "dispute", "active": bool(disputes), "detail": detail})
    if disputes:
        blocking = "dispute"
    for promise in facts.promises.get(customer.external_id, ()):
        if not promise.covers(inv):
            continue
        state = promise_state(promise, customer, day)
        active = state == HONOURED
        checks.append(
            {"pause": "promise_to_pay", "active": active, "detail": _promise_detail(promise, state)}
        )
        if active and blocking is None:
            blocking = "promise_to_pay"
    for plan in facts.plans.get(customer.external_id, ()):
        if inv.external_id not in plan.invoice_ids:
            continue
        plan_now = plan_state(plan, customer, day, grace_days)
        active = plan_now.status == HONOURED
        checks.append(
            {
                "pause": "payment_plan",
                "active": active,
                "detail": f"plan {plan.id}: {plan_now.status}, {plan_now.detail}",
            }
        )
        if active and blocking is None:
            blocking = "payment_plan"
    return blocking, checks


def _promise_detail(promise: PromiseFact, state: str) -> str:
    if state == BROKEN:
        resumed = promise.until + timedelta(days=1)
        return (
            f"promise {promise.id} until {promise.until} was broken; dunning resumed on {resumed}"
        )
    return f"promise {promise.id} until {promise.until}: {state}"


def customer_checks(customer: CustomerFact) -> list[dict[str, Any]]:
    """The customer-level reasons not to chase (merged, deleted, do-not-contact), each with
    whether it applies, for a decision's explanation."""
    return [
        {
            "pause": "merged",
            "active": customer.merged_into is not None,
            "detail": customer.merged_into or "",
        },
        {"pause": "deleted", "active": customer.deleted, "detail": ""},
        {"pause": "do_not_contact", "active": customer.do_not_contact, "detail": ""},
    ]
