"""PostgreSQL's binary COPY, shared by the sync's page writes (sync.copy_write) and the rules'
bulk writes (rules.bulk).

Binary COPY needs each column's type OID; they are read from the catalog once per process. A
COPY of rows whose keys the caller believes new goes under a savepoint, so that a key another
writer inserted meanwhile costs a rollback of that COPY only, and the caller can take its
conflict-handling path instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

from psycopg import Cursor
from psycopg.errors import UniqueViolation

_FIRST_USER_OID = 16384  # PostgreSQL's own types have lower OIDs, the same in every database
_TYPES: dict[tuple[str, ...], list[int]] = {}


def column_types(cursor: Cursor[Any], table: str, columns: Sequence[str]) -> list[int]:
    """The type OIDs of `columns` of `table`, read from the catalog once per process (only when
    all are PostgreSQL's own: a user type's OID differs between databases)."""
    key = (table, *columns)
    if key not in _TYPES:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        oids = dict(cursor.fetchall())
        types = [int(oids[name]) for name in columns]
        if max(types) >= _FIRST_USER_OID:
            return types
        _TYPES[key] = types
    return _TYPES[key]


def copy_rows(
    cursor: Cursor[Any], into: str, types: list[int], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY `rows` into `into` ("table (column, ...)") in binary, the columns' `types` given."""
    with cursor.copy(f"COPY {into} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def copy_new_rows(
    cursor: Cursor[Any], into: str, types: list[int], rows: Iterable[Sequence[Any]]
) -> bool:
    """`copy_rows` under a savepoint; False, with nothing written, if one of the rows' keys is
    in the table after all (another writer inserted it since the caller looked)."""
    cursor.execute("SAVEPOINT dunwell_copy_new")
    try:
        copy_rows(cursor, into, types, rows)
    except UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT dunwell_copy_new")
        cursor.execute("RELEASE SAVEPOINT dunwell_copy_new")
        return False
    cursor.execute("RELEASE SAVEPOINT dunwell_copy_new")
    return True
