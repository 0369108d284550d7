"""Redis, the RQ queues, and coalesced enqueueing.

Jobs take ids only and are named by dotted path, so `sync` can start `rules` jobs without
importing it. `enqueue_once` keeps at most one waiting job per id: a request while the job is
queued is absorbed; a request while it is running queues one follow-up (`<id>-next`), so a change
announced mid-run is never lost; the decision and the enqueue are one Lua script, so a webhook
request never waits or retries for it. Jobs that must not overlap also take a `job_lock`
(core.locks: a short TTL renewed by a heartbeat, so a dead holder frees it within seconds).

A job whose worker died (`kill -9`, a lost machine) is found by RQ's StartedJobRegistry
cleanup once its heartbeat lapses (core.worker makes that seconds, not minutes). RQ re-runs it
when it has retries left; otherwise `rerun_if_abandoned`, the failure callback of every job
enqueued here, queues it once more.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import WatchError
from rq import Callback
from rq import Queue
from rq import Retry
from rq.exceptions import AbandonedJobError
from rq.exceptions import DuplicateJobError
from rq.exceptions import InvalidJobOperation
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
# The order a worker serves its queues in (the Procfile, the demo): the last stage of the
# pipeline first, so that work already under way (an action decided, a customer to evaluate)
# finishes before the next change is synced. Served the other way, a steady stream of webhooks
# kept one worker syncing and evaluating while the reminders they had decided waited.
WORKER_QUEUES = (ACTIONS, RULES, SYNC)

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
FAILURE_TTL = 7 * 24 * 3600
ENDED = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


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

    Returns "enqueued", "coalesced" (one is already waiting, or both ids are running) or
    "follow-up" (one is running, so a second run was queued behind it). The decision and the
    enqueue are one Lua script, so concurrent callers never both enqueue and nobody waits; only
    a failed job whose id must be freed first costs a second round trip.
    """
    q = queue(redis, queue_name)
    candidates = (job_id, f"{job_id}-next")
    fields = _job_fields(q, func, args, job_id, retry, job_timeout)
    for _ in range(len(candidates) + 1):
        verdict, index = _decide(redis, q, candidates, fields)
        if verdict == "stale":
            _delete_if_settled(redis, candidates[index])
            continue
        if verdict == "enqueued":
            return "enqueued" if index == 0 else "follow-up"
        if verdict == "busy":
            return _enqueue_after_settling(q, func, args, job_id, retry, job_timeout)
        return "coalesced"
    raise RuntimeError(f"could not enqueue {job_id}: its ids kept being reused")


# KEYS: the candidates' job hashes, the queue list, RQ's set of queues.
# ARGV: SETTLE_SECONDS, the candidates' ids, then the new job's hash fields (they hold no id).
# Returns {verdict, index of the candidate} where the verdict is "coalesced" (one is waiting, or
# every candidate is running), "enqueued" (candidate `index` created and queued), "stale"
# (candidate `index` ended long ago: delete it, then ask again) or "busy" (none is free: one
# ended a moment ago and its worker may still be cleaning it up).
_ENQUEUE_ONCE_LUA = """
local function epoch(stamp)
  local y, m, d, hh, mm, ss = string.match(stamp, "^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

local function state(key, now, settle)
  local status, ended_at = unpack(redis.call("HMGET", key, "status", "ended_at"))
  if not status then
    if redis.call("EXISTS", key) == 0 then return "free" end
    return "waiting"
  end
  if status == "started" then return "started" end
  if status ~= "finished" and status ~= "failed" and status ~= "stopped"
      and status ~= "canceled" then
    return "waiting"
  end
  local ended = ended_at and epoch(ended_at)
  if ended and now - ended <= settle then return "recent" end
  return "stale"
end

local now = tonumber(redis.call("TIME")[1])
local settle = tonumber(ARGV[1])
local states = {}
for i = 1, 2 do
  states[i] = state(KEYS[i], now, settle)
  if states[i] == "waiting" then return {"coalesced", i - 1} end
end
for i = 1, 2 do
  if states[i] == "free" then
    redis.call("HSET", KEYS[i], unpack(ARGV, 4))
    redis.call("RPUSH", KEYS[3], ARGV[1 + i])
    redis.call("SADD", KEYS[4], KEYS[3])
    return {"enqueued", i - 1}
  end
  if states[i] == "stale" then return {"stale", i - 1} end
end
if states[1] == "started" and states[2] == "started" then return {"coalesced", 0} end
return {"busy", 0}
"""


def _decide(
    redis: Redis, q: Queue, candidates: tuple[str, str], fields: list[str | bytes]
) -> tuple[str, int]:
    keys = [Job.key_for(c) for c in candidates] + [q.key, Queue.redis_queues_keys]
    verdict, index = _enqueue_script(redis)(keys=keys, args=[SETTLE_SECONDS, *candidates, *fields])
    return verdict.decode(), int(index)


def _enqueue_script(redis: Redis) -> Any:
    script = getattr(redis, "_dunwell_enqueue_once", None)
    if script is None:
        script = redis.register_script(_ENQUEUE_ONCE_LUA)
        redis._dunwell_enqueue_once = script  # type: ignore[attr-defined]  # cached per client
    return script


def _job_fields(
    q: Queue,
    func: str | Callable[..., Any],
    args: tuple[Any, ...],
    job_id: str,
    retry: Retry | None,
    job_timeout: int,
) -> list[str | bytes]:
    """The hash RQ itself would store for the job, as flat HSET arguments."""
    job = q.create_job(
        func,  # type: ignore[type-var]  # rq's TypeVar takes a str or a callable, not the union
        args=args,
        job_id=job_id,
        result_ttl=0,
        failure_ttl=FAILURE_TTL,
        retry=retry,
        timeout=job_timeout,
        on_failure=RERUN_IF_ABANDONED,
    )
    q._prepare_for_queue(job)  # origin, enqueued_at, status: what Queue.enqueue sets
    fields: list[str | bytes] = []
    for name, value in job.to_dict().items():
        if value is not None:
            fields += [name, value if isinstance(value, bytes | str) else str(value)]
    return fields


def _enqueue_after_settling(
    q: Queue,
    func: str | Callable[..., Any],
    args: tuple[Any, ...],
    job_id: str,
    retry: Retry | None,
    job_timeout: int,
) -> str:
    """Neither id is free because one ended a moment ago: the request is not dropped but
    scheduled (RQ's scheduler) once that job has settled, as one `<id>-settle` run."""
    settle_id = f"{job_id}-settle"
    for _ in range(2):
        try:
            q.enqueue_in(
                timedelta(seconds=SETTLE_SECONDS + 1),
                func,  # type: ignore[type-var]  # as in _job_fields
                *args,
                job_id=settle_id,
                unique=True,
                result_ttl=0,
                failure_ttl=FAILURE_TTL,
                retry=retry,
                job_timeout=job_timeout,
                on_failure=RERUN_IF_ABANDONED,
            )
            return "follow-up"
        except DuplicateJobError:
            if not clear_if_settled(q.connection, settle_id):
                return "coalesced"
    return "coalesced"


def clear_if_settled(redis: Redis, job_id: str) -> bool:
    """Delete job `job_id` if it ended (failed, stopped, finished) a while ago, so its id can
    be used again; True if the id is free now."""
    _delete_if_settled(redis, job_id)
    return not redis.exists(Job.key_for(job_id))


def _delete_if_settled(redis: Redis, job_id: str) -> None:
    """Delete the job if it ended a while ago, unless someone changes it meanwhile (WATCH): a
    concurrent caller may have deleted it and queued a new job under the same id."""
    with redis.pipeline() as pipe:
        try:
            pipe.watch(Job.key_for(job_id))  # type: ignore[no-untyped-call]  # redis-py untyped
            job = _fetch(redis, job_id)
            if job is None or job.get_status(refresh=False) not in ENDED or not _settled(job):
                return
            # One whose worker died still lists that worker's execution, which RQ can no
            # longer find (and would fail on).
            forget_dead_executions(job, redis)
            pipe.multi()
            job.delete(pipeline=pipe)
            pipe.execute()
        except (WatchError, InvalidJobOperation):
            pass  # changed or deleted by a concurrent caller meanwhile


def _settled(job: Job) -> bool:
    """Ended long enough ago that no worker is still cleaning it up. A job RQ failed because
    its worker died (AbandonedJobError) has no end time: nobody is ending it."""
    ended = job.ended_at
    if ended is None:
        return True
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=UTC)
    return datetime.now(UTC) - ended > timedelta(seconds=SETTLE_SECONDS)


def _fetch(redis: Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None


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
    if job.retries_left or job.id.endswith(RERUN_SUFFIX) or job.func_name is None:
        return
    try:
        queue(connection, job.origin).enqueue(
            job.func_name,
            *job.args,
            **job.kwargs,
            job_id=job.id + RERUN_SUFFIX,
            unique=True,
            result_ttl=0,
            failure_ttl=FAILURE_TTL,
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
