"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from connector.cli import ROOT
from connector.cli import migrate
from core.db import Base
from core.db import make_engine
from tests.conftest import PG_URL
from tests.conftest import _load_all_models
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
    import core.accounts  # noqa: F401
    import core.models  # noqa: F401
    import outbox.email.models  # noqa: F401
    import outbox.models  # noqa: F401
    import rules.models  # noqa: F401
    import rules.pauses.models  # noqa: F401
    import tasks.models  # noqa: F401

    url = _fresh_database(kind, tmp_path)
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_sqlite_never_reuses_an_id_after_the_migration_and_keeps_every_row(tmp_path):
    """An organization purged on a database made before AUTOINCREMENT: the next one gets a
    new id, and the rebuilt tables kept their rows and references."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    command.upgrade(config, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        for org_id in (1, 2):
            conn.exec_driver_sql(
                "INSERT INTO organization (id, provider, external_id, name, timezone, status,"
                " status_detail, last_sync_error, created_at)"
                f" VALUES ({org_id}, 'xero', 'T{org_id}', 'Org {org_id}', 'UTC', 'connected',"
                " '', '', '2026-01-01 00:00:00')"
            )
        conn.exec_driver_sql(
            "INSERT INTO customer (id, organization_id, external_id, version, updated_at, deleted,"
            " synced_at, name, active) VALUES (7, 2, 'C1', '1', '2026-01-01 00:00:00', 0,"
            " '2026-01-01 00:00:00', 'Customer', 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO sync_cursor (organization_id, entity, records_seen)"
            " VALUES (2, 'invoice', 0)"
        )
    engine.dispose()
    command.upgrade(config, "head")
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT IN ('alembic_version', 'web_session_org')"
        ).all()
        assert tables and all("AUTOINCREMENT" in sql for _, sql in tables), [
            name for name, sql in tables if "AUTOINCREMENT" not in sql
        ]
        assert conn.exec_driver_sql("SELECT organization_id FROM customer").all() == [(2,)]
        conn.exec_driver_sql("DELETE FROM organization WHERE id = 2")
        assert conn.exec_driver_sql("SELECT count(*) FROM sync_cursor").scalar() == 0  # cascades
        conn.exec_driver_sql(
            "INSERT INTO organization (provider, external_id, name, timezone, status,"
            " status_detail, last_sync_error, created_at)"
            " VALUES ('xero', 'T3', 'Org 3', 'UTC', 'connected', '', '', '2026-01-01 00:00:00')"
        )
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM organization ORDER BY id")]
    engine.dispose()
    assert ids == [1, 3]


DROPPED = [
    ("action", "rule_version_id", "rule_set_version"),
    ("action_event", "action_id", "action"),
    ("action_event", "organization_id", "organization"),
    ("step_firing", "organization_id", "organization"),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0012_drops_four_foreign_keys_and_a_downgrade_restores_them(kind, tmp_path):
    """Going back to 0010 restores the keys, first doing to rows whose parent is gone what
    the keys' ON DELETE would have done; the upgrade then runs again."""
    url = _fresh_database(kind, tmp_path)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url

    def dropped_keys_there() -> list[tuple[str, str, str]]:
        engine = make_engine(url)
        inspector = sa.inspect(engine)
        keys = [
            (table, key["constrained_columns"][0], key["referred_table"])
            for table in ("action", "action_event", "step_firing")
            for key in inspector.get_foreign_keys(table)
        ]
        engine.dispose()
        return sorted(k for k in keys if k in DROPPED)

    migrate(url)
    assert dropped_keys_there() == []
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO organization (id, provider, external_id, name, timezone, status,"
            " status_detail, last_sync_error, created_at)"
            " VALUES (1, 'xero', 'T1', 'Org 1', 'UTC', 'connected', '', '', '2026-01-01 00:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO action (id, organization_id, rule, step, target, period, kind,"
            " customer_external_id, rule_version_id, status, reason, decided_on, scheduled_for,"
            " payload, explanation, attempts, created_at, updated_at, key) VALUES (1, 1, 'r',"
            " 's', 'I1', '1', 'note', 'C1', 999, 'planned', '', '2026-01-01',"
            " '2026-01-01 00:00:00', '{}', '{}', 0, '2026-01-01 00:00:00',"
            " '2026-01-01 00:00:00', 'dw-1')"
        )
        for action_id in (1, 999):
            conn.exec_driver_sql(
                "INSERT INTO action_event (action_id, organization_id, at, from_status,"
                f" to_status, actor, reason) VALUES ({action_id}, 1, '2026-01-01 00:00:00', '',"
                " 'planned', 'rules', '')"
            )
        conn.exec_driver_sql(
            "INSERT INTO step_firing (organization_id, rule, step, target, period,"
            " customer_external_id, fired_on) VALUES (999, 'r', 's', 'I1', '1', 'C1', '2026-01-01')"
        )
    engine.dispose()
    command.downgrade(config, "0010")
    assert dropped_keys_there() == DROPPED
    engine = make_engine(url)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT action_id FROM action_event").all() == [(1,)]
        assert conn.exec_driver_sql("SELECT rule_version_id FROM action").all() == [(None,)]
        assert conn.exec_driver_sql("SELECT count(*) FROM step_firing").scalar() == 0
        if kind == "sqlite":
            tables = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master"
                " WHERE name IN ('action', 'action_event', 'step_firing')"
            ).all()
            assert len(tables) == 3 and all("AUTOINCREMENT" in sql for _, sql in tables)
    engine.dispose()
    command.upgrade(config, "head")
    assert dropped_keys_there() == []


def _compression(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'action'::regclass"
            " AND attname IN ('payload', 'explanation') ORDER BY attname"
        ).all()
    engine.dispose()
    return [(name, str(method)) for name, method in rows]


def test_0013_compresses_the_action_documents_with_lz4_on_postgresql(tmp_path):
    """As the models' own DDL does for a schema made by create_all (the tests', the benches')."""
    url = _fresh_database("postgresql", tmp_path)
    migrate(url)
    lz4 = [("explanation", "l"), ("payload", "l")]
    assert _compression(url) == lz4
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    command.downgrade(config, "0012")
    assert _compression(url) == [("explanation", ""), ("payload", "")]
    command.upgrade(config, "head")
    assert _compression(url) == lz4
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS dunwell_lz4_{_worker()} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA dunwell_lz4_{_worker()}")
    engine.dispose()
    created = f"{PG_URL}?options=-csearch_path%3Ddunwell_lz4_{_worker()}"
    engine = make_engine(created)
    _load_all_models()
    Base.metadata.create_all(engine)
    engine.dispose()
    assert _compression(created) == lz4


MIRROR = [
    "credit_allocation",
    "credit_note",
    "customer",
    "invoice",
    "payment",
    "payment_allocation",
]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0014_drops_the_mirrors_organization_keys_and_a_downgrade_restores_them(kind, tmp_path):
    url = _fresh_database(kind, tmp_path)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url

    def organization_keys() -> list[str]:
        engine = make_engine(url)
        inspector = sa.inspect(engine)
        tables = [
            table
            for table in MIRROR
            for key in inspector.get_foreign_keys(table)
            if key["referred_table"] == "organization"
        ]
        engine.dispose()
        return sorted(tables)

    migrate(url)
    assert organization_keys() == []
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO organization (id, provider, external_id, name, timezone, status,"
            " status_detail, last_sync_error, created_at)"
            " VALUES (1, 'xero', 'T1', 'Org 1', 'UTC', 'connected', '', '', '2026-01-01 00:00:00')"
        )
        for org_id, external_id in ((1, "C1"), (999, "C2")):
            conn.exec_driver_sql(
                "INSERT INTO customer (organization_id, external_id, version, updated_at,"
                f" deleted, synced_at, name, active) VALUES ({org_id}, '{external_id}', '1',"
                " '2026-01-01 00:00:00', false, '2026-01-01 00:00:00', 'Acme', true)"
            )
    engine.dispose()
    command.downgrade(config, "0013")
    assert organization_keys() == MIRROR
    engine = make_engine(url)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT external_id FROM customer").all() == [("C1",)]
        if kind == "sqlite":
            tables = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN"
                f" ({', '.join(repr(t) for t in MIRROR)})"
            ).all()
            assert len(tables) == len(MIRROR) and all("AUTOINCREMENT" in s for (s,) in tables)
    engine.dispose()
    command.upgrade(config, "head")
    assert organization_keys() == []
