"""The one consolidated reminder per customer per run: every line the customer is due, led by
the highest step, scheduled for the next time the limits allow.
"""

from __future__ import annotations

from typing import Any

from rules.engine.credit import credit_lines
from rules.engine.decisions import ActionKind
from rules.engine.messages import MessageItem
from rules.engine.messages import reminder_payload
from rules.engine.run import CustomerRun
from rules.engine.timing import next_allowed


def consolidated_reminder(run: CustomerRun) -> None:
    """One reminder for all the customer's lines of the day, at the next time the limits
    allow (quiet hours, business days, caps), or merged into the reminder already planned."""
    if not run.items:
        return
    items = sorted(run.items, key=_line_order)
    lead = items[0]
    cid = run.customer.external_id
    planned = run.facts.history.planned_reminders.get(cid)
    if planned is not None:
        merge_into, when, waited = (
            planned[0],
            planned[1],
            ["joins the reminder already planned"],
        )
    else:
        tz = run.timezone()
        sent = run.facts.history.messages.get(cid, [])
        merge_into = None
        when, waited = next_allowed(run.now, tz, run.book.limits, sent)
    payload = reminder_payload(lead.template or "", run.customer, items)
    payload["step"] = {"key": lead.step, "name": run.step_name(lead)}
    payload["channel"] = lead.channel
    currencies = {i.line["currency"] for i in items if i.line.get("currency")}
    payload["credit"] = credit_lines(run.customer, currencies)
    explanation = {
        "lead": {"rule": lead.rule, "step": lead.step, "template": lead.template},
        "items": [i.explanation for i in items],
        "schedule": {
            "earliest": run.now.isoformat(),
            "scheduled_for": when.isoformat(),
            "timezone": run.timezone(),
            "waited_for": waited,
        },
    }
    claims = [i.claim for i in items]
    run.add(
        ActionKind.REMINDER,
        lead.rule,
        lead.step,
        f"customer:{cid}",
        run.as_of.isoformat(),
        when,
        payload,
        explanation,
        claims,
        merge_into,
    )


def _line_order(item: MessageItem) -> tuple[Any, ...]:
    """Highest step first; within a step, the oldest due date first."""
    when = item.line.get("due_date") or item.line.get("due_on") or ""
    return (-item.priority[0], -item.priority[1], when, item.claim.key)
