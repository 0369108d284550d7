"""What changed between two rule sets, in words: steps, segments, templates, discounts,
credit-hold thresholds and contact limits. Both documents are normalised ones (as stored)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from policy import words

SETTINGS = {
    "discounts.early_payment": "Early-payment discount",
    "discounts.settlement_offers": "Settlement offers",
    "credit_hold": "Credit hold",
    "limits.caps": "Caps on messages",
    "limits.quiet_hours": "Quiet hours",
    "limits.business_days": "Business days",
    "limits.timezone_from": "Time zone used",
    "limits.approve_runs_over": "Runs that wait for approval",
    "payment_plans": "Payment-plan reminders",
    "unapplied_credit": "Unapplied credit",
    "invoice_delivery": "Invoice delivery",
    "default_policy": "Default policy",
    "name": "Name",
}


@dataclass
class Change:
    section: str
    summary: str
    lines: list[str] = field(default_factory=list)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    changes += _policies(old.get("policies", []), new.get("policies", []))
    changes += _keyed("Segments", old.get("segments", []), new.get("segments", []), _segment_lines)
    changes += _templates(old.get("templates", {}), new.get("templates", {}))
    for path, label in SETTINGS.items():
        before, after = _at(old, path), _at(new, path)
        if before != after:
            changes.append(Change("Settings", f"{label} changed", _setting(path, before, after)))
    return changes


def _at(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _setting(path: str, before: Any, after: Any) -> list[str]:
    return [f"was: {_describe(path, before)}", f"now: {_describe(path, after)}"]


def _describe(path: str, value: Any) -> str:
    if value is None or value == []:
        return "none"
    if path == "credit_hold":
        conds = " or ".join(words.condition(c) for c in value["place_when_any"])
        return f"hold when {conds} (reason: {value['reason']})"
    if path == "discounts.early_payment":
        if value.get("percent"):
            return f"{value['percent']}% off if paid within {words.days(value['days'])}"
        return "each invoice's own terms"
    if path == "limits.caps":
        return "; ".join(f"{c['messages']} per {words.days(c['days'])}" for c in value)
    if path == "limits.quiet_hours":
        return f"from {value['start']} to {value['end']}"
    if path == "limits.business_days":
        return ", ".join(words.WEEKDAYS.get(d, d) for d in value)
    if path == "discounts.settlement_offers":
        return "; ".join(
            f"{o['percent']}% off after {words.days(o['min_days_overdue'])} overdue" for o in value
        )
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {words.value(v)}" for k, v in value.items())
    return words.value(value)


def _keyed(section: str, old: list[dict], new: list[dict], lines: Any) -> list[Change]:
    before = {item["key"]: item for item in old}
    after = {item["key"]: item for item in new}
    out = []
    for key in after.keys() - before.keys():
        out.append(Change(section, f"Added “{_label(after[key])}”", lines(None, after[key])))
    for key in before.keys() - after.keys():
        out.append(Change(section, f"Removed “{_label(before[key])}”", lines(before[key], None)))
    for key in sorted(before.keys() & after.keys()):
        if before[key] != after[key]:
            out.append(
                Change(section, f"Changed “{_label(after[key])}”", lines(before[key], after[key]))
            )
    return out


def _label(item: dict[str, Any]) -> str:
    return item.get("name") or item["key"]


def _segment_lines(old: dict | None, new: dict | None) -> list[str]:
    out = []
    if old is not None:
        out.append(f"was: {words.segment(old)}, policy {old['policy'] or 'none'}")
    if new is not None:
        out.append(f"now: {words.segment(new)}, policy {new['policy'] or 'none'}")
    return out


def _policies(old: list[dict], new: list[dict]) -> list[Change]:
    before = {p["key"]: p for p in old}
    after = {p["key"]: p for p in new}
    out = []
    for key in after.keys() - before.keys():
        steps = [words.step(s) for s in after[key]["steps"]]
        out.append(Change("Policies", f"Added policy “{_label(after[key])}”", steps))
    for key in before.keys() - after.keys():
        out.append(Change("Policies", f"Removed policy “{_label(before[key])}”"))
    for key in sorted(before.keys() & after.keys()):
        section = f"Policy “{_label(after[key])}”"
        out += _keyed(section, before[key]["steps"], after[key]["steps"], _step_lines)
        if before[key].get("catch_up") != after[key].get("catch_up"):
            out.append(Change(section, "Catching up changed", [after[key]["catch_up"]]))
    return out


def _step_lines(old: dict | None, new: dict | None) -> list[str]:
    if old is None or new is None:
        return [words.step(old or new or {})]
    return [f"was: {words.step(old)}", f"now: {words.step(new)}"]


def _templates(old: dict[str, dict], new: dict[str, dict]) -> list[Change]:
    out = []
    for key in sorted(new.keys() - old.keys()):
        out.append(Change("Templates", f"Added template “{key}”", [new[key]["subject"]]))
    for key in sorted(old.keys() - new.keys()):
        out.append(Change("Templates", f"Removed template “{key}”"))
    for key in sorted(old.keys() & new.keys()):
        lines = []
        if old[key]["subject"] != new[key]["subject"]:
            lines += [f"subject was: {old[key]['subject']}", f"subject now: {new[key]['subject']}"]
        if old[key]["body"] != new[key]["body"]:
            lines += _text_diff(old[key]["body"], new[key]["body"])
        if lines:
            out.append(Change("Templates", f"Changed template “{key}”", lines))
    return out


def _text_diff(old: str, new: str) -> list[str]:
    out = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("- "):
            out.append(f"body line removed: {line[2:]}")
        elif line.startswith("+ "):
            out.append(f"body line added: {line[2:]}")
    return out
