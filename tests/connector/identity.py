"""Signing in to a test Dunwell through the sandbox's OpenID Connect, as a browser would: the
Dunwell side through Flask's test client, the sandbox's consent page over real HTTP."""

from __future__ import annotations

from urllib.parse import urljoin

import requests
from sqlalchemy import select

from core.accounts import Membership
from core.accounts import User
from core.db import session_scope
from demo.browser import form_data
from demo.browser import forms
from tests.connector.test_oauth import csrf
from tests.connector.test_oauth import finish


def people(sandbox: str) -> list[dict]:
    return requests.get(f"{sandbox}/_sandbox/users", timeout=10).json()["users"]


def person(sandbox: str, email: str, given: str = "Pat", family: str = "Doe") -> dict:
    """A sandbox person with this email (added if new)."""
    body = {"email": email, "given_name": given, "family_name": family}
    return requests.post(f"{sandbox}/_sandbox/users", json=body, timeout=10).json()


def arm(sandbox: str, provider: str, kind: str) -> None:
    answer = requests.post(
        f"{sandbox}/_sandbox/oidc/faults", json={"provider": provider, "kind": kind}, timeout=10
    )
    assert answer.status_code == 200, answer.text


def consent(authorize_url: str, user: str | None = None, choose=None, decision="allow") -> str:
    """Answers the sandbox consent page as sandbox person `user` (a key; default the first),
    ticking `choose` [(field, value)] instead of the default company; returns the redirect."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    form = [f for f in forms(page.text) if f["method"] == "post"][0]
    data = form_data(form, (decision, "approve" if decision == "allow" else "deny"))
    if user is not None:
        data = [(k, v) for k, v in data if k != "user"] + [("user", user)]
    if choose is not None:
        data = [(k, v) for k, v in data if k not in ("tenant", "realm_id")] + choose
    answer = requests.post(
        urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def start_sign_in(client, provider: str, next_url: str = "") -> str:
    response = client.post(
        f"/sign-in/{provider}", data={"csrf_token": csrf(client), "next": next_url}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def sign_in_with(client, provider: str, user: str | None = None, next_url: str = ""):
    """Sign in with Intuit or Xero as sandbox person `user`; the callback's response."""
    return finish(client, consent(start_sign_in(client, provider, next_url), user))


def connect_as(client, provider: str, user: str | None = None, choose=None):
    """Connect through the sandbox as person `user`; the callback's response."""
    start = client.post(f"/connect/{provider}", data={"csrf_token": csrf(client)})
    assert start.status_code == 302
    return finish(client, consent(start.headers["Location"], user, choose))


def users(session_factory) -> list[User]:
    with session_scope(session_factory) as db:
        return list(db.scalars(select(User).order_by(User.id)))


def roles(session_factory, org_id: int) -> dict[str, str]:
    with session_scope(session_factory) as db:
        rows = db.execute(
            select(User.email, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == org_id)
        )
        return dict(rows.all())


def signed_in_email(client) -> str | None:
    """The email the page header shows, or None when signed out."""
    page = client.get("/").get_data(as_text=True)
    if 'class="who"' not in page:
        return None
    return page.split('class="who">', 1)[1].split("<", 1)[0]
