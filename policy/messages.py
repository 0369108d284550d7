"""A template rendered for one real customer, as the customer would receive it: the subject,
the plain text and the HTML of the email, with every error (syntax, an undefined placeholder,
a limit) in words. Rendering goes through rules.templates.render, the sandboxed renderer with
its time budget, like every other render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from jinja2 import TemplateError
from jinja2 import TemplateSyntaxError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer
from core.models import Invoice
from outbox.email.message import Sender
from outbox.email.message import build_reminder
from rules.engine.messages import context
from rules.templates.render import CONTEXT_VARIABLES
from rules.templates.render import render
from rules.templates.render import sample_context

MAX_INVOICES = 50
PLACEHOLDERS = (
    ("Customer's name", "{{ customer.name }}"),
    ("Your business's name", "{{ organization.name }}"),
    ("Today's date", "{{ as_of }}"),
    ("Total owed", "{% for t in totals %}{{ t.balance|money }} {{ t.currency }} {% endfor %}"),
    (
        "List of invoices",
        "{% for invoice in invoices %}\n- Invoice {{ invoice.number }}: {{ invoice.balance|money }}"
        " {{ invoice.currency }}, due {{ invoice.due_date }}\n{% endfor %}",
    ),
    ("First invoice's number", "{{ invoices[0].number }}"),
    ("Step's name", "{{ step.name }}"),
)


@dataclass(frozen=True)
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""
    errors: dict[str, str] | None = None
    message: EmailMessage | None = None


def customers(session: Session, org_id: int) -> list[tuple[str, str]]:
    """(id, name) of the organization's customers, by name, for choosing one."""
    rows = session.execute(
        select(Customer.external_id, Customer.name)
        .where(Customer.organization_id == org_id, Customer.deleted.is_(False))
        .order_by(Customer.name, Customer.external_id)
        .limit(2000)
    )
    return [(cid, name or cid) for cid, name in rows]


def customer_context(
    session: Session, org_id: int, org_name: str, customer_id: str, as_of: date
) -> dict[str, Any] | None:
    """The template context of a reminder to `customer_id` listing their open invoices."""
    customer = session.scalar(
        select(Customer).where(
            Customer.organization_id == org_id, Customer.external_id == customer_id
        )
    )
    if customer is None:
        return None
    invoices = session.scalars(
        select(Invoice)
        .where(
            Invoice.organization_id == org_id,
            Invoice.customer_external_id == customer_id,
            Invoice.balance > 0,
            Invoice.deleted.is_(False),
            Invoice.status.not_in(("draft", "voided", "deleted", "paid")),
        )
        .order_by(Invoice.due_date, Invoice.number)
        .limit(MAX_INVOICES)
    )
    payload = {
        "customer": {
            "name": customer.name or "",
            "email": customer.email,
            "external_id": customer.external_id,
        },
        "invoices": [_line(inv, as_of) for inv in invoices],
        "offers": [],
        "instalments": [],
    }
    return context(payload, org_name, as_of, {"key": "preview", "name": "Preview"})


def _line(inv: Invoice, as_of: date) -> dict[str, Any]:
    due = inv.due_date or inv.issue_date
    return {
        "number": inv.number or inv.external_id,
        "external_id": inv.external_id,
        "issue_date": inv.issue_date.isoformat() if inv.issue_date else None,
        "due_date": due.isoformat() if due else None,
        "days_overdue": (as_of - due).days if due else 0,
        "total": str(inv.total),
        "balance": str(inv.balance),
        "currency": inv.currency,
        "link": inv.link if (inv.link or "").startswith(("https://", "http://")) else None,
        "step": "preview",
        "discount": None,
    }


def sample() -> dict[str, Any]:
    return sample_context()


def render_for(
    subject: str, body: str, ctx: dict[str, Any], sender: Sender, to: str, now: datetime
) -> Rendered:
    """The email for `ctx`, or the errors by field ("subject", "body")."""
    out: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field, source in (("subject", subject), ("body", body)):
        if not source.strip():
            errors[field] = "is required"
            continue
        try:
            out[field] = render(source, ctx, f"the {field}")
        except TemplateSyntaxError as exc:
            errors[field] = f"syntax error at line {exc.lineno}: {exc.message}"
        except TemplateError as exc:
            errors[field] = f"{exc.message or exc} (placeholders: {', '.join(CONTEXT_VARIABLES)})"
    if errors:
        return Rendered(errors=errors)
    message = build_reminder(
        sender=sender,
        to=to,
        subject=out["subject"].strip(),
        body=out["body"],
        invoices=ctx.get("invoices", []),
        key=f"dw-preview-{now.timestamp():.0f}",
        unsubscribe_url="https://unsubscribe.invalid/preview",
        now=now,
    )
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part is not None else ""
    start, end = html.find("<body>"), html.rfind("</body>")
    return Rendered(
        subject=out["subject"].strip(),
        text=text_part.get_content() if text_part is not None else "",
        html=html[start + len("<body>") : end] if start >= 0 and end > start else "",
        message=message,
    )
