"""Support for the answer-key tests: the Case row, builders, and how a case is run.

The answer key: facts + rules + an "as of" date -> the exact decisions expected.

Each row is one scenario. A decision is written (kind, rule, step, target, period, detail):
detail is (template, invoice ids, offer ids, instalment numbers) for a reminder, the amount for
a settlement, and None otherwise. Suppressions are (target, step, pause).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from rules.engine.evaluate import evaluate
from rules.engine.facts import CustomerFact
from rules.engine.facts import DisputeFact
from rules.engine.facts import Firing
from rules.engine.facts import History
from rules.engine.facts import Instalment
from rules.engine.facts import PlanFact
from rules.engine.facts import PromiseFact
from tests.rules.factories import D
from tests.rules.factories import book
from tests.rules.factories import facts
from tests.rules.factories import simple_rules

AS_OF = date(2025, 3, 12)  # a Wednesday
NOW = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)
DAY = timedelta(days=1)
R = "policy:std"
C1 = "customer:C1"
P = AS_OF.isoformat()


def ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def fired(*entries: tuple[str, str, int]) -> list[Firing]:
    """(step, period, days ago) of the standard policy."""
    return [Firing(R, step, str(period), ago(n)) for step, period, n in entries]


def with_step(doc: dict, index: int, **changes: Any) -> dict:
    doc = copy.deepcopy(doc)
    doc["policies"][0]["steps"][index].update(changes)
    return doc


def reminder(step: str, template: str, invoices=(), offers=(), instalments=(), rule: str = R):
    return (
        "reminder",
        rule,
        step,
        C1,
        P,
        (template, tuple(invoices), tuple(offers), tuple(instalments)),
    )


HOLD_RULES = simple_rules(
    credit_hold={
        "place_when_any": [{"fact": "customer_total_overdue", "op": "gt", "value": "1000"}]
    }
)
HOLD_PER_CURRENCY = simple_rules(
    credit_hold={
        "place_when_any": [
            {"fact": "customer_total_overdue", "op": "gt", "value": "1000", "currency": "USD"},
            {"fact": "customer_total_overdue", "op": "gt", "value": "2000", "currency": "NZD"},
            {"fact": "oldest_overdue_days", "op": "gt", "value": 60},
        ]
    }
)
EARLY = simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}})
OFFERS = simple_rules(
    discounts={
        "settlement_offers": [
            {
                "key": "aged",
                "min_days_overdue": 90,
                "percent": "5",
                "valid_days": 14,
                "template": "t",
            }
        ]
    }
)
PLANS = simple_rules(payment_plans={"remind_days_before": [3, 0], "template": "t"})
SEGMENTS = simple_rules(
    segments=[
        {"key": "vip", "policy": "gentle", "match": {"tags_any": ["vip"]}},
        {"key": "off", "policy": None, "match": {"tags_any": ["internal"]}},
    ]
)
SEGMENTS["policies"].append(
    {
        "key": "gentle",
        "steps": [
            {"key": "g14", "offset_days": 14, "actions": [{"type": "reminder", "template": "t"}]}
        ],
    }
)
BEFORE_DUE = simple_rules()
BEFORE_DUE["policies"][0]["steps"].insert(
    0, {"key": "soon", "offset_days": -3, "actions": [{"type": "reminder", "template": "t"}]}
)
DELIVERY = simple_rules(invoice_delivery={"enabled": True, "after_days": 1})
CAPPED = simple_rules(limits={"caps": [{"messages": 1, "days": 3}], "quiet_hours": None})
OFFICE = simple_rules(limits={"timezone_from": "customer"})  # defaults: 20-08, Mon-Fri


@dataclass
class Case:
    name: str
    customers: list[CustomerFact]
    expect: list[tuple]
    rules: dict = field(default_factory=simple_rules)
    suppressed: list[tuple] = field(default_factory=list)
    firings: dict[str, list[Firing]] = field(default_factory=dict)
    disputes: dict[str, list[DisputeFact]] = field(default_factory=dict)
    promises: list[PromiseFact] = field(default_factory=list)
    plans: list[PlanFact] = field(default_factory=list)
    messages: list[datetime] = field(default_factory=list)
    planned: tuple[int, datetime] | None = None
    as_of: date = AS_OF
    now: datetime = NOW
    since: date | None = None
    scheduled_for: datetime | None = None
    currency: str | None = "USD"  # the organization's home currency
    feature_since: dict[str, date] = field(default_factory=dict)


def promise(until: date, balance: Any = 100, amount: Any = None, invoices=()) -> PromiseFact:
    return PromiseFact(
        1, "C1", frozenset(invoices), ago(10), until, D(balance), D(amount) if amount else None
    )


def plan(*instalments: tuple[int, date, Any], invoices=("I1",), start: Any = 100) -> PlanFact:
    return PlanFact(
        1,
        "C1",
        frozenset(invoices),
        tuple(Instalment(n, due, D(amount)) for n, due, amount in instalments),
        D(start),
        ago(20),
        "USD",
    )


def detail(d) -> Any:
    if d.kind == "reminder":
        p = d.payload
        return (
            p["template"],
            tuple(sorted(i["external_id"] for i in p["invoices"])),
            tuple(o["external_id"] for o in p["offers"]),
            tuple(i["number"] for i in p["instalments"]),
        )
    if d.kind == "settle_discount":
        return d.payload["amount"]
    return None


def run(case: Case):
    org = facts(*copy.deepcopy(case.customers))
    org.rules_since = case.since
    org.currency = case.currency
    org.feature_since = case.feature_since
    org.disputes = case.disputes
    org.promises = {"C1": case.promises} if case.promises else {}
    org.plans = {"C1": case.plans} if case.plans else {}
    org.history = History(
        firings=copy.deepcopy(case.firings),
        messages={"C1": case.messages} if case.messages else {},
        planned_reminders={"C1": case.planned} if case.planned else {},
    )
    return evaluate(book(case.rules), org, case.as_of, case.now)
