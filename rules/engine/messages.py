"""Reminder payloads (plain JSON kept on the outbox row) and the template context made from them.

A payload lists what a reminder is about; it is rendered when previewed and again, from
refreshed balances, when the action is performed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import TemplateError

from rules.engine.credit import credit_context
from rules.engine.decisions import FiringClaim
from rules.engine.facts import CustomerFact
from rules.engine.facts import InvoiceFact
from rules.ruleset.book import RuleBook
from rules.templates.render import iso
from rules.templates.render import render

_MONEY_KEYS = ("total", "balance", "amount", "pay_amount", "percent")

STEP, OFFER, INSTALMENT = "step", "offer", "instalment"
_RANK = {STEP: 2, OFFER: 1, INSTALMENT: 0}


@dataclass(slots=True)
class MessageItem:
    """One line of a customer's reminder: an invoice step, an offer or an instalment."""

    kind: str
    rule: str
    step: str
    position: int
    template: str | None
    claim: FiringClaim
    line: dict[str, Any]
    explanation: dict[str, Any]
    channel: str = "email"  # a step's reminder may go by the provider's own invoice email

    @property
    def priority(self) -> tuple[int, int]:
        return (_RANK[self.kind], self.position)


def invoice_line(
    inv: InvoiceFact, days_past_due: int, step: str, discount: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "number": inv.number or inv.external_id,
        "external_id": inv.external_id,
        "issue_date": iso(inv.issue_date),
        "due_date": iso(inv.due_date or inv.issue_date),
        "days_overdue": days_past_due,
        "total": str(inv.total),
        "balance": str(inv.balance),
        "currency": inv.currency,
        "link": inv.link,
        "step": step,
        "discount": _strings(discount) if discount else None,
    }


def customer_part(c: CustomerFact) -> dict[str, Any]:
    return {"name": c.name, "email": c.email, "external_id": c.external_id}


def reminder_payload(template: str, c: CustomerFact, items: list[MessageItem]) -> dict[str, Any]:
    """The outbox payload of one consolidated reminder: its lines by kind, and the priority of
    its lead line (when reminders merge, the higher one's template and step lead)."""
    by_kind: dict[str, list[dict[str, Any]]] = {STEP: [], OFFER: [], INSTALMENT: []}
    for item in items:
        by_kind[item.kind].append(dict(item.line, claim=list(item.claim.key)))
    return {
        "template": template,
        "to": c.email,
        "customer": customer_part(c),
        "invoices": by_kind[STEP],
        "offers": by_kind[OFFER],
        "instalments": by_kind[INSTALMENT],
        "lead_priority": list(items[0].priority) if items else [0, 0],
    }


def context(
    payload: dict[str, Any], org_name: str, as_of: date, step: dict[str, Any] | None
) -> dict[str, Any]:
    """The template context for a reminder payload (money back to Decimal)."""
    invoices = [_decimals(line) for line in payload.get("invoices", [])]
    for line in invoices:
        if line.get("discount"):
            line["discount"] = _decimals(line["discount"])
    totals: dict[str, Decimal] = {}
    for line in invoices:
        totals[line["currency"]] = totals.get(line["currency"], Decimal(0)) + line["balance"]
    return {
        "organization": {"name": org_name},
        "customer": payload.get("customer", {}),
        "as_of": as_of.isoformat(),
        "invoices": invoices,
        "offers": [_decimals(line) for line in payload.get("offers", [])],
        "instalments": [_decimals(line) for line in payload.get("instalments", [])],
        "totals": [{"currency": k, "balance": v} for k, v in sorted(totals.items())],
        "credit": credit_context(payload, totals),
        "step": step,
    }


def render_reminder(
    book: RuleBook, payload: dict[str, Any], org_name: str, as_of: date, step: dict[str, Any] | None
) -> tuple[str, str]:
    """(subject, body); raises jinja2.TemplateError if the template cannot render."""
    key = payload["template"]
    subject, body = book.templates[key]
    ctx = context(payload, org_name, as_of, step)
    return (
        render(subject, ctx, f"template '{key}' subject").strip(),
        render(body, ctx, f"template '{key}' body"),
    )


def render_text(source: str, ctx: dict[str, Any], name: str = "the text") -> str:
    """`source` rendered; a template error gives "[template error: ...]" instead, so that the
    note or task says what went wrong rather than vanishing."""
    try:
        return render(source, ctx, name).strip()
    except TemplateError as exc:
        return f"[template error: {exc}]"


def _strings(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def _decimals(line: dict[str, Any]) -> dict[str, Any]:
    out = dict(line)
    for key in _MONEY_KEYS:
        if isinstance(out.get(key), str):
            out[key] = Decimal(out[key])
    return out
