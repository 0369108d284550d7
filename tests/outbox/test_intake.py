"""The outbox: explained, versioned, deduplicated decisions, also under concurrent evaluation."""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from core.db import session_scope
from core.models import Organization
from outbox.lifecycle import TRANSITIONS
from outbox.lifecycle import InvalidTransition
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionStatus as S
from rules import bulk
from rules.jobs import run_evaluation
from rules.models import StepFiring
from tests.rules.factories import activate
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import simple_rules

NOW = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)
TODAY = NOW.date()
ACTIVE_SINCE = datetime(2025, 1, 1, tzinfo=UTC)


def seed(session_factory, rules=None, invoices=None) -> int:
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=NOW)
        customer_row(db, org, "C1")
        customer_row(db, org, "C2")
        for ext, cust, due, total in invoices or [
            ("I1", "C1", TODAY, 100),
            ("I2", "C1", TODAY - timedelta(days=7), 250),
            ("I3", "C2", TODAY, 80),
        ]:
            invoice_row(db, org, ext, cust, due, total)
        activate(db, org, rules or simple_rules(), at=ACTIVE_SINCE)
        return org.id


def synced(session_factory, org_id: int, when: datetime) -> None:
    with session_scope(session_factory) as db:
        db.get(Organization, org_id).last_synced_at = when


def actions(session_factory) -> list[Action]:
    with session_scope(session_factory) as db:
        return list(db.scalars(select(Action).order_by(Action.id)))


def test_decisions_land_in_the_outbox_explained_and_versioned(ctx, session_factory) -> None:
    org_id = seed(session_factory)
    summary = run_evaluation(ctx, org_id, None, now=NOW)
    assert summary["created"] == 2
    rows = actions(session_factory)
    assert [(a.kind, a.step, a.target, a.period, a.status) for a in rows] == [
        ("reminder", "s0", "customer:C1", "2025-03-12", S.PLANNED),
        ("reminder", "s0", "customer:C2", "2025-03-12", S.PLANNED),
    ]
    first = rows[0]
    assert first.rule_version == 1 and first.rule_version_id is not None
    assert sorted(line["external_id"] for line in first.payload["invoices"]) == ["I1", "I2"]
    explanation = first.explanation
    assert explanation["version"] == 1 and explanation["policy"] == "std"
    assert {i["invoice"] for i in explanation["items"]} == {"I1", "I2"}
    assert explanation["items"][0]["pauses_checked"][0] == {
        "pause": "dispute",
        "active": False,
        "detail": "",
    }
    assert explanation["schedule"]["scheduled_for"] == NOW.isoformat()


def test_running_again_adds_nothing(ctx, session_factory) -> None:
    org_id = seed(session_factory)
    run_evaluation(ctx, org_id, None, now=NOW)
    for _ in range(3):
        assert run_evaluation(ctx, org_id, None, now=NOW + timedelta(hours=1))["created"] == 0
    assert len(actions(session_factory)) == 2


@pytest.mark.parametrize("workers", [4])
def test_concurrent_evaluations_of_one_organization_add_no_duplicate(
    ctx, session_factory, workers
) -> None:
    org_id = seed(session_factory)
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            run_evaluation(ctx, org_id, None, now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = actions(session_factory)
    assert len(rows) == 2
    with session_scope(session_factory) as db:
        assert db.scalar(select(func.count()).select_from(StepFiring)) == 3


def test_concurrent_evaluations_of_many_invoices_claim_each_firing_once(
    ctx, session_factory
) -> None:
    """Enough firings to go by COPY straight into step_firing (rules.bulk): the evaluations
    that lose the race fail on the unique key, fall back to ON CONFLICT and win nothing."""
    invoices = [
        (f"I{n}", f"C{1 + n % 2}", TODAY - timedelta(days=n % 10), 100 + n)
        for n in range(bulk.DIRECT_MIN_ROWS + 8)
    ]
    org_id = seed(session_factory, invoices=invoices)
    barrier = threading.Barrier(4)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(run_evaluation(ctx, org_id, None, now=NOW))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r["created"] for r in results) == [0, 0, 0, 2]
    with session_scope(session_factory) as db:
        assert db.scalar(select(func.count()).select_from(StepFiring)) == len(invoices)
    assert len(actions(session_factory)) == 2


def test_a_planned_reminder_absorbs_items_that_come_due_before_it_goes(
    ctx, session_factory
) -> None:
    rules = simple_rules(limits={"caps": [{"messages": 1, "days": 3}], "quiet_hours": None})
    org_id = seed(
        session_factory,
        rules,
        [("I1", "C1", TODAY, 100), ("I2", "C1", TODAY + timedelta(days=1), 50)],
    )
    with session_scope(session_factory) as db:
        db.add(
            Action(
                organization_id=org_id,
                rule="policy:std",
                step="s0",
                target="customer:C1",
                period="2025-03-10",
                kind="reminder",
                customer_external_id="C1",
                status=S.PENDING,
                decided_on=date(2025, 3, 10),
                scheduled_for=NOW - timedelta(days=2),
                performed_at=NOW - timedelta(days=2),
                payload={},
                explanation={},
            )
        )
    run_evaluation(ctx, org_id, None, now=NOW)
    planned = [a for a in actions(session_factory) if a.status == S.PLANNED]
    assert len(planned) == 1
    assert planned[0].scheduled_for == NOW + timedelta(days=1)  # the cap: 3 days after the last
    synced(session_factory, org_id, NOW + timedelta(days=1))
    run_evaluation(ctx, org_id, None, now=NOW + timedelta(days=1))
    planned_after = [a for a in actions(session_factory) if a.status == S.PLANNED]
    assert [a.id for a in planned_after] == [planned[0].id]
    assert [line["external_id"] for line in planned_after[0].payload["invoices"]] == ["I1", "I2"]
    assert planned_after[0].explanation["merged_runs"] == ["2025-03-13"]


def test_a_planned_hold_is_cancelled_when_its_condition_clears(ctx, session_factory) -> None:
    rules = simple_rules(
        credit_hold={
            "place_when_any": [{"fact": "customer_total_overdue", "op": "gt", "value": "200"}]
        }
    )
    org_id = seed(session_factory, rules)
    run_evaluation(ctx, org_id, None, now=NOW)
    hold = next(a for a in actions(session_factory) if a.kind == "credit_hold")
    assert hold.status == S.PLANNED and hold.explanation["hold_rules"][0]["seen"] == "250.0000"
    with session_scope(session_factory) as db:
        from core.models import Invoice

        db.execute(
            Invoice.__table__.update()
            .where(Invoice.external_id == "I2")
            .values(balance=0, status="paid")
        )
    run_evaluation(ctx, org_id, None, now=NOW + timedelta(hours=2))
    hold = next(a for a in actions(session_factory) if a.kind == "credit_hold")
    assert hold.status == S.CANCELLED
    assert "condition cleared" in hold.reason
    assert not [a for a in actions(session_factory) if a.kind == "release_hold"]


def test_status_transitions_are_explicit() -> None:
    assert TRANSITIONS[S.PLANNED] == {
        S.PLANNED,
        S.AWAITING_APPROVAL,
        S.PENDING,
        S.NEEDS_RECONNECT,
        S.CANCELLED,
        S.SKIPPED,
        S.FAILED,
    }
    assert TRANSITIONS[S.AWAITING_APPROVAL] == {S.PLANNED, S.CANCELLED}
    assert TRANSITIONS[S.PENDING] == {
        S.PENDING,
        S.SENT,
        S.FAILED,
        S.DEAD,
        S.NEEDS_RECONNECT,
        S.CANCELLED,
        S.SKIPPED,
    }
    for stuck in (S.FAILED, S.DEAD, S.NEEDS_RECONNECT):
        assert TRANSITIONS[stuck] == {S.PLANNED, S.CANCELLED}
    for final in (S.SENT, S.SKIPPED, S.CANCELLED):
        assert TRANSITIONS[final] == frozenset()
    action = Action(id=1, status=S.PLANNED)
    transition(action, S.PENDING, "ready", NOW)
    assert (action.status, action.reason, action.finished_at) == (S.PENDING, "ready", None)
    transition(action, S.SENT, "", NOW)
    assert action.finished_at == NOW
    with pytest.raises(InvalidTransition):
        transition(action, S.PLANNED)
