"""PostgreSQL: the server's and the client's CPU per row for each way of writing a page.

A side experiment for bench/sync_ingest.py (docs/benchmarks.md, "Sync ingest"): N pages of
1000 synthetic invoice rows, already converted, written into an empty mirror (the schema the
ingest benchmark makes) one transaction per page, by each of:

- `staged-text`: COPY (text format) into a temporary table, then INSERT ... SELECT ... ON
  CONFLICT DO UPDATE with the version guard (the write before 2026-11-30, second session);
- `staged-binary`: the same with a binary COPY;
- `direct-binary`: a binary COPY straight into the table, inside a savepoint (a first backfill's
  page now, sync/copy_write.py);
- `direct-binary-no-fk` and `direct-binary-no-fk-no-index`: the same after dropping the foreign
  key to organization (and the two secondary indexes): what those cost, not a way to write.

Server CPU is read from /proc/<backend pid>/stat, so the server must run on this machine.

    .venv/bin/python bench/ingest_copy.py [--pages 30] [--rounds 3] [variants...]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from time import process_time
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest_db import add_organization
from bench.ingest_db import fresh_database
from bench.ingest_db import process_cpu
from core import pgcopy
from core.models import Invoice
from providers.base import Entity
from sync.sqlite_rows import columns
from sync.upsert import _KEY
from sync.upsert import _on_conflict_sql

COLUMNS = columns(Entity.INVOICE)
Write = Callable[[Any, list[tuple[Any, ...]], str, list[int]], None]


def rows(org_id: int, page: int, size: int = 1000) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    out = []
    for i in range(size):
        n = page * size + i
        out.append(
            (org_id, str(n + 1000), "3", datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=n))
            + (False, now, str(n % 500), f"INV-{n}", date(2025, 1, 1) + timedelta(days=n % 300))
            + (date(2025, 2, 1) + timedelta(days=n % 300), "USD", Decimal("1234.50"))
            + (Decimal("234.50"), "open", "ap@example.com", None, None, None, True, Decimal(1))
        )
    return out


def staged(binary: bool) -> Write:
    def write(cursor: Any, page: list[tuple[Any, ...]], on_conflict: str, types: list[int]) -> None:
        names = ", ".join(COLUMNS)
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage ON COMMIT DELETE ROWS AS "
            f"SELECT {names} FROM invoice WITH NO DATA"
        )
        fmt = " (FORMAT BINARY)" if binary else ""
        with cursor.copy(f"COPY stage ({names}) FROM STDIN{fmt}") as copy:
            if binary:
                copy.set_types(types)
            for row in page:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO invoice ({names}) SELECT {names} FROM stage {on_conflict}")
        cursor.execute("DELETE FROM stage")

    return write


def direct(cursor: Any, page: list[tuple[Any, ...]], _on_conflict: str, types: list[int]) -> None:
    assert pgcopy.copy_new_rows(cursor, f"invoice ({', '.join(COLUMNS)})", types, page)


VARIANTS: dict[str, tuple[Write, tuple[str, ...]]] = {
    "staged-text": (staged(binary=False), ()),
    "staged-binary": (staged(binary=True), ()),
    "direct-binary": (direct, ()),
    "direct-binary-no-fk": (direct, ("fk",)),
    "direct-binary-no-fk-no-index": (direct, ("fk", "index")),
}


def run(variant: str, pages: int) -> tuple[int, float, float, float]:
    """(rows, wall s, server CPU s, client CPU s)."""
    write, dropped = VARIANTS[variant]
    with fresh_database("postgresql") as engine:
        org_id = add_organization(engine, "quickbooks", "bench")
        data = [rows(org_id, p) for p in range(pages)]
        on_conflict = _on_conflict_sql(
            engine.dialect, Invoice.__table__, tuple(c for c in COLUMNS if c not in _KEY)
        )
        raw = engine.raw_connection()
        try:
            connection = raw.driver_connection
            assert connection is not None
            cursor = connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            types = pgcopy.column_types(cursor, "invoice", COLUMNS)
            _drop(cursor, dropped)
            connection.commit()
            server, client, started = process_cpu(pid) or 0.0, process_time(), perf_counter()
            for page in data:
                write(cursor, page, on_conflict, types)
                connection.commit()
            wall = perf_counter() - started
            client = process_time() - client
            server = (process_cpu(pid) or 0.0) - server
            cursor.execute("SELECT count(*) FROM invoice")
            count = cursor.fetchone()[0]
        finally:
            raw.close()
    return count, wall, server, client


def _drop(cursor: Any, what: tuple[str, ...]) -> None:
    if "fk" in what:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'invoice'::regclass "
            "AND contype = 'f'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE invoice DROP CONSTRAINT "{name}"')
    if "index" in what:
        cursor.execute("DROP INDEX ix_invoice_org_customer")
        cursor.execute("DROP INDEX ix_invoice_org_status_due")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    print("| round | load | variant | rows | wall µs/row | server CPU µs/row | client CPU µs/row |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        for variant in args.variants:
            load = os.getloadavg()[0]
            count, wall, server, client = run(variant, args.pages)
            print(
                f"| {round_} | {load:.2f} | {variant} | {count:,} | {wall / count * 1e6:.1f} "
                f"| {server / count * 1e6:.1f} | {client / count * 1e6:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
