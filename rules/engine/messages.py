"""Reminder payloads (plain JSON kept on the outbox row) and the template context made from them.

A payload lists what a reminder is about; it is rendered when previewed and again, from
refreshed balances, when the action is performed.
"""

from __future__ import annotations

from collections.abc import Hashable
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
from rules.templates.render import TemplateTimeout
from rules.templates.render import iso
from rules.templates.render import reads
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


# What each variable of `context` is made from: the payload's keys, or "org_name", "as_of" and
# "step" for the arguments of the same names.
_MADE_FROM = {
    "organization": ("org_name",),
    "customer": ("customer",),
    "as_of": ("as_of",),
    "invoices": ("invoices",),
    "offers": ("offers",),
    "instalments": ("instalments",),
    "totals": ("invoices",),
    "credit": ("invoices", "credit"),
    "step": ("step",),
}


class NoteTexts:
    """The note and task texts of one evaluation, each template rendered once per distinct set
    of the inputs of the variables it reads.

    A first run writes a note for every invoice at a step with one, and a note's template
    typically reads little (the starter's reads `as_of` only), so most notes repeat a render
    already done. Every distinct render still runs in the sandbox under its own time budget;
    one that ran out of time is not kept (it depends on the machine's load), so the next text
    with the same inputs tries again, as before. Templates whose output may differ between
    renders of the same values (rules.templates.render.reads) are rendered every time.
    """

    def __init__(self, org_name: str, as_of: date) -> None:
        self.org_name, self.as_of = org_name, as_of
        self._done: dict[Hashable, str] = {}

    def render(
        self, source: str, payload: dict[str, Any], step: dict[str, Any] | None, name: str
    ) -> str:
        """render_text of `source` in `context(payload, ...)`."""
        key = self._key(source, payload, step, name)
        if key is not None and key in self._done:
            return self._done[key]
        try:
            text = render(source, context(payload, self.org_name, self.as_of, step), name).strip()
        except TemplateTimeout as exc:
            return f"[template error: {exc}]"
        except TemplateError as exc:
            text = f"[template error: {exc}]"
        if key is not None:
            self._done[key] = text
        return text

    def _key(
        self, source: str, payload: dict[str, Any], step: dict[str, Any] | None, name: str
    ) -> Hashable | None:
        names = reads(source)
        if names is None:
            return None
        inputs = {**payload, "org_name": self.org_name, "as_of": self.as_of, "step": step}
        made_from = sorted({i for n in names if n in _MADE_FROM for i in _MADE_FROM[n]})
        try:
            values = tuple((i, i in inputs, _frozen(inputs.get(i))) for i in made_from)
        except _Unfrozen:
            return None
        return (source, name, values)


class _Unfrozen(Exception):
    """A value of a type `_frozen` does not know."""


def _frozen(value: Any) -> Hashable:
    """A hashable stand-in for a JSON-like value, equal only for values that render alike
    (Decimal("1.0") and Decimal("1.00") are equal numbers but print differently; 1 and True)."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return (kind, tuple(_frozen(v) for v in value))
    if value is None or kind in (str, int, bool, date):
        return (kind, value)
    if kind is Decimal or kind is float:
        return (kind, repr(value))
    raise _Unfrozen(kind.__name__)


def _strings(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def _decimals(line: dict[str, Any]) -> dict[str, Any]:
    out = dict(line)
    for key in _MONEY_KEYS:
        if isinstance(out.get(key), str):
            out[key] = Decimal(out[key])
    return out
