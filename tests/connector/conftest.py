"""The web app on the test database (SQLite and PostgreSQL) and the test Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from connector import create_app
from connector.sessions import COOKIE_NAME
from core import web_sessions
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


def sign_in(client, *org_ids: int) -> str:
    """Give `client` a server-side session that may see `org_ids`, as connecting them would."""
    token = web_sessions.new_token()
    with session_scope(client.application.extensions["dunwell"]["sessions"]) as db:
        row = web_sessions.create(db, token, {}, utcnow())
        web_sessions.grant(db, row.id, org_ids, utcnow())
    client.set_cookie(COOKIE_NAME, token)
    return token
