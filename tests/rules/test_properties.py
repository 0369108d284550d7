"""Properties over random ledgers: evaluation is idempotent, caps hold for every customer, and
each invoice walks its steps in order, one step per day at most."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from rules.analysis.simulate import Simulator
from rules.engine.evaluate import evaluate
from rules.engine.facts import OrgFacts
from tests.rules.factories import book
from tests.rules.factories import customer
from tests.rules.factories import facts
from tests.rules.factories import invoice
from tests.rules.factories import simple_rules

START = date(2025, 3, 3)

invoice_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # customer
        st.integers(min_value=-40, max_value=20),  # due, days from START
        st.integers(min_value=1, max_value=5000),  # total
        st.one_of(st.none(), st.integers(min_value=0, max_value=40)),  # paid in full on day n
    ),
    min_size=1,
    max_size=25,
)
caps = st.lists(
    st.tuples(st.integers(min_value=1, max_value=3), st.integers(min_value=1, max_value=10)),
    max_size=3,
    unique_by=lambda c: c[1],
)


def rules_with(cap_list, hold: bool = True) -> dict:
    doc = simple_rules(
        limits={
            "caps": [{"messages": n, "days": d} for n, d in cap_list],
            "quiet_hours": {"start": "20:00", "end": "08:00"},
            "business_days": ["mon", "tue", "wed", "thu", "fri"],
        }
    )
    if hold:
        doc["credit_hold"] = {
            "place_when_any": [{"fact": "customer_total_overdue", "op": "gt", "value": "3000"}]
        }
    return doc


def ledger(specs, day: date, sim: Simulator) -> OrgFacts:
    by_customer: dict[str, list] = {}
    for n, (cust, due, total, paid_on) in enumerate(specs):
        paid = paid_on is not None and START + timedelta(days=paid_on) <= day
        inv = invoice(
            f"I{n}", START + timedelta(days=due), total, 0 if paid else total, customer=f"C{cust}"
        )
        by_customer.setdefault(f"C{cust}", []).append(
            dataclasses.replace(inv, status="paid" if paid else "open")
        )
    people = [
        customer(
            cid,
            *invoices,
            on_hold=sim.holds.get(cid, False),
            hold_by_rule=sim.holds.get(cid, False),
        )
        for cid, invoices in sorted(by_customer.items())
    ]
    org = facts(*people)
    org.history = sim.history
    return org


def morning(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(invoice_specs, caps, st.integers(min_value=0, max_value=30))
def test_evaluating_again_adds_nothing(specs, cap_list, offset) -> None:
    rules = book(rules_with(cap_list))
    sim = Simulator()
    day = START + timedelta(days=offset)
    first = evaluate(rules, ledger(specs, day, sim), day, morning(day))
    sim.apply(first)
    for hours in (0, 3):
        again = evaluate(rules, ledger(specs, day, sim), day, morning(day) + timedelta(hours=hours))
        assert again.decisions == [] and again.claims == [] and again.cancellations == []


@settings(max_examples=40, deadline=None)
@given(invoice_specs, caps)
def test_no_customer_ever_exceeds_the_cap_and_steps_go_in_order(specs, cap_list) -> None:
    rules = book(rules_with(cap_list, hold=False))
    policy = rules.policies["std"]
    sim = Simulator()
    sent: dict[str, list[datetime]] = {}
    for offset in range(45):
        day = START + timedelta(days=offset)
        sim.advance(morning(day))
        result = evaluate(rules, ledger(specs, day, sim), day, morning(day))
        sim.apply(result)
        for d in result.decisions:
            if d.kind == "reminder" and d.merge_into is None:
                sent.setdefault(d.customer_id, []).append(d.scheduled_for)
    for times in sent.values():
        ordered = sorted(times)
        for limit, days in rules.limits.caps:
            for start in ordered:
                inside = [t for t in ordered if start <= t < start + timedelta(days=days)]
                assert len(inside) <= limit, (limit, days, ordered)
    for target, firings in sim.history.firings.items():
        positions = [policy.positions[(f.step, f.period)] for f in firings]
        assert positions == list(range(len(positions))), (target, firings)
        days = [f.fired_on for f in firings]
        assert days == sorted(set(days)), (target, firings)
