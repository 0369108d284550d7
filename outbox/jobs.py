"""RQ entrypoints of the outbox. Each takes ids, builds its runtime from the environment, and calls
a function below that takes the runtime explicitly (which tests call directly).

- deliver_due_for_organization(org_id): every action of one organization that is due, each in
  transactions of its own, several customers at once and each customer's in order; an outage or
  a rate limit stops the run and hands the rest to a later one.
- deliver_action(action_id): one action, enqueued with RQ's Retry for outages.
- deliver_due_actions(): cron, every minute; the safety net for actions scheduled for later,
  resumed after a crash (their lease ran out), or waiting for a reconnect that happened.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from datetime import timedelta
from queue import Empty
from queue import SimpleQueue

from rq import Retry
from rq.exceptions import DuplicateJobError
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from core import queues
from core.context import JobContext
from core.context import job_context
from core.db import session_scope
from core.db import utcnow
from core.models import Organization
from core.models import OrgStatus
from outbox.channels import Run
from outbox.deliver import Delivered
from outbox.deliver import deliver
from outbox.deliver import deliver_taken
from outbox.deliver import release
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionStatus as S
from outbox.perform import Performed
from outbox.perform import Taken

SELF = "outbox.jobs"


class StillUnavailable(Exception):
    """Raised by deliver_action so that RQ's Retry tries it again after its interval."""


# ---------------------------------------------------------------- entrypoints


def deliver_due_for_organization(org_id: int) -> int:
    return deliver_due(job_context(), org_id, utcnow())


def deliver_action(action_id: int) -> str | None:
    rt = job_context()
    result = deliver(rt, action_id)
    if isinstance(result, Delivered) and result.follow_up is not None:
        deliver_taken(rt, result.follow_up)
    if isinstance(result, Delivered) and result.outage and result.status == S.PENDING:
        raise StillUnavailable(result.reason)
    return result.status if result else None


def deliver_due_actions() -> list[int]:
    return enqueue_due_actions(job_context(), utcnow())


# ---------------------------------------------------------------- delivering


def request_delivery(rt: JobContext, org_id: int) -> None:
    """Start (or join) the delivery run of `org_id` (nothing without a Redis, as in unit tests)."""
    if rt.redis is None:
        return
    queues.enqueue_once(
        rt.redis,
        queues.ACTIONS,
        f"{SELF}.deliver_due_for_organization",
        org_id,
        job_id=f"actions-{org_id}",
    )


def due_ids(rt: JobContext, org_id: int, now: datetime) -> list[int]:
    return [action_id for lane in due_by_customer(rt, org_id, now) for action_id in lane]


def due_by_customer(rt: JobContext, org_id: int, now: datetime) -> list[list[int]]:
    """The due actions of `org_id`, one list per customer, each in the order it is written."""
    with session_scope(rt.sessions) as session:
        rows = session.execute(
            select(Action.customer_external_id, Action.id)
            .where(
                Action.organization_id == org_id,
                Action.status.in_((S.PLANNED, S.PENDING)),
                Action.scheduled_for <= now,
                or_(Action.lease_until.is_(None), Action.lease_until <= now),
            )
            .order_by(Action.scheduled_for, Action.id)
        ).all()
    by_customer: dict[str, list[int]] = {}
    for customer, action_id in rows:
        by_customer.setdefault(customer, []).append(action_id)
    return list(by_customer.values())


def deliver_due(rt: JobContext, org_id: int, now: datetime) -> int:
    """Deliver every due action of `org_id`; returns how many were taken up.

    Most of a write is waiting on the provider or the mail server, so the run writes the actions
    of several customers at once, in `delivery_lanes` threads, each with its own provider
    client and SMTP connection. One customer's actions stay in one lane, in order: its reminder
    before the note that records it, and its caps checked against what went before. An outage
    or a rate limit stops every lane and hands the rest to a later run."""
    work: SimpleQueue[list[int]] = SimpleQueue()
    customers = due_by_customer(rt, org_id, now)
    for actions in customers:
        work.put(actions)
    stop = threading.Event()
    lanes = min(rt.settings.delivery_lanes, len(customers))
    if lanes <= 1:
        done = _lane(rt, org_id, now, work, stop)
    else:
        with ThreadPoolExecutor(lanes, thread_name_prefix=f"deliver-{org_id}") as pool:
            done = sum(pool.map(lambda _: _lane(rt, org_id, now, work, stop), range(lanes)))
    _come_back_for_leased(rt, org_id)
    return done


def _lane(
    rt: JobContext, org_id: int, now: datetime, work: SimpleQueue[list[int]], stop: threading.Event
) -> int:
    """Write customers' actions from `work` until it is empty or another lane hit an outage."""
    done = 0
    with Run(rt, org_id) as run:
        while not stop.is_set():
            try:
                queue = work.get_nowait()
            except Empty:
                break
            follow_up: Taken | None = None
            while (queue or follow_up) and not stop.is_set():
                result: Performed | None
                if follow_up is not None:
                    action_id, result = follow_up.action_id, deliver_taken(rt, follow_up, run)
                    follow_up = None
                else:
                    action_id = queue.pop(0)
                    result = deliver(rt, action_id, max(now, utcnow()), run)
                done += 1
                if not isinstance(result, Delivered):
                    continue
                follow_up = result.follow_up
                if result.outage or result.rate_limited:
                    stop.set()
                    _hold_off(rt, org_id, action_id, result)
            if follow_up is not None:  # another lane stopped the run before it was written
                release(rt, follow_up)
    return done


def _come_back_for_leased(rt: JobContext, org_id: int) -> None:
    """Another worker holds some of this organization's actions. If it died mid-write (its RQ
    job is re-run as abandoned, and finds them leased), a run when the earliest lease runs out
    resumes them, sooner than the every-minute sweep would."""
    if rt.redis is None:
        return
    with session_scope(rt.sessions) as session:
        until = session.scalar(
            select(func.min(Action.lease_until)).where(
                Action.organization_id == org_id,
                Action.status == S.PENDING,
                Action.lease_until > utcnow(),
            )
        )
    if until is not None:
        _run_at(rt, org_id, until + timedelta(seconds=1))


def _run_at(rt: JobContext, org_id: int, when: datetime) -> None:
    try:
        queues.queue(rt.queue_redis(), queues.ACTIONS).enqueue_at(
            when,
            f"{SELF}.deliver_due_for_organization",
            org_id,
            job_id=f"actions-{org_id}-at-{int(when.timestamp())}",
            unique=True,
            result_ttl=0,
            on_failure=queues.RERUN_IF_ABANDONED,
        )
    except DuplicateJobError:
        pass


def _hold_off(rt: JobContext, org_id: int, action_id: int, result: Performed) -> None:
    """The provider or mail server is down or limiting us: retry this action with RQ's Retry
    (outages) and come back for the rest when it is due."""
    retry_at = result.retry_at or utcnow() + timedelta(seconds=30)
    delay = max(retry_at - utcnow(), timedelta(0))
    if isinstance(result, Delivered) and result.outage and result.status == S.PENDING:
        intervals = list(rt.settings.delivery_retry_seconds) or [30]
        try:
            queues.queue(rt.queue_redis(), queues.ACTIONS).enqueue_in(
                delay,
                f"{SELF}.deliver_action",
                action_id,
                job_id=f"deliver-{action_id}",
                unique=True,
                retry=Retry(max=len(intervals), interval=intervals),
                result_ttl=0,
                failure_ttl=queues.FAILURE_TTL,
                on_failure=queues.RERUN_IF_ABANDONED,
            )
        except DuplicateJobError:
            pass
    _run_at(rt, org_id, utcnow() + delay + timedelta(seconds=1))


def enqueue_due_actions(rt: JobContext, now: datetime) -> list[int]:
    """Start a delivery run for each organization with something due, after bringing back the
    actions that waited for a reconnect of an organization connected again."""
    with session_scope(rt.sessions) as session:
        reconnected = select(Organization.id).where(Organization.status == OrgStatus.CONNECTED)
        waiting = session.scalars(
            select(Action)
            .where(Action.status == S.NEEDS_RECONNECT, Action.organization_id.in_(reconnected))
            .with_for_update()
        )
        for action in waiting:
            action.scheduled_for = now
            transition(action, S.PLANNED, "the connection was renewed", now)
        org_ids = session.scalars(
            select(Action.organization_id)
            .join(Organization, Organization.id == Action.organization_id)
            .where(
                Organization.status == OrgStatus.CONNECTED,
                Action.status.in_((S.PLANNED, S.PENDING)),
                Action.scheduled_for <= now,
                or_(Action.lease_until.is_(None), Action.lease_until <= now),
            )
            .distinct()
        ).all()
    for org_id in org_ids:
        request_delivery(rt, org_id)
    return sorted(org_ids)
