"""Run the loader's independent SELECTs together: on PostgreSQL in one psycopg pipeline (one
round trip for all of them instead of one each, and for the transaction's BEGIN when they are
its first statements), on SQLite one after the other; both on the DBAPI cursor.

Re-evaluating one customer after a webhook runs about ten small statements; over a network
connection their round trips cost more than running them, and SQLAlchemy's execution of each
(about 0.1 ms of Python) more than SQLite takes to run it. The statements are compiled by
SQLAlchemy and rows come back as plain tuples with the values SQLAlchemy would give (the bind
and result processors of the statement's types applied), so a caller cannot tell the
difference.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import CompoundSelect
from sqlalchemy import Connection
from sqlalchemy import Dialect
from sqlalchemy import Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.compiler import ExpandedState
from sqlalchemy.sql.compiler import SQLCompiler

from core.db import MONEY_SCALE
from core.db import Money

Rows = list[tuple[Any, ...]]
Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
Processor = Callable[[Any], Any] | None


class Reads:
    """SELECTs queued with `add`, all run by `run`, each one's rows by its index.

    `conn` is in a transaction already (a session's connection), which the reads join; they
    run on its DBAPI cursor, so SQLAlchemy's statement events do not see them."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.queued: list[tuple[Statement, Mapping[str, Any]]] = []

    def add(self, stmt: Statement, params: Mapping[str, Any]) -> int:
        self.queued.append((stmt, params))
        return len(self.queued) - 1

    def run(self) -> list[Rows]:
        queued, self.queued = self.queued, []
        dialect = self.conn.dialect
        raw: Any = self.conn.connection.dbapi_connection
        calls = [_bound(_compiled(stmt, dialect), params) for stmt, params in queued]
        cursors = [raw.cursor() for _ in calls]
        try:
            if dialect.name == "postgresql":
                with raw.pipeline():
                    _execute(cursors, calls)
            else:
                _execute(cursors, calls)
            return [
                _rows(stmt, cursor, dialect)
                for (stmt, _), cursor in zip(queued, cursors, strict=True)
            ]
        except dialect.loaded_dbapi.Error as error:
            raise _wrapped(self.conn, error, calls[0]) from error
        finally:
            for cursor in cursors:
                cursor.close()


def _wrapped(conn: Connection, error: Any, call: tuple[str, Any]) -> StatementError:
    """The error as SQLAlchemy raises it (OperationalError, IntegrityError...), the connection
    invalidated if it was lost, as SQLAlchemy's own execution does."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(error)
    sql, args = call
    wrapped: StatementError = DBAPIError.instance(
        sql, args, error, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
    return wrapped


def _execute(cursors: list[Any], calls: list[tuple[str, Any]]) -> None:
    for cursor, (sql, args) in zip(cursors, calls, strict=True):
        cursor.execute(sql, args)


def compile_ahead(dialect: Dialect, statements: list[Statement]) -> None:
    """Compile `statements` for `dialect` now: an RQ worker does it before it forks, so that
    no work-horse compiles them again for its one job (SQLite and psycopg dialects compile the
    same text before their first connection as after it)."""
    for stmt in statements:
        _compiled(stmt, dialect)


@lru_cache(maxsize=256)
def _compiled(stmt: Statement, dialect: Dialect) -> SQLCompiler:
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled


def _bound(compiled: SQLCompiler, params: Mapping[str, Any]) -> tuple[str, Any]:
    """The statement with its expanding parameters rendered, and its processed parameters (a
    tuple in their order for a positional DBAPI such as sqlite3)."""
    state = _expanded(compiled, params)
    args = dict(state.parameters)
    for name, value in params.items():
        names = state.parameter_expansion.get(name)
        if names is None:
            args[name] = value
        else:
            args.update(zip(names, value, strict=True))
    # The statement's own bind processors (a UTC instant, Money in 1/10,000 units on SQLite),
    # with those of the expanded list parameters over them, as SQLAlchemy's execution merges them.
    processors = {**compiled._bind_processors, **state.processors}
    for name, value in args.items():
        processor = processors.get(name)
        if callable(processor):  # (a tuple type's are a sequence, one per member: none here)
            args[name] = processor(value)
    if state.positiontup is not None:
        return state.statement, tuple(args[name] for name in state.positiontup)
    return state.statement, args


def _expanded(compiled: SQLCompiler, params: Mapping[str, Any]) -> ExpandedState:
    """SQLAlchemy's rendering of `compiled` for `params`, which depends only on the length of
    each list (the values are replaced by `_bound`); it costs more than running a small
    statement, so it is kept for each shape."""
    if compiled.literal_execute_params:  # values rendered into the text: nothing to reuse
        return compiled.construct_expanded_state(dict(params))
    shape = tuple((k, len(v) if isinstance(v, list) else -1) for k, v in params.items())
    key = (compiled, shape)
    state = _shapes.get(key)
    if state is None:
        if len(_shapes) > 4096:
            _shapes.clear()
        state = _shapes[key] = compiled.construct_expanded_state(dict(params))
    return state


_shapes: dict[tuple[SQLCompiler, tuple[tuple[str, int], ...]], ExpandedState] = {}


def _rows(stmt: Statement, cursor: Any, dialect: Dialect) -> Rows:
    rows = cursor.fetchall()
    processors = _processors.get((stmt, dialect))
    if processors is None:
        codes = [d[1] for d in cursor.description]  # DBAPI: (name, type_code, ...)
        if len(_processors) > 1024:
            _processors.clear()
        processors = _processors[stmt, dialect] = _result_processors(stmt, dialect, codes)
    if not rows or not any(processors):
        return rows  # type: ignore[no-any-return]
    columns: list[Any] = list(zip(*rows, strict=True))  # column by column: far fewer Python steps
    for i, processor in enumerate(processors):
        if processor is not None:
            columns[i] = map(processor, columns[i])
    return list(zip(*columns, strict=True))


def _result_processors(
    stmt: Statement, dialect: Dialect, type_codes: list[Any]
) -> tuple[Processor, ...]:
    """What SQLAlchemy applies to each column of `stmt`'s rows (money, UTC instants...); the
    column types of a statement's result never change, so this is worked out once."""
    columns = list(stmt.selected_columns)
    return tuple(
        _money_processor(dialect, code)
        if isinstance(column.type, Money)
        else column.type.dialect_impl(dialect).result_processor(dialect, code)
        for column, code in zip(columns, type_codes, strict=True)
    )


def _money_processor(dialect: Dialect, type_code: Any) -> Processor:
    """core.db.Money's result processing, without its per-value Python calls (a daily run
    decodes some 4,000 amounts per organization).

    PostgreSQL: psycopg gives NUMERIC as a Decimal already, which Money only copies; nothing
    to do. SQLite: 1/10,000 units, decoded once per distinct value (amounts repeat; a Decimal
    is immutable, so rows may share one)."""
    if dialect.name == "sqlite":
        return _Units().__getitem__
    impl = Money().dialect_impl(dialect)
    assert isinstance(impl, Money)
    if impl.impl_instance.result_processor(dialect, type_code) is not None:
        return impl.result_processor(dialect, type_code)  # a driver that gives no Decimal
    return None


class _Units(dict[Any, Decimal | None]):
    """Money in SQLite's integer units -> Decimal, as core.db.Money decodes it, each distinct
    value decoded once (a lookup that finds it runs no Python code)."""

    LIMIT = 4_096  # distinct amounts kept per column of a statement; beyond, decoded each time

    def __missing__(self, units: Any) -> Decimal | None:
        value = None if units is None else Decimal(int(units)).scaleb(-MONEY_SCALE)
        if len(self) < self.LIMIT:
            self[units] = value
        return value


_processors: dict[tuple[Statement, Dialect], tuple[Processor, ...]] = {}
