"""Pull changed records from a provider, page by page, into the mirror.

Each entity has a SyncCursor. A page and the cursor move it earns commit together, so a crash at
any point resumes from the last committed page: nothing lost (the overlap re-reads a little)
and nothing duplicated (the upsert is idempotent). Which listing to ask for:

- first backfill: everything, oldest change first;
- a backfill that crashed: continue from the cursor;
- incremental: changes since the cursor, minus a small overlap for clock skew;
- reconcile: when the cursor is older than the provider can look back (QuickBooks' CDC keeps
  30 days), list everything again and flag what the provider no longer has as deleted.

When every entity is incremental and the provider can list several at once (QuickBooks' CDC
takes a list of entities), one call lists them all (`sync_together`): a webhook's sync costs one
call, not one per entity. Each cursor then also moves to the answer's time, so an entity that
has not changed for a while does not widen the next call's window.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Protocol
from typing import runtime_checkable

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.db import session_scope
from core.db import utcnow
from core.models import MIRROR_MODELS
from core.models import Customer
from core.models import SyncCursor
from providers.base import AnyRecord
from providers.base import ChangedPage
from providers.base import Entity
from providers.base import Provider
from sync.prefetch import prefetched
from sync.upsert import UpsertResult
from sync.upsert import upsert_page

ENTITY_ORDER = (Entity.CUSTOMER, Entity.INVOICE, Entity.CREDIT_NOTE, Entity.PAYMENT)
OVERLAP = timedelta(minutes=5)
WINDOW_MARGIN = timedelta(hours=1)
# Pages fetched ahead while one is written, per database. Not on SQLite: its driver lets go of
# the interpreter around every row it steps, and with a thread decoding pages beside it the
# writer then waits to get it back at every row; a backfill measured a third slower
# (docs/benchmarks.md, "Sync ingest").
PREFETCH = {"postgresql": 2}


class ChangeLister(Protocol):
    """The part of a provider that a sync of one entity uses (a benchmark wraps just this)."""

    @property
    def change_window(self) -> timedelta | None: ...

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]: ...


@runtime_checkable
class TogetherLister(Protocol):
    """A provider that lists the changes of several entities in one call."""

    @property
    def change_window(self) -> timedelta | None: ...

    def list_changed_many(
        self, entities: Iterable[Entity], since: datetime
    ) -> Iterator[ChangedPage]: ...


@dataclass
class EntityReport:
    mode: str
    pages: int = 0
    records: int = 0
    written: int = 0
    flagged_deleted: int = 0


@dataclass
class SyncReport:
    entities: dict[str, EntityReport] = field(default_factory=dict)
    customers: set[str] = field(default_factory=set)


def sync_entities(
    sessions: sessionmaker[Session],
    org_id: int,
    provider: Provider,
    entities: Iterable[Entity] = ENTITY_ORDER,
) -> SyncReport:
    """Sync `entities` in order (customers first, so documents find their owner), reporting
    what changed and which customers' facts moved."""
    report = SyncReport()
    entities = list(entities)
    if isinstance(provider, TogetherLister) and sync_together(
        sessions, org_id, provider, entities, report
    ):
        return report
    for entity in entities:
        entity_report, customers = sync_entity(sessions, org_id, provider, entity)
        report.entities[str(entity)] = entity_report
        report.customers |= customers
    return report


def sync_entity(
    sessions: sessionmaker[Session],
    org_id: int,
    provider: ChangeLister,
    entity: Entity,
    prefetch: int | None = None,
) -> tuple[EntityReport, set[str]]:
    """Page through what changed since the cursor, upserting each page in its own
    transaction and moving the cursor with it, so an interrupted sync resumes where it was.
    The provider fetches up to `prefetch` pages ahead while one is written (sync/prefetch.py;
    0: no thread; None: `PREFETCH` for the database, see there)."""
    started = utcnow()
    with session_scope(sessions) as session:
        cursor = _cursor(session, org_id, entity)
        mode, since = choose_listing(cursor, provider.change_window, started)
        if prefetch is None:
            prefetch = PREFETCH.get(session.get_bind().dialect.name, 0)
    report = EntityReport(mode=mode)
    changed = UpsertResult()
    seen: set[str] | None = set() if mode == "reconcile" else None
    for page in prefetched(provider.list_changed(entity, since), prefetch):
        with session_scope(sessions) as session:
            changed.add(upsert_page(session, org_id, entity, page))
            _advance(_cursor(session, org_id, entity), page)
        report.pages += 1
        report.records += len(page)
        if seen is not None:
            seen.update(r.external_id for r in page)
    with session_scope(sessions) as session:
        cursor = _cursor(session, org_id, entity)
        if mode != "incremental":
            cursor.full_completed_at = started
        if seen is not None:
            report.flagged_deleted = flag_missing(session, org_id, entity, seen)
        cursor.last_run_at = utcnow()
    report.written = changed.written
    return report, changed.customers


def sync_together(
    sessions: sessionmaker[Session],
    org_id: int,
    provider: TogetherLister,
    entities: list[Entity],
    report: SyncReport,
) -> bool:
    """List the changes of `entities` in one call, when each is incremental (else do nothing
    and return False). Each page commits with its entity's cursor, as in `sync_entity`; once the
    listing is read to its end, each cursor moves to the provider's answer time."""
    started = utcnow()
    with session_scope(sessions) as session:
        listings = [
            choose_listing(_cursor(session, org_id, e), provider.change_window, started)
            for e in entities
        ]
    if len(entities) < 2 or any(mode != "incremental" for mode, _ in listings):
        return False
    since = min(s for _, s in listings if s is not None)
    reports = {e: EntityReport(mode="incremental") for e in entities}
    changed = {e: UpsertResult() for e in entities}
    listed_to: dict[Entity, datetime] = {}
    for page in provider.list_changed_many(entities, since):
        if page.records:
            with session_scope(sessions) as session:
                changed[page.entity].add(upsert_page(session, org_id, page.entity, page.records))
                _advance(_cursor(session, org_id, page.entity), page.records)
            reports[page.entity].pages += 1
            reports[page.entity].records += len(page.records)
        if page.as_of is not None:
            listed_to[page.entity] = page.as_of
    with session_scope(sessions) as session:
        for entity in entities:
            cursor = _cursor(session, org_id, entity)
            as_of = listed_to.get(entity)
            if as_of is not None and (cursor.high_water is None or as_of > cursor.high_water):
                cursor.high_water = as_of
            cursor.last_run_at = utcnow()
    for entity in entities:
        reports[entity].written = changed[entity].written
        report.entities[str(entity)] = reports[entity]
        report.customers |= changed[entity].customers
    return True


def choose_listing(
    cursor: SyncCursor, window: timedelta | None, now: datetime
) -> tuple[str, datetime | None]:
    """How to list this time: `backfill` (never listed), `resume` (a full listing was
    interrupted), `reconcile` (the cursor is older than the provider can look back: list all
    and flag what is gone) or `incremental`; and from when."""
    if cursor.full_completed_at is None:
        if cursor.high_water is None:
            return "backfill", None
        return "resume", cursor.high_water - OVERLAP
    since = (cursor.high_water or cursor.full_completed_at) - OVERLAP
    if window is not None and now - since > window - WINDOW_MARGIN:
        return "reconcile", None
    return "incremental", since


def _cursor(session: Session, org_id: int, entity: Entity) -> SyncCursor:
    cursor = session.scalar(
        select(SyncCursor).where(
            SyncCursor.organization_id == org_id, SyncCursor.entity == str(entity)
        )
    )
    if cursor is None:
        cursor = SyncCursor(organization_id=org_id, entity=str(entity), records_seen=0)
        session.add(cursor)
        session.flush()
    return cursor


def _advance(cursor: SyncCursor, page: list[AnyRecord]) -> None:
    if not page:
        return
    newest = max(r.updated_at for r in page)
    if cursor.high_water is None or newest > cursor.high_water:
        cursor.high_water = newest
    cursor.records_seen = (cursor.records_seen or 0) + len(page)


def flag_missing(session: Session, org_id: int, entity: Entity, seen: set[str]) -> int:
    """Flag as deleted the rows a complete listing no longer contains."""
    model = MIRROR_MODELS[str(entity)]
    known = session.scalars(
        select(model.external_id).where(model.organization_id == org_id, model.deleted.is_(False))
    )
    missing = [external_id for external_id in known if external_id not in seen]
    values: dict[str, object] = {"deleted": True, "synced_at": utcnow()}
    if entity in (Entity.INVOICE, Entity.CREDIT_NOTE):
        values["status"] = "deleted"
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        session.execute(
            update(model)
            .where(model.organization_id == org_id, model.external_id.in_(chunk))
            .values(**values)
        )
    return len(missing)


def apply_merges(session: Session, org_id: int, merges: Iterable[tuple[str, str]]) -> set[str]:
    """Mark merged-away customers (`from` into `into`); returns the customers touched."""
    touched: set[str] = set()
    for merged_from, into in merges:
        session.execute(
            update(Customer)
            .where(Customer.organization_id == org_id, Customer.external_id == merged_from)
            .values(merged_into=into, active=False)
        )
        touched |= {merged_from, into}
    return touched
