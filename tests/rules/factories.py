"""Builders for rules tests: mirror rows in a database, and plain facts for the evaluator."""

from __future__ import annotations

import copy
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Customer
from core.models import Invoice
from core.models import Organization
from core.models import Payment
from core.models import PaymentAllocation
from rules.engine.facts import CustomerFact
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.ruleset.book import RuleBook
from rules.ruleset.book import compile_book
from rules.ruleset.defaults import starter
from rules.ruleset.features import COLUMNS
from rules.ruleset.store import save_version

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def D(value: Any) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(str(value))


# ---------------------------------------------------------------- documents


def simple_rules(**changes: Any) -> dict[str, Any]:
    """A small rule set: steps at 0, 7 and 14 days (the last repeating weekly, twice), no quiet
    hours, every day a business day, no caps unless given."""
    doc = {
        "name": "Test rules",
        "default_policy": "std",
        "policies": [
            {
                "key": "std",
                "name": "Standard",
                "steps": [
                    {
                        "key": "s0",
                        "offset_days": 0,
                        "actions": [{"type": "reminder", "template": "t"}],
                    },
                    {
                        "key": "s7",
                        "offset_days": 7,
                        "actions": [{"type": "reminder", "template": "t7"}],
                    },
                    {
                        "key": "s14",
                        "offset_days": 14,
                        "actions": [{"type": "reminder", "template": "t7"}],
                        "repeat": {"every_days": 7, "limit": 2},
                    },
                ],
            }
        ],
        "templates": {
            "t": {
                "subject": "Reminder",
                "body": "{% for i in invoices %}{{ i.number }} {% endfor %}",
            },
            "t7": {
                "subject": "Overdue",
                "body": "{% for i in invoices %}{{ i.number }} {% endfor %}",
            },
        },
        "limits": {
            "caps": [],
            "quiet_hours": None,
            "business_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        },
    }
    doc.update(copy.deepcopy(changes))
    return doc


def book(doc: dict[str, Any] | None = None, version: int = 1) -> RuleBook:
    return compile_book(doc or simple_rules(), version_id=version, number=version)


# ---------------------------------------------------------------- plain facts


def invoice(
    ext: str,
    due: date,
    total: Any = 100,
    balance: Any = None,
    customer: str = "C1",
    **kw: Any,
) -> InvoiceFact:
    return InvoiceFact(
        external_id=ext,
        customer_id=customer,
        number=kw.pop("number", ext),
        issue_date=kw.pop("issue_date", due - timedelta(days=30)),
        due_date=due,
        currency=kw.pop("currency", "USD"),
        total=D(total),
        balance=D(total if balance is None else balance),
        **kw,
    )


def facts(*customers: CustomerFact, tz: str = "UTC", **kw: Any) -> OrgFacts:
    return OrgFacts(1, "Org", tz, {c.external_id: c for c in customers}, **kw)


def customer(ext: str = "C1", *invoices: InvoiceFact, **kw: Any) -> CustomerFact:
    kw.setdefault("email", f"{ext.lower()}@example.test")
    return CustomerFact(ext, name=kw.pop("name", f"Customer {ext}"), invoices=list(invoices), **kw)


# ---------------------------------------------------------------- database rows


def org_row(
    db: Session, tz: str = "UTC", synced_at: datetime | None = None, **kw: Any
) -> Organization:
    kw.setdefault("currency", "USD")
    org = Organization(
        provider="quickbooks",
        external_id=kw.pop("external_id", "realm-1"),
        name=kw.pop("name", "Example Ltd"),
        timezone=tz,
        last_synced_at=synced_at,
        **kw,
    )
    db.add(org)
    db.flush()
    return org


def customer_row(db: Session, org: Organization, ext: str, **kw: Any) -> Customer:
    row = Customer(
        organization_id=org.id,
        external_id=ext,
        version="1",
        updated_at=T0,
        name=kw.pop("name", f"Customer {ext}"),
        email=kw.pop("email", f"{ext.lower()}@example.test"),
        **kw,
    )
    db.add(row)
    db.flush()
    return row


def invoice_row(
    db: Session,
    org: Organization,
    ext: str,
    customer_ext: str,
    due: date,
    total: Any = 100,
    balance: Any = None,
    **kw: Any,
) -> Invoice:
    row = Invoice(
        organization_id=org.id,
        external_id=ext,
        version="1",
        updated_at=T0,
        customer_external_id=customer_ext,
        number=kw.pop("number", ext),
        issue_date=kw.pop("issue_date", due - timedelta(days=30)),
        due_date=due,
        currency=kw.pop("currency", "USD"),
        total=D(total),
        balance=D(total if balance is None else balance),
        status=kw.pop("status", "open"),
        **kw,
    )
    db.add(row)
    db.flush()
    return row


def payment_row(
    db: Session,
    org: Organization,
    ext: str,
    customer_ext: str,
    paid_on: date,
    allocations: dict[str, Any],
) -> Payment:
    amount = sum((D(v) for v in allocations.values()), Decimal(0))
    row = Payment(
        organization_id=org.id,
        external_id=ext,
        version="1",
        updated_at=T0,
        customer_external_id=customer_ext,
        paid_on=paid_on,
        currency="USD",
        amount=amount,
        unapplied=Decimal(0),
    )
    db.add(row)
    db.flush()
    for invoice_ext, value in allocations.items():
        db.add(
            PaymentAllocation(
                payment_id=row.id,
                organization_id=org.id,
                invoice_external_id=invoice_ext,
                amount=D(value),
            )
        )
    db.flush()
    return row


def activate(
    db: Session, org: Organization, doc: dict[str, Any] | None = None, at: datetime | None = None
):
    """Save and activate `doc`, its first run approved (tests of the approval gate clear
    `first_run_approved_at` themselves)."""
    version = save_version(db, org.id, doc or starter(), activate=True)
    version.first_run_approved_at = at or version.activated_at
    if at is not None:
        owner = version.rule_set
        owner.first_activated_at = at
        for column in COLUMNS.values():  # its features were switched on then too
            if getattr(owner, column) is not None:
                setattr(owner, column, at)
    db.flush()
    return version


def take_due(ctx, org_id: int, now: datetime) -> int:
    """Take every due action of `org_id` as a delivery would, without writing it anywhere."""
    from outbox.jobs import due_ids
    from outbox.perform import take

    ids = due_ids(ctx, org_id, now)
    for action_id in ids:
        with session_scope(ctx.sessions) as db:
            take(db, action_id, now)
    return len(ids)
