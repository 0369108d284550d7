"""Alembic environment: the database from DATABASE_URL (default: the SQLite file)."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context

import core.accounts  # noqa: F401
import core.models  # noqa: F401
import core.web_sessions  # noqa: F401
from core.db import Base
from core.db import make_engine
from core.settings import Settings

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

import outbox.email.models  # noqa: E402, F401
import outbox.models  # noqa: E402, F401
import rules.models  # noqa: E402, F401
import rules.pauses.models  # noqa: E402, F401
import tasks.models  # noqa: E402, F401

target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or Settings.database_url_from_env()
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)
    engine.dispose()


def _sqlite_foreign_keys(connection: Any, *, on: bool) -> None:
    """SQLite ignores this pragma inside a transaction, so it goes to the driver directly.

    Off while migrating: rebuilding a table (Alembic's batch mode) drops the old one, and with
    foreign keys on that drop would cascade into every table that refers to it.
    """
    raw = connection.connection.driver_connection
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if on:
        problems = raw.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"the migration broke foreign keys: {problems[:5]}")


run_migrations_online()
