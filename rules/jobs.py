"""RQ entrypoints of the rules package. Each takes ids, builds its runtime from the environment,
and calls a function below that takes the runtime explicitly (which tests call directly).

- evaluate_customers(org_id, customer_external_ids): after a sync, for the customers it touched.
- evaluate_organization(org_id): the daily run, at the organization's local morning.
- run_due_daily_evaluations(): cron, every 15 minutes; enqueues the daily runs that are due.

What an evaluation decides goes into the outbox (outbox.intake), whose own jobs deliver it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import cache
from typing import Any

from redis import Redis
from rq.exceptions import DuplicateJobError
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import queues
from core.context import JobContext
from core.context import job_context
from core.db import READ_ONLY
from core.db import insert_ignore
from core.db import session_scope
from core.db import utcnow
from core.models import Organization
from core.models import OrgStatus
from outbox.intake import Gate
from outbox.intake import Stored
from outbox.intake import store
from outbox.jobs import request_delivery
from rules.engine.decisions import ActionKind
from rules.engine.evaluate import evaluate
from rules.engine.timing import local_date
from rules.engine.timing import zone
from rules.load import OrgLike
from rules.load import feature_dates
from rules.load import load_facts
from rules.load import statements
from rules.load.reads import Reads
from rules.load.reads import compile_ahead
from rules.models import OrgEvaluation
from rules.models import RuleSetVersion
from rules.ruleset.store import org_run
from rules.ruleset.store import org_run_statement
from rules.ruleset.store import since_activation
from tasks.store import adopt_task_actions

DAILY_AT = time(8, 0)
STALE_RETRY_SECONDS = 300
STALE_MAX_ATTEMPTS = 6
SELF = "rules.jobs"


# ---------------------------------------------------------------- entrypoints


def evaluate_customers(org_id: int, customer_external_ids: list[str]) -> dict[str, Any]:
    return run_evaluation(job_context(), org_id, list(customer_external_ids))


def evaluate_organization(org_id: int, attempt: int = 0) -> dict[str, Any]:
    return run_evaluation(job_context(), org_id, None, attempt=attempt)


def run_due_daily_evaluations() -> list[int]:
    return enqueue_due_daily(job_context(), utcnow())


def prepare_worker(rt: JobContext) -> None:
    """What every evaluation needs and no evaluation changes, made once in an RQ worker before
    it forks a work-horse per job (core.worker): the loader's statements, compiled for the
    database (each work-horse starts with empty caches, and compiling them took a tenth of a
    second of a one-customer evaluation)."""
    bind = rt.sessions.kw["bind"]
    compile_ahead(bind.dialect, [*statements(), org_run_statement(), approval_statement()])


def request_run(redis: Redis, org_id: int) -> str:
    """Evaluate the whole organization now ("Run now") instead of at its next local morning."""
    return queues.enqueue_once(
        redis, queues.RULES, f"{SELF}.evaluate_organization", org_id, job_id=f"rules-now-{org_id}"
    )


# ---------------------------------------------------------------- evaluation


def is_stale(org: OrgLike, now: datetime, freshness_minutes: int) -> bool:
    """Whether the mirror is too old to act on: never synced, or not within
    `freshness_minutes`."""
    synced = org.last_synced_at
    return synced is None or now - synced > timedelta(minutes=freshness_minutes)


def run_evaluation(
    rt: JobContext,
    org_id: int,
    customer_ids: list[str] | None,
    *,
    now: datetime | None = None,
    attempt: int = 0,
) -> dict[str, Any]:
    """Evaluate `org_id` (every customer when `customer_ids` is None, which is the daily run).

    One evaluation of an organization at a time: a job that finds another one running comes
    back a little later instead of holding a worker while it waits."""
    if rt.redis is None:
        return _evaluate(rt, org_id, customer_ids, now or utcnow(), attempt)
    lock = queues.job_lock(rt.redis, f"rules:org:{org_id}", timeout=0)
    if not lock.acquire():
        _come_back(rt, org_id, customer_ids, attempt, "lock", queues.LOCK_BUSY_RETRY_SECONDS)
        return {"deferred": "another evaluation of this organization is running"}
    try:
        return _evaluate(rt, org_id, customer_ids, now or utcnow(), attempt)
    finally:
        lock.release()


def _evaluate(
    rt: JobContext, org_id: int, customer_ids: list[str] | None, now: datetime, attempt: int
) -> dict[str, Any]:
    with session_scope(rt.sessions) as session:
        session.connection(execution_options=_reading(session))
        org = org_run(session, org_id)
        if org is None or org.status != OrgStatus.CONNECTED:
            return {"skipped": "organization is not connected"}
        if is_stale(org, now, rt.settings.mirror_freshness_minutes):
            return _sync_first(rt, org_id, customer_ids, attempt)
        book = org.book(session)
        if book is None:
            return {"skipped": "no active rule set"}
        as_of = local_date(now, org.timezone)
        since = since_activation(org.timezone, org.first_activated_at)
        starts = feature_dates(book, org.feature_starts, True, org.timezone, as_of)
        facts = load_facts(session, org, as_of, now, book, customer_ids, since, starts)
        # Read and write in two short transactions, so that no lock is held while evaluating
        # (SQLite takes its write lock when a transaction begins). Storing stays exactly-once
        # however stale the read: see outbox.intake.
        session.commit()
        evaluation = evaluate(book, facts, as_of, now, customer_ids)
        stored, gate = Stored(), Gate()
        if not evaluation.writes_nothing():  # the approval gate is read only when needed
            gate = _gate(session, book.version_id, book.limits.approve_runs_over)
            batch = f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
            stored = store(session, org_id, evaluation, book.version_id, gate, batch)
        if any(d.kind == ActionKind.TASK for d in evaluation.decisions):
            adopt_task_actions(session, org_id)
        if customer_ids is None:
            _mark_daily(session, org_id, as_of, len(stored.created))
    if stored.created or stored.merged:
        request_delivery(rt, org_id)
    return {
        "as_of": as_of.isoformat(),
        "created": len(stored.created),
        "merged": len(stored.merged),
        "cancelled": len(stored.cancelled),
        "suppressed": len(evaluation.suppressed),
    }


def _reading(session: Session) -> dict[str, Any]:
    """How the evaluation's reads run: they write nothing and need no snapshot of their own
    (storing is exactly-once however stale the read, see outbox.intake).

    On PostgreSQL in autocommit: no BEGIN and no COMMIT, two round trips fewer (at READ
    COMMITTED each statement saw its own snapshot anyway). On SQLite in a reader's plain BEGIN
    (core.db.READ_ONLY): one snapshot, without the write lock a writer's BEGIN IMMEDIATE
    takes, so evaluations in other workers read and evaluate meanwhile and queue only to store.
    """
    if session.get_bind().dialect.name == "postgresql":
        return {"isolation_level": "AUTOCOMMIT"}
    return {READ_ONLY: True}


def _gate(session: Session, version_id: int | None, approve_over: int | None) -> Gate:
    """Whether this run's new actions wait for approval (the version's document is not read
    again: it is a large column and the book is compiled already)."""
    first_run = False
    if version_id is not None:
        reads = Reads(session.connection())
        reads.add(approval_statement(), {"version": version_id})
        (found,) = reads.run()
        first_run = bool(found) and found[0][0] is None
    return Gate(first_run=first_run, approve_over=approve_over)


@cache
def approval_statement() -> Select[datetime | None]:
    """When the first run of rule set version `version` was approved (None: not yet)."""
    return select(RuleSetVersion.first_run_approved_at).where(
        RuleSetVersion.id == bindparam("version")
    )


def _sync_first(
    rt: JobContext, org_id: int, customer_ids: list[str] | None, attempt: int
) -> dict[str, Any]:
    """The mirror is too old to act on: sync it, and come back after a while."""
    if rt.redis is None:
        return {"stale": True, "retry": False}
    queues.enqueue_once(
        rt.redis,
        queues.SYNC,
        "sync.jobs.sync_organization",
        org_id,
        job_id=queues.sync_job_id(org_id),
        retry=queues.SYNC_RETRY,
    )
    if attempt + 1 >= STALE_MAX_ATTEMPTS:
        return {"stale": True, "retry": False}
    _come_back(rt, org_id, customer_ids, attempt + 1, str(attempt + 1), STALE_RETRY_SECONDS)
    return {"stale": True, "retry": True}


def _come_back(
    rt: JobContext,
    org_id: int,
    customer_ids: list[str] | None,
    attempt: int,
    why: str,
    seconds: float,
) -> None:
    """Run this evaluation again in `seconds`; one such job per organization, customers and
    reason, however many runs ask for it."""
    args: tuple[int, int] | tuple[int, list[str]]
    if customer_ids is None:
        func, args, name = f"{SELF}.evaluate_organization", (org_id, attempt), "daily"
    else:
        func, args = f"{SELF}.evaluate_customers", (org_id, customer_ids)
        name = (
            "customers-" + hashlib.sha1("\n".join(sorted(customer_ids)).encode()).hexdigest()[:16]
        )
    try:
        queues.queue(rt.queue_redis(), queues.RULES).enqueue_in(
            timedelta(seconds=seconds),
            func,
            *args,
            job_id=f"rules-wait-{org_id}-{name}-{why}",
            unique=True,
            result_ttl=0,
            on_failure=queues.RERUN_IF_ABANDONED,
        )
    except DuplicateJobError:
        pass


def _mark_daily(session: Session, org_id: int, as_of: date, decisions: int) -> None:
    row = {
        "organization_id": org_id,
        "local_date": as_of,
        "finished_at": utcnow(),
        "decisions": decisions,
    }
    insert_ignore(session, OrgEvaluation.__table__, [row], (OrgEvaluation.id,))


def enqueue_due_daily(rt: JobContext, now: datetime) -> list[int]:
    """Enqueue the daily run of each connected organization whose local time has passed
    DAILY_AT and that has not been evaluated for its local date yet."""
    redis = rt.queue_redis()
    with session_scope(rt.sessions) as session:
        orgs = session.execute(
            select(Organization.id, Organization.timezone).where(
                Organization.status == OrgStatus.CONNECTED
            )
        ).all()
        recent = now.date() - timedelta(days=2)
        done = set(
            session.execute(
                select(OrgEvaluation.organization_id, OrgEvaluation.local_date).where(
                    OrgEvaluation.local_date >= recent
                )
            ).all()
        )
    due = []
    for org_id, tz in orgs:
        local = now.astimezone(zone(tz))
        if local.time() >= DAILY_AT and (org_id, local.date()) not in done:
            job_id = f"rules-daily-{org_id}-{local.date().isoformat()}"
            queues.enqueue_once(
                redis, queues.RULES, f"{SELF}.evaluate_organization", org_id, job_id=job_id
            )
            due.append(org_id)
    return due
