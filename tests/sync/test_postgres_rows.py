"""PostgreSQL's page write from rows made straight from the records (sync/postgres_rows.py)
stores exactly what the generic write, its values converted by the columns' SQLAlchemy types,
stores: COPYed straight in (a first page), staged and upserted (a page of held keys), and
through executemany (a page under `COPY_FROM`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest

from providers.base import AnyRecord
from providers.base import Entity
from sync import postgres_rows
from sync import upsert
from sync.copy_write import COPY_FROM
from tests.sync.test_sqlite_rows import NOW
from tests.sync.test_sqlite_rows import T0
from tests.sync.test_sqlite_rows import _org
from tests.sync.test_sqlite_rows import _stored
from tests.sync.test_sqlite_rows import _sync
from tests.sync.test_sqlite_rows import records


def page(entity: Entity, start: int, at: datetime, size: int) -> list[AnyRecord]:
    out: list[AnyRecord] = []
    while len(out) < size:
        out += [
            replace(r, external_id=f"{r.external_id}-{len(out)}")
            for r in records(entity, start, at)
        ]
    return out


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
@pytest.mark.parametrize("entity", list(Entity))
def test_the_rows_store_what_the_converted_rows_store(session_factory, entity, monkeypatch):
    monkeypatch.setattr(upsert, "utcnow", lambda: NOW)
    first = page(entity, 0, T0, 2 * COPY_FROM)
    second = [
        *page(entity, 0, T0 + timedelta(hours=1), 2 * COPY_FROM)[: COPY_FROM + 10],  # newer
        *first[-20:],  # held already: no change
    ]
    small = page(entity, 6, T0 + timedelta(hours=2), COPY_FROM // 2)
    assert len(small) < COPY_FROM
    pages = [first, second, small]

    by_tuples = _org(session_factory, "tuples")
    _sync(session_factory, by_tuples, entity, pages)
    monkeypatch.setattr(upsert, "_write_postgres_tuples", upsert._write_rows)
    by_rows = _org(session_factory, "rows")
    _sync(session_factory, by_rows, entity, pages)

    stored = _stored(session_factory, entity, by_tuples)
    assert stored == _stored(session_factory, entity, by_rows)
    assert len(stored) == len({r.external_id for p in pages for r in p})


def test_a_naive_instant_is_refused_and_money_becomes_decimal():
    with pytest.raises(ValueError, match="naive"):
        postgres_rows.instant(datetime(2026, 1, 1, 12, 0))
    aware = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert postgres_rows.instant(aware) is aware
    assert [postgres_rows.exact(v) for v in (5, Decimal("1.5"), None)] == [
        Decimal(5),
        Decimal("1.5"),
        None,
    ]
    assert type(postgres_rows.exact(5)) is Decimal
