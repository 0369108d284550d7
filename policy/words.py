"""Plain words for the parts of a rule set: timings, conditions, actions, days of the week.

Shared by the editor's forms (as choices), the diff and the written policy.
"""

from __future__ import annotations

import re
from typing import Any

FACTS = {
    "invoice_amount": "the invoice amount",
    "invoice_balance": "the invoice balance",
    "currency": "the invoice currency",
    "customer_total_overdue": "the customer's total overdue",
    "overdue_invoice_count": "the customer's number of overdue invoices",
    "oldest_overdue_days": "the days the customer's oldest invoice is overdue",
    "days_overdue": "the days the invoice is overdue",
    "segment": "the customer's segment",
}
OPS = {
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
}
ACTIONS = {
    "reminder": "send a reminder",
    "note": "add a note",
    "task": "create a task",
    "credit_hold": "place a credit hold",
    "release_hold": "release the credit hold",
}
WEEKDAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


def problem(message: str) -> str:
    """A validation message with the document's codes (facts, operators) in words."""
    wrong_op = re.fullmatch(r"'(\w*)' is not an operator for (\w+); use one of (.*)", message)
    if wrong_op:
        op, fact, allowed = wrong_op.groups()
        choices = ", ".join(f"“{OPS.get(o.strip(), o.strip())}”" for o in allowed.split(","))
        said = f"“{OPS[op]}”" if op in OPS else "this choice"
        return f"{said} does not apply to {FACTS.get(fact, fact)}; choose {choices}"
    for code, text in FACTS.items():
        message = re.sub(rf"'{code}'|\b{code}\b", text, message)
    return message


def sentence(text: str) -> str:
    """`text` with a capital first letter (str.capitalize would lower the rest: "usd")."""
    return text[:1].upper() + text[1:]


def days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def offset(days_from_due: int) -> str:
    """-3 -> "3 days before the due date"; 0 -> "on the due date"."""
    if days_from_due == 0:
        return "on the due date"
    where = "before" if days_from_due < 0 else "after"
    return f"{days(abs(days_from_due))} {where} the due date"


def value(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def condition(cond: dict[str, Any]) -> str:
    fact = FACTS.get(cond["fact"], cond["fact"].replace("_", " "))
    where = f" in {cond['currency']}" if cond.get("currency") else ""
    return f"{fact}{where} {OPS.get(cond['op'], cond['op'])} {value(cond['value'])}"


def action(act: dict[str, Any], templates: dict[str, Any] | None = None) -> str:
    kind = act["type"]
    if kind == "reminder":
        name = act.get("template") or ""
        if act.get("channel") == "provider":
            return f"send each invoice by the accounting system's own email (reminder “{name}”)"
        return f"send the reminder “{name}” by email"
    if kind == "note":
        return f"add a note on the {act.get('on', 'invoice')}: “{act.get('text', '')}”"
    if kind == "task":
        return f"ask {act.get('assignee', '')} to: “{act.get('text', '')}”"
    return ACTIONS.get(kind, kind.replace("_", " "))


def step(st: dict[str, Any]) -> str:
    """One sentence: when, under which conditions, what happens."""
    when = sentence(offset(st["offset_days"]))
    conds = st.get("conditions") or []
    if conds:
        when += ", when " + " and ".join(condition(c) for c in conds)
    what = "; ".join(action(a) for a in st["actions"])
    out = f"{when}: {what}."
    repeat = st.get("repeat")
    if repeat:
        out += f" Repeated every {days(repeat['every_days'])}, at most {repeat['limit']} times."
    return out


def segment(seg: dict[str, Any]) -> str:
    m = seg["match"]
    parts = []
    if m.get("tags_any"):
        parts.append("tagged " + " or ".join(m["tags_any"]))
    if m.get("currencies"):
        parts.append("billing in " + " or ".join(m["currencies"]))
    if m.get("billed_12m_min") is not None:
        parts.append(f"billed at least {m['billed_12m_min']} in the last 12 months")
    if m.get("billed_12m_max") is not None:
        parts.append(f"billed at most {m['billed_12m_max']} in the last 12 months")
    if m.get("avg_days_late_min") is not None:
        parts.append(f"paying on average at least {days(m['avg_days_late_min'])} late")
    if m.get("avg_days_late_max") is not None:
        parts.append(f"paying on average at most {days(m['avg_days_late_max'])} late")
    return "customers " + (", ".join(parts) if parts else "of every kind")
