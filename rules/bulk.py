"""Bulk writes of an evaluation's results: COPY on PostgreSQL, executemany on SQLite.

A first run writes hundreds of thousands of actions and step firings. On PostgreSQL the rows go
through COPY into a temporary table of this connection, then one `INSERT … SELECT … ON CONFLICT
DO NOTHING RETURNING` moves them into the real table, so idempotency stays with the unique
constraints exactly as a plain INSERT would have it; COPY's encoding is done by psycopg's C
code, where binding arrays or a multi-row VALUES list makes Python adapt every value. COPY goes
in binary with the columns' types given: JSON documents go as msgspec's UTF-8 bytes, never
decoded to text and escaped for COPY's text format (the largest part of an action row).

The moved rows are inserted in the order of the table's unique key, so two evaluations racing on
one organization take their row locks in the same order (no deadlock; the loser wins none).
"""

from __future__ import annotations

import hashlib
from operator import itemgetter
from typing import Any

import msgspec
from psycopg.types.json import set_json_dumps
from sqlalchemy import FromClause
from sqlalchemy import Table
from sqlalchemy import UniqueConstraint
from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.db import insert_ignore as core_insert_ignore

_JSON = msgspec.json.Encoder()


def insert_ignore(
    session: Session, into: FromClause, rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """Insert `rows` (dicts with the same keys), skipping those that meet a unique constraint;
    the `returning` columns of the rows actually inserted."""
    if not rows:
        return []
    table = _table(into)
    if session.get_bind().dialect.name != "postgresql":
        columns = tuple(table.c[name] for name in returning)
        return [tuple(r) for r in core_insert_ignore(session, table, rows, columns)]  # type: ignore[arg-type]
    names = list(rows[0])
    staged = _stage(session, table, names, rows)
    listed = ", ".join(names)
    sql = (
        f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {staged} "
        f"ORDER BY {', '.join(_unique_key(table))} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(returning)}"
    )
    cursor = _cursor(session)
    cursor.execute(sql)
    inserted = [tuple(r) for r in cursor.fetchall()]
    cursor.execute(f"DELETE FROM {staged}")
    return inserted


def append(session: Session, into: FromClause, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` that cannot conflict (COPY straight into the table on PostgreSQL)."""
    if not rows:
        return
    table = _table(into)
    if session.get_bind().dialect.name != "postgresql":
        session.connection().execute(insert(table), rows)
        return
    _copy(session, table.name, table, list(rows[0]), rows)


def _table(into: FromClause) -> Table:
    if not isinstance(into, Table):
        raise TypeError(f"bulk writes go into a table, not {into!r}")
    return into


def _stage(session: Session, table: Table, names: list[str], rows: list[dict[str, Any]]) -> str:
    """COPY `rows` into this connection's temporary twin of `table` (made on first use).

    The twin is emptied after each use and truncated at commit (ON COMMIT DELETE ROWS): rows
    only deleted stay in it as dead tuples, which nothing vacuums in a temporary table, so every
    later use would scan all the rows of every earlier run of the connection."""
    digest = hashlib.sha1(" ".join(names).encode()).hexdigest()[:8]
    staged = f"pg_temp.bulk_{table.name}_{digest}"
    _cursor(session).execute(
        f"CREATE TEMP TABLE IF NOT EXISTS bulk_{table.name}_{digest} ON COMMIT DELETE ROWS "
        f"AS SELECT {', '.join(names)} FROM {table.name} WITH NO DATA"
    )
    _copy(session, staged, table, names, rows)
    return staged


def _copy(
    session: Session, into: str, table: Table, names: list[str], rows: list[dict[str, Any]]
) -> None:
    cursor = _cursor(session)
    types = _types(cursor, table, names)
    set_json_dumps(_JSON.encode, cursor)
    values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    with cursor.copy(f"COPY {into} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(values(row))


_TYPES: dict[tuple[str, ...], list[int]] = {}
_FIRST_USER_OID = 16384  # PostgreSQL's own types have lower OIDs, the same in every database


def _types(cursor: Any, table: Table, names: list[str]) -> list[int]:
    """The PostgreSQL type OIDs of `names` in `table` (binary COPY needs them), read from the
    catalog once per process."""
    key = (table.name, *names)
    if key not in _TYPES:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table.name,),
        )
        oids = dict(cursor.fetchall())
        types = [int(oids[n]) for n in names]
        if max(types) >= _FIRST_USER_OID:
            return types
        _TYPES[key] = types
    return _TYPES[key]


def _unique_key(table: Table) -> list[str]:
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) > 1:
            return [c.name for c in constraint.columns]
    return [c.name for c in table.primary_key.columns]


def _cursor(session: Session) -> Any:
    """A psycopg cursor on the session's connection, inside its transaction."""
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
