"""The drain as an RQ job: asked for by each acknowledged webhook (coalesced: at most one
waiting) and by the cron, so an entry is never stranded."""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

from core.context import job_context
from core.queues import SYNC
from core.queues import enqueue_once
from webhooks import stream
from webhooks.drain import drain

log = logging.getLogger(__name__)

DRAIN_JOB_ID = "webhook-inbox"
DRAIN_QUEUE = SYNC
DRAIN_EVERY_SECONDS = 60  # the cron's drain (connector/cron.py)


def drain_inbox() -> dict[str, int]:
    ctx = job_context()
    done = drain(ctx)
    if done.more:  # the entries already waiting asked for no drain: they counted on this one
        request_drain(ctx.queue_redis())
    return {"entries": done.entries, "claimed": done.claimed, "syncs": done.organizations}


def request_drain(redis: Redis) -> str:
    """Ask for a drain; coalesces with one already waiting (core.queues.enqueue_once)."""
    return enqueue_once(redis, DRAIN_QUEUE, "webhooks.jobs.drain_inbox", job_id=DRAIN_JOB_ID)


def acknowledge(redis: Redis, provider: str, body: bytes) -> None:
    """Put a verified delivery in the stream and make sure a drain will read it: one round
    trip when a drain is already waiting, two otherwise. Raises RedisError only when the
    delivery is not in the stream; one that is will be drained by the cron if need be."""
    if stream.append(redis, provider, body, DRAIN_JOB_ID):
        return
    try:
        request_drain(redis)
    except RedisError:
        log.exception("a webhook is in the stream but no drain could be queued")
