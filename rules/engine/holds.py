"""Credit holds of one customer: placed and released as single decisions, by hold rules or
by steps; a hold placed by hand stays until a person or a release step lifts it.
"""

from __future__ import annotations

from typing import Any

from rules.engine.conditions import customer_value
from rules.engine.conditions import holds
from rules.engine.conditions import plain
from rules.engine.decisions import ActionKind
from rules.engine.run import CustomerRun

HOLD_RULE = "hold"


def credit_holds(run: CustomerRun) -> None:
    """Place or release the customer's credit hold, once: wanted while a hold rule or a step
    asks for it. A release still planned when the hold is wanted again is cancelled instead."""
    c = run.customer
    rule_hits = _hold_rule_hits(run)
    desired = bool(rule_hits or run.step_holds)
    why = {
        "hold_rules": rule_hits,
        "hold_steps": run.step_holds,
        "release_steps": run.explicit_release,
    }
    target, period = f"customer:{c.external_id}", run.as_of.isoformat()
    planned = run.facts.history.planned_holds.get(c.external_id)
    if desired and not c.on_hold:
        if planned is not None and planned[1] == ActionKind.RELEASE_HOLD:
            why_not = "cancelled: the hold condition returned before the release was performed"
            run.evaluation.cancellations.append((planned[0], why_not))
            return
        reason = run.book.hold_reason or "Overdue balance"
        payload = {"customer": c.external_id, "on_hold": True, "reason": reason}
        run.add(
            ActionKind.CREDIT_HOLD,
            HOLD_RULE,
            "place",
            target,
            period,
            run.now,
            payload,
            why,
            [],
        )
        return
    if desired or not c.on_hold:
        return
    if not (c.hold_by_rule or run.explicit_release):
        return  # a hold placed by hand stays until a person or a release step lifts it
    if planned is not None and planned[1] == ActionKind.CREDIT_HOLD:
        reason = "cancelled: the hold condition cleared before the hold was performed"
        run.evaluation.cancellations.append((planned[0], reason))
        return
    payload = {"customer": c.external_id, "on_hold": False, "reason": "hold condition cleared"}
    run.add(
        ActionKind.RELEASE_HOLD,
        HOLD_RULE,
        "release",
        target,
        period,
        run.now,
        payload,
        why,
        [],
    )


def _hold_rule_hits(run: CustomerRun) -> list[dict[str, Any]]:
    hits = []
    home = run.facts.currency
    for cond in run.book.hold_conditions:
        for currency, agg in sorted(run.aggs.items()):
            if currency in run.covered or not cond.applies_in(currency, home):
                continue
            seen = customer_value(cond.fact, agg, run.segment.key if run.segment else None)
            if holds(cond, seen):
                hits.append(
                    {
                        "fact": cond.fact,
                        "op": cond.op,
                        "value": plain(cond.value),
                        "seen": plain(seen),
                        "currency": currency,
                    }
                )
    return hits
