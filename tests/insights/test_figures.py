"""Every dashboard figure against the values worked out by hand for tests/insights/seed.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from insights.aging import aging
from insights.aging import load_open
from insights.cei import cei
from insights.customers import load_states
from insights.customers import overdue_by_reason
from insights.customers import top_overdue
from insights.dso import Period
from insights.dso import countback
from insights.dso import dso
from insights.ledger import load_ledger
from insights.ledger import unconverted
from insights.trend import trend
from insights.trend import window_start
from tests.insights.seed import NOW
from tests.insights.seed import TODAY
from tests.insights.seed import seed


def D(value: str) -> Decimal:
    return Decimal(value)


def amounts(buckets: dict[str, Decimal]) -> list[Decimal]:
    return [buckets[b] for b in ("current", "1-30", "31-60", "61-90", "90+")]


def test_aging_per_currency_and_in_the_home_currency(db):
    org = seed(db)
    result = aging(load_open(db, org.id), TODAY, "USD")
    usd, eur = result.rows
    assert usd.currency == "USD" and amounts(usd.buckets) == [D(500), 0, D(400), 0, D(250)]
    assert usd.total == D(1150) and usd.overdue == D(650)
    # B-1 is 74 days late (Dec 31 -> Mar 15), B-2 18 days
    assert eur.currency == "EUR" and amounts(eur.buckets) == [0, D(300), 0, D(2000), 0]
    # In USD: B-1 at its own rate 1.10 is 2200.00; B-2 has no rate and is left out, by name.
    assert amounts(result.home.buckets) == [D(500), 0, D(400), D("2200.00"), D(250)]
    assert result.home.total == D(3350)
    assert result.missing == {"EUR": (1, D(300))}


def test_dso_by_countback_and_the_simple_method(db):
    org = seed(db)
    figures = dso(load_ledger(db, org.id, window_start(TODAY)), TODAY, "USD")
    assert figures.receivables == D(3350)
    # March so far (15 days) sold 500: 2850 left, 15 days; February sold nothing in USD terms
    # (B-2 has no rate; C-3 is void): 28 days; January sold 1000: 1850 left, 74 days; December
    # sold 2200 (B-1 at 1.10): 1850 / 2200 x 31 = 26.07 days -> 100.1.
    assert [(p.start, p.sales) for p in figures.periods[:4]] == [
        (date(2026, 3, 1), D(500)),
        (date(2026, 2, 1), 0),
        (date(2026, 1, 1), D(1000)),
        (date(2025, 12, 1), D("2200.00")),
    ]
    assert figures.countback == D("100.1") and not figures.countback_capped
    # Simple: the last 90 days (Dec 16 - Mar 15) sold 1500; 3350 / 1500 x 90 = 201.0
    assert figures.simple_sales == D(1500) and figures.simple == D("201.0")


def test_countback_that_runs_out_of_sales_says_so():
    periods = [Period(date(2026, 3, 1), date(2026, 3, 10), D(100))]
    assert countback(D(250), periods) == (D("10.0"), True)
    assert countback(D(50), periods) == (D("5.0"), False)
    assert countback(D(0), periods) == (D(0), False)


def test_collection_effectiveness_over_30_and_90_days(db):
    org = seed(db)
    ledger = load_ledger(db, org.id, window_start(TODAY))
    month = cei(ledger, TODAY, 30, "USD")
    # On Feb 13 A-1 still owed 1000 (the 600 came on Feb 20), B-1 2200, C-2 250: 3450.
    assert (month.beginning, month.sales, month.ending, month.ending_current) == (
        D(3450),
        D(500),
        D(3350),
        D(500),
    )
    assert month.index == D("17.4")  # (3450 + 500 - 3350) / (3450 + 500 - 500) = 600 / 3450
    quarter = cei(ledger, TODAY, 90, "USD")
    # On Dec 15: B-1 2200, C-1 800 (paid Jan 10), C-2 250; sales since: A-1 1000 + A-2 500.
    assert (quarter.beginning, quarter.sales) == (D(3250), D(1500))
    assert quarter.index == D("32.9")  # 1400 / 4250


def test_overdue_trend_over_twelve_months_from_payment_history(db):
    org = seed(db)
    ledger = load_ledger(db, org.id, window_start(TODAY))
    points = trend(ledger, TODAY, "USD")
    assert len(points) == 12 and points[0].day == date(2025, 4, 30)
    by_day = {p.day: (p.overdue, p.total) for p in points}
    assert by_day[date(2025, 9, 30)] == (0, 0)
    assert by_day[date(2025, 10, 31)] == (0, D(800))  # C-1 due that day: not overdue yet
    assert by_day[date(2025, 11, 30)] == (D(1050), D(1050))
    assert by_day[date(2025, 12, 31)] == (D(1050), D(3250))  # B-1 due that day
    assert by_day[date(2026, 1, 31)] == (D(2450), D(3450))  # C-1 paid Jan 10; A-1 due that day
    assert by_day[date(2026, 2, 28)] == (D(2850), D(2850))  # A-1 owes 400 after Feb 20
    assert by_day[TODAY] == (D(2850), D(3350))
    assert unconverted(ledger, "USD") == {"EUR": 1}


def test_overdue_by_reason_and_the_top_overdue_customers(db):
    org = seed(db)
    states = load_states(db, org, TODAY, NOW)
    reasons = {r.reason: (r.invoices, r.home, r.by_currency) for r in overdue_by_reason(states)}
    assert reasons == {
        "dispute": (1, D("2200.00"), {"EUR": D(2000)}),
        "promise_to_pay": (1, D(250), {"USD": D(250)}),
        "payment_plan": (0, 0, {}),
        "on_hold": (1, D(400), {"USD": D(400)}),  # Acme's A-1: on hold, nothing else
        "plain": (1, 0, {"EUR": D(300)}),  # B-2: no rate, so nothing in USD
    }
    top = top_overdue(states)
    assert [(s.name, s.overdue_home, s.oldest_days) for s in top] == [
        ("Birch GmbH", D("2200.00"), 74),
        ("Acme Ltd", D(400), 43),
        ("Cedar & Sons", D(250), 125),
    ]
    acme = next(s for s in states if s.external_id == "A")
    assert (acme.on_hold, acme.owner, acme.tags, acme.open_home) == (
        True,
        "sam@larkspur.test",
        ["key-account"],
        D(900),
    )


def test_needs_attention_counts_failed_dead_waiting_reconnect_and_tasks_due(db):
    from insights.attention import attention
    from outbox.models import ActionStatus as S
    from tasks.store import adopt_task_actions
    from tests.insights.seed import action

    org = seed(db)
    action(db, org.id, "note", "A", S.FAILED)
    action(db, org.id, "note", "B", S.DEAD)
    action(db, org.id, "reminder", "C", S.AWAITING_APPROVAL)
    action(db, org.id, "reminder", "B", S.AWAITING_APPROVAL)
    action(db, org.id, "task", "C", S.PLANNED, payload={"text": "Call", "assignee": "jo"})
    action(db, org.id, "task", "B", S.CANCELLED, payload={"text": "Gone", "assignee": "jo"})
    adopt_task_actions(db, org.id)  # decided 2026-03-14: due the day before TODAY
    found = attention(db, org, TODAY)
    assert (found.failed, found.dead, found.awaiting_approval, found.tasks_due) == (1, 1, 2, 1)
    assert not found.needs_reconnect and found.anything
    org.status = "needs_reconnect"
    assert attention(db, org, date(2026, 3, 13)).tasks_due == 0
    assert attention(db, org, TODAY).needs_reconnect
