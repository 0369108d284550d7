"""Engine, sessions and the column types every table shares.

SQLite is the embedded default (WAL, a busy timeout, foreign keys on); PostgreSQL is used when
DATABASE_URL names it. Nothing connects at import time.

Two kinds of session: a writing one (SQLite: `BEGIN IMMEDIATE`, so two writers queue on the
busy timeout instead of one failing when it upgrades a stale snapshot), and a read-only one
(`make_session_factory(engine, read_only=True)`: SQLite's plain deferred `BEGIN`, which never
blocks a writer under WAL; PostgreSQL's READ ONLY transaction, which refuses a stray write).
Ids are never reused: every table is created with SQLite's AUTOINCREMENT (PostgreSQL's
sequences never go back), so an id a browser, a job or a log holds can never come to mean
another row, such as another organization after a purge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from typing import cast

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import CursorResult
from sqlalchemy import DateTime
from sqlalchemy import Dialect
from sqlalchemy import Engine
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.types import TypeEngine

MONEY_SCALE = 4
_SCALE = Decimal(10) ** MONEY_SCALE


class Money(TypeDecorator[Decimal]):
    """Exact money: NUMERIC(18, 4) on PostgreSQL, an integer of 1/10,000 units on SQLite.

    SQLite has no decimal type and would store NUMERIC as a float; a scaled integer keeps every
    cent exact and still sums correctly in SQL.
    """

    impl = Numeric(18, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return int((value * _SCALE).to_integral_value())
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return Decimal(value)


class Rate(TypeDecorator[Decimal]):
    """An exchange rate, exact: NUMERIC(24, 12) on PostgreSQL, its decimal text on SQLite."""

    impl = Numeric(24, 12)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(24, 12, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored in UTC; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Dunwell stores instants in UTC, pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = getattr(cls, "__table__", None)
        if table is not None:
            table.dialect_options["sqlite"]["autoincrement"] = True


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a 30 s busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _postgresql_session)
    return engine


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    """Plan each statement for its own values.

    psycopg prepares a statement once it has run a few times, and PostgreSQL then switches to a
    generic plan. For the sync's "which of these 1,000 ids do we hold" query that generic plan
    scans the organization's rows once per id: a backfill slowed from 50 ms to 800 ms a page
    past 15,000 invoices. A custom plan looks the ids up in the unique index.
    """
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """A writer takes the write lock up front, so two writers wait on the busy timeout instead
    of one failing with SQLITE_BUSY when it upgrades a stale read snapshot to a write. A reader
    takes no lock at all."""
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "dunwell_read_only"


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions on `engine`; `read_only` ones never take a write lock (see the module doc)."""
    if read_only:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        engine = engine.execution_options(**options)
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignore(
    session: Session,
    table: FromClause,
    rows: list[dict[str, Any]],
    returning: tuple[InstrumentedAttribute[Any], ...] = (),
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING for many rows; with `returning`, the rows actually
    inserted (on PostgreSQL in one fixed statement, see _pg_insert_ignore, so every value is
    given: column defaults and type conversions are not applied there)."""
    if not rows:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    if not isinstance(table, Table):
        raise TypeError(f"insert_ignore inserts into a table, not {table!r}")
    if postgres and returning:
        return _pg_insert_ignore(session, table, rows, returning)
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    insert = postgresql.insert if postgres else sqlite.insert
    if not returning:
        session.connection().execute(insert(table).on_conflict_do_nothing(), rows)
        return []
    stmt = insert(table).on_conflict_do_nothing().returning(*returning)
    if len(rows) == 1:
        return list(session.connection().execute(stmt.values(rows[0])).all())
    return list(session.connection().execute(stmt, rows).all())


def _pg_insert_ignore(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    returning: tuple[InstrumentedAttribute[Any], ...],
) -> list[Any]:
    """One statement whatever the number of rows: a column of values per array, unnested, and
    each JSON column as one JSON array, zipped back by ordinality.

    A multi-row VALUES list is a new statement text for every row count, which psycopg parses
    and PostgreSQL plans each time; this text is fixed, so both are cached.
    """
    names = list(rows[0])
    dialect = session.get_bind().dialect
    plain = [n for n in names if not isinstance(table.c[n].type, JSON)]
    documents = [n for n in names if isinstance(table.c[n].type, JSON)]
    arrays = ", ".join(f"CAST(:{n} AS {_pg_type(table.c[n].type, dialect)}[])" for n in plain)
    sources = [f"unnest({arrays}) WITH ORDINALITY AS u({', '.join(plain)}, n)"]
    sources += [
        f"JOIN jsonb_array_elements(CAST(:{n} AS jsonb)) WITH ORDINALITY AS j_{n}(v, n) "
        f"ON j_{n}.n = u.n"
        for n in documents
    ]
    picks = [f"u.{n}" if n in plain else f"j_{n}.v" for n in names]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(picks)} "
        f"FROM {' '.join(sources)} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(c.name for c in returning)}"
    )
    values: dict[str, Any] = {n: [row[n] for row in rows] for n in plain}
    values.update({n: json.dumps([row[n] for row in rows]) for n in documents})
    return list(session.connection().execute(text(sql), values).all())


@lru_cache(maxsize=64)
def _pg_type(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    return column_type.compile(dialect=dialect)


def affected(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE and say how many rows it touched (a guarded update that touched
    none lost a race)."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)
