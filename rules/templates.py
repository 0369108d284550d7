"""User-editable message templates, rendered in Jinja's sandboxed environment.

Templates are checked when a rule set is saved: they must parse, and they must render against a
sample context with StrictUndefined, so a misspelt variable ("invoice.nubmer") is an error naming
the field then, not a failed reminder later.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import Template
from jinja2 import TemplateError
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

MAX_TEMPLATE_CHARS = 20_000

CONTEXT_VARIABLES = (
    "organization",
    "customer",
    "as_of",
    "invoices",
    "offers",
    "instalments",
    "totals",
    "credit",
    "step",
)


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["money"] = _money
    return env


@lru_cache(maxsize=512)
def compiled(source: str) -> Template:
    return environment().from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    """Render `source`; raises jinja2.TemplateError on a broken template."""
    return compiled(source).render(context)


def template_error(source: str) -> str | None:
    """None if `source` parses and renders against the sample context, else why not."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return f"is longer than {MAX_TEMPLATE_CHARS} characters"
    try:
        template = compiled(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error at line {exc.lineno}: {exc.message}"
    try:
        template.render(sample_context())
    except TemplateError as exc:
        known = ", ".join(CONTEXT_VARIABLES)
        return f"template error: {exc.message or exc} (available variables: {known})"
    except Exception as exc:  # noqa: BLE001 - a user's template may raise anything
        return f"template error: {exc.__class__.__name__}: {exc}"
    return None


def sample_context() -> dict[str, Any]:
    """A context with every variable and every optional part present at least once."""
    discount = {
        "percent": Decimal("2.00"),
        "amount": Decimal("24.00"),
        "pay_by": "2025-03-20",
        "pay_amount": Decimal("1176.00"),
    }
    invoices = [
        _sample_invoice("1001", Decimal("1200.00"), 12, discount),
        _sample_invoice("1002", Decimal("80.50"), -3, None),
    ]
    return {
        "organization": {"name": "Example Ltd"},
        "customer": {"name": "Acme Corp", "email": "ap@acme.test", "external_id": "C1"},
        "as_of": "2025-03-10",
        "invoices": invoices,
        "offers": [
            {
                "number": "0990",
                "external_id": "I0990",
                "currency": "USD",
                "balance": Decimal("500.00"),
                "percent": Decimal("5.00"),
                "amount": Decimal("25.00"),
                "pay_amount": Decimal("475.00"),
                "valid_until": "2025-03-24",
            }
        ],
        "instalments": [
            {
                "plan": 1,
                "number": 2,
                "due_on": "2025-03-13",
                "amount": Decimal("250.00"),
                "currency": "USD",
                "days_until": 3,
            }
        ],
        "totals": [{"currency": "USD", "balance": Decimal("1280.50")}],
        "credit": [
            {"currency": "USD", "amount": Decimal("200.00"), "left_to_pay": Decimal("1080.50")}
        ],
        "step": {"key": "first", "name": "First reminder"},
    }


def _sample_invoice(number: str, balance: Decimal, days: int, discount: Any) -> dict[str, Any]:
    return {
        "number": number,
        "external_id": f"I{number}",
        "issue_date": "2025-02-01",
        "due_date": "2025-02-26",
        "days_overdue": days,
        "total": balance,
        "balance": balance,
        "currency": "USD",
        "link": "https://example.test/pay",
        "step": "first",
        "discount": discount,
    }


def iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
