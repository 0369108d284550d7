"""Server-side sessions: who may see an organization, and for how long (issue 8, item 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from connector import create_app
from core.db import session_scope
from core.db import utcnow
from core.settings import Settings
from core.web_sessions import WebSession
from tests.conftest import dunwell_env
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in
from tests.connector.test_oauth import connect
from tests.connector.test_oauth import csrf
from tests.connector.test_oauth import orgs
from tests.connector.test_oauth import xero_tenants
from tests.connector.test_oauth import yes
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


def saved_cookie(client) -> tuple[str, str]:
    name = client.application.session_interface.get_cookie_name(client.application)
    return name, client.get_cookie(name).value


def browser_with(app, cookie: tuple[str, str]):
    """Another browser that replays a cookie saved earlier."""
    other = app.test_client()
    other.set_cookie(*cookie)
    return other


def test_a_cookie_saved_before_a_purge_never_opens_the_next_organization(app, sandbox):
    """The probe's finding: SQLite handed the purged organization's id to the next one, and a
    cookie saved before the purge could read and write it."""
    first = app.test_client()
    connect(first, "quickbooks")
    [purged] = orgs(app.extensions["dunwell"]["sessions"])
    cookie = saved_cookie(first)
    token = csrf(first)
    sure = {"csrf_token": token, "confirmed": "yes"}
    first.post(f"/orgs/{purged.id}/disconnect", data=sure)
    assert first.post(f"/orgs/{purged.id}/purge", data=sure).status_code == 302

    second = app.test_client()
    tenants = xero_tenants(sandbox)
    connect(second, "xero", [("tenant", tenants["Kiwi Kitchens Ltd"])])
    [newcomer] = orgs(app.extensions["dunwell"]["sessions"])
    assert newcomer.id != purged.id  # ids are never reused

    stale = browser_with(app, cookie)
    for org_id in (purged.id, newcomer.id):
        assert stale.get(f"/api/orgs/{org_id}/summary").status_code == 404
        assert stale.get(f"/api/orgs/{org_id}/rules").status_code == 404
    assert "Kiwi Kitchens" not in stale.get("/").get_data(as_text=True)
    assert second.get(f"/api/orgs/{newcomer.id}/summary").status_code == 200


def test_the_cookie_holds_only_a_random_token(app):
    client = app.test_client()
    connect(client, "quickbooks")
    _, value = saved_cookie(client)
    assert len(value) >= 40 and "." not in value  # not a signed payload of data
    with session_scope(app.extensions["dunwell"]["sessions"]) as db:
        hashes = [row.token_hash for row in db.query(WebSession)]
    assert value not in hashes and len(hashes) >= 1


def test_disconnect_takes_the_organization_from_every_other_browser(app):
    admin = app.test_client()
    connect(admin, "quickbooks")
    [org] = orgs(app.extensions["dunwell"]["sessions"])
    colleague = app.test_client()
    sign_in(colleague, org.id)
    assert colleague.get(f"/api/orgs/{org.id}/summary").status_code == 200
    admin.post(f"/orgs/{org.id}/disconnect", data=yes(admin))
    assert colleague.get(f"/api/orgs/{org.id}/summary").status_code == 404
    assert admin.get(f"/api/orgs/{org.id}/summary").status_code == 200  # to purge or reconnect


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(app):
    client = app.test_client()
    connect(client, "quickbooks")
    [org] = orgs(app.extensions["dunwell"]["sessions"])
    cookie = saved_cookie(client)
    copy = browser_with(app, cookie)
    assert copy.get(f"/api/orgs/{org.id}/summary").status_code == 200
    response = client.post("/sign-out", data={"csrf_token": csrf(client)})
    assert response.status_code == 302
    assert client.get(f"/api/orgs/{org.id}/summary").status_code == 404
    assert copy.get(f"/api/orgs/{org.id}/summary").status_code == 404


def test_signing_in_replaces_the_token(app):
    client = app.test_client()
    client.get("/")  # an anonymous session (it holds the CSRF token)
    before = saved_cookie(client)
    connect(client, "quickbooks")
    after = saved_cookie(client)
    assert before[1] != after[1]
    [org] = orgs(app.extensions["dunwell"]["sessions"])
    assert browser_with(app, before).get(f"/api/orgs/{org.id}/summary").status_code == 404


@pytest.mark.parametrize(
    "column, age",
    [("last_seen_at", timedelta(hours=2, minutes=1)), ("created_at", timedelta(hours=13))],
)
def test_an_idle_or_old_session_ends(app, column, age):
    sessions = app.extensions["dunwell"]["sessions"]
    org_id = make_org(sessions, "xero", "tenant-1")
    client = app.test_client()
    sign_in(client, org_id)
    assert client.get(f"/api/orgs/{org_id}/summary").status_code == 200
    then = utcnow() - age
    values = {column: then}
    if column == "created_at":
        values["expires_at"] = then + timedelta(hours=12)
    with session_scope(sessions) as db:
        db.execute(update(WebSession).values(**values))
    assert client.get(f"/api/orgs/{org_id}/summary").status_code == 404


def test_every_organization_route_answers_404_for_another_organization(app):
    sessions = app.extensions["dunwell"]["sessions"]
    mine = make_org(sessions, "xero", "tenant-mine", status="connected")
    theirs = make_org(sessions, "xero", "tenant-theirs", status="disconnected")
    client = app.test_client()
    sign_in(client, mine)
    token = client.get(f"/api/orgs/{mine}/rules/csrf").get_json()["csrf_token"]
    checked = []
    for rule in app.url_map.iter_rules():
        if "org_id" not in rule.arguments:
            continue
        values = {name: 1 for name in rule.arguments} | {"org_id": theirs, "customer": "C1"}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json={}, headers={"X-CSRFToken": token})
            assert response.status_code == 404, (method, path, response.status_code)
            checked.append((method, rule.rule))
    assert len(checked) > 20
