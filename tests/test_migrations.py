"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from connector.cli import migrate
from core.db import Base
from core.db import make_engine
from tests.conftest import PG_URL
from tests.conftest import _worker


def _fresh_database(kind: str, tmp_path) -> str:
    schema = f"dunwell_migrations_{_worker()}"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError:
        pytest.skip("PostgreSQL not reachable")
    finally:
        admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_head_matches_the_models(kind, tmp_path):
    import core.models  # noqa: F401
    import outbox.email.models  # noqa: F401
    import rules.models  # noqa: F401

    url = _fresh_database(kind, tmp_path)
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
