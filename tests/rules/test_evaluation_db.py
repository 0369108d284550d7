"""Evaluations through the database (SQLite and PostgreSQL): the mirror, the profile, the pauses
and the outbox together, run after run."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import CreditNote
from core.models import Invoice
from core.models import Organization
from core.models import Payment
from outbox.models import Action
from rules.analysis.preview import preview
from rules.held_back import hold_back
from rules.jobs import run_evaluation
from rules.models import StepFiring
from rules.pauses import store as pauses_store
from rules.pauses.schemas import PauseInvalid
from rules.ruleset import store
from rules.ruleset.defaults import starter
from tests.rules.factories import D
from tests.rules.factories import activate
from tests.rules.factories import book
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import payment_row
from tests.rules.factories import simple_rules

NOW = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)  # a Wednesday
TODAY = NOW.date()
DAY = timedelta(days=1)
ACTIVATED = datetime(2025, 1, 1, tzinfo=UTC)


def seed(session_factory, rules=None, invoices=(), activated=ACTIVATED) -> int:
    """An organization with customer C1, its invoices (ext, due, total, extra columns) and
    `rules` active since `activated`."""
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=NOW, currency="USD")
        customer_row(db, org, "C1")
        for ext, due, total, extra in invoices:
            invoice_row(db, org, ext, "C1", due, total, **extra)
        activate(db, org, rules or starter(), at=activated)
        return org.id


def run(ctx, session_factory, org_id: int, now: datetime) -> dict:
    with session_scope(session_factory) as db:
        db.get(Organization, org_id).last_synced_at = now
    return run_evaluation(ctx, org_id, None, now=now)


def actions(session_factory) -> list[tuple[str, str, str]]:
    with session_scope(session_factory) as db:
        rows = db.execute(select(Action.kind, Action.step, Action.period).order_by(Action.id))
        return [tuple(r) for r in rows]


def test_a_due_on_receipt_invoice_gets_the_due_step_not_due_soon(ctx, session_factory) -> None:
    org_id = seed(session_factory, invoices=[("I1", TODAY, 100, {"issue_date": TODAY})])
    run(ctx, session_factory, org_id, NOW)
    assert actions(session_factory) == [("reminder", "due", TODAY.isoformat())]


HOLD_OVER_1000 = simple_rules(
    credit_hold={
        "place_when_any": [{"fact": "customer_total_overdue", "op": "gt", "value": "1000"}]
    }
)


def went_out(session_factory, kind: str) -> None:
    """The outbox delivered the actions of `kind` (its own job; not under test here)."""
    with session_scope(session_factory) as db:
        db.execute(Action.__table__.update().where(Action.kind == kind).values(status="sent"))


def edit_profile(session_factory, org_id: int, **data) -> None:
    with session_scope(session_factory) as db:
        pauses_store.update_profile(db, org_id, "C1", data)


def set_invoice(session_factory, ext: str, **values) -> None:
    with session_scope(session_factory) as db:
        db.execute(Invoice.__table__.update().where(Invoice.external_id == ext).values(**values))


def test_editing_tags_keeps_a_rules_hold_and_its_release(ctx, session_factory) -> None:
    org_id = seed(session_factory, HOLD_OVER_1000, [("I1", TODAY - 20 * DAY, 1500, {})])
    run(ctx, session_factory, org_id, NOW)
    went_out(session_factory, "credit_hold")
    edit_profile(session_factory, org_id, tags=["wholesale"])
    run(ctx, session_factory, org_id, NOW + DAY)  # still owing: not placed a second time
    set_invoice(session_factory, "I1", balance=0, status="paid")
    run(ctx, session_factory, org_id, NOW + 2 * DAY)
    holds = [a for a in actions(session_factory) if a[0] != "reminder"]
    assert holds == [
        ("credit_hold", "place", TODAY.isoformat()),
        ("release_hold", "release", (TODAY + 2 * DAY).isoformat()),
    ]


def test_lifting_a_rules_hold_by_hand_is_respected(ctx, session_factory) -> None:
    org_id = seed(session_factory, HOLD_OVER_1000, [("I1", TODAY - 20 * DAY, 1500, {})])
    run(ctx, session_factory, org_id, NOW)
    went_out(session_factory, "credit_hold")
    edit_profile(session_factory, org_id, credit_hold=False)
    set_invoice(session_factory, "I1", balance=0, status="paid")
    run(ctx, session_factory, org_id, NOW + DAY)
    holds = [a for a in actions(session_factory) if a[0] != "reminder"]
    assert holds == [("credit_hold", "place", TODAY.isoformat())]  # nothing left to release


def test_a_reminder_held_back_for_do_not_contact_goes_when_contact_is_allowed(
    ctx, session_factory
) -> None:
    rules = simple_rules()
    rules["policies"][0]["steps"][0]["actions"].append({"type": "note", "text": "Due today."})
    org_id = seed(session_factory, rules, [("I1", TODAY, 100, {})])
    edit_profile(session_factory, org_id, do_not_contact=True)
    run(ctx, session_factory, org_id, NOW)
    assert actions(session_factory) == [("note", "s0:note:1", "0")]
    edit_profile(session_factory, org_id, do_not_contact=False)
    run(ctx, session_factory, org_id, NOW + DAY)
    run(ctx, session_factory, org_id, NOW + 2 * DAY)
    assert actions(session_factory) == [
        ("note", "s0:note:1", "0"),
        ("reminder", "s0", (TODAY + DAY).isoformat()),
    ]


def test_a_reminder_cancelled_for_do_not_contact_at_send_time_is_owed(ctx, session_factory) -> None:
    org_id = seed(session_factory, simple_rules(), [("I1", TODAY, 100, {})])
    run(ctx, session_factory, org_id, NOW)
    edit_profile(session_factory, org_id, do_not_contact=True)
    with session_scope(session_factory) as db:
        cancelled = db.scalars(select(Action)).one()
        cancelled.status = "cancelled"  # as the outbox's re-check does at send time
        hold_back(db, cancelled)
    edit_profile(session_factory, org_id, do_not_contact=False)
    run(ctx, session_factory, org_id, NOW + DAY)
    assert actions(session_factory) == [
        ("reminder", "s0", TODAY.isoformat()),
        ("reminder", "s0", (TODAY + DAY).isoformat()),
    ]
    with session_scope(session_factory) as db:
        resumed = db.scalars(select(Action).order_by(Action.id.desc())).first()
        assert resumed.payload["invoices"][0]["claim"] == ["policy:std", "s0:resumed", "I1", "0"]
        resumed.status = "cancelled"  # do-not-contact again at send time
        hold_back(db, resumed)  # the resumed marker is given back
    run(ctx, session_factory, org_id, NOW + 2 * DAY)
    assert actions(session_factory)[-1] == ("reminder", "s0", (TODAY + 2 * DAY).isoformat())


def test_a_threshold_without_a_currency_is_in_the_home_currency(ctx, session_factory) -> None:
    org_id = seed(
        session_factory,
        HOLD_OVER_1000,
        [
            ("I1", TODAY - 20 * DAY, 1500, {"currency": "NZD"}),
            ("I2", TODAY - 20 * DAY, 800, {}),
        ],
    )
    run(ctx, session_factory, org_id, NOW)
    assert [a for a in actions(session_factory) if a[0] != "reminder"] == []
    set_invoice(session_factory, "I2", total=1200, balance=1200)
    run(ctx, session_factory, org_id, NOW + DAY)
    with session_scope(session_factory) as db:
        hold = db.scalars(select(Action).where(Action.kind == "credit_hold")).one()
    assert hold.explanation["hold_rules"] == [
        {
            "fact": "customer_total_overdue",
            "op": "gt",
            "value": "1000",
            "seen": "1200.0000",
            "currency": "USD",
        }
    ]


def test_a_promise_naming_no_invoices_covers_what_was_open_then(ctx, session_factory) -> None:
    org_id = seed(session_factory, simple_rules(), [("I1", TODAY - 3 * DAY, 100, {})])
    with session_scope(session_factory) as db:
        data = {"customer": "C1", "until": TODAY + 5 * DAY, "invoices": [], "amount": None}
        promise = pauses_store.add_promise(db, org_id, dict(data, note=""), TODAY - DAY)
        assert promise.invoice_external_ids == ["I1"]
        assert promise.balance_at_promise == 100
        org = db.get(Organization, org_id)
        invoice_row(db, org, "I2", "C1", TODAY, 70, issue_date=TODAY - DAY)
    set_invoice(session_factory, "I1", balance=0, status="paid")
    run(ctx, session_factory, org_id, NOW)
    with session_scope(session_factory) as db:
        reminder = db.scalars(select(Action)).one()
        assert [line["external_id"] for line in reminder.payload["invoices"]] == ["I2"]


def test_a_promise_for_a_customer_with_nothing_open_is_refused(session_factory) -> None:
    org_id = seed(session_factory, simple_rules(), [])
    with session_scope(session_factory) as db:
        data = {"customer": "C1", "until": TODAY, "invoices": [], "amount": None, "note": ""}
        with pytest.raises(PauseInvalid) as refused:
            pauses_store.add_promise(db, org_id, data, TODAY)
    assert refused.value.errors == {"invoices": "customer C1 has no open invoice to promise"}


def add_credit(session_factory, org_id: int, credit_note=None, unapplied=None) -> None:
    with session_scope(session_factory) as db:
        head = {"organization_id": org_id, "version": "1", "updated_at": NOW}
        head |= {"customer_external_id": "C1", "currency": "USD"}
        if credit_note is not None:
            db.add(CreditNote(external_id="CN1", total=credit_note, remaining=credit_note, **head))
        if unapplied is not None:
            db.add(Payment(external_id="P1", amount=unapplied, unapplied=unapplied, **head))


def test_unapplied_credit_covering_the_overdue_amount_is_not_chased(ctx, session_factory) -> None:
    org_id = seed(session_factory, simple_rules(), [("I1", TODAY - 3 * DAY, 100, {})])
    add_credit(session_factory, org_id, credit_note=D(60), unapplied=D(40))
    run(ctx, session_factory, org_id, NOW)
    assert actions(session_factory) == []
    set_invoice(session_factory, "I1", total=150, balance=150)
    run(ctx, session_factory, org_id, NOW + DAY)
    with session_scope(session_factory) as db:
        reminder = db.scalars(select(Action)).one()
        assert reminder.payload["credit"] == [{"currency": "USD", "amount": "100.0000"}]


def test_switching_on_a_discount_settles_no_payment_from_before(ctx, session_factory) -> None:
    rules = simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}})
    issued = {"issue_date": TODAY - 8 * DAY}
    org_id = seed(
        session_factory,
        rules,
        [("I1", TODAY + 20 * DAY, 100, issued), ("I2", TODAY + 20 * DAY, 100, issued)],
        activated=NOW - timedelta(hours=2),
    )
    with session_scope(session_factory) as db:
        org = db.get(Organization, org_id)
        payment_row(db, org, "P1", "C1", TODAY - DAY, {"I1": 98})
        payment_row(db, org, "P2", "C1", TODAY, {"I2": 98})
    set_invoice(session_factory, "I1", balance=2)
    set_invoice(session_factory, "I2", balance=2)
    run(ctx, session_factory, org_id, NOW)
    with session_scope(session_factory) as db:
        settled = db.execute(select(Action.kind, Action.target)).all()
    assert [tuple(r) for r in settled] == [("settle_discount", "I2")]


def test_a_preview_before_go_live_decides_nothing_from_history(session_factory) -> None:
    rules = simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}})
    issued = {"issue_date": TODAY - 8 * DAY}
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=NOW)
        customer_row(db, org, "C1")
        invoice_row(db, org, "I1", "C1", TODAY + 20 * DAY, 100, 2, **issued)
        payment_row(db, org, "P1", "C1", TODAY - DAY, {"I1": 98})
        invoice_row(db, org, "I2", "C1", TODAY - 10 * DAY, 50)
        shown = preview(db, org, book(rules), NOW)
    assert [(d["kind"], d["step"]) for d in shown["decisions"]] == [("reminder", "s7")]


def test_invoices_not_sent_to_the_customer_go_out_once(ctx, session_factory) -> None:
    rules = simple_rules(invoice_delivery={"enabled": True, "after_days": 1})
    yesterday = {"issue_date": TODAY - DAY}
    due = TODAY + 29 * DAY
    org_id = seed(
        session_factory,
        rules,
        [
            ("I1", due, 100, yesterday | {"sent_to_customer": False, "email": "ap@c1.test"}),
            ("I2", due, 100, yesterday | {"sent_to_customer": False, "status": "draft"}),
            ("I3", due, 100, yesterday | {"sent_to_customer": None, "status": "draft"}),
            ("I4", due, 100, yesterday | {"sent_to_customer": True}),
            ("I5", due, 100, yesterday | {"sent_to_customer": None}),
            ("I6", due, 100, {"issue_date": TODAY, "sent_to_customer": False}),
            ("I7", due, 100, {"issue_date": date(2024, 12, 1), "sent_to_customer": False}),
        ],
    )
    run(ctx, session_factory, org_id, NOW)
    run(ctx, session_factory, org_id, NOW + timedelta(hours=3))
    with session_scope(session_factory) as db:
        sent = db.scalars(select(Action).order_by(Action.id)).all()
        assert [(a.kind, a.target, a.payload["to"]) for a in sent] == [
            ("send_invoice", "I1", "ap@c1.test"),
            ("send_invoice", "I2", "c1@example.test"),
        ]
    run(ctx, session_factory, org_id, NOW + DAY)  # I6's day; I1 and I2 are not sent twice
    assert [a[1:] for a in actions(session_factory)] == [("send", "0")] * 3


def test_a_discount_switched_on_later_settles_only_payments_since(ctx, session_factory) -> None:
    issued = {"issue_date": TODAY - 8 * DAY}
    org_id = seed(
        session_factory,
        simple_rules(),
        [("I1", TODAY + 20 * DAY, 100, issued), ("I2", TODAY + 20 * DAY, 100, issued)],
    )
    with session_scope(session_factory) as db:
        org = db.get(Organization, org_id)
        payment_row(db, org, "P1", "C1", TODAY - DAY, {"I1": 98})
        payment_row(db, org, "P2", "C1", TODAY, {"I2": 98})
        discount = simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}})
        version = store.save_version(db, org_id, discount, activate=True)
        version.rule_set.early_payment_since = NOW - timedelta(hours=2)
    set_invoice(session_factory, "I1", balance=2)
    set_invoice(session_factory, "I2", balance=2)
    run(ctx, session_factory, org_id, NOW)
    with session_scope(session_factory) as db:
        settled = db.execute(select(Action.kind, Action.target)).all()
    assert [tuple(r) for r in settled] == [("settle_discount", "I2")]


def test_activation_records_when_each_feature_was_switched_on(session_factory) -> None:
    early = {"discounts": {"early_payment": {"percent": "2", "days": 10}}}
    delivery = {"invoice_delivery": {"enabled": True, "after_days": 2}}
    with session_scope(session_factory) as db:
        org = org_row(db)

        def activate_with(**parts):
            owner = store.save_version(db, org.id, simple_rules(**parts), activate=True).rule_set
            return owner.early_payment_since, owner.invoice_delivery_since

        assert activate_with() == (None, None)
        switched_on, none = activate_with(**early)
        assert switched_on is not None and none is None
        assert activate_with(**early, **delivery)[0] == switched_on  # kept: still on
        assert activate_with(**delivery)[0] is None  # switched off
        again, delivered = activate_with(**early, **delivery)
        assert again > switched_on and delivered is not None
        store.activate_version(db, org.id, 1)
        owner = store.rule_set(db, org.id)
        assert (owner.early_payment_since, owner.invoice_delivery_since) == (None, None)


def test_a_preview_of_a_draft_starts_its_new_features_today(session_factory) -> None:
    issued = {"issue_date": TODAY - 8 * DAY}
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=NOW)
        customer_row(db, org, "C1")
        activate(db, org, simple_rules(), at=ACTIVATED)
        invoice_row(db, org, "I1", "C1", TODAY + 20 * DAY, 100, 2, **issued)
        payment_row(db, org, "P1", "C1", TODAY - DAY, {"I1": 98})
        draft = book(simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}}))
        draft = dataclasses.replace(draft, version=None)
        shown = preview(db, org, draft, NOW, ACTIVATED.date())
    assert shown["decisions"] == []


def test_an_invoice_sent_counts_toward_the_message_cap(ctx, session_factory) -> None:
    rules = simple_rules(
        invoice_delivery={"enabled": True, "after_days": 0},
        limits={
            "caps": [{"messages": 1, "days": 3}],
            "quiet_hours": None,
            "business_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        },
    )
    org_id = seed(
        session_factory,
        rules,
        [
            ("I1", TODAY + 30 * DAY, 100, {"issue_date": TODAY, "sent_to_customer": False}),
            ("I2", TODAY + DAY, 100, {"issue_date": TODAY - 29 * DAY, "sent_to_customer": True}),
        ],
    )
    run(ctx, session_factory, org_id, NOW)
    run(ctx, session_factory, org_id, NOW + DAY)  # I2 is due: its reminder waits for the cap
    with session_scope(session_factory) as db:
        rows = db.execute(select(Action.kind, Action.scheduled_for).order_by(Action.id)).all()
    assert [tuple(r) for r in rows] == [("send_invoice", NOW), ("reminder", NOW + 3 * DAY)]


def test_a_step_reached_without_an_action_is_still_recorded(ctx, session_factory) -> None:
    """A do-not-contact customer's step fires with no decision to store: its firing alone
    is written (the evaluation is stored though it decided nothing), and the held-back
    reminder goes once contact is allowed."""
    org_id = seed(session_factory, simple_rules(), [("I1", TODAY, 100, {})])
    edit_profile(session_factory, org_id, do_not_contact=True)
    result = run_evaluation(ctx, org_id, ["C1"], now=NOW)
    assert result["created"] == 0
    assert actions(session_factory) == []
    with session_scope(session_factory) as db:
        fired = db.execute(select(StepFiring.rule, StepFiring.step, StepFiring.target)).all()
    assert sorted(tuple(f) for f in fired) == [
        ("policy:std", "s0", "I1"),
        ("policy:std", "s0:held", "I1"),
    ]
    edit_profile(session_factory, org_id, do_not_contact=False)
    run(ctx, session_factory, org_id, NOW + DAY)
    assert actions(session_factory) == [("reminder", "s0", (TODAY + DAY).isoformat())]
