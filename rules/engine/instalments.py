"""Payment-plan instalments of one customer: the first unmet instalment is reminded of."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rules.engine.decisions import FiringClaim
from rules.engine.facts import PlanFact
from rules.engine.messages import INSTALMENT
from rules.engine.messages import MessageItem
from rules.engine.run import CustomerRun
from rules.pauses.checks import HONOURED
from rules.pauses.checks import plan_state


def plan_instalments(run: CustomerRun) -> None:
    """Reminders of the instalments due on the customer's honoured payment plans (when the
    rule set has a plan template)."""
    if run.book.plans.template is None:
        return
    for plan in run.facts.plans.get(run.customer.external_id, ()):
        _plan(run, plan)


def _plan(run: CustomerRun, plan: PlanFact) -> None:
    state = plan_state(plan, run.customer, run.as_of, run.book.plans.grace_days)
    if state.status != HONOURED:
        return
    target = f"plan:{plan.id}"
    fired = run.facts.history.fired(target)
    due_so_far = Decimal(0)
    for inst in plan.instalments:
        due_so_far += inst.amount
        if state.paid >= due_so_far:
            continue  # met
        reached = [
            d
            for d in run.book.plans.remind_days_before
            if run.as_of >= inst.due_on - timedelta(days=d)
        ]
        if not reached or run.as_of > inst.due_on + timedelta(days=run.book.plans.grace_days):
            return
        days_before = min(reached)
        step = f"instalment-{inst.number}"
        if any(f.step == step and int(f.period[1:]) <= days_before for f in fired):
            return
        rule, period = target, f"d{days_before}"
        if run.customer.do_not_contact:
            run.suppress(target, rule, step, period, "do_not_contact")
            return
        claim = FiringClaim(
            rule, step, target, period, inst.amount, customer=run.customer.external_id
        )
        line = {
            "plan": plan.id,
            "number": inst.number,
            "due_on": inst.due_on.isoformat(),
            "amount": str(inst.amount),
            "currency": plan.currency,
            "days_until": (inst.due_on - run.as_of).days,
        }
        explanation = {"plan": plan.id, "instalment": inst.number, "plan_state": state.detail}
        run.evaluation_claims.append(claim)
        item = MessageItem(
            INSTALMENT, rule, step, -1, run.book.plans.template, claim, line, explanation
        )
        run.items.append(item)
        return  # only the first unmet instalment is reminded of
