"""A slow read-mostly request never stalls a webhook (issue 8, item 2).

A 36-month backtest over a thousand customers takes seconds. On SQLite it used to hold the
write lock (BEGIN IMMEDIATE) from its first query to its end, so a webhook arriving meanwhile
waited for it, or failed with "database is locked". Both run here over real HTTP, at once.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select

from connector import create_app
from connector.sessions import COOKIE_NAME
from core.db import Base
from core.db import make_engine
from core.db import make_session_factory
from core.db import session_scope
from core.db import utcnow
from core.models import WebhookEvent
from core.settings import Settings
from tests.conftest import dunwell_env
from tests.connector.conftest import sign_in
from tests.connector.conftest import signed_in_token
from tests.connector.test_webhooks import QBO_KEY
from tests.connector.test_webhooks import classic
from tests.connector.test_webhooks import drain_inbox
from tests.connector.test_webhooks import sign
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import simple_rules
from tests.servers import serve

CUSTOMERS = 1000
REALM = "realm-1"


@pytest.fixture
def sqlite_app(tmp_path, redis):
    url = f"sqlite:///{tmp_path / 'busy.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = Settings.from_env(dunwell_env(tmp_path, DATABASE_URL=url))
    app = create_app(settings.with_changes(testing=True, work_time_limit_seconds=120))
    yield app
    app.extensions["dunwell"]["engine"].dispose()


def seed(sessions) -> int:
    today = utcnow().date()
    with session_scope(sessions) as db:
        org = org_row(db, synced_at=utcnow(), external_id=REALM, status="connected")
        for c in range(CUSTOMERS):
            customer_row(db, org, f"C{c}")
            for i in range(4):
                due = today - timedelta(days=30 * i + c % 30)
                invoice_row(db, org, f"I{c}-{i}", f"C{c}", due, 100 + i)
        return org.id


def signed_in_browser(sessions, base: str, org_id: int) -> requests.Session:
    token = signed_in_token(sessions, org_id)
    browser = requests.Session()
    browser.cookies.set(COOKIE_NAME, token, domain="127.0.0.1", path="/")
    csrf = browser.get(f"{base}/api/orgs/{org_id}/rules/csrf", timeout=10).json()["csrf_token"]
    browser.headers["X-CSRFToken"] = csrf
    return browser


def test_a_webhook_is_answered_at_once_while_a_long_backtest_runs(sqlite_app):
    sessions = sqlite_app.extensions["dunwell"]["sessions"]
    org_id = seed(sessions)
    with serve(sqlite_app) as base:
        browser = signed_in_browser(sessions, base, org_id)
        backtest: dict[str, object] = {}

        def run_backtest() -> None:
            started = time.monotonic()
            response = browser.post(
                f"{base}/api/orgs/{org_id}/rules/backtest",
                json={"document": simple_rules(), "months": 36},
                timeout=120,
            )
            backtest.update(status=response.status_code, seconds=time.monotonic() - started)

        slow = threading.Thread(target=run_backtest)
        slow.start()
        time.sleep(1.0)  # the backtest has read its history and is replaying it
        body = classic(REALM, ("Invoice", "130", "Update"))
        started = time.monotonic()
        ack = requests.post(
            f"{base}/webhooks/quickbooks",
            data=body,
            headers={"intuit-signature": sign(QBO_KEY, body), "Content-Type": "application/json"},
            timeout=60,
        )
        ack_seconds = time.monotonic() - started
        backtest_still_running = slow.is_alive()
        slow.join(timeout=120)

    assert ack.status_code == 200, ack.text
    assert backtest_still_running, f"the backtest was too quick to prove anything: {backtest}"
    assert ack_seconds < 1.5, f"the webhook waited {ack_seconds:.1f}s for the backtest"
    assert backtest["status"] == 200 and backtest["seconds"] > 2.5, backtest
    drain_inbox(sqlite_app)  # what the worker's drain job does with the acknowledged body
    with session_scope(make_session_factory(sqlite_app.extensions["dunwell"]["engine"])) as db:
        assert db.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_long_work_stops_at_its_time_limit_with_a_clear_answer(client, app, session_factory):
    org_id = seed_small(session_factory)
    app.extensions["dunwell"]["settings"] = app.extensions["dunwell"]["settings"].with_changes(
        work_time_limit_seconds=0
    )
    sign_in(client, org_id)
    csrf = client.get(f"/api/orgs/{org_id}/rules/csrf").get_json()["csrf_token"]
    response = client.post(
        f"/api/orgs/{org_id}/rules/backtest",
        json={"document": simple_rules(), "months": 12},
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 422
    assert "backtest took longer than its 0-second limit" in response.get_json()["error"]
    response = client.post(
        f"/api/orgs/{org_id}/rules/preview",
        json={"document": simple_rules()},
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 422 and "preview took longer" in response.get_json()["error"]


def seed_small(sessions) -> int:
    with session_scope(sessions) as db:
        org = org_row(db, synced_at=utcnow(), external_id="realm-small")
        customer_row(db, org, "C1")
        invoice_row(db, org, "I1", "C1", utcnow().date() - timedelta(days=10), 100)
        return org.id
