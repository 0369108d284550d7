"""The admin page says when a sync is stuck: started a while ago, unfinished, and no live job
holds its lock (its worker died, or none runs)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from core.db import utcnow
from core.locks import LOCK_TTL_SECONDS
from core.locks import HeartbeatLock
from core.locks import is_held
from core.queues import sync_job_id
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in


@pytest.mark.parametrize(
    "started_ago, error, held, expected",
    [
        (timedelta(minutes=5), "", False, "stuck"),
        (timedelta(minutes=5), "", True, "syncing"),  # alive: its heartbeat renews the lock
        (timedelta(seconds=30), "", False, "syncing"),  # just started
        (timedelta(minutes=5), "QuickBooks is down", False, "syncing"),  # failed, RQ retries
    ],
)
def test_a_sync_with_no_heartbeat_is_called_stuck(
    client, session_factory, redis, started_ago, error, held, expected
):
    org_id = make_org(
        session_factory,
        "quickbooks",
        "realm-1",
        status="connected",
        sync_started_at=utcnow() - started_ago,
        last_sync_error=error,
    )
    sign_in(client, org_id)
    lock = HeartbeatLock(redis, sync_job_id(org_id), wait=0)
    if held:
        assert lock.acquire()
    try:
        summary = client.get(f"/api/orgs/{org_id}/summary").get_json()
        page = client.get("/").get_data(as_text=True)
    finally:
        if held:
            lock.release()
    assert summary["status"] == expected
    if expected == "stuck":
        assert "stopped without finishing" in summary["status_detail"]
        assert "stopped without finishing" in page and "status-stuck" in page
        assert "Sync now" in page and "Reconnect" not in page  # still connected


def test_a_lock_outlives_its_holder_by_seconds_only(redis):
    lock = HeartbeatLock(redis, "sync-99", wait=0)
    assert lock.acquire()
    assert not HeartbeatLock(redis, "sync-99", wait=0).acquire()  # held: no second holder
    ttl = redis.pttl("dunwell:lock:sync-99") / 1000
    assert 0 < ttl <= LOCK_TTL_SECONDS
    lock.release()
    assert not is_held(redis, "sync-99")


def test_a_living_holder_keeps_its_lock_past_the_ttl(redis):
    lock = HeartbeatLock(redis, "sync-98", wait=0, ttl=1)
    assert lock.acquire()
    time.sleep(2.5)
    assert is_held(redis, "sync-98")
    lock.release()
