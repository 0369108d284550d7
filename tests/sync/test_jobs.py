"""Sync jobs against the sandbox over HTTP: errors by kind, and two workers at once."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
import requests
from rq import Queue
from sqlalchemy import func
from sqlalchemy import select

from core.context import JobContext
from core.db import session_scope
from core.models import Invoice
from core.models import Organization
from core.settings import Settings
from sync.jobs import run_sync
from tests.conftest import dunwell_env
from tests.connect import connect_org
from tests.servers import provider_urls
from tests.servers import sandbox_server

REALM = "9341453050010001"


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture
def ctx(sandbox, database_url, session_factory, redis, tmp_path) -> JobContext:
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **provider_urls(sandbox))
    return JobContext(Settings.from_env(env), session_factory, redis)


@pytest.fixture(autouse=True)
def clear_faults(sandbox):
    yield
    requests.delete(f"{sandbox}/_sandbox/faults", timeout=10)


def arm(sandbox: str, kind: str, count: int = 1) -> None:
    body = {"provider": "quickbooks", "kind": kind, "count": count}
    requests.post(f"{sandbox}/_sandbox/faults", json=body, timeout=10).raise_for_status()


def open_balance(ctx: JobContext, org_id: int) -> Decimal:
    with session_scope(ctx.sessions) as session:
        total = session.scalar(
            select(func.sum(Invoice.balance)).where(
                Invoice.organization_id == org_id, Invoice.status == "open"
            )
        )
    return Decimal(total or 0)


def sandbox_open(sandbox: str) -> Decimal:
    summary = requests.get(f"{sandbox}/_sandbox/quickbooks/{REALM}/summary", timeout=10).json()
    return Decimal(summary["open_balance"]["USD"])


def org(ctx: JobContext, org_id: int) -> Organization:
    with session_scope(ctx.sessions) as session:
        return session.get(Organization, org_id)


def test_backfill_then_incremental_matches_the_sandbox(ctx, sandbox):
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    report = run_sync(ctx, org_id)
    assert report["entities"]["invoice"]["mode"] == "backfill"
    assert open_balance(ctx, org_id) == sandbox_open(sandbox)
    report = run_sync(ctx, org_id)
    assert report["entities"]["invoice"]["mode"] == "incremental"
    assert org(ctx, org_id).last_synced_at is not None


def test_rate_limits_and_outages_are_retried_inside_the_sync(ctx, sandbox):
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    arm(sandbox, "rate_limit", 1)
    arm(sandbox, "server_error", 1)
    run_sync(ctx, org_id)
    assert open_balance(ctx, org_id) == sandbox_open(sandbox)
    assert org(ctx, org_id).last_sync_error == ""


def test_a_revoked_grant_marks_the_organization_needs_reconnect(ctx, sandbox):
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    requests.post(f"{sandbox}/_sandbox/quickbooks/expire-tokens", timeout=10)
    arm(sandbox, "revoke")
    report = run_sync(ctx, org_id)
    assert "needs_reconnect" in report
    assert org(ctx, org_id).status == "needs_reconnect"
    assert run_sync(ctx, org_id) == {"skipped": "not connected"}


def test_a_lasting_outage_fails_the_job_and_is_recorded(ctx, sandbox):
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    arm(sandbox, "server_error", 50)
    with pytest.raises(Exception, match="QuickBooks"):
        run_sync(ctx, org_id)
    assert "QuickBooks" in org(ctx, org_id).last_sync_error


def test_two_workers_never_sync_one_organization_at_once(ctx, sandbox, database_url, redis_url):
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    requests.delete(f"{sandbox}/_sandbox/quickbooks/requests", timeout=10)
    queue = Queue("sync", connection=ctx.redis)
    queue.enqueue("sync.jobs.sync_organization", org_id, job_id=f"sync-{org_id}")
    queue.enqueue("sync.jobs.sync_organization", org_id, job_id=f"sync-{org_id}-next")
    env = dict(os.environ)
    env.update(dunwell_env_for(ctx, database_url))
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url, "sync"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    assert queue.failed_job_registry.count == 0, outputs
    log = requests.get(
        f"{sandbox}/_sandbox/quickbooks/requests", params={"limit": 2000}, timeout=10
    ).json()["requests"]
    full_invoice_listings = [
        r for r in log
        if "SELECT * FROM Invoice ORDERBY" in str(r.get("query", ""))
        and "STARTPOSITION 1 " in str(r.get("query", ""))
    ]  # fmt: skip
    assert len(full_invoice_listings) == 1  # the second run waited, then went incremental
    assert open_balance(ctx, org_id) == sandbox_open(sandbox)


def dunwell_env_for(ctx: JobContext, database_url: str) -> dict[str, str]:
    s = ctx.settings
    env = {
        "SECRET_KEY": s.secret_key,
        "TOKEN_ENCRYPTION_KEY": ",".join(s.token_encryption_keys),
        "DATABASE_URL": database_url,
        "REDIS_URL": s.redis_url,
    }
    for prefix, p in (("INTUIT", s.provider("quickbooks")), ("XERO", s.provider("xero"))):
        env.update(
            {
                f"{prefix}_CLIENT_ID": p.client_id,
                f"{prefix}_CLIENT_SECRET": p.client_secret,
                f"{prefix}_TOKEN_URL": p.token_url,
                f"{prefix}_AUTHORIZE_URL": p.authorize_url,
                f"{prefix}_REVOKE_URL": p.revoke_url,
                f"{prefix}_API_BASE": p.api_base,
            }
        )
    env["XERO_CONNECTIONS_URL"] = s.provider("xero").connections_url
    return env


def test_rate_limited_runs_schedule_one_rerun(ctx):
    from rq.registry import ScheduledJobRegistry

    from sync.jobs import _run_later

    _run_later(ctx, 7, 30, "later")
    _run_later(ctx, 7, 30, "later")
    _run_later(ctx, 8, 30, "later")
    scheduled = ScheduledJobRegistry(queue=Queue("sync", connection=ctx.redis))
    assert sorted(scheduled.get_job_ids()) == ["sync-7-later", "sync-8-later"]


def test_a_sync_without_redis_says_it_needs_one(ctx):
    """A sync locks and re-runs through Redis; a context without one is a wiring error named
    as such, not an AttributeError from deep inside the lock."""
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    no_queue = JobContext(ctx.settings, ctx.sessions, None)
    with pytest.raises(RuntimeError, match="needs Redis"):
        run_sync(no_queue, org_id)
    assert org(ctx, org_id).sync_started_at is None
