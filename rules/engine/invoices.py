"""Each open invoice of one customer: the step it is due for, its pauses, its notes and tasks,
a reminder held back by do-not-contact, settlement offers and early-payment settlements.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from rules.engine.conditions import Aggregate
from rules.engine.credit import CREDIT_PAUSE
from rules.engine.decisions import ActionKind
from rules.engine.decisions import FiringClaim
from rules.engine.discounts import Settlement
from rules.engine.discounts import early_offer
from rules.engine.discounts import offer_item
from rules.engine.discounts import settlement_for
from rules.engine.dunning import HELD
from rules.engine.dunning import RESUMED
from rules.engine.dunning import Candidate
from rules.engine.dunning import current_step
from rules.engine.dunning import held_reminder
from rules.engine.dunning import last_fired
from rules.engine.dunning import next_candidate
from rules.engine.dunning import policy_rule
from rules.engine.facts import Firing
from rules.engine.facts import InvoiceFact
from rules.engine.messages import OFFER
from rules.engine.messages import STEP
from rules.engine.messages import MessageItem
from rules.engine.messages import invoice_line
from rules.engine.run import CustomerRun
from rules.pauses.checks import invoice_pause
from rules.ruleset.book import Policy
from rules.ruleset.book import StepAction
from rules.ruleset.features import EARLY_PAYMENT


def never_chased(run: CustomerRun, open_invoices: list[InvoiceFact]) -> None:
    """A merged or deleted customer's invoices are not chased: each is suppressed, saying why."""
    pause = "merged" if run.customer.merged_into is not None else "deleted"
    detail = f"merged into {run.customer.merged_into}" if pause == "merged" else ""
    for inv in open_invoices:
        run.suppress(inv.external_id, "*", "*", "*", pause, detail)


def invoice_steps(run: CustomerRun, inv: InvoiceFact) -> None:
    """What one open invoice gets today: a settlement of its discount if it was paid on terms;
    else, unless a pause (dispute, promise, plan, credit) holds it back, the policy's next step
    (or the reminder do-not-contact held back) and the offers it qualifies for."""
    fired = run.facts.history.fired(inv.external_id)
    if inv.last_paid_on is not None:
        since = run.facts.since_for(EARLY_PAYMENT)
        settlement = settlement_for(run.book, inv, fired, since)
        if settlement is not None:
            _settle(run, inv, settlement, fired)
            return
    days = run.days[inv.external_id]
    agg = run.aggs[inv.currency]
    pause, checks = invoice_pause(
        run.facts, run.customer, inv, run.as_of, run.book.plans.grace_days
    )
    if pause is None and days > 0 and inv.currency in run.covered:
        pause = CREDIT_PAUSE
        why = run.covered[inv.currency]
        checks = [*checks, {"pause": CREDIT_PAUSE, "active": True, "detail": why}]
    policy = run.policy
    candidate = None
    if policy is not None:
        done = last_fired(policy, fired) if fired else (-1, None)
        since = run.facts.rules_since
        segment = run.segment.key if run.segment else None
        candidate = next_candidate(
            policy, inv, days, fired, agg, run.as_of, since, done, segment=segment
        )
    if pause is not None:
        if candidate is not None and policy is not None:
            period = str(candidate.item.period)
            step = candidate.step.key
            run.suppress(inv.external_id, policy.rule, step, period, pause, _active(checks))
        _offers(run, inv, fired, days, pause, checks)
        return
    if policy is not None:
        if policy.places_holds:
            step_now = candidate.step if candidate else current_step(policy, done[0])
            if step_now is not None and step_now.action("credit_hold") is not None:
                run.step_holds.append(f"{inv.number or inv.external_id}: step {step_now.key}")
        if candidate is not None:
            _fire(run, inv, policy, candidate, days, agg, checks)
        elif fired:
            _resume(run, inv, policy, fired, days, agg, checks)
    if run.book.offers and days >= run.min_offer_days:
        _offers(run, inv, fired, days, None, checks)


def _fire(
    run: CustomerRun,
    inv: InvoiceFact,
    policy: Policy,
    cand: Candidate,
    days: int,
    agg: Aggregate,
    checks: list[dict[str, Any]],
) -> None:
    step, rule = cand.step, policy_rule(policy)
    claim = FiringClaim(
        rule,
        step.key,
        inv.external_id,
        str(cand.item.period),
        inv.balance,
        customer=run.customer.external_id,
    )
    explanation = _step_explanation(inv, cand, days, agg, checks)
    reminder = step.action(ActionKind.REMINDER)
    if step.action(ActionKind.RELEASE_HOLD) is not None:
        run.explicit_release.append(f"{inv.number or inv.external_id}: step {step.key}")
    run.evaluation_claims.append(claim)
    if reminder is not None and run.customer.do_not_contact:
        # The step is reached (its notes and tasks happen now); its reminder is owed.
        run.suppress(inv.external_id, rule, step.key, claim.period, "do_not_contact")
        run.evaluation_claims.append(dataclasses.replace(claim, step=step.key + HELD))
    elif reminder is not None:
        discount = early_offer(run.book, inv, run.as_of)
        line = invoice_line(inv, days, step.key, discount)
        position, template = cand.item.position, reminder.template
        item = MessageItem(
            STEP, rule, step.key, position, template, claim, line, explanation, reminder.channel
        )
        run.items.append(item)
    for j, action in enumerate(step.actions):
        if action.type in (ActionKind.NOTE, ActionKind.TASK):
            _note(run, inv, rule, f"{step.key}:{action.type}:{j}", claim, action, days, explanation)


def _resume(
    run: CustomerRun,
    inv: InvoiceFact,
    policy: Policy,
    fired: list[Firing],
    days: int,
    agg: Aggregate,
    checks: list[dict[str, Any]],
) -> None:
    """The reminder do-not-contact held back, sent once contact is allowed again."""
    item = held_reminder(policy, fired)
    if item is None or item.offset < 0 <= days:
        return  # nothing owed; a "due soon" message is never sent once the invoice is due
    step, rule, period = policy.steps[item.step_index], policy.rule, str(item.period)
    if run.customer.do_not_contact:
        run.suppress(inv.external_id, rule, step.key, period, "do_not_contact")
        return
    cid = run.customer.external_id
    claim = FiringClaim(rule, step.key + RESUMED, inv.external_id, period, inv.balance, cid)
    explanation = _step_explanation(inv, Candidate(item, step, [], ()), days, agg, checks)
    explanation["resumed"] = "held back while the customer was do-not-contact"
    line = invoice_line(inv, days, step.key, early_offer(run.book, inv, run.as_of))
    reminder = step.action(ActionKind.REMINDER)
    if reminder is None:
        return  # held_reminder only picks a step with a reminder
    template = reminder.template
    run.evaluation_claims.append(claim)
    position, channel = item.position, reminder.channel
    run.items.append(
        MessageItem(STEP, rule, step.key, position, template, claim, line, explanation, channel)
    )


def _note(
    run: CustomerRun,
    inv: InvoiceFact,
    rule: str,
    step_key: str,
    claim: FiringClaim,
    action: StepAction,
    days: int,
    explanation: dict[str, Any],
) -> None:
    line = invoice_line(inv, days, step_key, None)
    name = f"the {action.type} text of step {step_key}"
    payload: dict[str, Any] = {
        "on": action.on if action.type == ActionKind.NOTE else "customer",
        "invoice": inv.external_id,
        "customer": run.customer.external_id,
        "text": run.note_text(action.text or "", line, name),
    }
    if action.type == ActionKind.TASK:
        payload["assignee"] = action.assignee
    run.add(
        action.type,
        rule,
        step_key,
        inv.external_id,
        claim.period,
        run.now,
        payload,
        explanation,
        [claim],
    )


def _offers(
    run: CustomerRun,
    inv: InvoiceFact,
    fired: list[Firing],
    days: int,
    pause: str | None,
    checks: list[dict[str, Any]],
) -> None:
    if not run.book.offers:
        return
    made = {f.rule for f in fired if f.step == "offer"}
    highest_made = max(
        (o.min_days_overdue for o in run.book.offers if f"offer:{o.key}" in made), default=0
    )
    eligible = [
        o
        for o in run.book.offers
        if days >= o.min_days_overdue > highest_made and inv.balance >= o.min_balance
    ]
    if not eligible:
        return
    offer = max(eligible, key=lambda o: o.min_days_overdue)
    rule = f"offer:{offer.key}"
    if pause is not None or run.customer.do_not_contact:
        run.suppress(
            inv.external_id, rule, "offer", "0", pause or "do_not_contact", _active(checks)
        )
        return
    claim = FiringClaim(
        rule, "offer", inv.external_id, "0", inv.balance, customer=run.customer.external_id
    )
    explanation = {
        "invoice": inv.external_id,
        "offer": offer.key,
        "days_overdue": days,
        "min_days_overdue": offer.min_days_overdue,
        "balance": str(inv.balance),
        "percent": str(offer.percent),
        "pauses_checked": checks,
    }
    line = {
        k: (str(v) if not isinstance(v, str) else v)
        for k, v in offer_item(offer, inv, run.as_of).items()
    }
    run.evaluation_claims.append(claim)
    run.items.append(
        MessageItem(OFFER, rule, "offer", -1, offer.template, claim, line, explanation)
    )


def _settle(
    run: CustomerRun, inv: InvoiceFact, settlement: Settlement, fired: list[Firing]
) -> None:
    if any(f.rule == settlement.rule and f.step == "settle" for f in fired):
        return  # decided before; the invoice stays unchased until it is written off
    claim = FiringClaim(
        settlement.rule,
        "settle",
        inv.external_id,
        "0",
        settlement.amount,
        customer=run.customer.external_id,
    )
    payload = {
        "invoice": inv.external_id,
        "number": inv.number,
        "customer": run.customer.external_id,
        "amount": str(settlement.amount),
        "currency": inv.currency,
        "on": run.as_of.isoformat(),
    }
    explanation = dict(settlement.explanation, invoice=inv.external_id)
    run.evaluation_claims.append(claim)
    run.add(
        ActionKind.SETTLE_DISCOUNT,
        settlement.rule,
        "settle",
        inv.external_id,
        "0",
        run.now,
        payload,
        explanation,
        [claim],
    )


def _step_explanation(
    inv: InvoiceFact, cand: Candidate, days: int, agg: Aggregate, checks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "invoice": inv.external_id,
        "number": inv.number,
        "step": cand.step.key,
        "period": cand.item.period,
        "offset_days": cand.item.offset,
        "due_date": _iso(inv.anchor),
        "days_overdue": days,
        "balance": str(inv.balance),
        "currency": inv.currency,
        "customer_total_overdue": str(agg.total_overdue),
        "conditions": cand.conditions,
        "passed_over": list(cand.passed_over),
        "pauses_checked": checks,
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _active(checks: list[dict[str, Any]]) -> str:
    return "; ".join(c["detail"] for c in checks if c["active"])
