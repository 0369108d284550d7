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

A large batch first goes by COPY straight into the table, under a savepoint: when none of its
keys is there yet (every first run: the evaluation claims only what it has not found stored),
that saves the server the staging table's writes, the sort, and ON CONFLICT's probe of every
unique index before each row goes in. A unique violation (a concurrent evaluation of the same
organization won some of the keys) rolls back to the savepoint and the batch takes the staged
path, whose ON CONFLICT decides as before. Ids the caller needs back are drawn from the
table's sequence first, in the key order the staged path would have used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

import msgspec
from psycopg.types.json import set_json_dumps
from sqlalchemy import FromClause
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import UniqueConstraint
from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.db import insert_ignore as core_insert_ignore
from core.pgcopy import column_types
from core.pgcopy import copy_new_rows
from core.pgcopy import copy_rows

_JSON = msgspec.json.Encoder()

# Below this many rows a batch is staged at once: a small batch (one customer after a webhook, a
# reminder moved to the next free period) is where conflicts happen, and saves nothing direct.
DIRECT_MIN_ROWS = 32


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
    if len(rows) >= DIRECT_MIN_ROWS:
        inserted = _insert_direct(session, table, rows, returning)
        if inserted is not None:
            return inserted
    names = list(rows[0])
    staged = _stage(session, table, names, rows)
    listed = ", ".join(names)
    sql = (
        f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {staged} "
        f"ORDER BY {', '.join(_key_order(table))} "
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
    names = list(rows[0])
    _copy(session, table.name, table, names, map(_values(names), rows))


def _insert_direct(
    session: Session, table: Table, rows: list[dict[str, Any]], returning: tuple[str, ...]
) -> list[tuple[Any, ...]] | None:
    """COPY `rows` straight into `table`, in its unique key's order, under a savepoint; the
    `returning` columns of every row, or None (and nothing written) if a key was taken."""
    names = list(rows[0])
    ordered = sorted(rows, key=itemgetter(*_unique_key(table)))
    values = list(map(_values(names), ordered))
    cursor = _cursor(session)
    if "id" in returning and "id" not in names:
        ids = _next_ids(cursor, table, len(values))
        names = ["id", *names]
        values = [(i, *v) for i, v in zip(ids, values, strict=True)]
    if not _copy(session, table.name, table, names, values, new=True):
        return None
    picked = itemgetter(*(names.index(name) for name in returning))
    if len(returning) == 1:
        return [(picked(v),) for v in values]
    return list(map(picked, values))


def _next_ids(cursor: Any, table: Table, count: int) -> list[int]:
    """`count` ids from the sequence of `table`'s id column, ascending."""
    cursor.execute(
        "SELECT nextval(seq) FROM (SELECT pg_get_serial_sequence(%s, 'id') AS seq) s, "
        "generate_series(1, %s) ORDER BY 1",
        (table.name, count),
    )
    return [row[0] for row in cursor.fetchall()]


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
    _copy(session, staged, table, names, map(_values(names), rows))
    return staged


def _values(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row's values in the order of `names`."""
    if len(names) == 1:
        return lambda row: (row[names[0]],)
    return itemgetter(*names)


def _copy(
    session: Session,
    into: str,
    table: Table,
    names: list[str],
    values: Iterable[tuple[Any, ...]],
    new: bool = False,
) -> bool:
    """COPY `values` of `names` into `into` (`table` or its staging twin); `new`: under a
    savepoint, False (nothing written) if a key was taken (core.pgcopy.copy_new_rows)."""
    cursor = _cursor(session)
    types = column_types(cursor, table.name, names)
    set_json_dumps(_JSON.encode, cursor)
    target = f"{into} ({', '.join(names)})"
    if new:
        return copy_new_rows(cursor, target, types, values)
    copy_rows(cursor, target, types, values)
    return True


def _key_order(table: Table) -> list[str]:
    """ORDER BY terms for `table`'s unique key, texts by code point as Python sorts them (the
    direct path's order), whatever the database's collation."""
    return [
        f'{name} COLLATE "C"' if isinstance(table.c[name].type, String) else name
        for name in _unique_key(table)
    ]


def _unique_key(table: Table) -> list[str]:
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) > 1:
            return [c.name for c in constraint.columns]
    return [c.name for c in table.primary_key.columns]


def _cursor(session: Session) -> Any:
    """A psycopg cursor on the session's connection, inside its transaction."""
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
