"""The jobs: freshness guard, daily runs at each organization's local morning, catching up after
missed runs, and cron registration."""

from __future__ import annotations

import sqlite3
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import psycopg
from rq import Queue
from rq.cron import CronScheduler
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

import rules.jobs
from core.db import session_scope
from core.models import Organization
from outbox.jobs import enqueue_due_actions
from outbox.models import Action
from rules import schedule
from rules.jobs import enqueue_due_daily
from rules.jobs import run_evaluation
from rules.load import load_facts
from rules.models import OrgEvaluation
from tests.rules.factories import activate
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import simple_rules
from tests.rules.factories import take_due

NOW = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def seed(session_factory, synced_at=NOW, tz="UTC", external_id="realm-1", invoices=None) -> int:
    with session_scope(session_factory) as db:
        org = org_row(db, tz=tz, synced_at=synced_at, external_id=external_id)
        customer_row(db, org, "C1")
        customer_row(db, org, "C2")
        for ext, cust, due in invoices or [("I1", "C1", NOW.date()), ("I2", "C2", NOW.date())]:
            invoice_row(db, org, ext, cust, due)
        activate(db, org, simple_rules(), at=datetime(2025, 1, 1, tzinfo=UTC))
        return org.id


def synced(session_factory, org_id: int, when: datetime) -> None:
    with session_scope(session_factory) as db:
        db.get(Organization, org_id).last_synced_at = when


def steps(session_factory) -> list[tuple[str, str, str]]:
    with session_scope(session_factory) as db:
        rows = db.execute(select(Action.decided_on, Action.step, Action.period).order_by(Action.id))
        return [(d.isoformat(), step, period) for d, step, period in rows]


def test_a_stale_mirror_is_synced_first_and_the_run_comes_back(
    ctx_redis, session_factory, redis
) -> None:
    org_id = seed(session_factory, synced_at=NOW - timedelta(hours=4))
    result = run_evaluation(ctx_redis, org_id, None, now=NOW)
    assert result == {"stale": True, "retry": True}
    assert steps(session_factory) == []
    sync_job = Job.fetch(f"sync-{org_id}", connection=redis)
    assert (sync_job.func_name, sync_job.args, sync_job.origin) == (
        "sync.jobs.sync_organization",
        (org_id,),
        "sync",
    )
    scheduled = ScheduledJobRegistry(queue=Queue("rules", connection=redis)).get_job_ids()
    assert scheduled == [f"rules-wait-{org_id}-daily-1"]
    retry = Job.fetch(scheduled[0], connection=redis)
    assert (retry.func_name, retry.args) == ("rules.jobs.evaluate_organization", (org_id, 1))
    # After the sync, the run goes through.
    synced(session_factory, org_id, NOW)
    assert run_evaluation(ctx_redis, org_id, None, now=NOW)["created"] == 2


def test_a_never_synced_mirror_is_stale(ctx_redis, session_factory, redis) -> None:
    org_id = seed(session_factory, synced_at=None)
    result = run_evaluation(ctx_redis, org_id, ["C1"], now=NOW)
    assert result["stale"] is True
    scheduled = ScheduledJobRegistry(queue=Queue("rules", connection=redis)).get_job_ids()
    assert Job.fetch(scheduled[0], connection=redis).args == (org_id, ["C1"])


def test_evaluation_after_a_sync_touches_only_the_named_customers(
    ctx_redis, session_factory, redis
) -> None:
    org_id = seed(session_factory)
    assert run_evaluation(ctx_redis, org_id, ["C2"], now=NOW)["created"] == 1
    with session_scope(session_factory) as db:
        assert db.scalars(select(Action.customer_external_id)).all() == ["C2"]
        assert db.scalars(select(OrgEvaluation)).all() == []  # not the daily run
    assert (
        Job.fetch(f"actions-{org_id}", connection=redis).func_name
        == "outbox.jobs.deliver_due_for_organization"
    )


def test_the_daily_run_is_due_at_each_organizations_local_morning(
    ctx_redis, session_factory, redis
) -> None:
    london = seed(session_factory, tz="Europe/London", external_id="a")
    los_angeles = seed(session_factory, tz="America/Los_Angeles", external_id="b")
    tokyo = seed(session_factory, tz="Asia/Tokyo", external_id="c")
    now = datetime(2025, 3, 12, 12, 30, tzinfo=UTC)  # London 12:30, LA 05:30, Tokyo 21:30
    assert enqueue_due_daily(ctx_redis, now) == [london, tokyo]
    jobs = Queue("rules", connection=redis).job_ids
    assert sorted(jobs) == sorted(
        [f"rules-daily-{london}-2025-03-12", f"rules-daily-{tokyo}-2025-03-12"]
    )
    # Asking again while they wait coalesces.
    assert enqueue_due_daily(ctx_redis, now) == [london, tokyo]
    assert len(Queue("rules", connection=redis).job_ids) == 2
    # Once London ran for its local date, it is not due again that day.
    synced(session_factory, london, now)
    run_evaluation(ctx_redis, london, None, now=now)
    later = now + timedelta(hours=4)  # LA 09:30 now
    assert enqueue_due_daily(ctx_redis, later) == [los_angeles]  # Tokyo: 01:30 tomorrow


def test_a_missed_daily_run_catches_up_without_skipping_or_doubling_steps(
    ctx, session_factory
) -> None:
    org_id = seed(session_factory, invoices=[("I1", "C1", NOW.date())])
    day0 = NOW
    run_evaluation(ctx, org_id, None, now=day0)
    take_due(ctx, org_id, day0)
    # The worker was down for 15 days: both s7 (day 7) and s14 (day 14) are now due.
    day15 = day0 + 15 * DAY
    synced(session_factory, org_id, day15)
    run_evaluation(ctx, org_id, None, now=day15)
    take_due(ctx, org_id, day15)
    run_evaluation(ctx, org_id, ["C1"], now=day15 + timedelta(hours=3))  # a sync the same day
    day16 = day15 + DAY
    synced(session_factory, org_id, day16)
    run_evaluation(ctx, org_id, None, now=day16)
    assert steps(session_factory) == [
        ("2025-03-12", "s0", "2025-03-12"),
        ("2025-03-27", "s7", "2025-03-27"),
        ("2025-03-28", "s14", "2025-03-28"),
    ]
    with session_scope(session_factory) as db:
        days = db.scalars(select(OrgEvaluation.local_date).order_by(OrgEvaluation.local_date)).all()
    assert [d.isoformat() for d in days] == ["2025-03-12", "2025-03-27", "2025-03-28"]


def test_due_actions_are_swept_per_organization(ctx_redis, session_factory, redis) -> None:
    org_id = seed(session_factory)
    run_evaluation(ctx_redis, org_id, None, now=NOW)
    redis.flushdb()
    assert enqueue_due_actions(ctx_redis, NOW) == [org_id]
    assert Queue("actions", connection=redis).job_ids == [f"actions-{org_id}"]


def test_cron_registration(redis) -> None:
    cron = CronScheduler(connection=redis)
    schedule.register(cron)
    assert [(j.func_name, j.queue_name, j.cron) for j in cron.get_jobs()] == [
        ("rules.jobs.run_due_daily_evaluations", "rules", "*/15 * * * *"),
        ("outbox.jobs.deliver_due_actions", "actions", "* * * * *"),
    ]


def test_an_evaluation_reads_without_a_transaction_or_the_write_lock(
    ctx, session_factory, engine, monkeypatch
) -> None:
    """While it loads, an evaluation holds no transaction open on PostgreSQL (no BEGIN or
    COMMIT to wait for) and no write lock on SQLite (another writer may begin meanwhile); it
    still stores what it decided."""
    org_id = seed(session_factory)
    seen = []

    def load_and_look(session, *args, **kwargs):
        facts = load_facts(session, *args, **kwargs)
        raw = session.connection().connection.dbapi_connection
        if engine.dialect.name == "postgresql":
            seen.append(raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)
        else:
            other = sqlite3.connect(engine.url.database, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if it is
                other.rollback()
                seen.append(raw.in_transaction)  # a reader's snapshot, all the same
            finally:
                other.close()
        return facts

    monkeypatch.setattr(rules.jobs, "load_facts", load_and_look)
    assert run_evaluation(ctx, org_id, None, now=NOW)["created"] == 2
    assert run_evaluation(ctx, org_id, ["C1"], now=NOW + timedelta(minutes=5))["created"] == 0
    assert seen == [True, True]
