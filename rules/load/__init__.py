"""Load one organization's facts from the mirror, set-based: a fixed handful of queries per
organization (or per group of customers), never one per invoice.

Rows are read as plain tuples (no ORM objects) because a daily run reads every open invoice.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.orm import Session

from core.models import Invoice
from core.models import Organization
from core.models import Payment
from core.models import PaymentAllocation
from outbox.models import ActionStatus
from rules.engine.decisions import MESSAGE_KINDS
from rules.engine.decisions import ActionKind
from rules.engine.facts import OPEN
from rules.engine.facts import CustomerFact
from rules.engine.facts import Firing
from rules.engine.facts import History
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.engine.timing import local_date
from rules.load import queries as q
from rules.models import RuleSet
from rules.pauses.load import load_pauses
from rules.ruleset.book import RuleBook
from rules.ruleset.features import COLUMNS
from rules.ruleset.features import INVOICE_DELIVERY
from rules.ruleset.features import features_on


def load_facts(
    session: Session,
    org: Organization,
    as_of: date,
    now: datetime,
    book: RuleBook | None = None,
    customer_ids: list[str] | None = None,
    rules_since: date | None = None,
) -> OrgFacts:
    """Everything the evaluator needs about `org` (or only `customer_ids`) as of `as_of`."""
    customers = load_customers(session, org.id, customer_ids)
    part_paid = _invoices(session, org.id, customer_ids, customers)
    _credit(session, org.id, customer_ids, customers)
    if part_paid and (book is None or book.early is not None or book.offers):
        _last_paid(session, org.id, customer_ids, customers)
    if book is not None and (book.needs_billed or book.needs_lateness):
        _behaviour(session, org.id, as_of, customer_ids, customers, book)
    facts = OrgFacts(
        organization_id=org.id,
        name=org.name,
        timezone=org.timezone or "UTC",
        customers=customers,
        synced_at=org.last_synced_at,
        rules_since=rules_since,
        currency=org.currency,
    )
    if book is not None:
        facts.feature_since = feature_since(session, org, book, as_of)
    load_pauses(session, facts, as_of, customer_ids)
    cap_days = book.limits.longest_cap_days if book is not None else 7
    offers = book is None or bool(book.offers)
    facts.history = _history(session, org.id, customer_ids, now, cap_days, customers, offers)
    if book is not None and book.delivery_after is not None:
        _unsent(session, facts, as_of, customer_ids, book.delivery_after)
    return facts


def feature_since(
    session: Session, org: Organization, book: RuleBook, as_of: date
) -> dict[str, date]:
    """The start of each feature of `book` (rules.ruleset.features) as a local date. For the active
    version, when it was switched on; for a draft (or another version), the same if the active
    version has it too, else today: as if activated now."""
    on = sorted(features_on(book))
    if not on:
        return {}
    columns = [getattr(RuleSet, COLUMNS[f]) for f in on]
    row = session.execute(
        select(RuleSet.active_number, *columns).where(RuleSet.organization_id == org.id)
    ).first()
    active = row is not None and book.version is not None and row[0] == book.version
    starts = row[1:] if row is not None else [None] * len(on)
    out = {}
    for feature, started in zip(on, starts, strict=True):
        if started is not None:
            out[feature] = local_date(started, org.timezone)
        elif not active:
            out[feature] = as_of
    return out


def load_customers(
    session: Session, org_id: int, customer_ids: list[str] | None
) -> dict[str, CustomerFact]:
    """The customers of the organization (only `customer_ids`, when given) with their profile:
    tags, do-not-contact and the credit hold, without invoices yet."""
    stmt = q.customers(customer_ids is not None)
    rows = session.connection().execute(stmt, q.params(org_id, customer_ids)).all()
    out: dict[str, CustomerFact] = {}
    for r in rows:
        fact = CustomerFact(r[0], r[1] or "", r[2], r[3], bool(r[4]), bool(r[5]), r[6], r[7])
        fact.tags = frozenset(r[8] or ())
        fact.do_not_contact = bool(r[9])
        fact.on_hold = bool(r[10])
        fact.hold_by_rule = bool(r[10]) and r[11] == "rule"
        fact.hold_changed_at = r[12]
        out[r[0]] = fact
    return out


def _invoices(
    session: Session,
    org_id: int,
    customer_ids: list[str] | None,
    customers: dict[str, CustomerFact],
) -> bool:
    """Attach the open invoices; whether any of them is part-paid."""
    stmt = q.open_invoices(customer_ids is not None)
    rows = session.connection().execute(stmt, q.params(org_id, customer_ids)).all()
    part_paid = False
    for ext, cid, number, issued, due, currency, total, balance, pct, days, link in rows:
        customer = customers.get(cid)
        if customer is None:  # the invoice arrived before its customer
            customer = customers[cid] = CustomerFact(cid)
        inv = InvoiceFact(
            ext, cid, number, issued, due, currency, total, balance, OPEN, False, pct, days, link
        )
        part_paid = part_paid or balance < total
        customer.invoices.append(inv)
    return part_paid


def _credit(
    session: Session,
    org_id: int,
    customer_ids: list[str] | None,
    customers: dict[str, CustomerFact],
) -> None:
    """Unapplied credit notes and payments, per customer and currency."""
    stmt = q.credit(customer_ids is not None)
    for cid, currency, amount in session.connection().execute(stmt, q.params(org_id, customer_ids)):
        customer = customers.get(cid)
        if customer is not None:
            customer.credit[currency] = customer.credit.get(currency, Decimal(0)) + amount


def _unsent(
    session: Session,
    facts: OrgFacts,
    as_of: date,
    customer_ids: list[str] | None,
    after_days: int,
) -> None:
    """Invoices not yet sent to the customer whose send day is not before the rules started
    running (or, for rules not running yet, today), with the deliveries already decided."""
    first_day = facts.since_for(INVOICE_DELIVERY) or as_of
    args = q.params(
        facts.organization_id, customer_ids, issued_from=first_day - timedelta(days=after_days)
    )
    conn, scoped = session.connection(), customer_ids is not None
    customers = facts.customers
    for ext, cid, number, issued, due, cur, total, balance, status, email in conn.execute(
        q.unsent_invoices(scoped), args
    ):
        customer = customers.get(cid)
        if customer is None:
            customer = customers[cid] = CustomerFact(cid)
        fact = InvoiceFact(ext, cid, number, issued, due, cur, total, balance, status)
        fact.email, fact.sent_to_customer = email, False
        customer.unsent.append(fact)
    for target, rule, step, period, fired_on in conn.execute(q.delivery_firings(scoped), args):
        facts.history.firings.setdefault(target, []).append(Firing(rule, step, period, fired_on))


def _last_paid(
    session: Session,
    org_id: int,
    customer_ids: list[str] | None,
    customers: dict[str, CustomerFact],
) -> None:
    stmt = q.last_paid(customer_ids is not None)
    paid = dict(session.connection().execute(stmt, q.params(org_id, customer_ids)).all())
    if not paid:
        return
    for customer in customers.values():
        for inv in customer.invoices:
            inv.last_paid_on = paid.get(inv.external_id, inv.last_paid_on)


def _behaviour(
    session: Session,
    org_id: int,
    as_of: date,
    customer_ids: list[str] | None,
    customers: dict[str, CustomerFact],
    book: RuleBook,
) -> None:
    """Billed in the last 12 months, and average days late of invoices paid in that time."""
    year_ago = as_of - timedelta(days=365)
    recent = and_(
        Invoice.organization_id == org_id,
        Invoice.deleted.is_(False),
        Invoice.status.in_(("open", "paid")),
        Invoice.issue_date > year_ago,
        Invoice.issue_date <= as_of,
        true() if customer_ids is None else Invoice.customer_external_id.in_(customer_ids),
    )
    billed = session.connection().execute(
        select(Invoice.customer_external_id, func.sum(Invoice.total))
        .where(recent)
        .group_by(Invoice.customer_external_id)
    )
    for cid, total in billed:
        if cid in customers:
            customers[cid].billed_12m = Decimal(total)
    if not book.needs_lateness:
        return
    paid = session.connection().execute(
        select(Invoice.customer_external_id, Invoice.due_date, func.max(Payment.paid_on))
        .join(
            PaymentAllocation,
            and_(
                PaymentAllocation.organization_id == Invoice.organization_id,
                PaymentAllocation.invoice_external_id == Invoice.external_id,
            ),
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(recent, Invoice.status == "paid", Invoice.due_date.is_not(None))
        .group_by(Invoice.id, Invoice.customer_external_id, Invoice.due_date)
    )
    lateness: dict[str, list[int]] = {}
    for cid, due, paid_on in paid:
        if paid_on is not None and due is not None:
            lateness.setdefault(cid, []).append(max((paid_on - due).days, 0))
    for cid, days in lateness.items():
        if cid in customers:
            customers[cid].avg_days_late = Decimal(sum(days)) / len(days)


def _history(
    session: Session,
    org_id: int,
    customer_ids: list[str] | None,
    now: datetime,
    cap_days: int,
    customers: dict[str, CustomerFact],
    offers: bool,
) -> History:
    history = History()
    conn = session.connection()
    scoped = customer_ids is not None
    rows = conn.execute(q.firings(scoped), q.params(org_id, customer_ids)).all()
    firings = history.firings
    for target, rule, step, period, fired_on, amount in rows:
        found = firings.get(target)
        if found is None:
            found = firings[target] = []
        made = amount if offers and step == "offer" and rule.startswith("offer:") else None
        found.append(Firing(rule, step, period, fired_on, made))
    horizon = now - timedelta(days=max(cap_days, 1))
    actions = conn.execute(
        q.live_actions(scoped), q.params(org_id, customer_ids, horizon=horizon)
    ).all()
    latest_hold: dict[str, tuple[Any, ...]] = {}
    for cid, action_id, kind, status, scheduled_for, performed_at, created_at in actions:
        if kind in MESSAGE_KINDS:
            history.messages.setdefault(cid, []).append(performed_at or scheduled_for)
            if kind == ActionKind.REMINDER and status in ActionStatus.unsent():
                history.planned_reminders[cid] = (action_id, scheduled_for)
        else:
            latest_hold[cid] = (action_id, kind, status, created_at)
    _holds(latest_hold, customers, history)
    return history


def _holds(
    latest: dict[str, tuple[Any, ...]], customers: dict[str, CustomerFact], history: History
) -> None:
    """The effective hold: the latest live hold action, unless a person set or lifted the hold
    in the profile since (editing tags or do-not-contact leaves a rule's hold in force)."""
    for cid, (action_id, kind, status, created_at) in latest.items():
        customer = customers.get(cid)
        if customer is None:
            continue
        changed = customer.hold_changed_at
        if changed is not None and changed > created_at:
            continue
        customer.on_hold = kind == ActionKind.CREDIT_HOLD
        customer.hold_by_rule = customer.on_hold
        if status in ActionStatus.unsent():
            history.planned_holds[cid] = (action_id, kind)
