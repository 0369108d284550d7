"""Fixtures for rules tests: a job context on the test database, and the web app.

The rules tests use a PostgreSQL schema and a Redis database of their own, so that other suites
running at the same time on this machine (with RQ workers on the shared test Redis database)
neither truncate their tables nor take their queued jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis
from sqlalchemy import Engine

from core.context import JobContext
from core.db import Base
from core.db import make_engine
from tests.conftest import PG_URL
from tests.conftest import REDIS_SERVER
from tests.conftest import _load_all_models
from tests.conftest import _worker

_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "main")
_INDEX = int(_XDIST.removeprefix("gw") or 0) if _XDIST.startswith("gw") else 0
SCHEMA = f"dunwell_test_rules_{_worker()}"
REDIS_URL = os.environ.get("DUNWELL_TEST_RULES_REDIS_URL", f"{REDIS_SERVER}/{5 - _INDEX}")


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[Engine | None]:
    _load_all_models()
    try:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        admin.dispose()
    except sa.exc.OperationalError:
        if os.environ.get("DUNWELL_REQUIRE_POSTGRES") == "1":
            raise
        yield None
        return
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={SCHEMA}"})
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        return f"{url}?options=-csearch_path%3D{SCHEMA}"
    return url


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(settings):
    return settings.with_changes(redis_url=REDIS_URL)


@pytest.fixture
def ctx(settings, session_factory) -> JobContext:
    """A job context without Redis: no locks, nothing enqueued."""
    return JobContext(settings=settings, sessions=session_factory, redis=None)


@pytest.fixture
def ctx_redis(settings, session_factory, redis) -> JobContext:
    return JobContext(settings=settings, sessions=session_factory, redis=redis)


@pytest.fixture
def app(settings, database_url, redis) -> Iterator[Flask]:
    from connector import create_app

    app = create_app(settings.with_changes(database_url=database_url))
    app.config["WTF_CSRF_ENABLED"] = False
    yield app
    app.extensions["dunwell"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
