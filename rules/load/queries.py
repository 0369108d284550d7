"""The loader's statements, built once per process and run with bound parameters.

Building a SQLAlchemy statement costs more than running a small one, and re-evaluating one
customer after a webhook runs about ten of them; `org`, `ids` (expanding) and `horizon` are
bound per call. Each statement comes in two shapes: the whole organization, or some customers.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter
from sqlalchemy import ColumnElement
from sqlalchemy import CompoundSelect
from sqlalchemy import Select
from sqlalchemy import SQLColumnExpression
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy import type_coerce
from sqlalchemy import union_all

from core.db import Money
from core.models import CreditNote
from core.models import Customer
from core.models import Invoice
from core.models import Payment
from core.models import PaymentAllocation
from outbox.models import Action
from outbox.models import ActionStatus
from rules.engine.decisions import HOLD_KINDS
from rules.engine.decisions import MESSAGE_KINDS
from rules.models import CustomerProfile
from rules.models import StepFiring


def _money(column: Any) -> Any:
    """A money column read as core.db.Money reads it (its value through an expression too)."""
    return type_coerce(column, Money())


def params(org_id: int, customer_ids: list[str] | None, **more: object) -> dict[str, object]:
    """The bind parameters of the fact queries: the organization, the customers of a scoped
    run, and any of `more` that is not None."""
    out: dict[str, object] = {"org": org_id}
    out.update((k, v) for k, v in more.items() if v is not None)
    if customer_ids is not None:
        out["ids"] = list(customer_ids)
    return out


def in_scope(column: SQLColumnExpression[str], scoped: bool) -> ColumnElement[bool]:
    """`column` is one of the customers in the `ids` parameter, when the run is scoped."""
    return column.in_(bindparam("ids", expanding=True)) if scoped else true()


def _open_invoices(scoped: bool) -> ColumnElement[bool]:
    return and_(
        Invoice.organization_id == bindparam("org"),
        Invoice.status == "open",
        Invoice.deleted.is_(False),
        Invoice.balance > 0,
        in_scope(Invoice.customer_external_id, scoped),
    )


@cache
def customers(scoped: bool) -> Select[*tuple[Any, ...]]:
    profile_join = and_(
        CustomerProfile.organization_id == Customer.organization_id,
        CustomerProfile.customer_external_id == Customer.external_id,
    )
    return (
        select(
            Customer.external_id,
            Customer.name,
            Customer.email,
            Customer.currency,
            Customer.active,
            Customer.deleted,
            Customer.merged_into,
            Customer.timezone,
            CustomerProfile.tags,
            CustomerProfile.do_not_contact,
            CustomerProfile.credit_hold,
            CustomerProfile.credit_hold_source,
            CustomerProfile.credit_hold_changed_at,
        )
        .outerjoin(CustomerProfile, profile_join)
        .where(
            Customer.organization_id == bindparam("org"),
            in_scope(Customer.external_id, scoped),
        )
    )


@cache
def open_invoices(scoped: bool) -> Select[*tuple[Any, ...]]:
    return select(
        Invoice.external_id,
        Invoice.customer_external_id,
        Invoice.number,
        Invoice.issue_date,
        Invoice.due_date,
        Invoice.currency,
        _money(Invoice.total),
        _money(Invoice.balance),
        _money(Invoice.discount_percent),
        Invoice.discount_days,
        Invoice.link,
    ).where(_open_invoices(scoped))


@cache
def last_paid(scoped: bool) -> Select[*tuple[Any, ...]]:
    """The latest payment date of each open, part-paid invoice."""
    partly_paid = select(Invoice.external_id).where(
        _open_invoices(scoped), Invoice.balance < Invoice.total
    )
    return (
        select(PaymentAllocation.invoice_external_id, func.max(Payment.paid_on))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            PaymentAllocation.organization_id == bindparam("org"),
            PaymentAllocation.invoice_external_id.in_(partly_paid),
            Payment.deleted.is_(False),
        )
        .group_by(PaymentAllocation.invoice_external_id)
    )


@cache
def credit(scoped: bool) -> CompoundSelect[*tuple[Any, ...]]:
    """Each customer's unapplied credit per currency, in two parts: the remaining credit of
    credit notes (and Xero overpayments and prepayments, mirrored as credit notes), and
    payments not (wholly) applied to invoices."""
    notes = select(
        CreditNote.customer_external_id, CreditNote.currency, CreditNote.remaining
    ).where(
        CreditNote.organization_id == bindparam("org"),
        CreditNote.voided.is_(False),
        CreditNote.deleted.is_(False),
        CreditNote.remaining > 0,
        in_scope(CreditNote.customer_external_id, scoped),
    )
    payments = select(Payment.customer_external_id, Payment.currency, Payment.unapplied).where(
        Payment.organization_id == bindparam("org"),
        Payment.deleted.is_(False),
        Payment.unapplied > 0,
        in_scope(Payment.customer_external_id, scoped),
    )
    return union_all(notes, payments)


def _unsent(scoped: bool) -> ColumnElement[bool]:
    """Invoices not yet sent to the customer, issued on or after `issued_from`: open ones, and
    drafts (Xero SUBMITTED; a Xero DRAFT is mirrored with sent_to_customer None)."""
    return and_(
        Invoice.organization_id == bindparam("org"),
        Invoice.status.in_(("open", "draft")),
        Invoice.deleted.is_(False),
        Invoice.sent_to_customer.is_(False),
        Invoice.issue_date >= bindparam("issued_from"),
        in_scope(Invoice.customer_external_id, scoped),
    )


@cache
def unsent_invoices(scoped: bool) -> Select[*tuple[Any, ...]]:
    return select(
        Invoice.external_id,
        Invoice.customer_external_id,
        Invoice.number,
        Invoice.issue_date,
        Invoice.due_date,
        Invoice.currency,
        _money(Invoice.total),
        _money(Invoice.balance),
        Invoice.status,
        Invoice.email,
    ).where(_unsent(scoped))


@cache
def delivery_firings(scoped: bool) -> Select[*tuple[Any, ...]]:
    """Deliveries already decided for the unsent drafts (`firings` has the open invoices')."""
    unsent_ids = select(Invoice.external_id).where(_unsent(scoped), Invoice.status == "draft")
    return select(
        StepFiring.target, StepFiring.rule, StepFiring.step, StepFiring.period, StepFiring.fired_on
    ).where(
        StepFiring.organization_id == bindparam("org"),
        StepFiring.rule == "invoice_delivery",
        StepFiring.target.in_(unsent_ids),
    )


@cache
def firings(scoped: bool) -> Select[*tuple[Any, ...]]:
    """Step firings of open invoices and of payment plans; a settlement offer's with the balance
    it was made on (to settle it against), the others' without (not needed, not decoded)."""
    open_ids = select(Invoice.external_id).where(_open_invoices(scoped))
    return select(
        StepFiring.target,
        StepFiring.rule,
        StepFiring.step,
        StepFiring.period,
        StepFiring.fired_on,
        _money(case((StepFiring.step == "offer", StepFiring.amount))),
    ).where(
        StepFiring.organization_id == bindparam("org"),
        in_scope(StepFiring.customer_external_id, scoped),
        or_(StepFiring.target.in_(open_ids), StepFiring.target.like("plan:%")),
    )


@cache
def live_actions(scoped: bool) -> Select[*tuple[Any, ...]]:
    """Recent messages (reminders, invoices sent: for caps; reminders for merging) and live
    hold actions, oldest first."""
    horizon: BindParameter[datetime] = bindparam("horizon")
    recent_reminder = and_(
        Action.kind.in_(sorted(MESSAGE_KINDS)),
        or_(Action.scheduled_for >= horizon, Action.performed_at >= horizon),
    )
    return (
        select(
            Action.customer_external_id,
            Action.id,
            Action.kind,
            Action.status,
            Action.scheduled_for,
            Action.performed_at,
            Action.created_at,
        )
        .where(
            Action.organization_id == bindparam("org"),
            Action.status.in_(ActionStatus.live()),
            or_(recent_reminder, Action.kind.in_(sorted(HOLD_KINDS))),
            in_scope(Action.customer_external_id, scoped),
        )
        .order_by(Action.id)
    )


def _recent_invoices(scoped: bool) -> ColumnElement[bool]:
    """Invoices issued in the year up to `as_of` (after `year_ago`), open or paid."""
    return and_(
        Invoice.organization_id == bindparam("org"),
        Invoice.deleted.is_(False),
        Invoice.status.in_(("open", "paid")),
        Invoice.issue_date > bindparam("year_ago"),
        Invoice.issue_date <= bindparam("as_of"),
        in_scope(Invoice.customer_external_id, scoped),
    )


@cache
def billed(scoped: bool) -> Select[*tuple[Any, ...]]:
    """What each customer was billed in the last 12 months."""
    return (
        select(Invoice.customer_external_id, func.sum(Invoice.total))
        .where(_recent_invoices(scoped))
        .group_by(Invoice.customer_external_id)
    )


@cache
def lateness(scoped: bool) -> Select[*tuple[Any, ...]]:
    """The due date and the last payment date of each invoice paid in the last 12 months."""
    return (
        select(Invoice.customer_external_id, Invoice.due_date, func.max(Payment.paid_on))
        .join(
            PaymentAllocation,
            and_(
                PaymentAllocation.organization_id == Invoice.organization_id,
                PaymentAllocation.invoice_external_id == Invoice.external_id,
            ),
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(_recent_invoices(scoped), Invoice.status == "paid", Invoice.due_date.is_not(None))
        .group_by(Invoice.id, Invoice.customer_external_id, Invoice.due_date)
    )
