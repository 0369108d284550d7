"""From the stream to the inbox: parse, record (deduplicated), ask for the syncs, acknowledge.

A batch is acknowledged only after its inbox rows are committed and its syncs requested, so a
drain that dies midway loses nothing: its entries stay pending and a later drain claims them
once they have been idle for `CLAIM_IDLE_MS` (the rows are deduplicated, the syncs coalesced,
so doing a batch twice changes nothing).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from core.context import JobContext
from core.db import session_scope
from providers import PROVIDERS
from providers import provider_class
from providers.base import ChangeNotice
from providers.webhook_events import unreadable_body
from sync.jobs import request_sync
from webhooks import stream
from webhooks.inbox import Delivery
from webhooks.inbox import record

log = logging.getLogger(__name__)

BATCH = 500
CLAIM_IDLE_MS = 30_000  # far longer than a batch takes; the cron drains at least this often
BUDGET_SECONDS = 20.0  # then the worker may run a sync; the job asks for another drain


@dataclass
class Drained:
    entries: int = 0
    claimed: int = 0  # of them, taken over from a drain that did not finish
    organizations: int = 0  # syncs requested
    more: bool = False  # stopped at the time budget with entries left


def drain(
    ctx: JobContext, claim_idle_ms: int = CLAIM_IDLE_MS, budget_seconds: float = BUDGET_SECONDS
) -> Drained:
    """Record the entries of the stream, first those a dead drain left, then the new ones,
    until none is left or `budget_seconds` have passed."""
    redis = ctx.queue_redis()
    stream.ensure_group(redis)
    done = Drained()
    deadline = time.monotonic() + budget_seconds
    while entries := stream.claim_stale(redis, claim_idle_ms, BATCH):
        done.claimed += len(entries)
        _record_batch(ctx, entries, done)
    while entries := stream.read_new(redis, BATCH):
        _record_batch(ctx, entries, done)
        if time.monotonic() > deadline:
            done.more = len(entries) == BATCH  # a full batch: there may be more
            break
    return done


def _record_batch(ctx: JobContext, entries: list[stream.Entry], done: Drained) -> None:
    deliveries = [d for d in map(_delivery, entries) if d is not None]
    with session_scope(ctx.sessions) as db:
        org_ids = record(db, deliveries)
    for org_id in sorted(org_ids):
        request_sync(ctx, org_id)
    stream.ack(ctx.queue_redis(), entries)
    done.entries += len(entries)
    done.organizations += len(org_ids)


def _delivery(entry: stream.Entry) -> Delivery | None:
    if entry.provider not in PROVIDERS:
        log.warning("dropped webhook entry %s of unknown provider %r", entry.id, entry.provider)
        return None
    return Delivery(entry.provider, parse(entry.provider, entry.body), entry.received_at)


def parse(provider: str, body: bytes) -> list[ChangeNotice]:
    """The notices of a validly signed body; one it cannot read at all is set aside whole."""
    try:
        return provider_class(provider).parse_webhook(body)
    except ValueError as exc:
        return [unreadable_body(body, f"unreadable delivery: {exc}")]
