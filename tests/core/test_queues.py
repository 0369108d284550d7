"""core.queues.enqueue_once: one atomic Redis operation keeps one waiting job per id, plus one
follow-up behind a running one, however many requests race for it (issue 9, item 3)."""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry

from core.queues import SYNC
from core.queues import SYNC_RETRY
from core.queues import enqueue_once

FUNC = "sync.jobs.sync_organization"
THREADS = 24


def enqueue(redis: Redis, job_id: str = "sync-7") -> str:
    return enqueue_once(redis, SYNC, FUNC, 7, job_id=job_id, retry=SYNC_RETRY)


def waiting_ids(redis: Redis) -> list[str]:
    return Queue(SYNC, connection=redis).get_job_ids()


def start(redis: Redis, job_id: str) -> None:
    """What a worker does when it takes the job (RQ's own bookkeeping, no process needed)."""
    job = Job.fetch(job_id, connection=redis)
    Queue(SYNC, connection=redis).remove(job)
    with redis.pipeline() as pipe:
        job.prepare_for_execution("test-worker", pipeline=pipe)
        pipe.execute()


def end(redis: Redis, job_id: str, status: JobStatus, ago: timedelta) -> None:
    job = Job.fetch(job_id, connection=redis)
    job.ended_at = datetime.now(UTC) - ago
    job.set_status(status)
    job.save()


def race(redis_url: str, job_id: str = "sync-7") -> list[str]:
    """THREADS callers, each on its own connection, released at the same instant."""
    barrier = threading.Barrier(THREADS)
    results: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        client = Redis.from_url(redis_url)
        barrier.wait()
        try:
            outcome = enqueue(client, job_id)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome = repr(exc)
        with lock:
            results.append(outcome)
        client.close()

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == THREADS
    return results


def test_first_request_enqueues_a_job_rq_can_run(redis):
    assert enqueue(redis) == "enqueued"
    job = Job.fetch("sync-7", connection=redis)
    assert job.func_name == FUNC
    assert job.args == (7,)
    assert job.origin == SYNC
    assert job.get_status() == JobStatus.QUEUED
    assert job.retries_left == SYNC_RETRY.max
    assert job.failure_callback is not None
    assert job.result_ttl == 0
    assert waiting_ids(redis) == ["sync-7"]
    assert SYNC in [q.name for q in Queue.all(connection=redis)]


def test_a_request_while_waiting_is_absorbed(redis):
    enqueue(redis)
    assert enqueue(redis) == "coalesced"
    assert waiting_ids(redis) == ["sync-7"]


def test_a_request_while_running_queues_one_follow_up(redis):
    enqueue(redis)
    start(redis, "sync-7")
    assert enqueue(redis) == "follow-up"
    assert enqueue(redis) == "coalesced"
    assert waiting_ids(redis) == ["sync-7-next"]
    start(redis, "sync-7-next")
    assert enqueue(redis) == "coalesced"  # both running: the follow-up sees the change


def test_a_follow_up_waiting_absorbs_requests_after_the_first_run_ended(redis):
    enqueue(redis)
    start(redis, "sync-7")
    enqueue(redis)
    Job.fetch("sync-7", connection=redis).delete()  # finished: result_ttl=0 deletes it
    assert enqueue(redis) == "coalesced"
    assert waiting_ids(redis) == ["sync-7-next"]


def test_a_job_that_failed_long_ago_frees_its_id(redis):
    enqueue(redis)
    start(redis, "sync-7")
    end(redis, "sync-7", JobStatus.FAILED, ago=timedelta(minutes=5))
    assert enqueue(redis) == "enqueued"
    job = Job.fetch("sync-7", connection=redis)
    assert job.get_status() == JobStatus.QUEUED
    assert waiting_ids(redis) == ["sync-7"]


def test_jobs_failed_for_a_dead_worker_free_their_ids(redis):
    """RQ fails a job whose worker died (AbandonedJobError) without an end time; after a
    kill -9 of the first run and then of its follow-up, both ids are taken by such jobs."""
    enqueue(redis)
    start(redis, "sync-7")
    enqueue(redis)
    start(redis, "sync-7-next")
    for job_id in ("sync-7", "sync-7-next"):
        job = Job.fetch(job_id, connection=redis)
        assert job.ended_at is None
        job.set_status(JobStatus.FAILED)
    assert enqueue(redis) == "enqueued"
    assert waiting_ids(redis) == ["sync-7"]
    assert Job.fetch("sync-7-next", connection=redis).get_status() == JobStatus.FAILED


def test_a_job_that_just_failed_is_left_to_its_worker(redis):
    enqueue(redis)
    start(redis, "sync-7")
    end(redis, "sync-7", JobStatus.FAILED, ago=timedelta(seconds=0))
    assert enqueue(redis) == "follow-up"
    assert Job.fetch("sync-7", connection=redis).get_status() == JobStatus.FAILED
    assert waiting_ids(redis) == ["sync-7-next"]


def test_no_free_id_schedules_one_run_after_settling(redis):
    enqueue(redis)
    start(redis, "sync-7")
    enqueue(redis)
    start(redis, "sync-7-next")
    end(redis, "sync-7-next", JobStatus.FAILED, ago=timedelta(seconds=0))
    assert enqueue(redis) == "follow-up"
    assert enqueue(redis) == "coalesced"
    assert ScheduledJobRegistry(SYNC, connection=redis).get_job_ids() == ["sync-7-settle"]


@pytest.mark.parametrize("rounds", [3])
def test_concurrent_requests_yield_one_waiting_job(redis, redis_url, rounds):
    for _ in range(rounds):
        redis.flushdb()
        results = race(redis_url)
        assert sorted(results) == ["coalesced"] * (THREADS - 1) + ["enqueued"]
        assert waiting_ids(redis) == ["sync-7"]


def test_concurrent_requests_while_running_yield_one_follow_up(redis, redis_url):
    enqueue(redis)
    start(redis, "sync-7")
    results = race(redis_url)
    assert sorted(results) == ["coalesced"] * (THREADS - 1) + ["follow-up"]
    assert waiting_ids(redis) == ["sync-7-next"]


def test_concurrent_requests_reusing_a_stale_id_enqueue_it_once(redis, redis_url):
    enqueue(redis)
    start(redis, "sync-7")
    end(redis, "sync-7", JobStatus.FAILED, ago=timedelta(minutes=5))
    results = race(redis_url)
    assert sorted(results) == ["coalesced"] * (THREADS - 1) + ["enqueued"]
    assert waiting_ids(redis) == ["sync-7"]
    assert Job.fetch("sync-7", connection=redis).get_status() == JobStatus.QUEUED
