"""Forms as a view of the rule-set document: each form's fields become the same document parts
the JSON view writes, and every document part becomes the fields that edit it.

Nothing here validates: the document goes through rules.ruleset.schema like any other, and its
errors (paths such as "policies[0].steps[1].offset_days") come back to the field that made
them through `field_errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from rules.engine.conditions import COUNT
from rules.engine.conditions import CURRENCY
from rules.engine.conditions import FACT_TYPES
from rules.engine.conditions import SEGMENT

CONDITION_ROWS = 3
HOLD_ROWS = 3
CAP_ROWS = 3
OFFER_ROWS = 2
STEP_ACTIONS = ("reminder", "note", "task", "credit_hold", "release_hold")


# A submitted form: werkzeug's (Immutable)MultiDict, as request.form gives it.
Form = MultiDict[str, Any]


def text(form: Form, name: str) -> str:
    return str(form.get(name, "") or "").strip()


def whole(value: str) -> int | str | None:
    """A whole number typed in a form; blank is None; anything else is kept as typed, so the
    schema names it at its field ("Not a valid integer.")."""
    value = value.strip()
    if not value:
        return None
    return int(value) if re.fullmatch(r"[+-]?\d{1,9}", value) else value


def amount(value: str) -> str | None:
    value = value.strip().replace(",", "")
    return value or None


def words_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def slug(name: str, taken: set[str] | frozenset[str] = frozenset(), fallback: str = "item") -> str:
    """A key for `name` (lowercase letters, digits, '-'), not one of `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:34] or fallback
    key, n = base, 2
    while key in taken:
        key = f"{base}-{n}"
        n += 1
    return key


# ---------------------------------------------------------------- conditions


def condition_from_form(form: Form, prefix: str) -> dict[str, Any] | None:
    fact = text(form, f"{prefix}.fact")
    if not fact:
        return None
    op = text(form, f"{prefix}.op")
    raw = text(form, f"{prefix}.value")
    kind = FACT_TYPES.get(fact)
    value: Any = raw
    if kind == COUNT:
        value = whole(raw)
        value = "" if value is None else value
    elif kind == CURRENCY:
        value = [c.upper() for c in words_list(raw)] if op in ("in", "not_in") else raw.upper()
    elif kind == SEGMENT:
        value = [k.lower() for k in words_list(raw)] if op in ("in", "not_in") else raw.lower()
    else:
        value = amount(raw) or ""
    out: dict[str, Any] = {"fact": fact, "op": op, "value": value}
    currency = text(form, f"{prefix}.currency").upper()
    if currency:
        out["currency"] = currency
    return out


def condition_to_form(cond: dict[str, Any], prefix: str) -> dict[str, str]:
    value = cond["value"]
    return {
        f"{prefix}.fact": cond["fact"],
        f"{prefix}.op": cond["op"],
        f"{prefix}.value": ", ".join(value) if isinstance(value, list) else str(value),
        f"{prefix}.currency": cond.get("currency") or "",
    }


# ---------------------------------------------------------------- steps


def step_from_form(form: Form, key: str) -> dict[str, Any]:
    """A policy step from the step form. `key` is the step's key (kept when editing)."""
    days = whole(text(form, "days"))
    timing = text(form, "timing") or "after"
    offset: Any = days
    if timing == "on":
        offset = 0
    elif isinstance(days, int):
        offset = -abs(days) if timing == "before" else abs(days)
    elif days is None:
        offset = "" if timing != "on" else 0
    conditions = [condition_from_form(form, f"conditions[{i}]") for i in range(CONDITION_ROWS)]
    step: dict[str, Any] = {
        "key": key,
        "name": text(form, "name"),
        "offset_days": offset,
        "conditions": [c for c in conditions if c is not None],
        "actions": step_actions(form),
    }
    every, limit = whole(text(form, "repeat.every_days")), whole(text(form, "repeat.limit"))
    if every is not None or limit is not None:
        step["repeat"] = {"every_days": every, "limit": limit}
    return step


def step_actions(form: Form) -> list[dict[str, Any]]:
    """The ticked actions, in a fixed order (their index maps errors back: `action_fields`)."""
    out: list[dict[str, Any]] = []
    if form.get("reminder"):
        reminder = {"type": "reminder", "template": text(form, "reminder.template")}
        if text(form, "reminder.channel") == "provider":
            reminder["channel"] = "provider"
        out.append(reminder)
    if form.get("note"):
        on = text(form, "note.on") or "invoice"
        out.append({"type": "note", "text": text(form, "note.text"), "on": on})
    if form.get("task"):
        out.append(
            {
                "type": "task",
                "text": text(form, "task.text"),
                "assignee": text(form, "task.assignee"),
                "on": text(form, "task.on") or "invoice",
            }
        )
    if form.get("credit_hold"):
        out.append({"type": "credit_hold"})
    if form.get("release_hold"):
        out.append({"type": "release_hold"})
    return out


def step_to_form(step: dict[str, Any]) -> dict[str, Any]:
    offset = step["offset_days"]
    out: dict[str, Any] = {
        "name": step.get("name", ""),
        "timing": "on" if offset == 0 else ("before" if offset < 0 else "after"),
        "days": "" if offset == 0 else str(abs(offset)),
    }
    for i, cond in enumerate(step.get("conditions", [])[:CONDITION_ROWS]):
        out.update(condition_to_form(cond, f"conditions[{i}]"))
    for act in step["actions"]:
        kind = act["type"]
        out[kind] = "on"
        for field in ("template", "text", "assignee", "on", "channel"):
            if act.get(field) is not None:
                out[f"{kind}.{field}"] = act[field]
    if step.get("repeat"):
        out["repeat.every_days"] = str(step["repeat"]["every_days"])
        out["repeat.limit"] = str(step["repeat"]["limit"])
    return out


def step_field(path: str, actions: list[dict[str, Any]]) -> str:
    """The step form's field for a step-relative error path ("actions[1].text" -> "note.text")."""
    if path == "offset_days":
        return "days"
    match = re.fullmatch(r"actions\[(\d+)\](?:\.(\w+))?", path)
    if match and int(match.group(1)) < len(actions):
        kind = actions[int(match.group(1))]["type"]
        return f"{kind}.{match.group(2)}" if match.group(2) else kind
    return path


# ---------------------------------------------------------------- segments


def segment_from_form(form: Form, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": text(form, "name"),
        "policy": text(form, "policy") or None,
        "match": {
            "tags_any": words_list(text(form, "match.tags_any")),
            "currencies": [c.upper() for c in words_list(text(form, "match.currencies"))],
            "billed_12m_min": amount(text(form, "match.billed_12m_min")),
            "billed_12m_max": amount(text(form, "match.billed_12m_max")),
            "avg_days_late_min": whole(text(form, "match.avg_days_late_min")),
            "avg_days_late_max": whole(text(form, "match.avg_days_late_max")),
        },
    }


def segment_to_form(segment: dict[str, Any]) -> dict[str, str]:
    m = segment["match"]
    out = {"name": segment.get("name", ""), "policy": segment.get("policy") or ""}
    out["match.tags_any"] = ", ".join(m.get("tags_any", []))
    out["match.currencies"] = ", ".join(m.get("currencies", []))
    for field in ("billed_12m_min", "billed_12m_max", "avg_days_late_min", "avg_days_late_max"):
        out[f"match.{field}"] = "" if m.get(field) is None else str(m[field])
    return out


# ---------------------------------------------------------------- discounts, holds and limits


def settings_from_form(form: Form, document: dict[str, Any]) -> dict[str, Any]:
    """`document` with its discounts, credit hold, plans and limits as the settings form says.
    The form's field names are the document's own paths, so errors need no mapping."""
    doc = dict(document)
    doc["discounts"] = {
        "early_payment": _early_payment(form),
        "settlement_offers": _rows(form, "discounts.settlement_offers", OFFER_ROWS, _offer),
    }
    holds = _rows(form, "credit_hold.place_when_any", HOLD_ROWS, condition_from_form)
    doc["credit_hold"] = (
        {"place_when_any": holds, "reason": text(form, "credit_hold.reason") or "Overdue balance"}
        if holds
        else None
    )
    quiet_start, quiet_end = (
        text(form, "limits.quiet_hours.start"),
        text(form, "limits.quiet_hours.end"),
    )
    approve = whole(text(form, "limits.approve_runs_over"))
    doc["limits"] = {
        "caps": _rows(form, "limits.caps", CAP_ROWS, _cap),
        "quiet_hours": {"start": quiet_start, "end": quiet_end}
        if quiet_start or quiet_end
        else None,
        "business_days": form.getlist("limits.business_days"),
        "timezone_from": text(form, "limits.timezone_from") or "customer",
        "approve_runs_over": approve,
    }
    doc["payment_plans"] = {
        "remind_days_before": [
            d
            for d in (whole(v) for v in words_list(text(form, "payment_plans.remind_days_before")))
            if d is not None
        ],
        "template": text(form, "payment_plans.template") or None,
        "grace_days": whole(text(form, "payment_plans.grace_days")) or 0,
    }
    doc["unapplied_credit"] = {
        "pause_when_covered": bool(form.get("unapplied_credit.pause_when_covered"))
    }
    doc["invoice_delivery"] = {
        "enabled": bool(form.get("invoice_delivery.enabled")),
        "after_days": whole(text(form, "invoice_delivery.after_days")) or 0,
    }
    return doc


def _early_payment(form: Form) -> dict[str, Any] | None:
    if not form.get("discounts.early_payment.enabled"):
        return None
    p = "discounts.early_payment"
    return {
        "percent": amount(text(form, f"{p}.percent")),
        "days": whole(text(form, f"{p}.days")),
        "use_invoice_terms": bool(form.get(f"{p}.use_invoice_terms")),
        "offer_in_reminders": bool(form.get(f"{p}.offer_in_reminders")),
        "settle_short_payments": bool(form.get(f"{p}.settle_short_payments")),
    }


def _rows(form: Form, prefix: str, count: int, read: Any) -> list[dict[str, Any]]:
    """The filled rows of a repeated group; the form says how many it showed (`.rows`)."""
    shown = whole(text(form, f"{prefix}.rows"))
    total = shown if isinstance(shown, int) and 0 < shown <= 100 else count
    rows = (read(form, f"{prefix}[{i}]") for i in range(total))
    return [r for r in rows if r is not None]


def _cap(form: Form, p: str) -> dict[str, Any] | None:
    messages, days = whole(text(form, f"{p}.messages")), whole(text(form, f"{p}.days"))
    if messages is None and days is None:
        return None
    return {"messages": messages, "days": days}


def _offer(form: Form, p: str) -> dict[str, Any] | None:
    if not text(form, f"{p}.percent") and not text(form, f"{p}.min_days_overdue"):
        return None
    return {
        "key": text(form, f"{p}.key") or slug(f"offer {p[-2]}"),
        "min_days_overdue": whole(text(form, f"{p}.min_days_overdue")),
        "percent": amount(text(form, f"{p}.percent")),
        "valid_days": whole(text(form, f"{p}.valid_days")),
        "min_balance": amount(text(form, f"{p}.min_balance")) or "0",
        "template": text(form, f"{p}.template"),
    }


def settings_to_form(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    early = doc["discounts"]["early_payment"]
    p = "discounts.early_payment"
    if early is not None:
        out[f"{p}.enabled"] = "on"
        out[f"{p}.percent"] = early["percent"] or ""
        out[f"{p}.days"] = "" if early["days"] is None else str(early["days"])
        for flag in ("use_invoice_terms", "offer_in_reminders", "settle_short_payments"):
            out[f"{p}.{flag}"] = "on" if early[flag] else ""
    else:
        out.update({f"{p}.use_invoice_terms": "on", f"{p}.offer_in_reminders": "on",
                    f"{p}.settle_short_payments": "on"})  # fmt: skip
    for i, offer in enumerate(doc["discounts"]["settlement_offers"]):
        for field, value in offer.items():
            out[f"discounts.settlement_offers[{i}].{field}"] = str(value)
    hold = doc.get("credit_hold")
    if hold:
        out["credit_hold.reason"] = hold["reason"]
        for i, cond in enumerate(hold["place_when_any"]):
            out.update(condition_to_form(cond, f"credit_hold.place_when_any[{i}]"))
    limits = doc["limits"]
    for i, cap in enumerate(limits["caps"]):
        out[f"limits.caps[{i}].messages"] = str(cap["messages"])
        out[f"limits.caps[{i}].days"] = str(cap["days"])
    quiet = limits.get("quiet_hours")
    out["limits.quiet_hours.start"] = quiet["start"] if quiet else ""
    out["limits.quiet_hours.end"] = quiet["end"] if quiet else ""
    out["limits.business_days"] = list(limits["business_days"])
    out["limits.timezone_from"] = limits["timezone_from"]
    approve = limits.get("approve_runs_over")
    out["limits.approve_runs_over"] = "" if approve is None else str(approve)
    plans = doc["payment_plans"]
    out["payment_plans.remind_days_before"] = ", ".join(str(d) for d in plans["remind_days_before"])
    out["payment_plans.template"] = plans["template"] or ""
    out["payment_plans.grace_days"] = str(plans["grace_days"])
    out["unapplied_credit.pause_when_covered"] = (
        "on" if doc["unapplied_credit"]["pause_when_covered"] else ""
    )
    out["invoice_delivery.enabled"] = "on" if doc["invoice_delivery"]["enabled"] else ""
    out["invoice_delivery.after_days"] = str(doc["invoice_delivery"]["after_days"])
    return out


def field_errors(errors: Mapping[str, str], prefix: str) -> tuple[dict[str, str], dict[str, str]]:
    """Errors under `prefix` keyed relative to it, and the rest (shown above the form)."""
    mine, rest = {}, {}
    for path, message in errors.items():
        if prefix and (path == prefix or path.startswith((prefix + ".", prefix + "["))):
            mine[path[len(prefix) :].lstrip(".")] = message
        elif not prefix:
            mine[path] = message
        else:
            rest[path] = message
    return mine, rest
