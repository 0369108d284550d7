"""PostgreSQL: a page of keys the mirror does not hold is COPYed straight into the table; a key
another writer inserts between the check and the COPY sends the page the staged way, where the
version guard decides, and the job neither fails nor loses a row."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Organization
from providers.base import Entity
from sync import upsert
from sync.upsert import upsert_page
from tests.sync.conftest import mirror
from tests.sync.test_bulk_pages import PAGE
from tests.sync.test_bulk_pages import T0
from tests.sync.test_bulk_pages import invoice

RACED = "7"


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    engine.dispose()  # new connections: no staging table left by an earlier test
    return engine


def staged(session: Session) -> bool:
    """Whether this session's connection has made a staging table for invoices."""
    found = session.connection().exec_driver_sql(
        "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
        "AND relname LIKE 'dunwell\\_stage\\_invoice\\_%%'"
    )
    return bool(found.scalar())


def test_a_first_page_is_copied_straight_into_the_table(pg, session_factory, org_id):
    page = [invoice(n, T0 + timedelta(seconds=n)) for n in range(PAGE)]
    with session_scope(session_factory) as session:
        result = upsert_page(session, org_id, Entity.INVOICE, page)
        assert not staged(session)
    assert result.written == PAGE
    rows = mirror(session_factory, org_id)
    assert len(rows) == PAGE
    assert rows["17"].updated_at == T0 + timedelta(seconds=17)
    assert (rows["17"].total, rows["17"].home_rate) == (Decimal("100.1"), Decimal("1.234567890123"))


@pytest.mark.parametrize(
    ("raced_at", "kept_balance"), [(T0 - timedelta(hours=1), "1"), (T0 + timedelta(hours=1), "2")]
)
def test_a_key_inserted_after_the_check_sends_the_page_the_staged_way(
    pg, session_factory, org_id, monkeypatch, raced_at, kept_balance
):
    """Another writer commits one of the page's keys after the page read what we hold: the
    version guard keeps the newer of the two, every other row is written."""
    held_versions = upsert._held_versions

    def held_then_raced(*args):
        monkeypatch.setattr(upsert, "_held_versions", held_versions)  # the other writer's own
        held = held_versions(*args)
        with session_scope(session_factory) as other:
            raced = invoice(int(RACED), raced_at, balance=Decimal("2"))
            upsert_page(other, org_id, Entity.INVOICE, [raced])
        return held

    monkeypatch.setattr(upsert, "_held_versions", held_then_raced)
    page = [invoice(n, T0, balance=Decimal("1")) for n in range(PAGE)]
    with session_scope(session_factory) as session:
        result = upsert_page(session, org_id, Entity.INVOICE, page)
        assert staged(session)
    assert result.written == PAGE
    rows = mirror(session_factory, org_id)
    assert len(rows) == PAGE
    assert rows[RACED].balance == Decimal(kept_balance)
    assert {rows[str(n)].balance for n in range(PAGE) if str(n) != RACED} == {Decimal("1")}


def test_a_copy_that_meets_an_uncommitted_key_waits_for_it_then_upserts(
    pg, session_factory, org_id
):
    """A webhook sync holds an insert of one of the keys open: the COPY waits on the key, and
    when that writer commits, the page goes the staged way."""
    other = session_factory()
    upsert_page(
        other,
        org_id,
        Entity.INVOICE,
        [invoice(int(RACED), T0 + timedelta(hours=1), balance=Decimal("2"))],
    )
    errors: list[BaseException] = []

    def backfill() -> None:
        try:
            with session_scope(session_factory) as session:
                upsert_page(
                    session,
                    org_id,
                    Entity.INVOICE,
                    [invoice(n, T0, balance=Decimal("1")) for n in range(PAGE)],
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    writer = threading.Thread(target=backfill)
    writer.start()
    try:
        time.sleep(0.5)
        assert writer.is_alive(), "the COPY did not wait on the uncommitted key"
        other.commit()
    finally:
        other.close()  # ends the other transaction however the test went, freeing the writer
        writer.join(timeout=30)
    assert not writer.is_alive() and errors == []
    rows = mirror(session_factory, org_id)
    assert len(rows) == PAGE
    assert rows[RACED].balance == Decimal("2")
    assert {rows[str(n)].balance for n in range(PAGE) if str(n) != RACED} == {Decimal("1")}


def test_a_page_holds_its_organization_and_one_for_an_organization_gone_writes_nothing(
    session_factory, org_id
):
    """The mirror's organization_id is not a foreign key (core.models): a page's transaction
    holds the organization instead, so a purge waits for it, and a page of an organization
    purged meanwhile is refused whole."""
    page = [invoice(n, T0) for n in range(PAGE)]
    with session_scope(session_factory) as session:
        upsert_page(session, org_id, Entity.INVOICE, page)
        if session.get_bind().dialect.name == "postgresql":
            with session_factory() as purge, pytest.raises(OperationalError, match="lock"):
                purge.execute(
                    select(Organization)
                    .where(Organization.id == org_id)
                    .with_for_update(nowait=True)
                )
    assert len(mirror(session_factory, org_id)) == PAGE
    with session_scope(session_factory) as session, pytest.raises(NoResultFound):
        upsert_page(session, org_id + 1000, Entity.INVOICE, page)
    assert mirror(session_factory, org_id + 1000) == {}
