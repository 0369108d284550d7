"""Backtest: replay a (draft) rule set over the mirror's past, "as of" each day.

The mirror keeps every invoice with its payments and credit allocations, so an invoice's
balance on any past day is its total less what was paid or credited by then. Each day the pure
evaluator runs on those facts with a simulated history (rules.analysis.simulate), as if every
decision had been performed at its scheduled time. Nothing is written.

Approximations, stated in the report: a voided or deleted invoice counts as gone from the day
of its last change; do-not-contact and tags are today's values; holds start released; unapplied
credit and invoice delivery are not replayed.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from datetime import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.deadline import NO_LIMIT
from core.deadline import Deadline
from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Invoice
from core.models import Organization
from core.models import Payment
from core.models import PaymentAllocation
from rules.analysis.report import Report
from rules.analysis.simulate import Simulator
from rules.engine.evaluate import evaluate
from rules.engine.facts import CustomerFact
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.engine.timing import local_date
from rules.engine.timing import local_instant
from rules.load import load_customers
from rules.pauses.load import load_pauses
from rules.ruleset.book import RuleBook

SEND_TIME = time(8, 0)
MAX_DAYS = 3 * 366


@dataclass
class _Invoice:
    fact: InvoiceFact
    born: date
    gone: date | None
    event_days: list[date]  # sorted days with payments or credits
    paid_by: list[Decimal]  # cumulative amount paid or credited by event_days[i]
    payment_days: list[date]  # sorted days of payments (for last_paid_on)

    def on(self, day: date) -> InvoiceFact | None:
        if day < self.born or (self.gone is not None and day >= self.gone):
            return None
        i = bisect_right(self.event_days, day)
        paid = self.paid_by[i - 1] if i else Decimal(0)
        balance = max(self.fact.total - paid, Decimal(0))
        j = bisect_right(self.payment_days, day)
        return dataclasses.replace(
            self.fact,
            balance=balance,
            status="open" if balance > 0 else "paid",
            last_paid_on=self.payment_days[j - 1] if j else None,
        )


@dataclass
class History:
    """What a backtest reads from the database; replaying it needs no database at all."""

    org_id: int
    timezone: str
    customers: dict[str, CustomerFact]
    invoices: list[_Invoice]
    base: OrgFacts


def backtest(
    session: Session, org: Organization, book: RuleBook, start: date, end: date
) -> dict[str, Any]:
    """What `book` would have done each day from `start` to `end` (local dates), inclusive."""
    _check_span(start, end)
    return replay(load_history(session, org, start), book, start, end)


def _check_span(start: date, end: date) -> None:
    if end < start:
        raise ValueError("the backtest ends before it starts")
    if (end - start).days > MAX_DAYS:
        raise ValueError(f"a backtest covers at most {MAX_DAYS} days")


def load_history(session: Session, org: Organization, start: date) -> History:
    """What a backtest replays from `start`: the customers as they are now, each invoice's
    timeline (when it was born, paid down, gone) and the pauses, from the mirror."""
    customers = load_customers(session, org.id, None)
    invoices = _timeline(session, org)
    base = OrgFacts(
        org.id, org.name, org.timezone or "UTC", {}, rules_since=start, currency=org.currency
    )
    load_pauses(session, base, None, None)
    return History(org.id, org.timezone or "UTC", customers, invoices, base)


def replay(
    history: History, book: RuleBook, start: date, end: date, deadline: Deadline = NO_LIMIT
) -> dict[str, Any]:
    """Run `book` over `history` day by day; `deadline` is checked every day."""
    _check_span(start, end)
    sim = Simulator()
    report = Report(history.org_id, book, start, end)
    day = start
    while day <= end:
        deadline.check()
        now = local_instant(day, SEND_TIME, history.timezone)
        sim.advance(now)
        facts = _facts_on(day, history.base, history.customers, history.invoices, sim)
        result = evaluate(book, facts, day, now)
        sim.apply(result)
        report.add(result, now, history.customers)
        day += timedelta(days=1)
    return report.as_dict()


def _facts_on(
    day: date,
    base: OrgFacts,
    customers: dict[str, CustomerFact],
    invoices: list[_Invoice],
    sim: Simulator,
) -> OrgFacts:
    by_customer: dict[str, list[InvoiceFact]] = {}
    for inv in invoices:
        fact = inv.on(day)
        if fact is not None:
            by_customer.setdefault(fact.customer_id, []).append(fact)
    out: dict[str, CustomerFact] = {}
    for cid in set(by_customer) | set(sim.holds) | set(base.plans):
        template = customers.get(cid) or CustomerFact(cid)
        on_hold = sim.holds.get(cid, False)
        out[cid] = dataclasses.replace(
            template, invoices=by_customer.get(cid, []), on_hold=on_hold, hold_by_rule=on_hold
        )
    return dataclasses.replace(base, customers=out, history=sim.history)


def _timeline(session: Session, org: Organization) -> list[_Invoice]:
    payments: dict[str, list[tuple[date, Decimal]]] = {}
    rows = session.execute(
        select(PaymentAllocation.invoice_external_id, Payment.paid_on, PaymentAllocation.amount)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.organization_id == org.id, Payment.deleted.is_(False))
    )
    for invoice_id, paid_on, amount in rows:
        if paid_on is not None:
            payments.setdefault(invoice_id, []).append((paid_on, amount))
    credits: dict[str, list[tuple[date, Decimal]]] = {}
    rows = session.execute(
        select(CreditAllocation.invoice_external_id, CreditNote.issue_date, CreditAllocation.amount)
        .join(CreditNote, CreditNote.id == CreditAllocation.credit_note_id)
        .where(
            CreditAllocation.organization_id == org.id,
            CreditNote.voided.is_(False),
            CreditNote.deleted.is_(False),
        )
    )
    for invoice_id, issued, amount in rows:
        if issued is not None:
            credits.setdefault(invoice_id, []).append((issued, amount))
    out = []
    for row in session.scalars(select(Invoice).where(Invoice.organization_id == org.id)):
        made = _invoice(
            row, org, payments.get(row.external_id, []), credits.get(row.external_id, [])
        )
        if made is not None:
            out.append(made)
    return out


def _invoice(
    row: Invoice,
    org: Organization,
    payments: list[tuple[date, Decimal]],
    credits: list[tuple[date, Decimal]],
) -> _Invoice | None:
    born = row.issue_date or row.due_date
    if born is None or row.status == "draft":
        return None
    gone = None
    if row.deleted or row.status in ("voided", "deleted"):
        gone = local_date(row.updated_at, org.timezone)
    fact = InvoiceFact(
        row.external_id,
        row.customer_external_id,
        row.number,
        row.issue_date,
        row.due_date,
        row.currency,
        row.total,
        row.total,
        discount_percent=row.discount_percent,
        discount_days=row.discount_days,
        link=row.link,
    )
    per_day: defaultdict[date, Decimal] = defaultdict(Decimal)
    for day, amount in payments + credits:
        per_day[day] += amount
    days = sorted(per_day)
    cumulative, running = [], Decimal(0)
    for day in days:
        running += per_day[day]
        cumulative.append(running)
    payment_days = sorted({d for d, _ in payments})
    return _Invoice(fact, born, gone, days, cumulative, payment_days)
