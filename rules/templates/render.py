"""User-editable message templates: checked when saved, rendered within limits everywhere.

Templates are checked when a rule set is saved: they must parse, and they must render against a
sample context with StrictUndefined, so a misspelt variable ("invoice.nubmer") is an error naming
the field then, not a failed reminder later.

Every render (the check, the preview, evaluation in the worker, sending) goes through `render`,
which runs the template in rules.templates.sandbox's bounded environment, under a time budget
(rules.templates.budget) and with a cap on the output. A template past any limit raises a
TemplateError naming it and the limit, never anything else, so one user's template can neither
fail a request with a 500 nor hold a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import Template
from jinja2 import TemplateError
from jinja2 import TemplateRuntimeError
from jinja2 import TemplateSyntaxError
from jinja2 import meta
from jinja2 import nodes

from rules.templates.budget import Overtime
from rules.templates.budget import deadline
from rules.templates.sandbox import MAX_VALUE_CHARS
from rules.templates.sandbox import BoundedEnvironment
from rules.templates.sandbox import TemplateLimitError

MAX_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = MAX_VALUE_CHARS
RENDER_BUDGET_MS = 500

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


# What a template's own operations can raise ({{ 1/0 }}, {{ 'a' + 1 }}, a macro calling itself).
# Anything else (an RQ job timeout, a shutdown) is not the template's fault and passes through.
_TEMPLATE_FAULTS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    TypeError,
    ValueError,
    RuntimeError,
    MemoryError,
)


class TemplateTimeout(TemplateLimitError):
    """A render ran past RENDER_BUDGET_MS."""


class TemplateRenderError(TemplateRuntimeError):
    """The template raised something other than a TemplateError (e.g. a division by zero)."""


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


@lru_cache(maxsize=1)
def environment() -> BoundedEnvironment:
    """A sandboxed Jinja environment with budgets: undefined names fail, nothing is escaped
    (plain text), and `money` formats amounts."""
    env = BoundedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.add_filter("money", _money)
    return env


@lru_cache(maxsize=512)
def compiled(source: str) -> Template:
    """`source` parsed in a fresh bounded environment."""
    return environment().from_string(source)


# Filters whose output can differ between two renders of the same values.
_VARYING_FILTERS = frozenset({"random"})


@lru_cache(maxsize=512)
def reads(source: str) -> frozenset[str] | None:
    """The names `source` reads from its context, or None when two renders of the same values
    may differ (it uses a filter such as `random`) or it does not parse.

    A render's output depends only on the values of these names (the sandbox is immutable and
    offers no clock), so callers may reuse the output of an earlier render with equal values."""
    try:
        ast = environment().parse(source)
    except TemplateSyntaxError:
        return None
    if any(node.name in _VARYING_FILTERS for node in ast.find_all(nodes.Filter)):
        return None
    return frozenset(meta.find_undeclared_variables(ast))


def render(source: str, context: dict[str, Any], name: str = "the template") -> str:
    """Render `source`, compiled on first use; raises jinja2.TemplateError on any failure.

    `name` says which template this is in the errors ("template 'first' body").
    """
    with _limits(name):
        return _output(compiled(source), context)


@contextmanager
def _limits(name: str) -> Iterator[None]:
    try:
        with deadline(RENDER_BUDGET_MS / 1000):
            yield
    except Overtime:
        raise TemplateTimeout(
            f"{name} took longer than {RENDER_BUDGET_MS} ms to render; make its loops smaller"
        ) from None
    except TemplateLimitError as exc:
        raise TemplateLimitError(f"{name} asks for too much: {exc}") from None
    except TemplateError:
        raise
    except _TEMPLATE_FAULTS as exc:
        raise TemplateRenderError(f"{exc.__class__.__name__}: {exc}") from None


def _output(template: Template, context: dict[str, Any]) -> str:
    chunks, size = [], 0
    for chunk in template.root_render_func(template.new_context(context)):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"its output is longer than {MAX_OUTPUT_CHARS:,} characters")
        chunks.append(chunk)
    return "".join(chunks)


def template_error(source: str, name: str = "the template") -> str | None:
    """None if `source` parses and renders against the sample context, else why not."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return f"is longer than {MAX_TEMPLATE_CHARS} characters"
    try:
        render(source, sample_context(), name)
    except TemplateSyntaxError as exc:
        return f"template syntax error at line {exc.lineno}: {exc.message}"
    except (TemplateLimitError, TemplateRenderError) as exc:
        return f"template error: {exc}"
    except TemplateError as exc:
        known = ", ".join(CONTEXT_VARIABLES)
        return f"template error: {exc.message or exc} (available variables: {known})"
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
