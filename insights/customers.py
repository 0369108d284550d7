"""Where each customer stands today: open and overdue amounts (per currency and in the home
currency), the oldest overdue invoice, why each overdue invoice is not chased (disputed,
promised, on a plan, on hold, or plainly overdue), tags, owner and segment.

Read through the rules' own loader (rules.load.load_facts) and pause logic
(rules.pauses.checks.invoice_pause), so the pages say exactly what the engine will do.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Invoice
from core.models import Organization
from insights.aging import BUCKETS
from insights.aging import bucket_of
from insights.fx import ZERO
from insights.fx import to_home
from rules.engine.dunning import choose_policy
from rules.engine.facts import CustomerFact
from rules.engine.facts import OrgFacts
from rules.load import load_facts
from rules.models import CustomerProfile
from rules.pauses.checks import invoice_pause
from rules.ruleset.book import RuleBook
from rules.ruleset.store import active_book

REASONS = ("dispute", "promise_to_pay", "payment_plan", "on_hold", "plain")
REASON_LABELS = {
    "dispute": "Disputed",
    "promise_to_pay": "Promised to pay",
    "payment_plan": "On a payment plan",
    "on_hold": "On credit hold",
    "plain": "Plainly overdue",
}


@dataclass
class OpenItem:
    external_id: str
    number: str | None
    currency: str
    balance: Decimal
    home: Decimal | None
    issue_date: date | None
    due_date: date | None
    days_overdue: int
    pause: str | None  # dispute, promise_to_pay, payment_plan (the engine's own answer)

    today: date

    @property
    def bucket(self) -> str:
        return bucket_of(self.due_date, self.today)


@dataclass
class CustomerState:
    external_id: str
    name: str
    email: str | None
    tags: list[str]
    owner: str
    on_hold: bool
    do_not_contact: bool
    active: bool
    segment: str | None
    items: list[OpenItem] = field(default_factory=list)
    open_home: Decimal = ZERO
    overdue_home: Decimal = ZERO
    unconverted: int = 0

    @property
    def overdue_items(self) -> list[OpenItem]:
        return [i for i in self.items if i.days_overdue > 0]

    @property
    def oldest_days(self) -> int:
        return max((i.days_overdue for i in self.items), default=0)

    @property
    def disputed(self) -> bool:
        return any(i.pause == "dispute" for i in self.items)

    @property
    def buckets(self) -> set[str]:
        return {i.bucket for i in self.items}

    def by_currency(self, overdue_only: bool) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for i in self.items:
            if i.days_overdue > 0 or not overdue_only:
                out[i.currency] = out.get(i.currency, ZERO) + i.balance
        return dict(sorted(out.items()))

    def reason(self, item: OpenItem) -> str:
        if item.pause is not None:
            return item.pause
        return "on_hold" if self.on_hold else "plain"


def load_states(
    session: Session,
    org: Organization,
    today: date,
    now: datetime,
    customer_ids: list[str] | None = None,
) -> list[CustomerState]:
    """Every customer of `org` (or those of `customer_ids`) still in the mirror (not deleted
    or merged away)."""
    active = active_book(session, org.id)
    book = active[0] if active is not None else None
    facts = load_facts(session, org, today, now, book, customer_ids)
    owners = dict(
        session.execute(
            select(CustomerProfile.customer_external_id, CustomerProfile.owner).where(
                CustomerProfile.organization_id == org.id
            )
        ).all()
    )
    rates = dict(
        session.execute(
            select(Invoice.external_id, Invoice.home_rate).where(
                Invoice.organization_id == org.id,
                Invoice.status == "open",
                Invoice.deleted.is_(False),
                Invoice.balance > 0,
            )
        ).all()
    )
    states = []
    for fact in facts.customers.values():
        if fact.deleted or fact.merged_into is not None:
            continue
        states.append(_state(fact, facts, book, today, owners.get(fact.external_id, ""), rates))
    return states


def _state(
    c: CustomerFact,
    facts: OrgFacts,
    book: RuleBook | None,
    today: date,
    owner: str,
    rates: dict[str, Decimal | None],
) -> CustomerState:
    segment = choose_policy(book, c)[1] if book is not None else None
    state = CustomerState(
        c.external_id,
        c.name or c.external_id,
        c.email,
        sorted(c.tags),
        owner or "",
        c.on_hold,
        c.do_not_contact,
        c.active,
        segment.key if segment is not None else None,
    )
    grace = book.plans.grace_days if book is not None else 0
    for inv in c.invoices:
        if not inv.is_open:
            continue
        anchor = inv.due_date
        days = (today - anchor).days if anchor is not None else 0
        pause, _ = invoice_pause(facts, c, inv, today, grace)
        home = to_home(inv.balance, inv.currency, rates.get(inv.external_id), facts.currency)
        item = OpenItem(
            inv.external_id,
            inv.number,
            inv.currency,
            inv.balance,
            home,
            inv.issue_date,
            inv.due_date,
            max(days, 0),
            pause,
            today,
        )
        state.items.append(item)
        if home is None:
            state.unconverted += 1
            continue
        state.open_home += home
        if item.days_overdue > 0:
            state.overdue_home += home
    state.items.sort(key=lambda i: (i.due_date or date.max, i.external_id))
    return state


@dataclass
class ReasonTotal:
    reason: str
    invoices: int = 0
    home: Decimal = ZERO
    by_currency: dict[str, Decimal] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return REASON_LABELS[self.reason]


def overdue_by_reason(states: list[CustomerState]) -> list[ReasonTotal]:
    """Every overdue invoice under exactly one reason, in the order of REASONS (a disputed
    invoice of a customer on hold counts as disputed)."""
    totals = {r: ReasonTotal(r) for r in REASONS}
    for state in states:
        for item in state.overdue_items:
            total = totals[state.reason(item)]
            total.invoices += 1
            total.home += item.home or ZERO
            total.by_currency[item.currency] = (
                total.by_currency.get(item.currency, ZERO) + item.balance
            )
    return [totals[r] for r in REASONS]


def top_overdue(states: list[CustomerState], count: int = 10) -> list[CustomerState]:
    overdue = [s for s in states if s.overdue_items]
    overdue.sort(key=lambda s: (-s.overdue_home, -s.oldest_days, s.name.lower()))
    return overdue[:count]


def segments(book: RuleBook | None) -> list[tuple[str, str]]:
    return [(s.key, s.name or s.key) for s in book.segments] if book is not None else []


__all__ = ["BUCKETS", "CustomerState", "OpenItem", "load_states", "overdue_by_reason"]
