"""Webhooks over real HTTP: Xero's intent-to-receive check, and a sandbox payment whose signed
webhook lands in the inbox and queues a sync."""

from __future__ import annotations

import time

import requests
from sqlalchemy import select

from connector import create_app
from core.db import session_scope
from core.models import WebhookEvent
from core.settings import Settings
from tests.conftest import dunwell_env
from tests.connector.conftest import make_org
from tests.connector.test_webhooks import drain_inbox
from tests.connector.test_webhooks import queued_job_ids
from tests.servers import sandbox_server
from tests.servers import serve


def test_xero_intent_to_receive_passes_against_the_running_app(database_url, redis, tmp_path):
    env = dunwell_env(tmp_path, DATABASE_URL=database_url)
    app = create_app(Settings.from_env(env))
    with serve(app) as web, sandbox_server(webhook_base=web) as sandbox:
        answer = requests.post(f"{sandbox}/_sandbox/xero/intent-to-receive", json={}, timeout=30)
    app.extensions["dunwell"]["engine"].dispose()
    result = answer.json()
    assert result["ok"] is True, result
    assert {d["status"] for d in result["details"]} == {200, 401}


def test_a_sandbox_payment_webhook_reaches_the_inbox(
    database_url, session_factory, redis, tmp_path
):
    env = dunwell_env(tmp_path, DATABASE_URL=database_url)
    app = create_app(Settings.from_env(env))
    with serve(app) as web, sandbox_server(webhook_base=web) as sandbox:
        realm = requests.get(f"{sandbox}/_sandbox/quickbooks/companies", timeout=10).json()[
            "companies"
        ][0]["realm_id"]
        org_id = make_org(session_factory, "quickbooks", realm)
        invoice = requests.get(
            f"{sandbox}/_sandbox/quickbooks/{realm}/open-invoices", timeout=10
        ).json()["invoices"][0]
        paid = requests.post(
            f"{sandbox}/_sandbox/quickbooks/{realm}/payments",
            json={"invoice_id": invoice["id"]},
            timeout=10,
        )
        assert paid.status_code == 200
        events = _wait_for_events(app, session_factory, 2)
    app.extensions["dunwell"]["engine"].dispose()
    assert ("invoice", invoice["id"], "update") in events
    assert any(entity == "payment" and op == "create" for entity, _, op in events)
    assert queued_job_ids(redis) == [f"sync-{org_id}"]


def _wait_for_events(app, session_factory, count: int, timeout: float = 10) -> list[tuple]:
    """The inbox once it holds `count` events, draining it as the worker would."""
    deadline = time.monotonic() + timeout
    while True:
        drain_inbox(app)
        with session_scope(session_factory) as session:
            rows = session.execute(
                select(WebhookEvent.entity, WebhookEvent.external_id, WebhookEvent.operation)
            ).all()
        if len(rows) >= count or time.monotonic() > deadline:
            return [tuple(r) for r in rows]
        time.sleep(0.1)
