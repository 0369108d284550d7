"""The loader reads each step firing of an open invoice once; a settlement offer's firing carries
the balance it was made on (what settling the offer is checked against), others carry none."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from sqlalchemy.orm import Session

from rules.engine.facts import Firing
from rules.load import load_facts
from rules.models import StepFiring
from tests.rules.factories import D
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row

AS_OF = date(2025, 6, 2)


def _fired(db: Session, org_id: int, rule: str, step: str, period: str, amount: str) -> None:
    db.add(
        StepFiring(
            organization_id=org_id,
            rule=rule,
            step=step,
            target="I1",
            period=period,
            customer_external_id="C1",
            fired_on=date(2025, 5, int(period)),
            amount=D(amount),
        )
    )


def test_offer_firings_carry_the_balance_they_were_made_on(db: Session) -> None:
    org = org_row(db)
    customer_row(db, org, "C1")
    invoice_row(db, org, "I1", "C1", date(2025, 1, 1), total=500, balance=475)
    _fired(db, org.id, "policy:std", "first", "1", "500")
    _fired(db, org.id, "offer:aged", "offer", "2", "500.25")
    _fired(db, org.id, "offer:aged", "offer", "3", "480")
    db.flush()
    facts = load_facts(db, org, AS_OF, datetime(2025, 6, 2, 12, tzinfo=UTC))
    assert sorted(facts.history.firings["I1"]) == [
        Firing("offer:aged", "offer", "2", date(2025, 5, 2), D("500.25")),
        Firing("offer:aged", "offer", "3", date(2025, 5, 3), D("480")),
        Firing("policy:std", "first", "1", date(2025, 5, 1), None),
    ]
