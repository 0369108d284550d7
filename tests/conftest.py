"""Shared fixtures: settings, a database on SQLite and on PostgreSQL, and a Redis.

Every test that asks for `engine` (or anything built on it) runs twice, once per database.
PostgreSQL runs in a schema of its own per xdist worker; DUNWELL_TEST_PG_URL points at the
server (default: the local `test` database). Without a reachable PostgreSQL the PostgreSQL leg is
skipped loudly, unless DUNWELL_REQUIRE_POSTGRES=1 (as in CI), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.db import Base
from core.db import make_engine
from core.db import make_session_factory
from core.settings import Settings

pytest_plugins = ["tests.mail"]

PG_URL = os.environ.get("DUNWELL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Two checkouts can run their suites at once: each sets DUNWELL_TEST_SLOT to a number of its own,
# which gives it Redis databases on a server of its own port (6379 + slot, started by
# .ci/services --slot) and PostgreSQL schemas with the slot in their names.
SLOT = os.environ.get("DUNWELL_TEST_SLOT", "")
REDIS_SERVER = f"redis://127.0.0.1:{6379 + int(SLOT or 0)}"
_WORKER_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("DUNWELL_TEST_REDIS_URL", f"{REDIS_SERVER}/{15 - _WORKER_INDEX}")


def _load_all_models() -> None:
    import core.accounts  # noqa: F401
    import core.models  # noqa: F401
    import core.web_sessions  # noqa: F401
    import outbox.email.models  # noqa: F401
    import outbox.models  # noqa: F401
    import rules.models  # noqa: F401
    import rules.pauses.models  # noqa: F401
    import tasks.models  # noqa: F401


def _worker() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"s{SLOT}_{worker}" if SLOT else worker


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[Engine | None]:
    _load_all_models()
    schema = f"dunwell_test_{_worker()}"
    try:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
    except sa.exc.OperationalError as exc:
        if os.environ.get("DUNWELL_REQUIRE_POSTGRES") == "1":
            raise
        print(f"\n!!! PostgreSQL not reachable at {PG_URL}: PostgreSQL tests SKIPPED ({exc})\n")
        yield None
        return
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path, _pg_engine) -> Iterator[Engine]:
    if request.param == "sqlite":
        _load_all_models()
        engine = make_engine(f"sqlite:///{tmp_path / 'test.sqlite3'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    if _pg_engine is None:
        pytest.skip("PostgreSQL not reachable")
    _truncate(_pg_engine)
    yield _pg_engine


@pytest.fixture
def database_url(engine: Engine) -> str:
    """The URL of `engine`, for code (a worker, the web app) that makes its own engine."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        schema = f"dunwell_test_{_worker()}"
        return f"{url}?options=-csearch_path%3D{schema}"
    return url


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def redis_url(redis: Redis) -> str:
    return REDIS_URL


def dunwell_env(tmp_path, **overrides: str) -> dict[str, str]:
    """The environment of a test Dunwell; `overrides` win."""
    env = {
        "SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "REDIS_URL": REDIS_URL,
        "INTUIT_CLIENT_ID": "test-intuit-client",
        "INTUIT_CLIENT_SECRET": "test-intuit-secret",
        "INTUIT_REDIRECT_URI": "http://localhost/oauth/quickbooks/callback",
        "INTUIT_WEBHOOK_VERIFIER_TOKEN": "test-intuit-verifier",
        "XERO_CLIENT_ID": "test-xero-client",
        "XERO_CLIENT_SECRET": "test-xero-secret",
        "XERO_REDIRECT_URI": "http://localhost/oauth/xero/callback",
        "XERO_WEBHOOK_KEY": "test-xero-webhook-key",
    }
    env.update(overrides)
    return env


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env(dunwell_env(tmp_path)).with_changes(testing=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database with no tables yet, for code that migrates it itself (the demo, a worker)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    url = empty_postgres_url("empty")
    if url is None:
        pytest.skip("PostgreSQL not reachable")
    return url


def empty_postgres_url(name: str) -> str | None:
    """The URL of a new, empty PostgreSQL schema of this test worker's (`dunwell_<name>_<worker>`),
    or None when PostgreSQL is not reachable (an error instead when CI requires it)."""
    schema = f"dunwell_{name}_{_worker()}"
    try:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
    except sa.exc.OperationalError:
        if os.environ.get("DUNWELL_REQUIRE_POSTGRES") == "1":
            raise
        return None
    return f"{PG_URL}?options=-csearch_path%3D{schema}"
