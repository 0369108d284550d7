"""Load one organization's facts from the mirror, set-based: a fixed handful of queries per
organization (or per group of customers), never one per invoice.

Rows are read as plain tuples (no ORM objects) because a daily run reads every open invoice;
the statements of one load are independent and go to the database together (rules.load.reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from rules.load.reads import Reads
from rules.load.reads import Rows
from rules.load.reads import Statement
from rules.models import RuleSet
from rules.pauses.load import add_pauses
from rules.pauses.load import pause_statements
from rules.pauses.load import queue_pauses
from rules.ruleset.book import RuleBook
from rules.ruleset.features import COLUMNS
from rules.ruleset.features import INVOICE_DELIVERY
from rules.ruleset.features import features_on


class OrgLike(Protocol):
    """What the loader reads of an organization: a core.models.Organization, or the columns of
    it an evaluation read already (rules.ruleset.store.OrgRun)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def last_synced_at(self) -> datetime | None: ...


def load_facts(
    session: Session,
    org: OrgLike,
    as_of: date,
    now: datetime,
    book: RuleBook | None = None,
    customer_ids: list[str] | None = None,
    rules_since: date | None = None,
    feature_starts: dict[str, date] | None = None,
) -> OrgFacts:
    """Everything the evaluator needs about `org` (or only `customer_ids`) as of `as_of`.

    `feature_starts` is `feature_since` of `book` when the caller has read it already. The
    statements are independent of one another and run together (rules.load.reads)."""
    facts = OrgFacts(
        organization_id=org.id,
        name=org.name,
        timezone=org.timezone or "UTC",
        customers={},
        synced_at=org.last_synced_at,
        rules_since=rules_since,
        currency=org.currency,
    )
    if book is not None:
        found = feature_starts
        facts.feature_since = feature_since(session, org, book, as_of) if found is None else found
    reads = Reads(session.connection())
    scoped, args = customer_ids is not None, q.params(org.id, customer_ids)
    customers = reads.add(q.customers(scoped), args)
    invoices = reads.add(q.open_invoices(scoped), args)
    credit = reads.add(q.credit(scoped), args)
    last_paid = None
    if book is None or book.early is not None or book.offers:
        last_paid = reads.add(q.last_paid(scoped), args)
    billed = lateness = None
    if book is not None and (book.needs_billed or book.needs_lateness):
        year = q.params(org.id, customer_ids, as_of=as_of, year_ago=as_of - timedelta(days=365))
        billed = reads.add(q.billed(scoped), year)
        lateness = reads.add(q.lateness(scoped), year) if book.needs_lateness else None
    pauses = queue_pauses(reads, org.id, as_of, customer_ids)
    cap_days = book.limits.longest_cap_days if book is not None else 7
    horizon = now - timedelta(days=max(cap_days, 1))
    firings = reads.add(q.firings(scoped), args)
    actions = reads.add(q.live_actions(scoped), q.params(org.id, customer_ids, horizon=horizon))
    unsent = None
    if book is not None and book.delivery_after is not None:
        unsent = _queue_unsent(reads, facts, as_of, customer_ids, book.delivery_after)
    rows = reads.run()

    facts.customers = _customers(rows[customers])
    part_paid = _invoices(rows[invoices], facts.customers)
    _credit(rows[credit], facts.customers)
    if part_paid and last_paid is not None:
        _last_paid(rows[last_paid], facts.customers)
    if billed is not None:
        _billed(rows[billed], facts.customers)
    if lateness is not None:
        _lateness(rows[lateness], facts.customers)
    add_pauses(session, facts, pauses, rows)
    offers = book is None or bool(book.offers)
    facts.history = _history(rows[firings], rows[actions], facts.customers, offers)
    if unsent is not None:
        _unsent(facts, rows[unsent[0]], rows[unsent[1]])
    return facts


def statements() -> list[Statement]:
    """Every statement the loader runs, in each of its shapes."""
    out: list[Statement] = []
    for scoped in (False, True):
        for make in (q.customers, q.open_invoices, q.credit, q.last_paid, q.billed, q.lateness):
            out.append(make(scoped))
        for make in (q.firings, q.live_actions, q.unsent_invoices, q.delivery_firings):
            out.append(make(scoped))
        out += pause_statements(scoped)
    return out


def feature_since(session: Session, org: OrgLike, book: RuleBook, as_of: date) -> dict[str, date]:
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
    starts = dict(zip(on, row[1:], strict=True)) if row is not None else {}
    return feature_dates(book, starts, active, org.timezone, as_of)


def feature_dates(
    book: RuleBook, starts: dict[str, datetime | None], active: bool, timezone: str, as_of: date
) -> dict[str, date]:
    """`feature_since` from the rule set's `<feature>_since` instants (`starts`, by feature), for
    `book` being the active version or not."""
    out = {}
    for feature in sorted(features_on(book)):
        started = starts.get(feature)
        if started is not None:
            out[feature] = local_date(started, timezone)
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
    return _customers(rows)


def _customers(rows: Sequence[Sequence[Any]]) -> dict[str, CustomerFact]:
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


def _invoices(rows: Rows, customers: dict[str, CustomerFact]) -> bool:
    """Attach the open invoices; whether any of them is part-paid."""
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


def _credit(rows: Rows, customers: dict[str, CustomerFact]) -> None:
    """Unapplied credit notes and payments, per customer and currency."""
    for cid, currency, amount in rows:
        customer = customers.get(cid)
        if customer is not None:
            customer.credit[currency] = customer.credit.get(currency, Decimal(0)) + amount


def _queue_unsent(
    reads: Reads,
    facts: OrgFacts,
    as_of: date,
    customer_ids: list[str] | None,
    after_days: int,
) -> tuple[int, int]:
    """Invoices not yet sent to the customer whose send day is not before the rules started
    running (or, for rules not running yet, today), with the deliveries already decided."""
    first_day = facts.since_for(INVOICE_DELIVERY) or as_of
    args = q.params(
        facts.organization_id, customer_ids, issued_from=first_day - timedelta(days=after_days)
    )
    scoped = customer_ids is not None
    return reads.add(q.unsent_invoices(scoped), args), reads.add(q.delivery_firings(scoped), args)


def _unsent(facts: OrgFacts, invoices: Rows, firings: Rows) -> None:
    customers = facts.customers
    for ext, cid, number, issued, due, cur, total, balance, status, email in invoices:
        customer = customers.get(cid)
        if customer is None:
            customer = customers[cid] = CustomerFact(cid)
        fact = InvoiceFact(ext, cid, number, issued, due, cur, total, balance, status)
        fact.email, fact.sent_to_customer = email, False
        customer.unsent.append(fact)
    for target, rule, step, period, fired_on in firings:
        facts.history.firings.setdefault(target, []).append(Firing(rule, step, period, fired_on))


def _last_paid(rows: Rows, customers: dict[str, CustomerFact]) -> None:
    paid: dict[str, date] = dict(rows)
    if not paid:
        return
    for customer in customers.values():
        for inv in customer.invoices:
            inv.last_paid_on = paid.get(inv.external_id, inv.last_paid_on)


def _billed(rows: Rows, customers: dict[str, CustomerFact]) -> None:
    """Billed in the last 12 months."""
    for cid, total in rows:
        if cid in customers:
            customers[cid].billed_12m = Decimal(total)


def _lateness(rows: Rows, customers: dict[str, CustomerFact]) -> None:
    """Average days late of invoices paid in the last 12 months."""
    lateness: dict[str, list[int]] = {}
    for cid, due, paid_on in rows:
        if paid_on is not None and due is not None:
            lateness.setdefault(cid, []).append(max((paid_on - due).days, 0))
    for cid, days in lateness.items():
        if cid in customers:
            customers[cid].avg_days_late = Decimal(sum(days)) / len(days)


def _history(
    firing_rows: Rows, action_rows: Rows, customers: dict[str, CustomerFact], offers: bool
) -> History:
    history = History()
    firings = history.firings
    for target, rule, step, period, fired_on, amount in firing_rows:
        found = firings.get(target)
        if found is None:
            found = firings[target] = []
        made = amount if offers and step == "offer" and rule.startswith("offer:") else None
        found.append(Firing(rule, step, period, fired_on, made))
    latest_hold: dict[str, tuple[Any, ...]] = {}
    for cid, action_id, kind, status, scheduled_for, performed_at, created_at in action_rows:
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
