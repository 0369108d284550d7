"""An action's explanation (what the rules recorded when they decided it) in plain words: the
rule set and version, the step, each condition with the value it saw, the pauses checked."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

OPS = {
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
}
FACTS = {
    "invoice_amount": "the invoice amount",
    "invoice_balance": "the invoice balance",
    "currency": "the currency",
    "customer_total_overdue": "the customer's total overdue",
    "overdue_invoice_count": "the number of overdue invoices",
    "oldest_overdue_days": "the oldest invoice's days overdue",
    "days_overdue": "the days overdue",
}
PAUSES = {
    "dispute": "dispute",
    "promise_to_pay": "promise to pay",
    "payment_plan": "payment plan",
    "merged": "merged into another customer",
    "deleted": "deleted",
    "do_not_contact": "do-not-contact",
}


@dataclass
class Why:
    summary: list[str] = field(default_factory=list)
    invoices: list[tuple[str, list[str]]] = field(default_factory=list)  # heading, lines


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def condition(c: dict[str, Any]) -> str:
    fact = FACTS.get(c.get("fact", ""), str(c.get("fact", "")).replace("_", " "))
    op = OPS.get(c.get("op", ""), c.get("op", ""))
    where = f" in {c['currency']}" if c.get("currency") else ""
    verdict = "" if "result" not in c else (": met" if c["result"] else ": not met")
    return f"{fact}{where} {op} {_plain(c.get('value'))}; it was {_plain(c.get('seen'))}{verdict}"


def pause(p: dict[str, Any]) -> str:
    name = PAUSES.get(p.get("pause", ""), str(p.get("pause", "")).replace("_", " "))
    state = "in force" if p.get("active") else "not in force"
    detail = f" ({p['detail']})" if p.get("detail") else ""
    return f"{name}: {state}{detail}"


def explain(action: Any, local: Any) -> Why:
    """`local` turns an ISO instant into the organization's local time."""
    e = action.explanation or {}
    why = Why()
    if e.get("summary"):
        why.summary.append(str(e["summary"]))
    if e.get("version") is not None or e.get("rule_set"):
        name = f"“{e['rule_set']}” " if e.get("rule_set") else ""
        why.summary.append(
            f"Decided on {e.get('as_of', action.decided_on)} by rule set {name}"
            f"version {e.get('version') or action.rule_version}, rule {action.rule}, "
            f"step {action.step}."
        )
    elif not e.get("summary"):
        why.summary.append(
            f"Decided on {action.decided_on} by rule {action.rule}, step {action.step}."
        )
    if e.get("policy") or e.get("segment"):
        why.summary.append(
            f"The customer follows policy {e.get('policy') or 'none'}"
            f" (segment {e.get('segment') or 'none: the default'})."
        )
    checks = [c for c in e.get("customer_checks", []) if c.get("active")]
    if e.get("customer_checks"):
        why.summary.append(
            "Customer checks: "
            + ("; ".join(pause(c) for c in checks) if checks else "none in force")
            + " (merged, deleted, do-not-contact)."
        )
    for hit in e.get("hold_rules", []):
        why.summary.append(f"Hold condition met: {condition(hit)}.")
    if e.get("resumed"):
        why.summary.append(f"Sent now: {e['resumed']}.")
    schedule = e.get("schedule") or {}
    if schedule.get("scheduled_for"):
        why.summary.append(f"Scheduled for {local(schedule['scheduled_for'])}.")
    items = e.get("items") or ([e] if e.get("invoice") else [])
    for item in items:
        why.invoices.append(_item(item))
    return why


def _item(item: dict[str, Any]) -> tuple[str, list[str]]:
    number = item.get("number") or item.get("invoice") or ""
    lines = []
    if item.get("days_overdue") is not None:
        days = int(item["days_overdue"])
        when = f"{days} days past" if days >= 0 else f"{-days} days before"
        lines.append(
            f"{when} its due date {item.get('due_date', '')}; balance {item.get('balance', '')} "
            f"{item.get('currency', '')}"
        )
    if item.get("step"):
        offset = item.get("offset_days")
        at = f", the step for {offset:+d} days" if isinstance(offset, int) else ""
        lines.append(f"step “{item['step']}”{at}")
    if item.get("plan") is not None:
        state = item.get("plan_state", "")
        lines.append(f"payment plan {item['plan']}, instalment {item.get('instalment')}: {state}")
    for c in item.get("conditions", []):
        lines.append("condition: " + condition(c))
    if item.get("passed_over"):
        lines.append("passed over: " + ", ".join(str(p) for p in item["passed_over"]))
    for p in item.get("pauses_checked", []):
        lines.append("pause checked: " + pause(p))
    heading = f"Invoice {number}" if number else "Item"
    return heading, lines
