"""The confirmation of a destructive form does not depend on confirm.js (connector/confirm.py):
a form sent without its "confirmed" field (scripts off, or a click before the script ran)
changes nothing and is answered 200 with a page that asks the question in words; its "Yes"
posts the same form again, confirmed, and only then the route acts. The browser half (the
dialog, scripts off) is in tests/e2e/test_admin_page.py."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.accounts import Membership
from core.accounts import User
from core.db import session_scope
from core.models import Organization
from outbox.models import Action
from outbox.models import ActionStatus as S
from rules.ruleset import store
from rules.ruleset.defaults import starter
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in
from tests.connector.test_activity_and_tasks_pages import with_actions
from tests.connector.test_oauth import csrf

TEMPLATES = Path(__file__).resolve().parents[2] / "connector" / "templates"
YES_FIELD = '<input type="hidden" name="confirmed" value="yes">'


def sessions(client):
    return client.application.extensions["dunwell"]["sessions"]


def unsure(client) -> dict[str, str]:
    """The form as sent when nobody was asked: its CSRF token, no confirmation."""
    return {"csrf_token": csrf(client)}


def hidden_fields(page: str) -> dict[str, str]:
    """The confirmation page's form, as the browser would send it on "Yes"."""
    form = page.split('<section class="card confirm"')[1]
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    return {name: html.unescape(value) for name, value in pairs}


def asks(response, question: str, yes: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:500]
    assert '<h1 id="confirm-title">Are you sure?</h1>' in page
    assert html.escape(question) in page
    assert f'class="danger">{html.escape(yes)}</button>' in page
    assert YES_FIELD in page and "No, go back</a>" in page
    return page


def test_every_data_confirm_form_carries_the_confirmed_field():
    forms = [
        (path.name, form)
        for path in sorted(TEMPLATES.rglob("*.html"))
        for form in re.findall(r"<form[^>]*data-confirm.*?</form>", path.read_text(), re.S)
    ]
    assert len(forms) >= 9
    assert [name for name, form in forms if "{{ confirm_field() }}" not in form] == []


def test_a_disconnect_without_the_confirmation_asks_and_changes_nothing(client, session_factory):
    org_id = make_org(session_factory, "quickbooks", "Larkspur", status="connected")
    sign_in(client, org_id)
    response = client.post(
        f"/orgs/{org_id}/disconnect",
        data={**unsure(client), "confirmed": "", "reason": "a <b> field"},
        headers={"Referer": "http://localhost/?page=2"},
    )
    page = asks(
        response,
        "Disconnect Larkspur? Dunwell stops syncing and acting for it; its data stays until you "
        "purge it.",
        "Yes, disconnect",
    )
    assert f'<form method="post" action="/orgs/{org_id}/disconnect">' in page
    assert 'href="/?page=2">No, go back</a>' in page  # the page the form was on
    fields = hidden_fields(page)
    assert fields.pop("csrf_token")  # a fresh one: the token is signed with the time
    assert fields == {"reason": "a <b> field", "confirmed": "yes"}
    assert status(session_factory, org_id) == "connected"

    done = client.post(f"/orgs/{org_id}/disconnect", data=hidden_fields(page))
    assert done.status_code == 302
    assert status(session_factory, org_id) == "disconnected"


def status(session_factory, org_id: int) -> str | None:
    with session_scope(session_factory) as db:
        org = db.get(Organization, org_id)
        return org.status if org else None


def test_go_back_never_leaves_dunwell(client, session_factory):
    org_id = make_org(session_factory, "quickbooks", "Larkspur", status="connected")
    sign_in(client, org_id)
    for referrer in ("https://elsewhere.example/phish", None):
        headers = {"Referer": referrer} if referrer else {}
        page = client.post(f"/orgs/{org_id}/disconnect", data=unsure(client), headers=headers)
        assert f'href="/#org-{org_id}">No, go back</a>' in page.get_data(as_text=True)


def test_a_purge_without_the_confirmation_asks_and_deletes_nothing(client, session_factory):
    org_id = make_org(session_factory, "quickbooks", "Larkspur", status="disconnected")
    sign_in(client, org_id)
    response = client.post(f"/orgs/{org_id}/purge", data=unsure(client))
    asks(
        response,
        "Delete every record Dunwell holds for Larkspur? This cannot be undone.",
        "Yes, purge its data",
    )
    assert status(session_factory, org_id) == "disconnected"
    done = client.post(f"/orgs/{org_id}/purge", data={**unsure(client), "confirmed": "yes"})
    assert done.status_code == 302 and status(session_factory, org_id) is None


def test_a_removal_without_the_confirmation_asks_and_keeps_the_member(app, session_factory):
    org_id = make_org(session_factory, "quickbooks", "Larkspur", status="connected")
    admin = app.test_client()
    sign_in(admin, org_id, role="admin", email="ada@example.com")
    sign_in(app.test_client(), org_id, role="collector", email="mo@example.com")
    member_id = next(u for u, e in members(session_factory, org_id) if e == "mo@example.com")
    url = f"/orgs/{org_id}/team/members/{member_id}/remove"
    asks(
        admin.post(url, data=unsure(admin)),
        "Remove mo@example.com from Larkspur? They are signed out everywhere at once.",
        "Yes, remove mo@example.com",
    )
    assert len(members(session_factory, org_id)) == 2
    assert admin.post(url, data={**unsure(admin), "confirmed": "yes"}).status_code == 302
    assert [e for _, e in members(session_factory, org_id)] == ["ada@example.com"]


def members(session_factory, org_id: int) -> list[tuple[int, str]]:
    with session_scope(session_factory) as db:
        rows = db.execute(
            select(User.id, User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == org_id)
            .order_by(User.email)
        )
        return [tuple(row) for row in rows]


def test_cancel_and_approve_all_without_the_confirmation_change_nothing(client):
    org_id, ids = with_actions(client)
    cancel = f"/orgs/{org_id}/activity/{ids['task']}/cancel"
    asks(
        client.post(cancel, data=unsure(client)),
        "Cancel this task for Cedar & Sons? It will not be written.",
        "Yes, cancel it",
    )
    approve_all = f"/orgs/{org_id}/activity/approve-all"
    asks(
        client.post(approve_all, data=unsure(client)),
        "Approve all 1 actions waiting for approval? They go out now.",
        "Yes, approve all 1",
    )
    assert statuses(client, ids) == {"task": S.PLANNED, "waiting": S.AWAITING_APPROVAL}

    sure = {**unsure(client), "confirmed": "yes"}
    assert client.post(cancel, data=sure).status_code == 303
    assert client.post(approve_all, data=sure).status_code == 303
    assert statuses(client, ids) == {"task": S.CANCELLED, "waiting": S.PLANNED}


def statuses(client, ids: dict[str, int]) -> dict[str, str]:
    with session_scope(sessions(client)) as db:
        return {name: db.get(Action, ids[name]).status for name in ("task", "waiting")}


@pytest.fixture
def draft(client, session_factory) -> tuple[int, int]:
    """An organization with an active version 1 and a draft version 2 of its rules."""
    org_id = make_org(session_factory, "quickbooks", "Larkspur", status="connected")
    with session_scope(session_factory) as db:
        store.save_version(db, org_id, starter(), activate=True)
        number = store.save_version(db, org_id, starter()).number
    sign_in(client, org_id)
    return org_id, number


def test_activating_or_removing_rules_without_the_confirmation_changes_nothing(
    client, session_factory, draft
):
    org_id, number = draft
    base = f"/orgs/{org_id}/rules"
    doc = starter()
    policy = doc["policies"][0]
    step = policy["steps"][-1]
    template = next(iter(doc["templates"]))
    asked = {
        f"{base}/versions/{number}/activate": f"Activate draft version {number}?",
        f"{base}/drafts/{number}/policies/{policy['key']}/steps/{step['key']}/delete": (
            f"Remove step {step['name'] or step['key']}?"
        ),
        f"{base}/drafts/{number}/policies/{policy['key']}/delete": (
            f"Remove policy {policy['name'] or policy['key']} and its steps?"
        ),
        f"{base}/drafts/{number}/templates/{template}/delete": f"Remove template {template}?",
    }
    for url, question in asked.items():
        page = client.post(url, data=unsure(client))
        assert page.status_code == 200 and html.escape(question) in page.get_data(as_text=True)
    with session_scope(session_factory) as db:
        assert store.rule_set(db, org_id).active_number == 1
        assert (
            store.get_version(db, org_id, number).document
            == store.get_version(db, org_id, 1).document
        )

    activate = client.post(
        f"{base}/versions/{number}/activate", data={**unsure(client), "confirmed": "yes"}
    )
    assert activate.status_code == 302
    with session_scope(session_factory) as db:
        assert store.rule_set(db, org_id).active_number == number


def test_an_outbox_cancel_without_the_confirmation_asks_and_keeps_the_action(client):
    org_id, ids = with_actions(client)
    cancel = f"/orgs/{org_id}/outbox/{ids['task']}/cancel"
    page = asks(
        client.post(cancel, data=unsure(client)),
        "Cancel this task for Cedar & Sons? It will not be written.",
        "Yes, cancel it",
    )
    assert f'href="/orgs/{org_id}/outbox/{ids["task"]}">No, go back</a>' in page
    assert statuses(client, ids)["task"] == S.PLANNED
    assert client.post(cancel, data=hidden_fields(page)).status_code == 302
    assert statuses(client, ids)["task"] == S.CANCELLED


def test_removing_a_segment_without_the_confirmation_keeps_it(client, session_factory, draft):
    org_id, number = draft
    base = f"/orgs/{org_id}/rules/drafts/{number}"
    added = client.post(
        f"{base}/segments/new",
        data={**unsure(client), "name": "Key accounts", "policy": "standard",
              "match.tags_any": "vip"},
    )  # fmt: skip
    assert added.status_code == 302
    remove = f"{base}/segments/key-accounts/delete"
    page = asks(
        client.post(remove, data=unsure(client)),
        "Remove segment Key accounts? Its customers move to the next segment that matches them, "
        "or to the default policy.",
        "Yes, remove segment Key accounts",
    )
    assert [s["key"] for s in segments(session_factory, org_id, number)] == ["key-accounts"]
    assert client.post(remove, data=hidden_fields(page)).status_code == 302
    assert segments(session_factory, org_id, number) == []
    assert client.post(remove, data=hidden_fields(page)).status_code == 404


def segments(session_factory, org_id: int, number: int) -> list[dict]:
    with session_scope(session_factory) as db:
        return store.get_version(db, org_id, number).document["segments"]
