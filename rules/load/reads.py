"""Run the loader's independent SELECTs together: on PostgreSQL in one psycopg pipeline (one
round trip for all of them instead of one each), on SQLite one after the other.

Re-evaluating one customer after a webhook runs about ten small statements; over a network
connection their round trips cost more than running them. Rows come back as plain tuples with
the same values SQLAlchemy would give (bind and result processors of the statement's types
applied), so a caller cannot tell the two paths apart.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import CompoundSelect
from sqlalchemy import Connection
from sqlalchemy import Dialect
from sqlalchemy import Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

Rows = list[tuple[Any, ...]]
Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
Processor = Callable[[Any], Any] | None


class Reads:
    """SELECTs queued with `add`, all run by `run`, each one's rows by its index."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.queued: list[tuple[Statement, Mapping[str, Any]]] = []

    def add(self, stmt: Statement, params: Mapping[str, Any]) -> int:
        self.queued.append((stmt, params))
        return len(self.queued) - 1

    def run(self) -> list[Rows]:
        queued, self.queued = self.queued, []
        if self.conn.dialect.name != "postgresql" or len(queued) < 2:
            return [[tuple(r) for r in self.conn.execute(s, p)] for s, p in queued]
        return _pipelined(self.conn, queued)


def _pipelined(conn: Connection, queued: list[tuple[Statement, Mapping[str, Any]]]) -> list[Rows]:
    dialect = conn.dialect
    raw: Any = conn.connection.dbapi_connection  # a psycopg connection
    calls = [_bound(_compiled(stmt, dialect), params) for stmt, params in queued]
    cursors = [raw.cursor() for _ in calls]
    try:
        with raw.pipeline():
            for cursor, (sql, args) in zip(cursors, calls, strict=True):
                cursor.execute(sql, args)
        return [
            _rows(stmt, cursor, dialect) for (stmt, _), cursor in zip(queued, cursors, strict=True)
        ]
    except dialect.loaded_dbapi.Error as error:
        sql, args = calls[0]
        raise DBAPIError.instance(sql, args, error, dialect.loaded_dbapi.Error) from error
    finally:
        for cursor in cursors:
            cursor.close()


@lru_cache(maxsize=256)
def _compiled(stmt: Statement, dialect: Dialect) -> SQLCompiler:
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled


def _bound(compiled: SQLCompiler, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The statement with its expanding parameters rendered, and its processed parameters."""
    state = compiled.construct_expanded_state(dict(params))
    processors = state.processors
    args = {
        name: processors[name](value) if name in processors else value
        for name, value in state.parameters.items()
    }
    return state.statement, args


def _rows(stmt: Statement, cursor: Any, dialect: Dialect) -> Rows:
    rows = cursor.fetchall()
    processors = _result_processors(stmt, dialect, tuple(d.type_code for d in cursor.description))
    if not any(processors):
        return rows  # type: ignore[no-any-return]
    return [
        tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
        for row in rows
    ]


@lru_cache(maxsize=256)
def _result_processors(
    stmt: Statement, dialect: Dialect, type_codes: tuple[int, ...]
) -> Sequence[Processor]:
    """What SQLAlchemy applies to each column of `stmt`'s rows (money, UTC instants...)."""
    columns = list(stmt.selected_columns)
    return tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, code)
        for column, code in zip(columns, type_codes, strict=True)
    )
