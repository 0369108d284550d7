"""`POST /webhooks/<provider>`: verify, record, enqueue, answer at once.

The signature is checked over the raw bytes before anything else is looked at. Events are
stored in the inbox, deduplicated on the provider's own key, and one coalesced sync is enqueued
per organization. No provider call happens inside the request, no cookie is ever set here, and
a signed delivery is acknowledged even if Redis is briefly away: the inbox keeps the events and
the safety-net sync picks them up.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from connector import web
from core.models import Organization
from core.models import OrgStatus
from core.models import WebhookEvent
from providers import PROVIDERS
from providers import provider_class
from providers.base import ChangeNotice
from sync.jobs import request_sync

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/<provider>")
def receive(provider: str) -> Response:
    if provider not in PROVIDERS:
        abort(404, f"Unknown accounting system {provider!r}.")
    cls = provider_class(provider)
    key = web.settings().provider(provider).webhook_key
    body = request.get_data(cache=False)
    if not key or not cls.verify_webhook(request.headers, body, key):
        return Response(b"", status=cls.bad_signature_status)
    try:
        notices = cls.parse_webhook(body)
    except ValueError as exc:
        abort(400, f"Unreadable webhook body: {exc}")
    org_ids = record_notices(web.db(), provider, notices)
    _enqueue_syncs(org_ids)
    return Response(b"", status=200)


def record_notices(db: Session, provider: str, notices: list[ChangeNotice]) -> set[int]:
    """Store new notices in the inbox; returns the organizations that got any."""
    if not notices:
        return set()
    tenants = {n.tenant_external_id for n in notices}
    orgs = dict(
        db.execute(
            select(Organization.external_id, Organization.id).where(
                Organization.provider == provider,
                Organization.external_id.in_(tenants),
                Organization.status == OrgStatus.CONNECTED,
            )
        ).all()
    )
    rows = [
        _row(provider, n, orgs[n.tenant_external_id])
        for n in notices
        if n.tenant_external_id in orgs
    ]
    if not rows:
        return set()
    module = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    stmt = module.insert(WebhookEvent).on_conflict_do_nothing(
        index_elements=["provider", "dedupe_key"]
    )
    db.execute(stmt, rows)
    db.commit()
    return {row["organization_id"] for row in rows}


def _row(provider: str, notice: ChangeNotice, org_id: int) -> dict[str, object]:
    return {
        "provider": provider,
        "dedupe_key": notice.dedupe_key[:200],
        "organization_id": org_id,
        "tenant_external_id": notice.tenant_external_id,
        "entity": str(notice.entity) if notice.entity else None,
        "external_id": notice.external_id,
        "operation": notice.operation.lower(),
        "merged_from": notice.merged_from,
        "occurred_at": notice.occurred_at,
    }


def _enqueue_syncs(org_ids: set[int]) -> None:
    ctx = web.job_context()
    for org_id in sorted(org_ids):
        try:
            request_sync(ctx, org_id)
        except Exception:  # noqa: BLE001 - the inbox holds the events; the safety net syncs
            log.exception("could not enqueue the sync of organization %s", org_id)
