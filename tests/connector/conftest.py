"""The web app on the test database (SQLite and PostgreSQL) and the test Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from connector import create_app
from connector.sessions import COOKIE_NAME
from core import web_sessions
from core.accounts import Membership
from core.accounts import User
from core.db import session_scope
from core.db import utcnow
from core.models import Organization


@pytest.fixture
def app(settings, database_url, redis) -> Iterator[Flask]:
    app = create_app(settings.with_changes(database_url=database_url))
    yield app
    app.extensions["dunwell"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def make_org(session_factory, provider: str, external_id: str, **fields) -> int:
    with session_scope(session_factory) as session:
        org = Organization(provider=provider, external_id=external_id, name=external_id, **fields)
        session.add(org)
        session.flush()
        return org.id


def signed_in_token(session_factory, *org_ids: int, role: str = "admin", email: str = "") -> str:
    """A server-side session of a user (`email`, made if new) with `role` in each of `org_ids`,
    as signing in with Intuit or Xero would; returns the cookie's token."""
    token = web_sessions.new_token()
    email = email or f"{role}-{web_sessions.new_token()[:8].lower()}@example.com"
    with session_scope(session_factory) as db:
        user = db.query(User).filter_by(email=email).one_or_none()
        if user is None:
            user = User(email=email, name=email.split("@")[0])
            db.add(user)
            db.flush()
        for org_id in org_ids:
            found = db.query(Membership).filter_by(user_id=user.id, organization_id=org_id)
            membership = found.one_or_none() or Membership(user_id=user.id, organization_id=org_id)
            membership.role = role
            db.add(membership)
        db.flush()
        row = web_sessions.create(db, token, {}, utcnow(), user.id)
        web_sessions.grant(db, row.id, org_ids, utcnow())
    return token


def sign_in(client, *org_ids: int, role: str = "admin", email: str = "") -> str:
    """Sign `client` in (see `signed_in_token`); returns the session's token."""
    sessions = client.application.extensions["dunwell"]["sessions"]
    token = signed_in_token(sessions, *org_ids, role=role, email=email)
    client.set_cookie(COOKIE_NAME, token)
    return token
