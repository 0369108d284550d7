"""Redis, the RQ queues, and coalesced enqueueing.

Jobs take ids only and are named by dotted path, so `sync` can start `rules` jobs without
importing it. `enqueue_once` keeps at most one waiting job per id: a request while the job is
queued is absorbed; a request while it is running queues one follow-up (`<id>-next`), so a change
announced mid-run is never lost. Jobs that must not overlap also take a `job_lock`
(core.locks: a short TTL renewed by a heartbeat, so a dead holder frees it within seconds).

A job whose worker died (`kill -9`, a lost machine) is found by RQ's StartedJobRegistry
cleanup once its heartbeat lapses (core.worker makes that seconds, not minutes). RQ re-runs it
when it has retries left; otherwise `rerun_if_abandoned`, the failure callback of every job
enqueued here, queues it once more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from redis import Redis
from rq import Callback
from rq import Queue
from rq import Retry
from rq.exceptions import AbandonedJobError
from rq.exceptions import DuplicateJobError
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.executions import ExecutionRegistry
from rq.job import Job
from rq.job import JobStatus

from core.locks import HeartbeatLock

SYNC = "sync"
RULES = "rules"
ACTIONS = "actions"
QUEUE_NAMES = (SYNC, RULES, ACTIONS)

LOCK_WAIT_SECONDS = 600
LOCK_BUSY_RETRY_SECONDS = 10  # a job that finds its lock held comes back this much later
# A sync's retries; the first at once, so a run whose worker died is re-run without waiting.
SYNC_RETRY = Retry(max=4, interval=[0, 60, 300, 900])


def sync_job_id(org_id: int) -> str:
    """The one id of an organization's sync job: webhooks, the cron and an evaluation that finds
    the mirror stale all ask for it, so their requests coalesce."""
    return f"sync-{org_id}"


SETTLE_SECONDS = 2.0
RERUN_SUFFIX = "-rerun"


def redis_from_url(url: str) -> Redis:
    return Redis.from_url(url)


def queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis)


def enqueue_once(
    redis: Redis,
    queue_name: str,
    func: str | Callable[..., Any],
    *args: Any,
    job_id: str,
    retry: Retry | None = None,
    job_timeout: int = 1800,
) -> str:
    """Enqueue `func(*args)` as `job_id` unless that job is already waiting.

    Returns "enqueued", "coalesced" (one is already waiting) or "follow-up" (one is running, so
    a second run was queued behind it).
    """
    candidates = (job_id, f"{job_id}-next")
    for _ in range(40):
        for candidate in candidates:
            state = _try_enqueue(redis, queue_name, func, args, candidate, retry, job_timeout)
            if state == "enqueued":
                return "enqueued" if candidate == job_id else "follow-up"
            if state == "waiting":
                return "coalesced"
        if all(_status(redis, c) == JobStatus.STARTED for c in candidates):
            return "coalesced"
    raise RuntimeError(f"could not enqueue {job_id}: it kept changing state")


def _try_enqueue(
    redis: Redis,
    queue_name: str,
    func: str | Callable[..., Any],
    args: tuple[Any, ...],
    job_id: str,
    retry: Retry | None,
    job_timeout: int,
) -> str:
    try:
        queue(redis, queue_name).enqueue(
            func,
            *args,
            job_id=job_id,
            unique=True,
            result_ttl=0,
            failure_ttl=7 * 24 * 3600,
            retry=retry,
            job_timeout=job_timeout,
            on_failure=RERUN_IF_ABANDONED,
        )
        return "enqueued"
    except DuplicateJobError:
        pass
    job = _fetch(redis, job_id)
    status = job.get_status(refresh=False) if job else None
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return "waiting"
    if status == JobStatus.STARTED:
        return "running"
    if job is not None and _settled(job):
        # Failed, stopped or cancelled a while ago: its id may be reused. A job that has just
        # ended is left to its worker, which is still cleaning it up.
        _delete(redis, job)
    time.sleep(SETTLE_SECONDS / 10)
    return "retry"


def clear_if_settled(redis: Redis, job_id: str) -> bool:
    """Delete job `job_id` if it ended (failed, stopped, finished) a while ago, so its id can
    be used again; True if the id is free now."""
    job = _fetch(redis, job_id)
    if job is None:
        return True
    if job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED):
        return False
    if not _settled(job):
        return False
    _delete(redis, job)
    return True


def _delete(redis: Redis, job: Job) -> None:
    """Delete a job that ended; one whose worker died still lists that worker's execution,
    which RQ can no longer find (and would fail on)."""
    forget_dead_executions(job, redis)
    job.delete()


def _settled(job: Job) -> bool:
    ended = job.ended_at
    if ended is None:
        # RQ 3 records an abandoned job (its worker died) as failed with no end time, and no
        # worker is left to finish it: its id is free at once, or the organization's next
        # run could never be queued under it again.
        return job.get_status(refresh=False) == JobStatus.FAILED
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=UTC)
    return datetime.now(UTC) - ended > timedelta(seconds=SETTLE_SECONDS)


def _fetch(redis: Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None


def _status(redis: Redis, job_id: str) -> JobStatus | None:
    job = _fetch(redis, job_id)
    return job.get_status(refresh=False) if job else None


def job_lock(redis: Redis, name: str, timeout: float = LOCK_WAIT_SECONDS) -> HeartbeatLock:
    """A Redis lock shared by every process; use as `with job_lock(...)`.

    Waits up to `timeout` seconds for it (0: not at all), then raises core.locks.LockHeld. A
    job should rather not wait: `acquire()` it, and re-queue itself when that says False.
    """
    return HeartbeatLock(redis, name, wait=timeout)


def rerun_if_abandoned(job: Job, connection: Redis, exc_type: type, *exc_info: Any) -> None:
    """RQ's failure callback: queue a job once more when its worker died under it.

    A job with retries left is re-run by RQ itself; one that was already a re-run is left in
    the failed registry, where the admin sees it (something keeps killing its worker).
    """
    if exc_type is not AbandonedJobError:
        return
    forget_dead_executions(job, connection)
    if job.retries_left or job.id.endswith(RERUN_SUFFIX):
        return
    try:
        queue(connection, job.origin).enqueue(
            job.func_name,
            *job.args,
            **job.kwargs,
            job_id=job.id + RERUN_SUFFIX,
            unique=True,
            result_ttl=0,
            failure_ttl=7 * 24 * 3600,
            job_timeout=job.timeout,
            on_failure=RERUN_IF_ABANDONED,
        )
    except DuplicateJobError:
        pass


def forget_dead_executions(job: Job, connection: Redis) -> None:
    """Drop the dead worker's execution from the job's execution registry.

    RQ 3.0 keeps an execution listed a minute longer than the execution itself lives; a re-run
    that succeeds within that minute then fails while cleaning up ("Execution … not found").
    """
    registry = ExecutionRegistry(job_id=job.id, connection=connection)
    for execution_id in registry.get_execution_ids():
        execution = Execution(id=execution_id, job_id=job.id, connection=connection)
        if not connection.exists(execution.key):
            connection.zrem(registry.key, execution_id)


RERUN_IF_ABANDONED = Callback(rerun_if_abandoned)
