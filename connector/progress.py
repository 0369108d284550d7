"""The first backfill as it happens: each entity's records as its pages arrive (every page
commits with its cursor, so the counts are real), and a "syncing" state for later syncs.

The dashboard and the home page poll `/orgs/<id>/progress` with htmx every two seconds; the
answer that says the sync is over comes with status 286, which tells htmx to stop polling, and
replaces the "first sync has started" message with one that says it finished.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import render_template
from sqlalchemy import select

from connector import web
from core.models import Organization
from core.models import OrgStatus
from core.models import SyncCursor
from sync.engine import ENTITY_ORDER

bp = Blueprint("progress", __name__)

STOP_POLLING = 286  # htmx stops an `every` trigger on this status
LABELS = {
    "customer": "Customers",
    "invoice": "Invoices",
    "credit_note": "Credit notes",
    "payment": "Payments",
}


@dataclass(frozen=True)
class EntityProgress:
    entity: str
    records: int
    state: str  # waiting, syncing, done

    @property
    def label(self) -> str:
        return LABELS.get(self.entity, self.entity)


@dataclass(frozen=True)
class Progress:
    first: bool  # the first backfill: nothing finished yet
    running: bool
    connected: bool
    entities: list[EntityProgress]

    @property
    def live(self) -> bool:
        """Worth watching: a sync runs, or the first one has not finished (nor failed)."""
        return self.running or (self.first and self.connected)

    @property
    def records(self) -> int:
        return sum(e.records for e in self.entities)


@bp.app_template_global("sync_progress")
def progress(org: Organization) -> Progress:
    cursors = {
        c.entity: c
        for c in web.db().scalars(select(SyncCursor).where(SyncCursor.organization_id == org.id))
    }
    first = org.last_synced_at is None
    entities = []
    for entity in ENTITY_ORDER:
        cursor = cursors.get(str(entity))
        records = cursor.records_seen if cursor is not None else 0
        if cursor is not None and cursor.full_completed_at is not None:
            state = "done"
        elif cursor is not None and org.is_syncing:
            state = "syncing"
        else:
            state = "waiting"
        entities.append(EntityProgress(str(entity), records or 0, state))
    return Progress(first, org.is_syncing, org.status == OrgStatus.CONNECTED, entities)


@bp.get("/orgs/<int:org_id>/progress")
def poll(org_id: int) -> str | tuple[str, int]:
    org = web.current_org(org_id, need="viewer")
    state = progress(org)
    html = render_template("_progress_live.html", org=org, progress=state, finished=not state.live)
    return html if state.live else (html, STOP_POLLING)
