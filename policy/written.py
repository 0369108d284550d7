"""The written collection policy: the active rule set as a document a business can hand to its
staff and customers (when reminders go out and what they say, credit holds, discounts and
payment plans, contact limits, disputes), as sections of plain sentences. The page and the PDF
render the same sections."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from jinja2 import TemplateError

from policy import words
from rules.templates.render import render
from rules.templates.render import sample_context


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # name, subject, body


def sections(doc: dict[str, Any]) -> list[Section]:
    return [
        _reminders(doc),
        _messages(doc),
        _holds(doc),
        _discounts(doc),
        _limits(doc),
        _disputes(),
    ]


def _reminders(doc: dict[str, Any]) -> Section:
    out = Section("When we remind you")
    policies = {p["key"]: p for p in doc["policies"]}
    if not policies:
        out.paragraphs.append("No reminder schedule is in force.")
        return out
    for segment in doc["segments"]:
        name = segment.get("name") or segment["key"]
        policy = policies.get(segment["policy"] or "")
        follows = (
            f"follow the “{policy['name'] or policy['key']}” schedule"
            if policy
            else ("receive no automatic reminders")
        )
        out.items.append(f"{words.sentence(words.segment(segment))} ({name}) {follows}.")
    default = policies.get(doc["default_policy"] or "")
    if default is not None:
        out.items.append(
            f"Every other customer follows the “{default['name'] or default['key']}” schedule."
        )
    for policy in doc["policies"]:
        out.paragraphs.append(f"Schedule “{policy['name'] or policy['key']}”:")
        out.paragraphs.extend(words.step(step) for step in policy["steps"])
    out.paragraphs.append(
        "A reminder before the due date only goes to an invoice not yet due. One email lists "
        "every invoice due a reminder that day."
    )
    return out


def _messages(doc: dict[str, Any]) -> Section:
    out = Section("What our reminders say")
    out.paragraphs.append("Examples, written for a sample customer:")
    for key, template in doc["templates"].items():
        ctx = sample_context()
        try:
            subject = render(template["subject"], ctx, "subject").strip()
            body = render(template["body"], ctx, "body")
        except TemplateError:
            subject, body = template["subject"], template["body"]
        out.examples.append((key, subject, body))
    if not doc["templates"]:
        out.paragraphs = ["No reminder template is defined."]
    return out


def _holds(doc: dict[str, Any]) -> Section:
    out = Section("Credit holds")
    hold = doc.get("credit_hold")
    if hold:
        out.paragraphs.append(
            "We place a credit hold on an account (no new sales on credit) when any of these is "
            "true, and release it when none is any longer:"
        )
        out.items.extend(words.sentence(words.condition(c)) + "." for c in hold["place_when_any"])
        out.paragraphs.append(f"The hold is recorded with the reason: “{hold['reason']}”.")
    steps = [
        (p, s)
        for p in doc["policies"]
        for s in p["steps"]
        if any(a["type"] in ("credit_hold", "release_hold") for a in s["actions"])
    ]
    for policy, step in steps:
        out.items.append(f"Schedule “{policy['name'] or policy['key']}”: {words.step(step)}")
    if not hold and not steps:
        out.paragraphs.append("Credit holds are not placed automatically.")
    return out


def _discounts(doc: dict[str, Any]) -> Section:
    out = Section("Discounts and payment plans")
    early = doc["discounts"]["early_payment"]
    if early and early.get("percent"):
        out.items.append(
            f"Early payment: {early['percent']}% off if paid within {words.days(early['days'])} "
            "of the invoice date."
        )
    elif early:
        out.items.append("Early payment: the discount terms printed on each invoice apply.")
    if early and early.get("settle_short_payments"):
        out.items.append(
            "A payment short by exactly the discount, made in time, settles the invoice in full."
        )
    for offer in doc["discounts"]["settlement_offers"]:
        out.items.append(
            f"Settlement offer: {offer['percent']}% off an invoice more than "
            f"{words.days(offer['min_days_overdue'])} overdue (balances of at least "
            f"{offer['min_balance']}), valid for {words.days(offer['valid_days'])}."
        )
    plans = doc["payment_plans"]
    when = ", ".join(
        "on the day" if d == 0 else f"{words.days(d)} before" for d in plans["remind_days_before"]
    )
    out.items.append(
        "Payment plans: while instalments are paid on time the invoices in the plan are not "
        f"chased; we remind you of each instalment {when or 'never'}"
        + (
            f", and a plan counts as broken {words.days(plans['grace_days'])} after a missed "
            "instalment."
            if plans["grace_days"]
            else "."
        )
    )
    out.items.append(
        "A promise to pay by a date pauses reminders on the invoices it covers until that date."
    )
    if not early:
        out.paragraphs.append("No early-payment discount is offered.")
    return out


def _limits(doc: dict[str, Any]) -> Section:
    limits = doc["limits"]
    out = Section("How often we contact you")
    for cap in limits["caps"]:
        out.items.append(f"At most {cap['messages']} message(s) in any {words.days(cap['days'])}.")
    quiet = limits.get("quiet_hours")
    zone = "your" if limits["timezone_from"] == "customer" else "our"
    if quiet:
        out.items.append(f"Never between {quiet['start']} and {quiet['end']}, {zone} local time.")
    days = ", ".join(words.WEEKDAYS[d] for d in limits["business_days"])
    out.items.append(f"Only on {days}.")
    out.items.append("Anyone may ask us to stop emailing; every reminder has an unsubscribe link.")
    return out


def _disputes() -> Section:
    return Section(
        "Disputes",
        paragraphs=[
            "If you dispute an invoice, tell us: the disputed invoice is not chased while the "
            "dispute is open, and does not count towards a credit hold. Reminders about your "
            "other invoices continue. When the dispute is resolved, the invoice follows the "
            "schedule again."
        ],
    )
