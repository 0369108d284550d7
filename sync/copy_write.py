"""PostgreSQL: a page of rows COPYed into a temporary table, then one INSERT ... SELECT.

An executemany of `INSERT ... ON CONFLICT` runs the statement once per row (psycopg pipelines
them, but the server still plans and executes each one). COPY streams the page in one go, and
the upsert then runs once over all of it, with the same conflict clause and version guard.

The staging table is per connection (temporary), one per table and column set, made on first
use by `CREATE TEMP TABLE IF NOT EXISTS` (it survives the transaction, ON COMMIT DELETE ROWS
empties it; it is emptied after every use too, for callers that write twice in a transaction).
It takes its column types from the table itself, without constraints, so a COPY never fails on
what the INSERT would check anyway.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Table

# Rows under which a plain executemany is as quick (no staging round trips).
COPY_FROM = 50


def copy_upsert(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    on_conflict: str,
) -> None:
    """Upsert `rows` (values of `columns`, already converted for the driver) into `table`
    through a staging table, applying `on_conflict` ("ON CONFLICT ... DO UPDATE ... WHERE")."""
    quote = connection.dialect.identifier_preparer.quote
    target = quote(table.name)
    names = ", ".join(map(quote, columns))
    stage = _stage_name(table, columns)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {names} FROM {target} WITH NO DATA"
        )
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage} {on_conflict}")
        cursor.execute(f"DELETE FROM {stage}")


def _stage_name(table: Table, columns: tuple[str, ...]) -> str:
    digest = zlib.crc32(",".join(columns).encode())
    return f"dunwell_stage_{table.name}_{digest:08x}"
