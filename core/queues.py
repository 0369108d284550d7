"""Redis, the RQ queues, and coalesced enqueueing.

Jobs take ids only and are named by dotted path, so `sync` can start `rules` jobs without
importing it. `enqueue_once` keeps at most one waiting job per id: a request while the job is
queued is absorbed; a request while it is running queues one follow-up (`<id>-next`), so a change
announced mid-run is never lost. Jobs that must not overlap also take a `job_lock`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from redis import Redis
from rq import Queue
from rq import Retry
from rq.exceptions import DuplicateJobError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus

SYNC = "sync"
RULES = "rules"
ACTIONS = "actions"
QUEUE_NAMES = (SYNC, RULES, ACTIONS)

LOCK_TTL_SECONDS = 1800
SETTLE_SECONDS = 2.0


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
        job.delete()
    time.sleep(SETTLE_SECONDS / 10)
    return "retry"


def _settled(job: Job) -> bool:
    ended = job.ended_at
    if ended is None:
        return False
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


def job_lock(redis: Redis, name: str, timeout: int = LOCK_TTL_SECONDS) -> Any:
    """A Redis lock shared by every process; use as `with job_lock(...)`. Blocks until free."""
    return redis.lock(f"dunwell:lock:{name}", timeout=timeout, blocking_timeout=timeout)
