"""One organization whose every dashboard figure was worked out by hand (see the tests).

Today is 2026-03-15 in New York; the home currency is USD.

| invoice | customer | currency, rate | issued | due | total | balance | payments |
| --- | --- | --- | --- | --- | --- | --- | --- |
| A-1 | Acme | USD | 2026-01-01 | 2026-01-31 | 1000 | 400 | 600 on 2026-02-20 |
| A-2 | Acme | USD | 2026-03-01 | 2026-03-31 | 500 | 500 |  |
| B-1 | Birch | EUR 1.10 | 2025-12-01 | 2025-12-31 | 2000 | 2000 |  |
| B-2 | Birch | EUR, no rate | 2026-02-10 | 2026-02-25 | 300 | 300 |  |
| C-1 | Cedar | USD | 2025-10-01 | 2025-10-31 | 800 | 0 | 800 on 2026-01-10 |
| C-2 | Cedar | USD | 2025-11-01 | 2025-11-10 | 250 | 250 |  |
| C-3 | Cedar | USD (voided) | 2026-02-01 | 2026-02-28 | 999 | 0 |  |

Acme is on credit hold (by hand); B-1 is disputed since 2026-03-01; Cedar promised on
2026-03-10 to pay C-2 by 2026-03-31.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from core.models import Customer
from core.models import Invoice
from core.models import Organization
from core.models import Payment
from core.models import PaymentAllocation
from rules.models import CustomerProfile
from rules.pauses.models import Dispute
from rules.pauses.models import PromiseToPay

TODAY = date(2026, 3, 15)
NOW = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)  # 12:00 in New York
STAMP = datetime(2026, 3, 1, tzinfo=UTC)

INVOICES = [
    ("A-1", "A", "USD", "1", "2026-01-01", "2026-01-31", "1000", "400", "open"),
    ("A-2", "A", "USD", "1", "2026-03-01", "2026-03-31", "500", "500", "open"),
    ("B-1", "B", "EUR", "1.10", "2025-12-01", "2025-12-31", "2000", "2000", "open"),
    ("B-2", "B", "EUR", None, "2026-02-10", "2026-02-25", "300", "300", "open"),
    ("C-1", "C", "USD", "1", "2025-10-01", "2025-10-31", "800", "0", "paid"),
    ("C-2", "C", "USD", "1", "2025-11-01", "2025-11-10", "250", "250", "open"),
    ("C-3", "C", "USD", "1", "2026-02-01", "2026-02-28", "999", "0", "voided"),
]
PAYMENTS = [("P1", "A", "2026-02-20", "600", "A-1"), ("P2", "C", "2026-01-10", "800", "C-1")]
NAMES = {"A": "Acme Ltd", "B": "Birch GmbH", "C": "Cedar & Sons"}


def seed(db: Session, provider: str = "quickbooks") -> Organization:
    org = Organization(
        provider=provider,
        external_id="realm-1",
        name="Larkspur Landscaping",
        currency="USD",
        timezone="America/New_York",
        status="connected",
    )
    db.add(org)
    db.flush()
    for cid, name in NAMES.items():
        db.add(_customer(org.id, cid, name))
    for ext, cid, currency, rate, issued, due, total, balance, status in INVOICES:
        db.add(
            Invoice(
                organization_id=org.id,
                external_id=ext,
                version="1",
                updated_at=STAMP,
                customer_external_id=cid,
                number=ext,
                issue_date=date.fromisoformat(issued),
                due_date=date.fromisoformat(due),
                currency=currency,
                home_rate=Decimal(rate) if rate else None,
                total=Decimal(total),
                balance=Decimal(balance),
                status=status,
            )
        )
    for ext, cid, paid_on, amount, invoice in PAYMENTS:
        payment = Payment(
            organization_id=org.id,
            external_id=ext,
            version="1",
            updated_at=STAMP,
            customer_external_id=cid,
            paid_on=date.fromisoformat(paid_on),
            currency="USD",
            amount=Decimal(amount),
            unapplied=Decimal(0),
        )
        db.add(payment)
        db.flush()
        db.add(
            PaymentAllocation(
                payment_id=payment.id,
                organization_id=org.id,
                invoice_external_id=invoice,
                amount=Decimal(amount),
            )
        )
    _pauses(db, org.id)
    db.flush()
    return org


def _customer(org_id: int, cid: str, name: str) -> Customer:
    return Customer(
        organization_id=org_id,
        external_id=cid,
        version="1",
        updated_at=STAMP,
        name=name,
        email=f"{cid.lower()}@example.test",
        currency="USD",
    )


def _pauses(db: Session, org_id: int) -> None:
    db.add(
        CustomerProfile(
            organization_id=org_id,
            customer_external_id="A",
            tags=["key-account"],
            credit_hold=True,
            credit_hold_source="manual",
            credit_hold_changed_at=STAMP,
            owner="sam@larkspur.test",
        )
    )
    db.add(
        Dispute(
            organization_id=org_id,
            invoice_external_id="B-1",
            customer_external_id="B",
            reason="pricing",
            opened_on=date(2026, 3, 1),
        )
    )
    db.add(
        PromiseToPay(
            organization_id=org_id,
            customer_external_id="C",
            invoice_external_ids=["C-2"],
            promised_on=date(2026, 3, 10),
            until=date(2026, 3, 31),
            balance_at_promise=Decimal("250"),
        )
    )


def action(db: Session, org_id: int, kind: str, customer: str, status: str, **fields) -> int:
    """An outbox row as the rules leave one (the explanation has the engine's shape)."""
    from outbox.models import Action

    explanation = {
        "rule_set": "Standard",
        "version": 2,
        "as_of": "2026-03-14",
        "policy": "std",
        "segment": None,
        "customer_checks": [{"pause": "do_not_contact", "active": False, "detail": ""}],
        "items": [
            {
                "invoice": "A-1",
                "number": "A-1",
                "step": "firm",
                "offset_days": 30,
                "due_date": "2026-01-31",
                "days_overdue": 42,
                "balance": "400.00",
                "currency": "USD",
                "conditions": [
                    {"fact": "invoice_balance", "op": "gt", "value": "50", "seen": "400.00",
                     "result": True}
                ],
                "pauses_checked": [{"pause": "dispute", "active": False, "detail": ""}],
            }
        ],
    }  # fmt: skip
    row = Action(
        organization_id=org_id,
        rule="policy:std",
        step=fields.pop("step", "firm"),
        target=fields.pop("target", f"{kind}:{customer}:{status}"),
        period="2026-03-14",
        kind=kind,
        customer_external_id=customer,
        rule_version=2,
        status=status,
        decided_on=date(2026, 3, 14),
        scheduled_for=datetime(2026, 3, 14, 14, 0, tzinfo=UTC),
        payload=fields.pop("payload", {}),
        explanation=fields.pop("explanation", explanation),
        **fields,
    )
    db.add(row)
    db.flush()
    return row.id
