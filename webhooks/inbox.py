"""The webhook inbox: notices to sync from, and events set aside with the reason.

A notice is stored for a connected organization it names. One that a parser rejected, or whose
text does not fit the inbox (an unpaired surrogate or NUL, an id longer than its column), is
stored with `rejected_reason` and already processed, so no sync waits on it and an admin can
see what the provider sent; its organization is set when its tenant is known.

The drain (webhooks.drain) records many deliveries in one transaction; the request itself
records one only when Redis is away (connector.webhooks).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import insert_ignore
from core.db import utcnow
from core.models import Organization
from core.models import OrgStatus
from core.models import WebhookEvent
from providers.base import ChangeNotice
from providers.jsonbody import text_problem
from providers.webhook_events import readable

log = logging.getLogger(__name__)

# The inbox's text columns and their lengths (core.models.WebhookEvent).
_LIMITS = {"tenant_external_id": 64, "external_id": 64, "operation": 20, "merged_from": 64}
_DEDUPE_KEY_CHARS = 200


@dataclass(frozen=True)
class Delivery:
    """The events of one validly signed webhook request."""

    provider: str
    notices: list[ChangeNotice]
    received_at: datetime


def record(db: Session, deliveries: Iterable[Delivery]) -> set[int]:
    """Store the new notices of `deliveries` in the inbox and commit; returns the
    organizations that got any to sync."""
    rows: list[dict[str, Any]] = []
    org_ids: set[int] = set()
    by_provider: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_provider.setdefault(delivery.provider, []).append(delivery)
    for provider, group in by_provider.items():
        found, synced = _rows(db, provider, group)
        rows += found
        org_ids |= synced
    if rows:
        insert_ignore(db, WebhookEvent.__table__, rows)
        db.commit()
    return org_ids


def record_notices(db: Session, provider: str, notices: list[ChangeNotice]) -> set[int]:
    """`record` of one delivery received now."""
    return record(db, [Delivery(provider, notices, utcnow())])


def _rows(
    db: Session, provider: str, deliveries: list[Delivery]
) -> tuple[list[dict[str, Any]], set[int]]:
    """One provider's inbox rows, and the organizations they ask to sync."""
    stored = [(d, [_storable(n) for n in d.notices]) for d in deliveries]
    tenants = {n.tenant_external_id for _, notices in stored for n in notices}
    orgs = _connected(db, provider, tenants) if tenants else {}
    rows: list[dict[str, Any]] = []
    org_ids: set[int] = set()
    for delivery, notices in stored:
        at = {"received_at": delivery.received_at}
        accepted = [n for n in notices if n.rejected is None and n.tenant_external_id in orgs]
        rows += [_row(provider, n, orgs[n.tenant_external_id]) | at for n in accepted]
        rows += [
            _rejected_row(provider, n, orgs.get(n.tenant_external_id)) | at
            for n in notices
            if n.rejected is not None
        ]
        org_ids |= {orgs[n.tenant_external_id] for n in accepted}
    return rows, org_ids


def _connected(db: Session, provider: str, tenants: set[str]) -> dict[str, int]:
    return dict(
        db.execute(
            select(Organization.external_id, Organization.id).where(
                Organization.provider == provider,
                Organization.external_id.in_(tenants),
                Organization.status == OrgStatus.CONNECTED,
            )
        ).all()
    )


def _storable(notice: ChangeNotice) -> ChangeNotice:
    """`notice`, or a rejected copy of it when a field cannot be stored as it is."""
    if notice.rejected is not None:
        return notice
    for name, limit in _LIMITS.items():
        value = getattr(notice, name)
        if value is None:
            continue
        problem = text_problem(value) or (
            f"is longer than {limit} characters" if len(value) > limit else None
        )
        if problem:
            return dataclasses.replace(
                notice,
                tenant_external_id=readable(notice.tenant_external_id),
                external_id=readable(notice.external_id),
                operation="rejected",
                merged_from=None,
                dedupe_key="rejected:" + readable(notice.dedupe_key, _DEDUPE_KEY_CHARS - 9),
                rejected=f"{name} {problem}",
            )
    return notice


def _row(provider: str, notice: ChangeNotice, org_id: int | None) -> dict[str, Any]:
    return {
        "provider": provider,
        "dedupe_key": notice.dedupe_key[:_DEDUPE_KEY_CHARS],
        "organization_id": org_id,
        "tenant_external_id": notice.tenant_external_id,
        "entity": str(notice.entity) if notice.entity else None,
        "external_id": notice.external_id,
        "operation": notice.operation.lower(),
        "merged_from": notice.merged_from,
        "occurred_at": notice.occurred_at,
        "processed_at": None,
        "rejected_reason": None,
    }


def _rejected_row(provider: str, notice: ChangeNotice, org_id: int | None) -> dict[str, Any]:
    log.warning(
        "set aside a %s webhook event (tenant %r, id %r): %s",
        provider,
        notice.tenant_external_id,
        notice.external_id,
        notice.rejected,
    )
    return {
        **_row(provider, notice, org_id),
        "entity": None,
        "processed_at": utcnow(),
        "rejected_reason": readable(notice.rejected, 2000),
    }
