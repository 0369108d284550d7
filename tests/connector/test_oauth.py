"""Connecting, reconnecting and disconnecting through the sandbox's OAuth, over real HTTP."""

from __future__ import annotations

import re
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from rq import Queue
from sqlalchemy import select

from connector import create_app
from core.db import session_scope
from core.models import OAuthGrant
from core.models import Organization
from core.settings import Settings
from demo.browser import form_data
from demo.browser import forms
from tests.conftest import dunwell_env
from tests.servers import provider_urls
from tests.servers import sandbox_server


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture
def app(sandbox, database_url, redis, tmp_path):
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **provider_urls(sandbox))
    app = create_app(Settings.from_env(env).with_changes(testing=True))
    yield app
    app.extensions["dunwell"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def yes(client) -> dict[str, str]:
    """A destructive form as sent once its question was accepted (connector/confirm.py)."""
    return {"csrf_token": csrf(client), "confirmed": "yes"}


def start(client, provider: str) -> str:
    response = client.post(f"/connect/{provider}", data={"csrf_token": csrf(client)})
    assert response.status_code == 302
    return response.headers["Location"]


def consent(authorize_url: str, choose=None, decision=("allow", "approve")) -> str:
    """Answers the sandbox consent page; returns where it redirects (Dunwell's callback)."""
    page = requests.get(authorize_url, timeout=10)
    form = [f for f in forms(page.text) if f["method"] == "post"][0]
    data = form_data(form, decision)
    if choose is not None:
        data = [(k, v) for k, v in data if k not in ("tenant", "realm_id")] + choose
    answer = requests.post(
        urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def finish(client, callback_url: str):
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def connect(client, provider: str, choose=None):
    return finish(client, consent(start(client, provider), choose))


def orgs(session_factory) -> list[Organization]:
    with session_scope(session_factory) as session:
        return list(session.scalars(select(Organization).order_by(Organization.id)))


def xero_tenants(sandbox) -> dict[str, str]:
    rows = requests.get(f"{sandbox}/_sandbox/xero/organisations", timeout=10).json()[
        "organisations"
    ]
    return {o["name"]: o["tenantId"] for o in rows}


def test_connecting_quickbooks_creates_the_organization_and_queues_its_backfill(
    client, session_factory, redis
):
    response = connect(client, "quickbooks")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    [org] = orgs(session_factory)
    assert (org.provider, org.external_id, org.status) == (
        "quickbooks",
        "9341453050010001",
        "connected",
    )
    assert (org.name, org.currency, org.timezone) == (
        "Larkspur Landscaping",
        "USD",
        "America/Los_Angeles",
    )
    with session_scope(session_factory) as session:
        grant = session.get(OAuthGrant, org.grant_id)
        assert grant.status == "active" and "access" not in grant.token_ciphertext
    assert Queue("sync", connection=redis).job_ids == [f"sync-{org.id}"]
    home = client.get("/").get_data(as_text=True)
    assert "Larkspur Landscaping" in home and f'data-org-id="{org.id}"' in home


def test_one_xero_authorization_for_two_organisations(client, session_factory, sandbox):
    tenants = xero_tenants(sandbox)
    chosen = [
        ("tenant", tenants["Kiwi Kitchens Ltd"]),
        ("tenant", tenants["Cascade Outfitters Inc"]),
    ]
    connect(client, "xero", chosen)
    rows = orgs(session_factory)
    assert sorted(o.name for o in rows) == ["Cascade Outfitters Inc", "Kiwi Kitchens Ltd"]
    assert len({o.grant_id for o in rows}) == 1
    zones = {o.name: o.timezone for o in rows}
    assert zones == {
        "Kiwi Kitchens Ltd": "Pacific/Auckland",
        "Cascade Outfitters Inc": "America/Los_Angeles",
    }
    assert all(o.connection_id for o in rows)


def test_disconnecting_one_of_two_xero_organisations_keeps_the_other(
    client, session_factory, sandbox
):
    tenants = xero_tenants(sandbox)
    chosen = [("tenant", tenants["Kiwi Kitchens Ltd"]), ("tenant", tenants["Thistle & Thorn Ltd"])]
    connect(client, "xero", chosen)
    kiwi, thistle = sorted(orgs(session_factory), key=lambda o: o.name)
    response = client.post(f"/orgs/{kiwi.id}/disconnect", data=yes(client))
    assert response.status_code == 302
    kiwi, thistle = sorted(orgs(session_factory), key=lambda o: o.name)
    assert (kiwi.status, kiwi.grant_id) == ("disconnected", None)
    assert thistle.status == "connected" and thistle.grant_id is not None
    with session_scope(session_factory) as session:
        assert session.get(OAuthGrant, thistle.grant_id).status == "active"
    connections = requests.get(f"{sandbox}/_sandbox/xero/connections", timeout=10).json()[
        "connections"
    ]
    by_id = {c["id"]: c for c in connections}
    assert kiwi.connection_id not in by_id
    assert by_id[thistle.connection_id]["grantRevoked"] is False


def test_disconnecting_quickbooks_revokes_the_grant_and_keeps_the_data(
    client, session_factory, sandbox
):
    connect(client, "quickbooks")
    [org] = orgs(session_factory)
    client.post(f"/orgs/{org.id}/disconnect", data=yes(client))
    [org] = orgs(session_factory)
    assert org.status == "disconnected"
    with session_scope(session_factory) as session:
        assert session.scalars(select(OAuthGrant)).all() == []
    grants = requests.get(f"{sandbox}/_sandbox/quickbooks/grants", timeout=10).json()["grants"]
    assert grants[-1]["revoked"] is True
    home = client.get("/").get_data(as_text=True)
    assert "Reconnect" in home and "Purge data" in home


def test_reconnecting_an_organization_that_needs_it(client, session_factory):
    connect(client, "quickbooks")
    [org] = orgs(session_factory)
    with session_scope(session_factory) as session:
        session.get(Organization, org.id).status = "needs_reconnect"
    assert "Reconnect" in client.get("/").get_data(as_text=True)
    connect(client, "quickbooks")
    [again] = orgs(session_factory)
    assert again.id == org.id and again.status == "connected" and again.grant_id != org.grant_id
    with session_scope(session_factory) as session:
        grants = session.scalars(select(OAuthGrant.id)).all()
    assert grants == [again.grant_id]  # the superseded grant and its tokens are gone


def test_a_callback_with_the_wrong_state_is_refused(client, session_factory):
    callback = consent(start(client, "quickbooks"))
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    response = finish(client, forged)
    assert response.status_code == 400
    assert "state mismatch" in response.get_data(as_text=True)
    assert orgs(session_factory) == []


def test_a_callback_nobody_started_is_refused(client):
    response = client.get("/oauth/quickbooks/callback?code=x&state=y&realmId=1")
    assert response.status_code == 400
    assert "Start again with Connect" in response.get_data(as_text=True)


def test_denying_consent_connects_nothing_and_says_so(client, session_factory):
    callback = consent(start(client, "quickbooks"), decision=("deny",))
    response = finish(client, callback)
    assert response.status_code == 302
    assert "did not connect" in client.get("/").get_data(as_text=True)
    assert orgs(session_factory) == []


def test_forms_without_a_csrf_token_are_refused_with_a_message(client):
    response = client.post("/connect/quickbooks")
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)


def test_another_organizations_data_is_not_reachable(client, session_factory):
    connect(client, "quickbooks")
    [org] = orgs(session_factory)
    stranger = create_app_client_like(client)
    assert stranger.get(f"/api/orgs/{org.id}/summary").status_code == 404
    assert client.get(f"/api/orgs/{org.id}/summary").status_code == 200
    assert client.get(f"/api/orgs/{org.id + 1}/summary").status_code == 404


def create_app_client_like(client):
    return client.application.test_client()


def test_an_unconfigured_provider_explains_what_to_set(sandbox, database_url, redis, tmp_path):
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, XERO_CLIENT_ID="", XERO_CLIENT_SECRET="")
    app = create_app(Settings.from_env(env).with_changes(testing=True))
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/connect/xero")
    assert response.status_code == 503
    assert "XERO_CLIENT_ID" in response.get_data(as_text=True)
    app.extensions["dunwell"]["engine"].dispose()
