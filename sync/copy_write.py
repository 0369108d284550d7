"""PostgreSQL: a page of rows COPYed into the table, or into a temporary table and upserted.

An executemany of `INSERT ... ON CONFLICT` runs the statement once per row (psycopg pipelines
them, but the server still plans and executes each one). COPY streams the page in one go, and
the upsert then runs once over all of it, with the same conflict clause and version guard.

When the caller holds none of the page's keys (every page of a first backfill), the page is
COPYed straight into the table: no staging table, no second pass over the rows (about a fifth
less of the server's time). A concurrent writer (a webhook sync of the same organization) may
insert one of those keys between the caller's check and the COPY; then the COPY fails on the
unique key, is rolled back to a savepoint taken just before it, and the page goes the staged
way, where the version guard decides row by row.

The staging table is per connection (temporary), one per table and column set, made on first
use by `CREATE TEMP TABLE IF NOT EXISTS` (it survives the transaction, ON COMMIT DELETE ROWS
empties it; it is emptied after every use too, for callers that write twice in a transaction).
It takes its column types from the table itself, without constraints, so a COPY never fails on
what the INSERT would check anyway.

COPY goes in binary with the columns' types given, so psycopg's C code encodes every value
(in text format each Decimal, date and datetime is formatted in Python).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Table

from core.pgcopy import column_types
from core.pgcopy import copy_new_rows
from core.pgcopy import copy_rows

# Rows under which a plain executemany is as quick (no staging round trips).
COPY_FROM = 50


def copy_upsert(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    on_conflict: str,
    none_held: bool = False,
) -> None:
    """Upsert `rows` (values of `columns`, already converted for the driver) into `table`,
    applying `on_conflict` ("ON CONFLICT ... DO UPDATE ... WHERE"). `none_held`: the caller
    found none of the rows' keys in the table (the rows' keys are distinct)."""
    quote = connection.dialect.identifier_preparer.quote
    target = quote(table.name)
    names = ", ".join(map(quote, columns))
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        types = column_types(cursor, table.name, columns)
        if none_held and copy_new_rows(cursor, f"{target} ({names})", types, rows):
            return
        stage = _stage_name(table, columns)
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {names} FROM {target} WITH NO DATA"
        )
        copy_rows(cursor, f"{stage} ({names})", types, rows)
        cursor.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage} {on_conflict}")
        cursor.execute(f"DELETE FROM {stage}")


def copy_insert(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """COPY `rows` (values of `columns`, already converted for the driver) into `table`: rows
    that cannot conflict (no unique key but the id its sequence gives)."""
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(map(quote, columns))
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        types = column_types(cursor, table.name, columns)
        copy_rows(cursor, f"{quote(table.name)} ({names})", types, rows)


def _stage_name(table: Table, columns: tuple[str, ...]) -> str:
    digest = zlib.crc32(",".join(columns).encode())
    return f"dunwell_stage_{table.name}_{digest:08x}"
