"""Roles on every organization route (viewer, collector, admin), checked in one place
(connector.web.current_org): a viewer changes nothing anywhere, whatever blueprint a route is
in; a collector works the ledger but not the rules, connections, settings or team; and whoever
acts is recorded by email."""

from __future__ import annotations

import html

import pytest

from core.accounts import Membership
from core.accounts import User
from core.db import session_scope
from outbox.email.models import EmailSettings
from rules.models import RuleSetVersion
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in
from tests.connector.test_oauth import csrf

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
ADMIN_ONLY = {
    "admin.sync_now",
    "email_settings.page",
    "email_settings.save",
    "email_settings.send_test",
    "oauth.disconnect",
    "oauth.purge",
    "rules_page.submit",
    "rules_api.validate",
    "rules_api.save",
    "rules_api.activate",
    "rules_api.import_rules",
    "rules_api.preview_rules",
    "rules_api.backtest_rules",
    "rules_api.evaluate_now",
    "team.page",
    "team.invite",
    "team.cancel",
    "team.change_role",
    "team.remove",
}
COLLECTOR = {
    "rules_api.open_dispute",
    "rules_api.close_dispute",
    "rules_api.add_promise",
    "rules_api.cancel_promise",
    "rules_api.add_plan",
    "rules_api.cancel_plan",
    "rules_api.put_profile",
    "outbox_api.decide",
    "outbox_api.retry",
    "outbox_api.cancel",
    "outbox_page.decide",
    "outbox_page.retry",
    "outbox_page.cancel",
    "outbox_page.run_now",
}


@pytest.fixture
def org_id(session_factory):
    return make_org(session_factory, "quickbooks", "realm-roles", status="connected")


def org_routes(app, org_id: int, methods: set[str]):
    """(endpoint, method, path) of every organization route answering one of `methods`."""
    for rule in app.url_map.iter_rules():
        if "org_id" not in rule.arguments:
            continue
        values = {name: 1 for name in rule.arguments} | {"org_id": org_id, "customer": "C1"}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) & methods):
            yield rule.endpoint, method, path


def call(client, method: str, path: str):
    """`method` on `path` with an empty JSON body and the session's CSRF token."""
    return client.open(path, method=method, json={}, headers={"X-CSRFToken": csrf(client)})


def test_a_viewer_cannot_change_anything_on_any_route(app, client, org_id):
    sign_in(client, org_id, role="viewer", email="vera@example.com")
    sign_in(app.test_client(), org_id, role="admin", email="ada@example.com")
    checked = []
    for endpoint, method, path in org_routes(app, org_id, CHANGES):
        response = call(client, method, path)
        assert response.status_code == 403, (endpoint, method, path, response.status_code)
        text = html.unescape(response.get_data(as_text=True))
        assert "You are a viewer of realm-roles" in text, (endpoint, text[:300])
        assert "ada@example.com" in text  # whom to ask
        checked.append(endpoint)
    assert len(checked) >= 25 and {"team.invite", "outbox_page.decide"} <= set(checked)


def test_a_viewer_reads_everything_but_the_admin_pages(app, client, org_id):
    sign_in(client, org_id, role="viewer")
    for endpoint, _method, path in org_routes(app, org_id, {"GET"}):
        status = client.get(path).status_code
        if endpoint in ADMIN_ONLY:
            assert status == 403, (endpoint, path)
        else:
            assert status != 403, (endpoint, path, status)


def test_a_collector_works_the_ledger_but_not_the_rules_or_settings(app, client, org_id):
    sign_in(client, org_id, role="collector")
    seen = set()
    for endpoint, method, path in org_routes(app, org_id, CHANGES | {"GET"}):
        status = call(client, method, path).status_code
        if endpoint in ADMIN_ONLY:
            assert status == 403, (endpoint, method, path)
        elif endpoint in COLLECTOR:
            assert status != 403, (endpoint, method, path, status)
        seen.add(endpoint)
    assert ADMIN_ONLY | COLLECTOR <= seen


def test_an_admin_is_refused_nothing(app, client, org_id):
    sign_in(client, org_id, role="admin")
    for endpoint, method, path in org_routes(app, org_id, CHANGES | {"GET"}):
        if endpoint in ("oauth.disconnect", "oauth.purge"):
            continue  # they act for real; tests/connector/test_oauth.py covers them
        assert call(client, method, path).status_code != 403, (endpoint, method, path)


def test_a_role_change_counts_at_once(app, client, org_id, session_factory):
    sign_in(client, org_id, role="viewer", email="vic@example.com")
    dispute = f"/api/orgs/{org_id}/disputes"
    assert call(client, "POST", dispute).status_code == 403
    with session_scope(session_factory) as db:
        user = db.query(User).filter_by(email="vic@example.com").one()
        db.query(Membership).filter_by(user_id=user.id).one().role = "collector"
    assert call(client, "POST", dispute).status_code == 422  # allowed; the empty body is not
    with session_scope(session_factory) as db:
        db.query(Membership).delete()
    assert call(client, "POST", dispute).status_code == 404  # no longer a member


def test_the_acting_user_is_recorded(client, org_id, session_factory):
    sign_in(client, org_id, role="admin", email="ada@example.com")
    token = client.get(f"/api/orgs/{org_id}/rules/csrf").get_json()["csrf_token"]
    starter = client.get(f"/api/orgs/{org_id}/rules/starter").get_json()
    saved = client.post(
        f"/api/orgs/{org_id}/rules/versions",
        json={"document": starter, "created_by": "someone else"},
        headers={"X-CSRFToken": token},
    )
    assert saved.status_code == 201
    form = {"csrf_token": token, "reply_to": "ar@example.com", "security": "starttls"}
    assert client.post(f"/orgs/{org_id}/email", data=form).status_code == 302
    with session_scope(session_factory) as db:
        assert db.query(RuleSetVersion).one().created_by == "ada@example.com"
        assert db.query(EmailSettings).one().updated_by == "ada@example.com"
