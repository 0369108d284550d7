"""RQ entry points of the sync: take ids, build the context, call the engine, hand off to rules.

`sync_organization` never runs twice at once for one organization (a Redis lock with a
heartbeat), and is enqueued through `enqueue_once`, so a burst of webhooks becomes one run plus
at most one follow-up. A run that finds the lock held does not wait for it: it schedules itself
a little later and frees the worker for other queues. A run whose worker died is re-run by RQ
(see core.queues and core.worker); until then the admin page calls the sync stuck.

Provider errors are handled by kind: a dead grant marks the organization "needs reconnect" and
stops; a rate limit re-schedules the run after the provider's wait; an outage
fails the job, which RQ retries with backoff; the error is recorded on the organization for the
admin page either way.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from datetime import timedelta
from typing import Any

from redis import Redis
from rq.exceptions import DuplicateJobError
from sqlalchemy import select
from sqlalchemy import update

from core.context import JobContext
from core.context import job_context
from core.db import session_scope
from core.db import utcnow
from core.locks import is_held
from core.models import Organization
from core.models import OrgStatus
from core.models import WebhookEvent
from core.queues import LOCK_BUSY_RETRY_SECONDS
from core.queues import RERUN_IF_ABANDONED
from core.queues import RULES
from core.queues import SYNC
from core.queues import SYNC_RETRY
from core.queues import clear_if_settled
from core.queues import enqueue_once
from core.queues import job_lock
from core.queues import queue
from core.queues import sync_job_id
from core.ratelimit import LimitWaitExceeded
from core.tokens import GrantDead
from core.tokens import mark_grant_dead
from providers.base import ProviderError
from providers.base import RateLimited
from providers.base import Reauthorize
from sync.clients import open_provider
from sync.engine import apply_merges
from sync.engine import sync_entities

log = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=2)
EVALUATE_CUSTOMERS = "rules.jobs.evaluate_customers"


def request_sync(ctx: JobContext, org_id: int) -> str:
    """Ask for a sync of one organization; coalesces with one already waiting."""
    return enqueue_once(
        ctx.queue_redis(),
        SYNC,
        "sync.jobs.sync_organization",
        org_id,
        job_id=sync_job_id(org_id),
        retry=SYNC_RETRY,
    )


def sync_organization(org_id: int) -> dict[str, Any]:
    return run_sync(job_context(), org_id)


def resync_all() -> int:
    """The safety net: a sync of every connected organization, because webhooks get lost."""
    ctx = job_context()
    return request_sync_all(ctx)


def request_sync_all(ctx: JobContext) -> int:
    """Ask for a sync of every connected organization; returns how many."""
    with session_scope(ctx.sessions) as session:
        ids = list(
            session.scalars(
                select(Organization.id).where(Organization.status == OrgStatus.CONNECTED)
            )
        )
    for org_id in ids:
        request_sync(ctx, org_id)
    return len(ids)


def run_sync(ctx: JobContext, org_id: int) -> dict[str, Any]:
    lock = job_lock(ctx.queue_redis(), sync_job_id(org_id), timeout=0)
    if not lock.acquire():
        _run_later(ctx, org_id, LOCK_BUSY_RETRY_SECONDS, "wait")
        return {"deferred": "another sync of this organization is running"}
    try:
        return _run_sync_locked(ctx, org_id)
    finally:
        lock.release()


def sync_is_stuck(redis: Redis, org: Organization, now: datetime) -> bool:
    """Started a while ago, not finished, and no live job holds its lock: its worker died (or
    none runs). RQ re-runs a dead job by itself; this is what the admin page says meanwhile."""
    started = org.sync_started_at
    if not org.is_syncing or started is None or now - started < STUCK_AFTER:
        return False
    return not is_held(redis, sync_job_id(org.id))


def _run_sync_locked(ctx: JobContext, org_id: int) -> dict[str, Any]:
    started = utcnow()
    with session_scope(ctx.sessions) as session:
        org = session.get(Organization, org_id)
        if org is None or org.status != OrgStatus.CONNECTED:
            return {"skipped": "not connected"}
        org.sync_started_at = started
        merged = _take_merges(session, org_id)
        touched = apply_merges(session, org_id, merged)
    try:
        provider = open_provider(org, ctx.settings, ctx.sessions, ctx.queue_redis())
        report = sync_entities(ctx.sessions, org_id, provider)
    except (GrantDead, Reauthorize) as exc:
        _mark_needs_reconnect(ctx, org, str(exc))
        return {"needs_reconnect": str(exc)}
    except (RateLimited, LimitWaitExceeded) as exc:  # the provider's limit, or our own share
        _record_error(
            ctx, org_id, f"Rate limited by the provider; retrying in {exc.retry_after:.0f}s"
        )
        _run_later(ctx, org_id, exc.retry_after, "later")
        return {"rate_limited": exc.retry_after}
    except ProviderError as exc:
        _record_error(ctx, org_id, exc.message)
        raise
    _finish(ctx, org_id, started)
    customers = report.customers | touched
    if customers:
        request_evaluation(ctx, org_id, customers)
    return {
        "entities": {name: vars(r) for name, r in report.entities.items()},
        "customers_changed": len(customers),
    }


def _run_later(ctx: JobContext, org_id: int, seconds: float, why: str) -> None:
    """One scheduled re-run per organization and reason (`later`: rate limited; `wait`: the
    lock was held), however many runs asked for it."""
    job_id = f"{sync_job_id(org_id)}-{why}"
    for _ in range(2):
        try:
            queue(ctx.queue_redis(), SYNC).enqueue_in(
                timedelta(seconds=max(seconds, 1)),
                "sync.jobs.sync_organization",
                org_id,
                job_id=job_id,
                unique=True,
                result_ttl=0,
                retry=SYNC_RETRY,
                on_failure=RERUN_IF_ABANDONED,
            )
            return
        except DuplicateJobError:
            if not clear_if_settled(ctx.queue_redis(), job_id):
                return  # a re-run is already scheduled (or running)


def request_evaluation(ctx: JobContext, org_id: int, customers: set[str]) -> None:
    """Ask for an evaluation of the customers a sync touched; one job per set of customers,
    however many syncs ask for it before it runs."""
    ordered = sorted(customers)
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:16]
    enqueue_once(
        ctx.queue_redis(),
        RULES,
        EVALUATE_CUSTOMERS,
        org_id,
        ordered,
        job_id=f"evaluate-{org_id}-{digest}",
    )


def _take_merges(session: Any, org_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(WebhookEvent.merged_from, WebhookEvent.external_id).where(
            WebhookEvent.organization_id == org_id,
            WebhookEvent.merged_from.is_not(None),
            WebhookEvent.processed_at.is_(None),
        )
    )
    return [(merged_from, into) for merged_from, into in rows]


def _finish(ctx: JobContext, org_id: int, started: Any) -> None:
    with session_scope(ctx.sessions) as session:
        session.execute(
            update(Organization)
            .where(Organization.id == org_id)
            .values(last_synced_at=utcnow(), last_sync_error="")
        )
        session.execute(
            update(WebhookEvent)
            .where(
                WebhookEvent.organization_id == org_id,
                WebhookEvent.processed_at.is_(None),
                WebhookEvent.received_at <= started,
            )
            .values(processed_at=utcnow())
        )


def _record_error(ctx: JobContext, org_id: int, message: str) -> None:
    log.warning("sync of organization %s: %s", org_id, message)
    with session_scope(ctx.sessions) as session:
        session.execute(
            update(Organization).where(Organization.id == org_id).values(last_sync_error=message)
        )


def _mark_needs_reconnect(ctx: JobContext, org: Organization, detail: str) -> None:
    if org.grant_id is not None:
        mark_grant_dead(ctx.sessions, org.grant_id, detail)
    else:
        with session_scope(ctx.sessions) as session:
            session.execute(
                update(Organization)
                .where(Organization.id == org.id)
                .values(status=OrgStatus.NEEDS_RECONNECT, status_detail=detail)
            )
