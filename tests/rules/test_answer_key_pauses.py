"""Answer key, everything else: pauses, do-not-contact, conditions, discounts, settlement offers,
credit holds, caps and business hours, segments, merging into a planned reminder."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

import pytest

from rules.engine.credit import covered_on
from rules.engine.dunning import before_due_passed
from rules.engine.facts import DisputeFact
from rules.engine.facts import Firing
from rules.engine.messages import render_reminder
from rules.pauses.checks import BROKEN
from rules.pauses.checks import COMPLETED
from rules.pauses.checks import promise_state
from rules.ruleset.defaults import starter
from tests.rules.answer_key import AS_OF
from tests.rules.answer_key import C1
from tests.rules.answer_key import CAPPED
from tests.rules.answer_key import DAY
from tests.rules.answer_key import DELIVERY
from tests.rules.answer_key import EARLY
from tests.rules.answer_key import HOLD_PER_CURRENCY
from tests.rules.answer_key import HOLD_RULES
from tests.rules.answer_key import NOW
from tests.rules.answer_key import OFFERS
from tests.rules.answer_key import OFFICE
from tests.rules.answer_key import PLANS
from tests.rules.answer_key import SEGMENTS
from tests.rules.answer_key import Case
from tests.rules.answer_key import P
from tests.rules.answer_key import R
from tests.rules.answer_key import ago
from tests.rules.answer_key import detail
from tests.rules.answer_key import fired
from tests.rules.answer_key import plan
from tests.rules.answer_key import promise
from tests.rules.answer_key import reminder
from tests.rules.answer_key import run
from tests.rules.answer_key import with_step
from tests.rules.factories import D
from tests.rules.factories import book
from tests.rules.factories import customer
from tests.rules.factories import facts
from tests.rules.factories import invoice
from tests.rules.factories import simple_rules

CASES = [
    Case(
        "an open dispute pauses the invoice",
        [customer("C1", invoice("I1", AS_OF))],
        [],
        disputes={"I1": [DisputeFact(1, "I1", "pricing", ago(2))]},
        suppressed=[("I1", "s0", "dispute")],
    ),
    Case(
        "a closed dispute does not",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
        disputes={"I1": [DisputeFact(1, "I1", "pricing", ago(5), ago(1))]},
    ),
    Case(
        "a promise to pay pauses until its date, inclusive",
        [customer("C1", invoice("I1", AS_OF))],
        [],
        promises=[promise(AS_OF)],
        suppressed=[("I1", "s0", "promise_to_pay")],
    ),
    Case(
        "a broken promise resumes dunning the day after",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
        promises=[promise(ago(1))],
    ),
    Case(
        "a promise covering other invoices does not pause this one",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
        promises=[promise(AS_OF + DAY, invoices=["I9"])],
    ),
    Case(
        "an invoice issued after an older promise naming no invoices is dunned",
        [customer("C1", invoice("I1", AS_OF, issue_date=ago(5)))],
        [reminder("s0", "t", ["I1"])],
        promises=[promise(AS_OF + DAY, balance=100)],
    ),
    Case(
        "a promise covers the invoices stored with it, not ones issued later",
        [
            customer(
                "C1",
                invoice("I1", AS_OF, issue_date=ago(30)),
                invoice("I2", AS_OF, issue_date=ago(5)),
            )
        ],
        [reminder("s0", "t", ["I2"])],
        promises=[promise(AS_OF + DAY, invoices=["I1"])],
        suppressed=[("I1", "s0", "promise_to_pay")],
    ),
    Case(
        "an honoured plan: covered invoice not chased, instalment reminded",
        [customer("C1", invoice("I1", ago(10)))],
        [("reminder", "plan:1", "instalment-1", C1, P, ("t", (), (), (1,)))],
        rules=PLANS,
        plans=[plan((1, AS_OF + 3 * DAY, 50), (2, AS_OF + 33 * DAY, 50))],
        suppressed=[("I1", "s0", "payment_plan")],
    ),
    Case(
        "instalment reminders do not repeat an earlier reminder",
        [customer("C1", invoice("I1", ago(10)))],
        [],
        rules=PLANS,
        plans=[plan((1, AS_OF + 2 * DAY, 50))],
        firings={"plan:1": [Firing("plan:1", "instalment-1", "d3", ago(1))]},
        suppressed=[("I1", "s0", "payment_plan")],
    ),
    Case(
        "a met instalment is not reminded of; the next one is",
        [customer("C1", invoice("I1", ago(10), balance=50))],
        [("reminder", "plan:1", "instalment-2", C1, P, ("t", (), (), (2,)))],
        rules=PLANS,
        plans=[plan((1, ago(1), 50), (2, AS_OF, 50))],
        suppressed=[("I1", "s0", "payment_plan")],
    ),
    Case(
        "a missed instalment breaks the plan and dunning resumes",
        [customer("C1", invoice("I1", ago(10)))],
        [reminder("s0", "t", ["I1"])],
        rules=PLANS,
        plans=[plan((1, ago(2), 50), (2, AS_OF + 28 * DAY, 50))],
    ),
    Case(
        "do-not-contact: no reminder, but the step's note is still made",
        [customer("C1", invoice("I1", AS_OF), do_not_contact=True)],
        [("note", R, "s0:note:1", "I1", "0", None)],
        rules=with_step(
            simple_rules(),
            0,
            actions=[
                {"type": "reminder", "template": "t"},
                {"type": "note", "text": "due {{ as_of }}"},
            ],
        ),
        suppressed=[("I1", "s0", "do_not_contact")],
    ),
    Case(
        "do-not-contact with only a reminder: the step is reached, its reminder held back",
        [customer("C1", invoice("I1", AS_OF), do_not_contact=True)],
        [],
        suppressed=[("I1", "s0", "do_not_contact")],
    ),
    Case(
        "contact allowed again: the held-back reminder goes",
        [customer("C1", invoice("I1", ago(2)))],
        [reminder("s0", "t", ["I1"])],
        firings={"I1": [*fired(("s0", 0, 2)), Firing(R, "s0:held", "0", ago(2))]},
    ),
    Case(
        "a held-back reminder goes once",
        [customer("C1", invoice("I1", ago(2)))],
        [],
        firings={
            "I1": [
                *fired(("s0", 0, 2)),
                Firing(R, "s0:held", "0", ago(2)),
                Firing(R, "s0:resumed", "0", ago(1)),
            ]
        },
    ),
    Case(
        "still do-not-contact: the held-back reminder waits",
        [customer("C1", invoice("I1", ago(2)), do_not_contact=True)],
        [],
        firings={"I1": [*fired(("s0", 0, 2)), Firing(R, "s0:held", "0", ago(2))]},
        suppressed=[("I1", "s0", "do_not_contact")],
    ),
    Case(
        "the next step's reminder replaces the one held back",
        [customer("C1", invoice("I1", ago(7)))],
        [reminder("s7", "t7", ["I1"])],
        firings={"I1": [*fired(("s0", 0, 7)), Firing(R, "s0:held", "0", ago(7))]},
    ),
    Case(
        "step conditions choose the invoices",
        [customer("C1", invoice("I1", AS_OF, total=40), invoice("I2", AS_OF, total=60))],
        [reminder("s0", "t", ["I2"])],
        rules=with_step(
            simple_rules(), 0, conditions=[{"fact": "invoice_balance", "op": "gt", "value": "50"}]
        ),
    ),
    Case(
        "currency condition",
        [customer("C1", invoice("I1", AS_OF), invoice("I2", AS_OF, currency="EUR"))],
        [reminder("s0", "t", ["I2"])],
        rules=with_step(
            simple_rules(), 0, conditions=[{"fact": "currency", "op": "in", "value": ["EUR"]}]
        ),
    ),
    Case(
        "customer-level condition: number of overdue invoices",
        [customer("C1", invoice("I1", ago(7)), invoice("I2", ago(8)))],
        [reminder("s7", "t7", ["I1", "I2"])],
        rules=with_step(
            simple_rules(),
            1,
            conditions=[{"fact": "overdue_invoice_count", "op": "gte", "value": 2}],
        ),
        firings={"I1": fired(("s0", 0, 7)), "I2": fired(("s0", 0, 8))},
    ),
    Case(
        "a short payment inside the discount window is settled",
        [
            customer(
                "C1",
                invoice(
                    "I1", AS_OF + 20 * DAY, balance="2.00", issue_date=ago(8), last_paid_on=ago(1)
                ),
            )
        ],
        [("settle_discount", "discount:early", "settle", "I1", "0", "2.00")],
        rules=EARLY,
    ),
    Case(
        "a short payment from before the rules were activated is not settled",
        [
            customer(
                "C1",
                invoice(
                    "I1", AS_OF + 20 * DAY, balance="2.00", issue_date=ago(8), last_paid_on=ago(1)
                ),
            )
        ],
        [],
        rules=EARLY,
        since=AS_OF,
    ),
    Case(
        "a short payment on the day the rules were activated is settled",
        [
            customer(
                "C1",
                invoice(
                    "I1", AS_OF + 20 * DAY, balance="2.00", issue_date=ago(8), last_paid_on=ago(1)
                ),
            )
        ],
        [("settle_discount", "discount:early", "settle", "I1", "0", "2.00")],
        rules=EARLY,
        since=ago(1),
    ),
    Case(
        "a discount switched on later settles no payment from before it",
        [
            customer(
                "C1",
                invoice(
                    "I1", AS_OF + 20 * DAY, balance="2.00", issue_date=ago(8), last_paid_on=ago(1)
                ),
            )
        ],
        [],
        rules=EARLY,
        since=ago(300),
        feature_since={"early_payment": AS_OF},
    ),
    Case(
        "within a cent of rounding still settles",
        [
            customer(
                "C1",
                invoice(
                    "I1",
                    AS_OF + 20 * DAY,
                    total="100.33",
                    balance="2.00",
                    issue_date=ago(8),
                    last_paid_on=ago(1),
                ),
            )
        ],
        [("settle_discount", "discount:early", "settle", "I1", "0", "2.00")],
        rules=EARLY,
    ),
    Case(
        "two cents off is not a discount",
        [
            customer(
                "C1",
                invoice(
                    "I1", AS_OF + 20 * DAY, balance="2.02", issue_date=ago(8), last_paid_on=ago(1)
                ),
            )
        ],
        [],
        rules=EARLY,
    ),
    Case(
        "a payment after the window is not settled",
        [
            customer(
                "C1",
                invoice(
                    "I1", AS_OF + 20 * DAY, balance="2.00", issue_date=ago(12), last_paid_on=ago(1)
                ),
            )
        ],
        [],
        rules=EARLY,
    ),
    Case(
        "the invoice's own terms (QuickBooks DiscountPercent/DiscountDays)",
        [
            customer(
                "C1",
                invoice(
                    "I1",
                    AS_OF + 20 * DAY,
                    total=200,
                    balance=6,
                    issue_date=ago(14),
                    last_paid_on=ago(1),
                    discount_percent=D(3),
                    discount_days=15,
                ),
            )
        ],
        [("settle_discount", "discount:early", "settle", "I1", "0", "6")],
        rules=EARLY,
    ),
    Case(
        "settlement offer on aged debt",
        [customer("C1", invoice("I1", ago(95)))],
        [("reminder", "offer:aged", "offer", C1, P, ("t", (), ("I1",), ()))],
        rules=OFFERS,
        firings={
            "I1": fired(
                ("s0", 0, 95), ("s7", 0, 88), ("s14", 0, 81), ("s14", 1, 74), ("s14", 2, 67)
            )
        },
    ),
    Case(
        "a settlement offer taken up is settled",
        [customer("C1", invoice("I1", ago(100), balance="5.00", last_paid_on=ago(1)))],
        [("settle_discount", "offer:aged", "settle", "I1", "0", "5.00")],
        rules=OFFERS,
        firings={"I1": [Firing("offer:aged", "offer", "0", ago(5), D(100))]},
    ),
    Case(
        "credit hold placed when the customer's overdue total passes the limit",
        [customer("C1", invoice("I1", ago(1), total=1500))],
        [("credit_hold", "hold", "place", C1, P, None)],
        rules=HOLD_RULES,
        firings={"I1": fired(("s0", 0, 1))},
    ),
    Case(
        "a rule's hold is released when the condition clears",
        [customer("C1", invoice("I1", ago(1), total=500), on_hold=True, hold_by_rule=True)],
        [("release_hold", "hold", "release", C1, P, None)],
        rules=HOLD_RULES,
        firings={"I1": fired(("s0", 0, 1))},
    ),
    Case(
        "an amount without a currency is in the home currency: NZD 1500 is not over USD 1000",
        [customer("C1", invoice("I1", ago(1), total=1500, currency="NZD"))],
        [],
        rules=HOLD_RULES,
        firings={"I1": fired(("s0", 0, 1))},
    ),
    Case(
        "an amount without a currency holds nobody while the home currency is unknown",
        [customer("C1", invoice("I1", ago(1), total=1500))],
        [],
        rules=HOLD_RULES,
        firings={"I1": fired(("s0", 0, 1))},
        currency=None,
    ),
    Case(
        "a threshold per currency: NZD 1500 is under NZD 2000",
        [customer("C1", invoice("I1", ago(1), total=1500, currency="NZD"))],
        [],
        rules=HOLD_PER_CURRENCY,
        firings={"I1": fired(("s0", 0, 1))},
    ),
    Case(
        "a threshold per currency: NZD 2500 is over NZD 2000",
        [customer("C1", invoice("I1", ago(1), total=2500, currency="NZD"))],
        [("credit_hold", "hold", "place", C1, P, None)],
        rules=HOLD_PER_CURRENCY,
        firings={"I1": fired(("s0", 0, 1))},
    ),
    Case(
        "a day-count condition without a currency applies in every currency",
        [customer("C1", invoice("I1", ago(61), total=10, currency="AUD"))],
        [("credit_hold", "hold", "place", C1, P, None)],
        rules=HOLD_PER_CURRENCY,
        firings={
            "I1": fired(
                ("s0", 0, 61), ("s7", 0, 54), ("s14", 0, 47), ("s14", 1, 40), ("s14", 2, 33)
            )
        },
    ),
    Case(
        "unapplied credit covering everything overdue: not chased, and no hold",
        [customer("C1", invoice("I1", ago(7), total=1500), credit={"USD": D(1500)})],
        [],
        rules=HOLD_RULES,
        firings={"I1": fired(("s0", 0, 7))},
        suppressed=[("I1", "s7", "unapplied_credit")],
    ),
    Case(
        "unapplied credit covering part: chased (the reminder mentions it)",
        [customer("C1", invoice("I1", ago(7)), credit={"USD": D(40)})],
        [reminder("s7", "t7", ["I1"])],
        firings={"I1": fired(("s0", 0, 7))},
    ),
    Case(
        "credit in another currency covers nothing",
        [customer("C1", invoice("I1", ago(7)), credit={"NZD": D(500)})],
        [reminder("s7", "t7", ["I1"])],
        firings={"I1": fired(("s0", 0, 7))},
    ),
    Case(
        "credit never holds back an invoice not yet overdue",
        [customer("C1", invoice("I1", AS_OF), credit={"USD": D(500)})],
        [reminder("s0", "t", ["I1"])],
    ),
    Case(
        "a rule set may chase despite covering credit",
        [customer("C1", invoice("I1", ago(7)), credit={"USD": D(500)})],
        [reminder("s7", "t7", ["I1"])],
        rules=simple_rules(unapplied_credit={"pause_when_covered": False}),
        firings={"I1": fired(("s0", 0, 7))},
    ),
    Case(
        "a hold placed by hand stays",
        [customer("C1", on_hold=True)],
        [],
        rules=HOLD_RULES,
    ),
    Case(
        "a step can place a hold",
        [customer("C1", invoice("I1", ago(7)))],
        [reminder("s7", "t7", ["I1"]), ("credit_hold", "hold", "place", C1, P, None)],
        rules=with_step(
            simple_rules(),
            1,
            actions=[{"type": "reminder", "template": "t7"}, {"type": "credit_hold"}],
        ),
        firings={"I1": fired(("s0", 0, 7))},
    ),
    Case(
        "a cap defers the reminder to the next allowed time",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
        rules=CAPPED,
        messages=[NOW - DAY],
        scheduled_for=NOW + 2 * DAY,
    ),
    Case(
        "a weekend in the customer's zone waits for Monday 08:00 (after the DST change)",
        [customer("C1", invoice("I1", date(2025, 3, 8)), timezone="America/New_York")],
        [("reminder", R, "s0", C1, "2025-03-08", ("t", ("I1",), (), ()))],
        rules=OFFICE,
        as_of=date(2025, 3, 8),
        now=datetime(2025, 3, 8, 15, 0, tzinfo=UTC),
        scheduled_for=datetime(2025, 3, 10, 12, 0, tzinfo=UTC),
    ),
    Case(
        "a segment chooses the policy",
        [customer("C1", invoice("I1", AS_OF), tags=frozenset({"vip"}))],
        [],
        rules=SEGMENTS,
    ),
    Case(
        "a segment without a policy is not chased",
        [customer("C1", invoice("I1", ago(30)), tags=frozenset({"internal"}))],
        [],
        rules=SEGMENTS,
    ),
    Case(
        "customers outside every segment follow the default policy",
        [customer("C1", invoice("I1", AS_OF), tags=frozenset({"other"}))],
        [reminder("s0", "t", ["I1"])],
        rules=SEGMENTS,
    ),
    Case(
        "a reminder still planned absorbs the new items",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
        planned=(77, NOW + DAY),
        scheduled_for=NOW + DAY,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_answer_key(case: Case) -> None:
    result = run(case)
    got = [(d.kind, d.rule, d.step, d.target, d.period, detail(d)) for d in result.decisions]
    assert got == case.expect
    assert [(s.target, s.step, s.pause) for s in result.suppressed] == case.suppressed
    if case.scheduled_for is not None:
        assert result.decisions[0].scheduled_for == case.scheduled_for
    elif case.expect and case.expect[0][0] == "reminder":
        assert result.decisions[0].scheduled_for == case.now


def test_evaluation_is_deterministic() -> None:
    for case in CASES:
        first, second = run(case), run(case)
        assert [d.as_dict() for d in first.decisions] == [d.as_dict() for d in second.decisions]


def test_a_kept_promise_is_not_judged_broken_by_an_invoice_issued_later() -> None:
    paid_60_of_i1 = invoice("I1", ago(3), balance=40, issue_date=ago(33))
    later = invoice("I2", AS_OF, issue_date=ago(2))
    c1 = customer("C1", paid_60_of_i1, later)
    assert promise_state(promise(ago(1), balance=100, amount=60), c1, AS_OF) == COMPLETED
    assert promise_state(promise(ago(1), balance=100), c1, AS_OF) == BROKEN  # 40 still owed
    assert promise_state(promise(ago(1), balance=100), customer("C1", later), AS_OF) == COMPLETED


def test_a_reminder_says_how_much_credit_is_available() -> None:
    part = Case(
        "USD 40 of credit against USD 100 overdue",
        [customer("C1", invoice("I1", ago(7)), credit={"USD": D(40), "NZD": D(9)})],
        [],
        rules=starter(),
    )
    decision = run(part).decisions[0]
    assert decision.payload["credit"] == [{"currency": "USD", "amount": "40"}]
    _, body = render_reminder(
        book(starter()), decision.payload, "Org", AS_OF, decision.payload["step"]
    )
    assert "We hold 40.00 USD of credit in your favour" in body
    assert "it leaves 60.00 USD to pay" in body
    assert "NZD" not in body


def unsent(ext: str, issued, **kw):
    return invoice(ext, issued + 30 * DAY, issue_date=issued, sent_to_customer=False, **kw)


SEND = ("send_invoice", "invoice_delivery", "send", "I1", "0", None)
DELIVERY_CASES = [
    Case(
        "an unsent invoice goes out after_days after its issue date",
        [customer("C1", unsent=[unsent("I1", ago(1))])],
        [SEND],
        rules=DELIVERY,
    ),
    Case("not before", [customer("C1", unsent=[unsent("I1", AS_OF)])], [], rules=DELIVERY),
    Case(
        "once",
        [customer("C1", unsent=[unsent("I1", ago(2))])],
        [],
        rules=DELIVERY,
        firings={"I1": [Firing("invoice_delivery", "send", "0", ago(1))]},
    ),
    Case(
        "a send day before the rules started running is history",
        [customer("C1", unsent=[unsent("I1", ago(10))])],
        [],
        rules=DELIVERY,
        since=ago(2),
    ),
    Case(
        "a send day on the day the rules started running is not",
        [customer("C1", unsent=[unsent("I1", ago(3))])],
        [SEND],
        rules=DELIVERY,
        since=ago(2),
    ),
    Case(
        "invoice delivery switched on later sends nothing whose day came before",
        [customer("C1", unsent=[unsent("I1", ago(3))])],
        [],
        rules=DELIVERY,
        since=ago(300),
        feature_since={"invoice_delivery": ago(1)},
    ),
    Case(
        "it waits for the message cap like a reminder",
        [customer("C1", unsent=[unsent("I1", ago(1))])],
        [SEND],
        rules=simple_rules(
            invoice_delivery={"enabled": True, "after_days": 1},
            limits={"caps": [{"messages": 1, "days": 3}], "quiet_hours": None},
        ),
        messages=[NOW - DAY],
        scheduled_for=NOW + 2 * DAY,
    ),
    Case(
        "do-not-contact holds it back",
        [customer("C1", unsent=[unsent("I1", ago(1))], do_not_contact=True)],
        [],
        rules=DELIVERY,
        suppressed=[("I1", "send", "do_not_contact")],
    ),
    Case(
        "no address to send it to",
        [customer("C1", unsent=[unsent("I1", ago(1))], email=None)],
        [],
        rules=DELIVERY,
        suppressed=[("I1", "send", "no_email")],
    ),
    Case(
        "off unless the rule set switches it on",
        [customer("C1", unsent=[unsent("I1", ago(1))])],
        [],
    ),
]


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=[c.name for c in DELIVERY_CASES])
def test_invoice_delivery(case: Case) -> None:
    result = run(case)
    got = [(d.kind, d.rule, d.step, d.target, d.period, detail(d)) for d in result.decisions]
    assert got == case.expect
    assert [(s.target, s.step, s.pause) for s in result.suppressed] == case.suppressed
    if case.scheduled_for is not None:
        assert result.decisions[0].scheduled_for == case.scheduled_for


def test_a_delivery_names_the_invoice_and_the_recipient() -> None:
    to_billing = unsent("I1", ago(1), number="1042", email="billing@c1.test")
    case = Case("", [customer("C1", unsent=[to_billing, unsent("I2", ago(1))])], [], DELIVERY)
    first, second = run(case).decisions
    assert first.payload == {
        "invoice": "I1",
        "number": "1042",
        "customer": "C1",
        "to": "billing@c1.test",
        "issue_date": ago(1).isoformat(),
        "due_date": (ago(1) + 30 * DAY).isoformat(),
        "total": "100",
        "currency": "USD",
    }
    assert first.explanation["send_on"] == AS_OF.isoformat()
    assert first.explanation["recipient_from"] == "invoice"
    assert (second.payload["to"], second.explanation["recipient_from"]) == (
        "c1@example.test",
        "customer",
    )
    assert first.scheduled_for == NOW


def test_send_time_helpers_for_the_outboxs_re_check() -> None:
    c1 = customer(
        "C1",
        invoice("I1", ago(7)),
        invoice("I2", ago(3), currency="NZD"),
        credit={"USD": D(100), "NZD": D(10)},
    )
    org = facts(c1)
    assert list(covered_on(book(), org, c1, AS_OF)) == ["USD"]
    org.disputes = {"I1": [DisputeFact(1, "I1", "pricing", ago(1))]}
    assert covered_on(book(), org, c1, AS_OF) == {}  # nothing overdue left to cover
    soon = {"days_overdue": -2, "due_date": (AS_OF + 2 * DAY).isoformat()}
    assert not before_due_passed(soon, AS_OF + DAY)
    assert before_due_passed(soon, AS_OF + 2 * DAY)
    assert not before_due_passed({"days_overdue": 0, "due_date": AS_OF.isoformat()}, AS_OF)
