"""The drain: from the webhook stream to the inbox, deduplicated, one sync per organization,
and nothing lost when a drain dies between reading and acknowledging."""

from __future__ import annotations

import json

import pytest
from rq import Queue
from sqlalchemy import select

from core.context import JobContext
from core.db import session_scope
from core.models import WebhookEvent
from tests.connector.conftest import make_org
from tests.connector.test_webhooks import cloud_event
from webhooks import stream
from webhooks.drain import drain
from webhooks.jobs import DRAIN_JOB_ID


@pytest.fixture
def ctx(settings, session_factory, redis) -> JobContext:
    return JobContext(settings=settings, sessions=session_factory, redis=redis)


def deliver(redis, *events: dict) -> None:
    stream.append(redis, "quickbooks", json.dumps(list(events)).encode(), DRAIN_JOB_ID)


def inbox(session_factory) -> list[tuple]:
    with session_scope(session_factory) as session:
        return session.execute(
            select(
                WebhookEvent.organization_id,
                WebhookEvent.external_id,
                WebhookEvent.rejected_reason.is_not(None),
            ).order_by(WebhookEvent.id)
        ).all()


def syncs(redis) -> list[str]:
    return sorted(Queue("sync", connection=redis).job_ids)


def test_deliveries_become_deduplicated_rows_and_one_sync_per_organization(
    ctx, session_factory, redis
):
    first = make_org(session_factory, "quickbooks", "111")
    second = make_org(session_factory, "quickbooks", "222")
    deliver(redis, cloud_event("111", "5", "e-1"), cloud_event("222", "6", "e-2"))
    deliver(redis, cloud_event("111", "5", "e-1"))  # a redelivery
    deliver(redis, cloud_event("111", "7", "e-3"), cloud_event("999", "8", "e-4"))

    done = drain(ctx)

    assert (done.entries, done.claimed, done.organizations) == (3, 0, 2)
    assert inbox(session_factory) == [
        (first, "5", False),
        (second, "6", False),
        (first, "7", False),
    ]
    assert syncs(redis) == sorted([f"sync-{first}", f"sync-{second}"])
    assert redis.xlen(stream.STREAM) == 0
    assert stream.pending_count(redis) == 0
    assert drain(ctx).entries == 0


def test_an_unreadable_body_is_set_aside_with_the_reason(ctx, session_factory, redis):
    make_org(session_factory, "quickbooks", "111")
    stream.append(redis, "quickbooks", b"not json", DRAIN_JOB_ID)

    assert drain(ctx).entries == 1

    with session_scope(session_factory) as session:
        reasons = session.scalars(select(WebhookEvent.rejected_reason)).all()
    assert len(reasons) == 1 and reasons[0].startswith("unreadable delivery")
    assert syncs(redis) == []


def test_a_drain_that_died_after_reading_is_taken_over_and_recorded_once(
    ctx, session_factory, redis
):
    org = make_org(session_factory, "quickbooks", "111")
    deliver(redis, cloud_event("111", "5", "e-1"))
    deliver(redis, cloud_event("111", "6", "e-2"))
    stream.ensure_group(redis)
    read = stream.read_new(redis, 10)  # a drain reads, then its worker is killed
    assert len(read) == 2

    fresh = drain(ctx)  # entries read a moment ago are not taken from a drain still working
    assert (fresh.entries, stream.pending_count(redis), inbox(session_factory)) == (0, 2, [])

    later = drain(ctx, claim_idle_ms=0)  # once they have been idle long enough
    assert (later.entries, later.claimed) == (2, 2)
    assert inbox(session_factory) == [(org, "5", False), (org, "6", False)]
    assert stream.pending_count(redis) == 0
    assert drain(ctx, claim_idle_ms=0).entries == 0
    assert inbox(session_factory) == [(org, "5", False), (org, "6", False)]


def test_entries_stay_in_the_stream_until_their_rows_are_committed(
    ctx, session_factory, redis, monkeypatch
):
    make_org(session_factory, "quickbooks", "111")
    deliver(redis, cloud_event("111", "5", "e-1"))

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("webhooks.drain.record", broken)
    with pytest.raises(RuntimeError):
        drain(ctx)
    monkeypatch.undo()

    assert (redis.xlen(stream.STREAM), stream.pending_count(redis)) == (1, 1)
    assert drain(ctx, claim_idle_ms=0).entries == 1
    assert len(inbox(session_factory)) == 1


def test_a_drain_out_of_time_stops_between_batches_and_says_so(
    ctx, session_factory, redis, monkeypatch
):
    make_org(session_factory, "quickbooks", "111")
    for n in range(3):
        deliver(redis, cloud_event("111", str(n), f"e-{n}"))
    monkeypatch.setattr("webhooks.drain.BATCH", 2)

    first = drain(ctx, budget_seconds=0)
    assert (first.entries, first.more, len(inbox(session_factory))) == (2, True, 2)
    rest = drain(ctx, budget_seconds=0)
    assert (rest.entries, rest.more, len(inbox(session_factory))) == (1, False, 3)
    assert drain(ctx).entries == 0
