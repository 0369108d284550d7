"""Alembic environment: the database from DATABASE_URL (default: the SQLite file)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import core.models  # noqa: F401
from core.db import Base
from core.db import make_engine
from core.settings import Settings

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

try:
    import rules.models  # noqa: F401
except ImportError:
    pass
import outbox.email.models  # noqa: E402, F401

target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or Settings.database_url_from_env()
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
