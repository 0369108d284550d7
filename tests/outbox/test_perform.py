"""Taking an action: facts re-checked, limits respected, the command fixed and the action leased.

What happens next (the write and its outcome) is tested in test_deliver.py."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select

from core.db import session_scope
from core.models import Invoice
from outbox.models import Action
from outbox.models import ActionStatus as S
from outbox.perform import take
from rules.jobs import run_evaluation
from rules.models import CustomerProfile
from tests.rules.factories import activate
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import payment_row
from tests.rules.factories import simple_rules
from tests.rules.factories import take_due

NOW = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)  # Wednesday
TODAY = NOW.date()


def seed(session_factory, rules=None, email="c1@example.test", invoices=None, tz="UTC") -> int:
    with session_scope(session_factory) as db:
        org = org_row(db, tz=tz, synced_at=NOW)
        customer_row(db, org, "C1", email=email)
        for ext, due, total in invoices or [("I1", TODAY, 100), ("I2", TODAY, 40)]:
            invoice_row(db, org, ext, "C1", due, total)
        activate(db, org, rules or simple_rules(), at=datetime(2025, 1, 1, tzinfo=UTC))
        return org.id


def perform_one(ctx, action_id: int, now: datetime):
    with session_scope(ctx.sessions) as db:
        return take(db, action_id, now)


def only(session_factory, kind="reminder") -> Action:
    with session_scope(session_factory) as db:
        return db.scalars(select(Action).where(Action.kind == kind)).one()


def set_invoice(session_factory, ext: str, **values) -> None:
    with session_scope(session_factory) as db:
        db.execute(Invoice.__table__.update().where(Invoice.external_id == ext).values(**values))


def test_a_due_reminder_is_rendered_and_its_command_recorded(ctx, session_factory) -> None:
    org_id = seed(session_factory)
    run_evaluation(ctx, org_id, None, now=NOW)
    assert take_due(ctx, org_id, NOW) == 1
    action = only(session_factory)
    assert (action.status, action.reason) == (S.PENDING, "ready to send")
    assert action.performed_at == NOW
    assert action.rendered_subject == "Reminder"
    assert action.rendered_body == "I1 I2 "
    assert action.command["type"] == "SendEmail"
    assert {k: action.command[k] for k in ("customer_id", "to", "subject", "text")} == {
        "customer_id": "C1",
        "to": "c1@example.test",
        "subject": "Reminder",
        "text": "I1 I2 ",
    }
    assert [line["external_id"] for line in action.command["invoices"]] == ["I1", "I2"]
    assert action.lease_until == NOW + timedelta(minutes=2)
    again = perform_one(ctx, action.id, NOW)
    assert (again.status, again.reason) == (S.PENDING, "being written by another worker")


def test_paid_meanwhile_is_cancelled_with_the_reason(ctx, session_factory) -> None:
    org_id = seed(session_factory)
    run_evaluation(ctx, org_id, None, now=NOW)
    set_invoice(session_factory, "I1", balance=0, status="paid")
    set_invoice(session_factory, "I2", status="voided")
    take_due(ctx, org_id, NOW)
    action = only(session_factory)
    assert action.status == S.CANCELLED
    gone = "was paid, voided or deleted meanwhile"
    assert action.reason == f"invoice I1 {gone}; invoice I2 {gone}"
    assert action.command is None


def test_a_reminder_keeps_what_is_still_owed_with_todays_balance(ctx, session_factory) -> None:
    org_id = seed(session_factory)
    run_evaluation(ctx, org_id, None, now=NOW)
    set_invoice(session_factory, "I1", balance=0, status="paid")
    set_invoice(session_factory, "I2", balance=15)
    take_due(ctx, org_id, NOW)
    action = only(session_factory)
    assert action.status == S.PENDING
    assert [line["external_id"] for line in action.command["invoices"]] == ["I2"]
    assert [line["balance"] for line in action.payload["invoices"]] == ["15.0000"]
    assert "invoice I1 was paid" in action.reason and "invoice I2 balance now 15" in action.reason


def test_quiet_hours_reschedule_instead_of_dropping(ctx, session_factory) -> None:
    rules = simple_rules(limits={"caps": [], "quiet_hours": {"start": "18:00", "end": "09:00"}})
    org_id = seed(session_factory, rules, tz="Europe/London")
    run_evaluation(ctx, org_id, None, now=NOW)
    late = datetime(2025, 3, 12, 19, 0, tzinfo=UTC)
    take_due(ctx, org_id, late)
    action = only(session_factory)
    assert action.status == S.PLANNED
    assert action.scheduled_for == datetime(2025, 3, 13, 9, 0, tzinfo=UTC)
    assert action.reason.startswith(
        "rescheduled to 2025-03-13T09:00:00+00:00: waiting for quiet hours"
    )
    take_due(ctx, org_id, datetime(2025, 3, 13, 9, 0, tzinfo=UTC))
    assert only(session_factory).status == S.PENDING


def test_the_cap_reschedules_after_another_message_went(ctx, session_factory) -> None:
    rules = simple_rules(limits={"caps": [{"messages": 1, "days": 3}], "quiet_hours": None})
    org_id = seed(session_factory, rules)
    run_evaluation(ctx, org_id, None, now=NOW)
    with session_scope(session_factory) as db:
        db.add(
            Action(
                organization_id=org_id,
                rule="manual",
                step="x",
                target="customer:C1",
                period="x",
                kind="reminder",
                customer_external_id="C1",
                status=S.SENT,
                decided_on=TODAY,
                scheduled_for=NOW,
                performed_at=NOW - timedelta(hours=1),
                payload={},
                explanation={},
            )
        )
    take_due(ctx, org_id, NOW)
    with session_scope(session_factory) as db:
        action = db.scalars(select(Action).where(Action.rule == "policy:std")).one()
    assert action.status == S.PLANNED
    # Three days after the last message is Saturday 13:00: business days push it to Monday.
    assert action.scheduled_for == datetime(2025, 3, 17, 0, 0, tzinfo=UTC)
    assert "per-customer message cap, not a business day" in action.reason


def test_no_email_address_is_skipped(ctx, session_factory) -> None:
    org_id = seed(session_factory, email=None)
    run_evaluation(ctx, org_id, None, now=NOW)
    take_due(ctx, org_id, NOW)
    action = only(session_factory)
    assert (action.status, action.reason) == (
        S.SKIPPED,
        "the customer has no email address to remind",
    )


def test_do_not_contact_set_meanwhile_cancels(ctx, session_factory) -> None:
    org_id = seed(session_factory)
    run_evaluation(ctx, org_id, None, now=NOW)
    with session_scope(session_factory) as db:
        db.add(
            CustomerProfile(
                organization_id=org_id, customer_external_id="C1", do_not_contact=True, tags=[]
            )
        )
    take_due(ctx, org_id, NOW)
    action = only(session_factory)
    assert (action.status, action.reason) == (S.CANCELLED, "the customer was marked do-not-contact")


def test_a_note_becomes_an_add_note_command(ctx, session_factory) -> None:
    rules = simple_rules()
    rules["policies"][0]["steps"][0]["actions"] = [
        {"type": "note", "text": "Due {{ invoices[0].number }}"}
    ]
    org_id = seed(session_factory, rules, invoices=[("I1", TODAY, 100)])
    run_evaluation(ctx, org_id, None, now=NOW)
    take_due(ctx, org_id, NOW)
    action = only(session_factory, "note")
    assert action.command == {
        "type": "AddNote",
        "entity": "invoice",
        "external_id": "I1",
        "text": "Due I1",
    }


def test_a_settlement_is_cancelled_when_the_balance_moved(ctx, session_factory) -> None:
    rules = simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}})
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=NOW)
        customer_row(db, org, "C1")
        invoice_row(
            db,
            org,
            "I1",
            "C1",
            TODAY + timedelta(days=20),
            100,
            2,
            issue_date=TODAY - timedelta(days=5),
        )
        invoice_row(
            db,
            org,
            "I2",
            "C1",
            TODAY + timedelta(days=20),
            200,
            4,
            issue_date=TODAY - timedelta(days=5),
        )
        payment_row(db, org, "P1", "C1", TODAY - timedelta(days=1), {"I1": 98, "I2": 196})
        activate(db, org, rules, at=datetime(2025, 1, 1, tzinfo=UTC))
        org_id = org.id
    run_evaluation(ctx, org_id, None, now=NOW)
    set_invoice(session_factory, "I2", balance=0, status="paid")
    take_due(ctx, org_id, NOW)
    with session_scope(session_factory) as db:
        rows = {
            a.target: a for a in db.scalars(select(Action).where(Action.kind == "settle_discount"))
        }
    assert rows["I1"].status == S.PENDING
    assert rows["I1"].command == {
        "type": "SettleDiscount",
        "invoice_id": "I1",
        "customer_id": "C1",
        "amount": "2.0000",
        "currency": "USD",
        "on": "2025-03-12",
        "memo": "Early-payment discount",
    }
    assert rows["I2"].status == S.CANCELLED
    assert rows["I2"].reason == "invoice I2 was paid, voided or deleted meanwhile"


def test_a_hold_whose_condition_cleared_is_cancelled_at_perform(ctx, session_factory) -> None:
    rules = simple_rules(
        credit_hold={"place_when_any": [{"fact": "oldest_overdue_days", "op": "gt", "value": 60}]}
    )
    org_id = seed(session_factory, rules, invoices=[("I1", date(2024, 12, 1), 100)])
    run_evaluation(ctx, org_id, None, now=NOW)
    set_invoice(session_factory, "I1", balance=0, status="paid")
    take_due(ctx, org_id, NOW)
    hold = only(session_factory, "credit_hold")
    assert hold.status == S.CANCELLED
    assert hold.reason == "the hold condition cleared before the hold was performed"


def test_a_hold_that_still_applies_records_set_credit_hold(ctx, session_factory) -> None:
    rules = simple_rules(
        credit_hold={
            "place_when_any": [{"fact": "oldest_overdue_days", "op": "gt", "value": 60}],
            "reason": "Over 60 days",
        }
    )
    org_id = seed(session_factory, rules, invoices=[("I1", date(2024, 12, 1), 100)])
    run_evaluation(ctx, org_id, None, now=NOW)
    take_due(ctx, org_id, NOW)
    hold = only(session_factory, "credit_hold")
    assert hold.status == S.PENDING
    assert hold.command == {
        "type": "SetCreditHold",
        "customer_id": "C1",
        "on_hold": True,
        "reason": "Over 60 days",
    }
