"""Load the pauses (disputes, promises to pay, payment plans) of one organization."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import BindParameter
from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import SQLColumnExpression
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.orm import Session

from rules.engine.facts import DisputeFact
from rules.engine.facts import Instalment
from rules.engine.facts import OrgFacts
from rules.engine.facts import PlanFact
from rules.engine.facts import PromiseFact
from rules.load.queries import in_scope
from rules.load.queries import params
from rules.load.reads import Reads
from rules.load.reads import Rows
from rules.load.reads import Statement
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PlanInstalment
from rules.pauses.models import PlanInvoice
from rules.pauses.models import PromiseToPay


def load_pauses(
    session: Session, facts: OrgFacts, as_of: date | None, customer_ids: list[str] | None
) -> None:
    """Pauses that may matter on `as_of` (every pause ever recorded when `as_of` is None)."""
    reads = Reads(session.connection())
    queued = queue_pauses(reads, facts.organization_id, as_of, customer_ids)
    add_pauses(session, facts, queued, reads.run())


def queue_pauses(
    reads: Reads, org_id: int, as_of: date | None, customer_ids: list[str] | None
) -> tuple[int, int, int]:
    """Queue the reads of `load_pauses` on `reads`; their indexes, for `add_pauses`."""
    shape = (customer_ids is not None, as_of is not None)
    args = params(org_id, customer_ids, as_of=as_of)
    return (
        reads.add(_disputes(*shape), args),
        reads.add(_promises(*shape), args),
        reads.add(_plans(*shape), args),
    )


def add_pauses(
    session: Session, facts: OrgFacts, queued: tuple[int, int, int], rows: list[Rows]
) -> None:
    """Add the pauses read by `queue_pauses` to `facts`."""
    disputes, promises, plans = (rows[i] for i in queued)
    for r in disputes:
        facts.disputes.setdefault(r[1], []).append(DisputeFact(*r))
    for r in promises:
        fact = PromiseFact(r[0], r[1], frozenset(r[2] or ()), r[3], r[4], r[5], r[6], r[7])
        facts.promises.setdefault(fact.customer_id, []).append(fact)
    if plans:
        _add_plans(session, facts, plans)


def pause_statements(scoped: bool) -> list[Statement]:
    """The statements of `queue_pauses` for a scoped run or not, dated or not."""
    return [
        make(scoped, dated) for make in (_disputes, _promises, _plans) for dated in (False, True)
    ]


def _live(
    opened: SQLColumnExpression[Any] | None, closed: SQLColumnExpression[Any], dated: bool
) -> ColumnElement[bool]:
    """Not closed (or cancelled) by `as_of`, and opened by then if `opened` is given."""
    if not dated:
        return true()
    as_of: BindParameter[Any] = bindparam("as_of")
    live = or_(closed.is_(None), closed > as_of)
    return live if opened is None else and_(opened <= as_of, live)


@cache
def _disputes(scoped: bool, dated: bool) -> Select[*tuple[Any, ...]]:
    return select(
        Dispute.id,
        Dispute.invoice_external_id,
        Dispute.reason,
        Dispute.opened_on,
        Dispute.closed_on,
    ).where(
        Dispute.organization_id == bindparam("org"),
        _live(Dispute.opened_on, Dispute.closed_on, dated),
        in_scope(Dispute.customer_external_id, scoped),
    )


@cache
def _promises(scoped: bool, dated: bool) -> Select[*tuple[Any, ...]]:
    p = PromiseToPay
    return select(
        p.id,
        p.customer_external_id,
        p.invoice_external_ids,
        p.promised_on,
        p.until,
        p.balance_at_promise,
        p.amount,
        p.cancelled_on,
    ).where(
        p.organization_id == bindparam("org"),
        _live(None, p.cancelled_on, dated),
        in_scope(p.customer_external_id, scoped),
    )


@cache
def _plans(scoped: bool, dated: bool) -> Select[*tuple[Any, ...]]:
    p = PaymentPlan
    return select(
        p.id, p.customer_external_id, p.start_balance, p.created_on, p.currency, p.cancelled_on
    ).where(
        p.organization_id == bindparam("org"),
        _live(None, p.cancelled_on, dated),
        in_scope(p.customer_external_id, scoped),
    )


def _add_plans(session: Session, facts: OrgFacts, plans: Rows) -> None:
    conn = session.connection()
    plan_ids = [p[0] for p in plans]
    invoices: dict[int, set[str]] = {}
    rows = conn.execute(
        select(PlanInvoice.plan_id, PlanInvoice.invoice_external_id).where(
            PlanInvoice.plan_id.in_(plan_ids)
        )
    )
    for plan_id, invoice_id in rows:
        invoices.setdefault(plan_id, set()).add(invoice_id)
    instalments: dict[int, list[Instalment]] = {}
    instalment_rows = conn.execute(
        select(
            PlanInstalment.plan_id,
            PlanInstalment.number,
            PlanInstalment.due_on,
            PlanInstalment.amount,
        )
        .where(PlanInstalment.plan_id.in_(plan_ids))
        .order_by(PlanInstalment.plan_id, PlanInstalment.number)
    )
    for plan_id, number, due_on, amount in instalment_rows:
        instalments.setdefault(plan_id, []).append(Instalment(number, due_on, amount))
    for plan_id, customer, start, created_on, currency, cancelled_on in plans:
        fact = PlanFact(
            id=plan_id,
            customer_id=customer,
            invoice_ids=frozenset(invoices.get(plan_id, ())),
            instalments=tuple(instalments.get(plan_id, ())),
            start_balance=start,
            created_on=created_on,
            currency=currency,
            cancelled_on=cancelled_on,
        )
        facts.plans.setdefault(customer, []).append(fact)
