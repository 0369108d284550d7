"""Fresh, empty Dunwell databases for the ingest benchmark.

SQLite: a file in a temporary directory, through `core.db.make_engine` (WAL, synchronous=NORMAL,
BEGIN IMMEDIATE, foreign keys on), as Dunwell runs it. PostgreSQL: a schema of its own
(`bench_ingest`, suffixed `_s<slot>` under DUNWELL_TEST_SLOT; `bench_ingest_<provider>` for the
memory runs, which run two at a time),
created empty for every run and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import event

from core.db import Base
from core.db import make_engine
from core.db import make_session_factory
from core.db import session_scope
from core.models import Organization

PG_URL = os.environ.get("DUNWELL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# A test slot (DUNWELL_TEST_SLOT) gets schemas of its own, so two checkouts can run this at once.
PG_SCHEMA = "bench_ingest" + (
    f"_s{os.environ['DUNWELL_TEST_SLOT']}" if os.environ.get("DUNWELL_TEST_SLOT") else ""
)


def load_models() -> None:
    import core.models  # noqa: F401

    try:
        import rules.models  # noqa: F401
    except ImportError:
        pass


@contextmanager
def fresh_database(kind: str, schema: str = PG_SCHEMA) -> Iterator[Engine]:
    """An engine on an empty database with every Dunwell table; removed afterwards."""
    load_models()
    if kind == "sqlite":
        with _sqlite() as engine:
            yield engine
    elif kind == "postgresql":
        with _postgresql(schema) as engine:
            yield engine
    else:
        raise ValueError(f"unknown database {kind!r}")


@contextmanager
def _sqlite() -> Iterator[Engine]:
    folder = Path(tempfile.mkdtemp(prefix="dunwell-bench-"))
    engine = make_engine(f"sqlite:///{folder / 'bench.sqlite3'}")
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _postgresql(schema: str) -> Iterator[Engine]:
    _recreate_schema(schema, drop_only=False)
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        _recreate_schema(schema, drop_only=True)


def _recreate_schema(schema: str, *, drop_only: bool) -> None:
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            if not drop_only:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    finally:
        admin.dispose()


def add_organization(engine: Engine, provider: str, external_id: str) -> int:
    with session_scope(make_session_factory(engine)) as session:
        org = Organization(provider=provider, external_id=external_id, name="Bench Co")
        session.add(org)
        session.flush()
        return org.id


def postgres_version() -> str:
    """The server's version string; raises when PostgreSQL does not answer."""
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    finally:
        engine.dispose()


class ServerCpu:
    """CPU seconds of the PostgreSQL server processes serving `engine`'s connections since
    `mark()` (read from /proc: the server must run on this machine; None otherwise, and on
    SQLite). Steadier than wall time on a shared machine."""

    def __init__(self, engine: Engine) -> None:
        self._start: dict[int, float] = {}
        self._postgresql = engine.dialect.name == "postgresql"
        if self._postgresql:
            event.listen(engine, "checkout", self._checked_out)

    def _checked_out(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if "backend_pid" not in record.info:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                record.info["backend_pid"] = int(cursor.fetchone()[0])
        self._start.setdefault(
            record.info["backend_pid"], process_cpu(record.info["backend_pid"]) or 0.0
        )

    def mark(self) -> None:
        self._start = {pid: process_cpu(pid) or 0.0 for pid in self._start}

    def seconds(self) -> float | None:
        if not self._postgresql or not self._start:
            return None
        total = 0.0
        for pid, start in self._start.items():
            used = process_cpu(pid)
            if used is None:
                return None
            total += used - start
        return total


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of process `pid`, or None if it is not on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS
