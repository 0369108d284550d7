"""rules.bulk: the bulk writes of an evaluation keep ON CONFLICT DO NOTHING's meaning (a row
already there is not written again and not returned), on both databases."""

from __future__ import annotations

import threading
import time
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.db import utcnow
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import new_key
from rules import bulk
from rules.models import StepFiring
from tests.rules.factories import org_row


def _firing(org_id: int, target: str) -> dict[str, object]:
    return {
        "organization_id": org_id,
        "rule": "r",
        "step": "first",
        "target": target,
        "period": "1",
        "customer_external_id": "C1",
        "fired_on": date(2025, 6, 2),
        "amount": Decimal("12.3400"),
    }


def _action(org_id: int, target: str) -> dict[str, object]:
    now = utcnow()
    return {
        "organization_id": org_id,
        "rule": "r",
        "step": "first",
        "target": target,
        "period": "1",
        "kind": "reminder",
        "customer_external_id": "C1",
        "status": "planned",
        "reason": "",
        "decided_on": date(2025, 6, 2),
        "scheduled_for": now,
        "payload": {"invoices": [{"number": "1", "claim": ["r", "first", target, "1"]}]},
        "explanation": {"as_of": "2025-06-02", "note": "ünïcode \\ and \t tab"},
        "key": new_key(),
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def test_a_firing_already_stored_is_neither_written_nor_returned_again(db: Session) -> None:
    org = org_row(db)
    cols = ("rule", "step", "target", "period")
    first = bulk.insert_ignore(db, StepFiring.__table__, [_firing(org.id, "I1")], cols)
    again = [_firing(org.id, "I2"), _firing(org.id, "I1")]
    second = bulk.insert_ignore(db, StepFiring.__table__, again, cols)
    assert first == [("r", "first", "I1", "1")]
    assert second == [("r", "first", "I2", "1")]
    amounts = db.scalars(select(StepFiring.amount).order_by(StepFiring.target)).all()
    assert amounts == [Decimal("12.34"), Decimal("12.34")]


def test_actions_keep_their_documents_and_their_history_is_appended(db: Session) -> None:
    org = org_row(db)
    rows = [_action(org.id, "I1"), _action(org.id, "I2")]
    ids = bulk.insert_ignore(db, Action.__table__, rows, ("id", "target"))
    assert sorted(target for _, target in ids) == ["I1", "I2"]
    assert bulk.insert_ignore(db, Action.__table__, [_action(org.id, "I1")], ("id",)) == []
    events = [
        {
            "action_id": action_id,
            "organization_id": org.id,
            "at": utcnow(),
            "from_status": "",
            "to_status": "planned",
            "actor": "rules v1",
            "reason": "decided",
        }
        for action_id, _ in ids
    ]
    bulk.append(db, ActionEvent.__table__, events)
    stored = db.scalars(select(Action).where(Action.target == "I1")).one()
    assert stored.payload == rows[0]["payload"]
    assert stored.explanation == rows[0]["explanation"]
    assert db.scalar(select(func.count()).select_from(ActionEvent)) == 2


def test_every_value_is_stored_as_given(db: Session) -> None:
    """Each column's value round-trips: texts with quotes, backslashes and newlines, documents
    with nested non-ASCII text, money, dates, instants given in another zone, and NULLs."""
    org = org_row(db)
    row = _action(org.id, "I1")
    row["scheduled_for"] = datetime(2025, 6, 2, 9, 30, 15, 123456, timezone(timedelta(hours=-5)))
    row["reason"] = 'line one\nline "two" \\ back\\slash'
    row["payload"] = {"text": "Reached on {{ as_of }} \\ é 日本", "nested": [{"a": None}, 1.5]}
    row["command"] = None
    row["rule_version"] = 7
    [(action_id,)] = bulk.insert_ignore(db, Action.__table__, [row], ("id",))
    firing = _firing(org.id, "I1") | {"amount": None}
    bulk.insert_ignore(db, StepFiring.__table__, [firing], ("id",))
    at = datetime(2025, 6, 2, 23, 59, 59, 999999, timezone(timedelta(hours=13)))
    event = {"action_id": action_id, "organization_id": org.id, "at": at, "from_status": "",
             "to_status": "planned", "actor": "rules v7", "reason": "quote ' and \\"}  # fmt: skip
    bulk.append(db, ActionEvent.__table__, [event])
    stored = db.get_one(Action, action_id)
    for name, value in row.items():
        assert getattr(stored, name) == value, name
    assert db.scalars(select(StepFiring.amount)).one() is None
    history = db.scalars(select(ActionEvent)).one()
    assert (history.at, history.reason) == (at, event["reason"])


def test_the_staging_table_is_empty_after_each_commit(db: Session) -> None:
    """Rows only deleted from a temporary table stay as dead tuples (nothing vacuums it), and
    each later run scanned them all: a full-size first run slowed down quadratically."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL stages its bulk writes")
    org = org_row(db)
    cols = ("rule", "step", "target", "period")
    few = bulk.DIRECT_MIN_ROWS - 1  # a larger batch of new keys is not staged
    for n in range(3):
        rows = [_firing(org.id, f"I{n}-{i}") for i in range(few)]
        assert len(bulk.insert_ignore(db, StepFiring.__table__, rows, cols)) == few
        db.commit()
    staged = db.execute(
        text(
            "SELECT count(*), coalesce(sum(pg_relation_size(oid)), 0) FROM pg_class "
            "WHERE relnamespace = pg_my_temp_schema() AND relname LIKE 'bulk_step_firing_%'"
        )
    ).one()
    assert staged == (1, 0)


KEY = ("rule", "step", "target", "period")
MANY = bulk.DIRECT_MIN_ROWS + 8


def _staged_rows(db: Session) -> int:
    """Rows written into staging tables, not yet counted in pg_stat_all_tables (a count that
    only grows while a test runs)."""
    return db.execute(
        text(
            "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_xact_all_tables "
            "WHERE relname LIKE 'bulk\\_%'"
        )
    ).scalar_one()


def test_a_large_batch_of_new_keys_goes_straight_into_the_table(db: Session) -> None:
    """No staging table, no ON CONFLICT: every row is written and returned, in the order of the
    unique key, actions with the ids they were given in that order."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("only PostgreSQL stages its bulk writes")
    org = org_row(db)
    staged = _staged_rows(db)
    targets = [f"I{n:03}" for n in range(MANY)][::-1]
    firings = bulk.insert_ignore(
        db, StepFiring.__table__, [_firing(org.id, t) for t in targets], KEY
    )
    actions = bulk.insert_ignore(
        db, Action.__table__, [_action(org.id, t) for t in targets], ("id", "target")
    )
    assert _staged_rows(db) == staged
    assert firings == [("r", "first", t, "1") for t in sorted(targets)]
    assert [t for _, t in actions] == sorted(targets)
    stored = db.execute(select(Action.id, Action.target).order_by(Action.id)).all()
    assert [tuple(r) for r in stored] == actions
    assert db.scalar(select(func.count()).select_from(StepFiring)) == MANY


def test_a_large_batch_that_meets_a_stored_key_writes_and_returns_only_the_new_rows(
    db: Session,
) -> None:
    """The direct COPY meets the unique key, rolls back to its savepoint, and the staged
    INSERT ... ON CONFLICT DO NOTHING decides; the transaction goes on."""
    org = org_row(db)
    staged = _staged_rows(db) if db.get_bind().dialect.name == "postgresql" else 0
    bulk.insert_ignore(db, StepFiring.__table__, [_firing(org.id, "I005")], KEY)
    bulk.insert_ignore(db, Action.__table__, [_action(org.id, "I005")], ("id",))
    targets = [f"I{n:03}" for n in range(MANY)]
    firings = bulk.insert_ignore(
        db, StepFiring.__table__, [_firing(org.id, t) for t in targets], KEY
    )
    actions = bulk.insert_ignore(
        db, Action.__table__, [_action(org.id, t) for t in targets], ("id", "target")
    )
    if db.get_bind().dialect.name == "postgresql":
        assert _staged_rows(db) - staged == 2 + 2 * MANY  # the two single rows, then both batches
    new = [t for t in targets if t != "I005"]
    assert firings == [("r", "first", t, "1") for t in new]
    assert sorted(t for _, t in actions) == new
    db.commit()
    assert db.scalar(select(func.count()).select_from(StepFiring)) == MANY
    assert db.scalar(select(func.count()).select_from(Action)) == MANY
    stored = {i: t for i, t in db.execute(select(Action.id, Action.target))}
    assert all(stored[i] == t for i, t in actions)


def test_a_concurrent_writer_of_the_same_keys_wins_only_what_the_first_did_not(
    session_factory: sessionmaker[Session],
) -> None:
    """Two transactions write overlapping batches of one organization: the second waits on the
    first's keys, and when the first commits, its direct COPY fails on them and the staged path
    writes only the keys the first did not take."""
    first = session_factory()
    if first.get_bind().dialect.name != "postgresql":
        first.close()
        pytest.skip("SQLite has one writer at a time")
    org = org_row(first)
    first.commit()
    ours = [f"I{n:03}" for n in range(MANY)]
    theirs = [f"I{n:03}" for n in range(MANY // 2, MANY + MANY // 2)]
    assert (
        len(
            bulk.insert_ignore(first, StepFiring.__table__, [_firing(org.id, t) for t in ours], KEY)
        )
        == MANY
    )
    second = session_factory()
    pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
    won: list[tuple[object, ...]] = []

    def write() -> None:
        won.extend(
            bulk.insert_ignore(
                second, StepFiring.__table__, [_firing(org.id, t) for t in theirs], KEY
            )
        )
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    waiting = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    for _ in range(200):
        if first.execute(waiting, {"pid": pid}).scalar() == "Lock":
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the second writer never waited on the first")
    first.commit()
    thread.join(10)
    first.close()
    second.close()
    assert won == [("r", "first", t, "1") for t in theirs if t not in ours]
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(StepFiring)) == MANY + MANY // 2
