"""Checks across a rule set that field-by-field validation cannot make: references between
parts, uniqueness, step order, and templates that parse and render.

Each problem is reported at the path of the field to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rules.engine.conditions import CUSTOMER_FACTS
from rules.templates.render import template_error


def cross_check(doc: dict[str, Any]) -> dict[str, str]:
    """Problems across the parts of `doc`. A part that failed its own validation is absent from
    `doc`, and the checks that need it are skipped (its own problems are reported instead), so
    one pass lists every problem."""
    problems: dict[str, str] = {}
    for needs, check in _CHECKS:
        if all(part in doc for part in needs):
            check(problems, doc)
    return problems


def _keys_unique(problems: dict[str, str], doc: dict[str, Any]) -> None:
    _unique(problems, doc["policies"], "policies", "policy")
    _unique(problems, doc["segments"], "segments", "segment")


def _offers_unique(problems: dict[str, str], doc: dict[str, Any]) -> None:
    _unique(problems, doc["discounts"]["settlement_offers"], "discounts.settlement_offers", "offer")


def _default_policy(problems: dict[str, str], doc: dict[str, Any]) -> None:
    policies = {p["key"] for p in doc["policies"]}
    if doc["default_policy"] is not None and doc["default_policy"] not in policies:
        problems["default_policy"] = _unknown("policy", doc["default_policy"], policies)


def _segments(problems: dict[str, str], doc: dict[str, Any]) -> None:
    policies = {p["key"] for p in doc["policies"]}
    for i, segment in enumerate(doc["segments"]):
        _check_segment(problems, f"segments[{i}]", segment, policies)


def _policies(problems: dict[str, str], doc: dict[str, Any]) -> None:
    for i, policy in enumerate(doc["policies"]):
        _check_policy(problems, f"policies[{i}]", policy, set(doc["templates"]))


def _offer_templates(problems: dict[str, str], doc: dict[str, Any]) -> None:
    templates = set(doc["templates"])
    for i, offer in enumerate(doc["discounts"]["settlement_offers"]):
        if offer["template"] not in templates:
            path = f"discounts.settlement_offers[{i}].template"
            problems[path] = _unknown("template", offer["template"], templates)


def _plan_template(problems: dict[str, str], doc: dict[str, Any]) -> None:
    templates = set(doc["templates"])
    plan_template = doc["payment_plans"]["template"]
    if plan_template is not None and plan_template not in templates:
        problems["payment_plans.template"] = _unknown("template", plan_template, templates)


def _templates_render(problems: dict[str, str], doc: dict[str, Any]) -> None:
    for key, template in doc["templates"].items():
        for part in ("subject", "body"):
            error = template_error(template[part], f"template '{key}' {part}")
            if error:
                problems[f"templates.{key}.{part}"] = error


def _segment_conditions(problems: dict[str, str], doc: dict[str, Any]) -> None:
    """A condition on the customer's segment names segments that exist."""
    known = {s["key"] for s in doc["segments"]}
    places = [
        (f"policies[{i}].steps[{j}].conditions", step["conditions"])
        for i, policy in enumerate(doc.get("policies", []))
        for j, step in enumerate(policy["steps"])
    ]
    if doc.get("credit_hold"):
        places.append(("credit_hold.place_when_any", doc["credit_hold"]["place_when_any"]))
    for path, conditions in places:
        for k, cond in enumerate(conditions):
            if cond["fact"] != "segment":
                continue
            keys = cond["value"] if isinstance(cond["value"], list) else [cond["value"]]
            for key in keys:
                if key not in known:
                    problems[f"{path}[{k}].value"] = _unknown("segment", key, known)


_CHECKS: tuple[tuple[tuple[str, ...], Callable[[dict[str, str], dict[str, Any]], None]], ...] = (
    (("policies", "segments"), _keys_unique),
    (("discounts",), _offers_unique),
    (("policies", "default_policy"), _default_policy),
    (("policies", "segments"), _segments),
    (("policies", "templates"), _policies),
    (("discounts", "templates"), _offer_templates),
    (("discounts",), lambda problems, doc: _check_discounts(problems, doc["discounts"])),
    (("credit_hold",), lambda problems, doc: _check_hold(problems, doc["credit_hold"])),
    (("payment_plans", "templates"), _plan_template),
    (("limits",), lambda problems, doc: _check_limits(problems, doc["limits"])),
    (("templates",), _templates_render),
    (("segments", "policies", "credit_hold"), _segment_conditions),
)


def _unknown(kind: str, name: str, known: set[str]) -> str:
    listing = ", ".join(sorted(known)) or "none defined"
    return f"refers to {kind} '{name}', which is not defined (defined: {listing})"


def _unique(problems: dict[str, str], items: list[dict[str, Any]], path: str, kind: str) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item["key"] in seen:
            problems[f"{path}[{i}].key"] = (
                f"{kind} key '{item['key']}' is already used by {path}[{seen[item['key']]}]"
            )
        seen.setdefault(item["key"], i)


def _check_segment(
    problems: dict[str, str], path: str, segment: dict[str, Any], policies: set[str]
) -> None:
    if segment["policy"] is not None and segment["policy"] not in policies:
        problems[f"{path}.policy"] = _unknown("policy", segment["policy"], policies)
    match = segment["match"]
    for low, high in (
        ("billed_12m_min", "billed_12m_max"),
        ("avg_days_late_min", "avg_days_late_max"),
    ):
        if match[low] is not None and match[high] is not None and match[low] > match[high]:
            problems[f"{path}.match.{high}"] = f"must not be less than {low} ({match[low]})"


def _check_policy(
    problems: dict[str, str], path: str, policy: dict[str, Any], templates: set[str]
) -> None:
    steps = policy["steps"]
    _unique(problems, steps, f"{path}.steps", "step")
    for i, step in enumerate(steps):
        here = f"{path}.steps[{i}]"
        if i and step["offset_days"] <= steps[i - 1]["offset_days"]:
            problems[f"{here}.offset_days"] = (
                f"steps must be in order of offset_days: {step['offset_days']} is not after "
                f"the previous step's {steps[i - 1]['offset_days']}"
            )
        if step["repeat"] is not None and i != len(steps) - 1:
            problems[f"{here}.repeat"] = "only the last step of a policy may repeat"
        _check_actions(problems, here, step["actions"], templates)


def _check_actions(
    problems: dict[str, str], path: str, actions: list[Any], templates: set[str]
) -> None:
    types = [a["type"] for a in actions]
    if "credit_hold" in types and "release_hold" in types:
        problems[f"{path}.actions"] = "a step cannot both place and release a credit hold"
    for kind in set(types):
        if types.count(kind) > 1 and kind in ("reminder", "credit_hold", "release_hold"):
            problems[f"{path}.actions"] = f"a step may have at most one '{kind}' action"
    for j, action in enumerate(actions):
        here = f"{path}.actions[{j}]"
        if action["type"] == "reminder" and action["template"] not in templates:
            problems[f"{here}.template"] = _unknown("template", action["template"], templates)
        if action["type"] in ("note", "task"):
            error = template_error(action["text"], f"the {action['type']} text")
            if error:
                problems[f"{here}.text"] = error


def _check_discounts(problems: dict[str, str], discounts: dict[str, Any]) -> None:
    early = discounts["early_payment"]
    if early is None:
        return
    if (early["percent"] is None) != (early["days"] is None):
        missing = "days" if early["days"] is None else "percent"
        problems[f"discounts.early_payment.{missing}"] = "percent and days go together"
    if early["percent"] is None and not early["use_invoice_terms"]:
        problems["discounts.early_payment"] = (
            "needs percent and days, or use_invoice_terms: true to use each invoice's own terms"
        )


def _check_hold(problems: dict[str, str], hold: dict[str, Any] | None) -> None:
    if hold is None:
        return
    for i, cond in enumerate(hold["place_when_any"]):
        if cond["fact"] not in CUSTOMER_FACTS:
            problems[f"credit_hold.place_when_any[{i}].fact"] = (
                f"'{cond['fact']}' is about one invoice; a credit hold tests the customer: use "
                + ", ".join(sorted(CUSTOMER_FACTS))
            )


def _check_limits(problems: dict[str, str], limits: dict[str, Any]) -> None:
    days = [c["days"] for c in limits["caps"]]
    for i, d in enumerate(days):
        if d in days[:i]:
            problems[f"limits.caps[{i}].days"] = f"another cap already covers {d} days"
    quiet = limits["quiet_hours"]
    if quiet is not None and quiet["start"] == quiet["end"]:
        problems["limits.quiet_hours.end"] = "must differ from start"
