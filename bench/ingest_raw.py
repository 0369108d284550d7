"""The local limit: the same invoice rows, already built, inserted by a bare DB-API executemany.

The scratch table `bench_raw_invoice` has the invoice table's columns, types, unique key and
indexes (only the foreign key to `organization` is left out). Rows are the dicts the upsert
builds, turned into tuples through SQLAlchemy's own bind processors (Money as an integer of
1/10,000 on SQLite, datetimes as SQLite stores them) before the clock starts. What is timed is
one plain INSERT executemany and a commit per page of 1000, on the engine's own connection.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from sqlalchemy import Column
from sqlalchemy import Engine
from sqlalchemy import Index
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy import select

from core.db import utcnow
from core.models import Invoice
from providers.base import InvoiceRecord
from sync.upsert import _head
from sync.upsert import _invoice_row

RAW_TABLE = "bench_raw_invoice"


@dataclass
class RawResult:
    rows: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def scratch_table() -> Table:
    """A copy of the invoice table's columns and indexes, without the foreign key."""
    source = Invoice.metadata.tables[Invoice.__tablename__]
    columns = [
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
        for c in source.columns
    ]
    return Table(
        RAW_TABLE,
        MetaData(),
        *columns,
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_bench_raw_org_customer", "organization_id", "customer_external_id"),
        Index("ix_bench_raw_org_status_due", "organization_id", "status", "due_date"),
    )


def invoice_row(org_id: int, r: InvoiceRecord, now: Any) -> dict[str, Any]:
    """The row sync.upsert writes for `r` (the same keys and values)."""
    return _invoice_row(r) | _head(org_id, r, now)


class RowBuilder:
    """Tuples in the order of `names`, each value as the DB-API driver receives it."""

    def __init__(self, table: Table, engine: Engine) -> None:
        dialect = engine.dialect
        self.names = [c.name for c in table.columns if not c.primary_key]
        self.processors: list[Callable[[Any], Any] | None] = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        ]

    def tuples(self, rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
        pairs = list(zip(self.names, self.processors, strict=True))
        return [tuple(p(row[n]) if p else row[n] for n, p in pairs) for row in rows]


def insert_sql(table: Table, names: list[str], engine: Engine) -> str:
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    )


def raw_insert(
    engine: Engine, org_id: int, pages: Iterable[list[InvoiceRecord]]
) -> tuple[RawResult, Table]:
    """Insert every page through executemany; only the insert and its commit are timed."""
    table = scratch_table()
    table.create(engine)
    builder = RowBuilder(table, engine)
    sql = insert_sql(table, builder.names, engine)
    sqlite = engine.dialect.name == "sqlite"
    connection = engine.raw_connection()
    result = RawResult(rows=0, seconds=0.0)
    try:
        for page in pages:
            now = utcnow()
            rows = builder.tuples(invoice_row(org_id, r, now) for r in page)
            started = perf_counter()
            _insert_page(connection, sql, rows, sqlite)
            result.seconds += perf_counter() - started
            result.rows += len(rows)
    finally:
        connection.close()
    return result, table


def _insert_page(connection: Any, sql: str, rows: list[tuple[Any, ...]], sqlite: bool) -> None:
    cursor = connection.cursor()
    if sqlite:
        # make_engine sets isolation_level=None: transactions are explicit, as SQLAlchemy does.
        cursor.execute("BEGIN IMMEDIATE")
    cursor.executemany(sql, rows)
    if sqlite:
        cursor.execute("COMMIT")
    else:
        connection.commit()
    cursor.close()


def check_raw(engine: Engine, table: Table, expected: int, sample: InvoiceRecord) -> None:
    """The scratch table holds every row, and a sample reads back exactly."""
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(table))
        row = conn.execute(select(table).where(table.c.external_id == sample.external_id)).one()
    if count != expected:
        raise AssertionError(f"raw insert wrote {count} rows, expected {expected}")
    if (row.total, row.balance, row.updated_at) != (
        sample.total,
        sample.balance,
        sample.updated_at,
    ):
        raise AssertionError(f"raw row {sample.external_id} does not read back: {row}")
