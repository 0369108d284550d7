"""The backtest replays rules over the mirror's past, day by day, and reports what pauses held."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest

from core.db import session_scope
from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Organization
from rules.analysis.backtest import backtest
from rules.pauses.models import Dispute
from tests.rules.factories import T0
from tests.rules.factories import D
from tests.rules.factories import book
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import payment_row
from tests.rules.factories import simple_rules

START = date(2025, 3, 1)
END = date(2025, 3, 31)


def run(session_factory, org_id: int, rules=None) -> dict:
    with session_scope(session_factory) as db:
        return backtest(db, db.get(Organization, org_id), book(rules or simple_rules()), START, END)


def test_balances_are_rebuilt_for_each_past_day(session_factory) -> None:
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=datetime(2025, 4, 1, tzinfo=UTC))
        customer_row(db, org, "C1")
        customer_row(db, org, "C2")
        # Paid in full on 10 March: reminded on the 3rd only.
        invoice_row(db, org, "A", "C1", date(2025, 3, 3), 100, 0, status="paid")
        payment_row(db, org, "PA", "C1", date(2025, 3, 10), {"A": 100})
        # Part paid on the 5th, credited the rest on the 20th: s0 on the 3rd, s7 on the 10th,
        # s14 on the 17th, then nothing.
        invoice_row(db, org, "B", "C2", date(2025, 3, 3), 100, 0, status="paid")
        payment_row(db, org, "PB", "C2", date(2025, 3, 5), {"B": 60})
        note = CreditNote(
            organization_id=org.id,
            external_id="CN1",
            version="1",
            updated_at=T0,
            customer_external_id="C2",
            issue_date=date(2025, 3, 20),
            currency="USD",
            total=D(40),
            remaining=D(0),
        )
        db.add(note)
        db.flush()
        db.add(
            CreditAllocation(
                credit_note_id=note.id,
                organization_id=org.id,
                invoice_external_id="B",
                amount=D(40),
            )
        )
        # Issued after the backtest ends: never there.
        invoice_row(db, org, "C", "C1", date(2025, 5, 1), 100, issue_date=date(2025, 4, 10))
        org_id = org.id
    report = run(session_factory, org_id)
    assert report["totals"]["reminder"] == 4
    by_customer = {c["customer"]: c["reminder"] for c in report["by_customer"]}
    assert by_customer == {"C1": 1, "C2": 3}
    assert report["by_month"] == {"2025-03": {"reminder": 4}}


def test_pauses_are_reported_and_dunning_resumes_after_them(session_factory) -> None:
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=datetime(2025, 4, 1, tzinfo=UTC))
        customer_row(db, org, "C1")
        invoice_row(db, org, "I1", "C1", date(2025, 3, 3), 100)
        db.add(
            Dispute(
                organization_id=org.id,
                invoice_external_id="I1",
                customer_external_id="C1",
                reason="quality",
                opened_on=date(2025, 3, 2),
                closed_on=date(2025, 3, 12),
            )
        )
        org_id = org.id
    report = run(session_factory, org_id)
    assert report["suppressed"]["by_pause"] == {"dispute": 1}
    held = report["suppressed"]["items"][0]
    assert (held["target"], held["step"], held["first_day"], held["days"]) == (
        "I1",
        "s0",
        "2025-03-03",
        9,
    )
    # After the dispute closed on the 12th: s0 that day, the missed s7 the next, then s14 on
    # the 17th and its repeats on the 24th and 31st.
    assert report["totals"]["reminder"] == 5


def test_holds_are_placed_and_released_over_time(session_factory) -> None:
    rules = simple_rules(
        credit_hold={"place_when_any": [{"fact": "oldest_overdue_days", "op": "gte", "value": 10}]}
    )
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=datetime(2025, 4, 1, tzinfo=UTC))
        customer_row(db, org, "C1")
        invoice_row(db, org, "I1", "C1", date(2025, 3, 3), 100, 0, status="paid")
        payment_row(db, org, "P", "C1", date(2025, 3, 20), {"I1": 100})
        org_id = org.id
    report = run(session_factory, org_id, rules)
    assert (report["totals"]["credit_hold"], report["totals"]["release_hold"]) == (1, 1)


def test_a_backtest_has_bounds(session_factory) -> None:
    with session_scope(session_factory) as db:
        org = org_row(db)
        with pytest.raises(ValueError, match="ends before it starts"):
            backtest(db, org, book(), END, START)
        with pytest.raises(ValueError, match="at most"):
            backtest(db, org, book(), START - timedelta(days=2000), END)
