"""The admin page: connections, their sync state, the mirror's counts and aging."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import url_for
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from connector import reports
from connector import web
from core.db import utcnow
from core.models import Organization
from core.models import OrgStatus
from providers import DISPLAY_NAMES
from sync.jobs import request_sync
from sync.jobs import sync_is_stuck

bp = Blueprint("admin", __name__)


@bp.get("/")
def home() -> str:
    orgs = web.signed_in_orgs()
    settings = web.settings()
    providers = [
        {"name": name, "label": label, "configured": settings.provider(name).configured}
        for name, label in DISPLAY_NAMES.items()
    ]
    return render_template(
        "home.html",
        orgs=[summary(org) for org in orgs],
        providers=providers,
        display_names=DISPLAY_NAMES,
        signed_in=bool(orgs),
    )


@bp.get("/api/orgs/<int:org_id>/summary")
def summary_json(org_id: int) -> Response:
    data = summary(web.current_org(org_id, need="viewer"))
    data["aging"] = [
        {
            "currency": row.currency,
            "buckets": {k: str(v) for k, v in row.buckets.items()},
            "counts": row.counts,
            "total": str(row.total),
        }
        for row in data["aging"]
    ]
    data.pop("org")
    data["outbox"] = {
        "active_version": data["outbox"]["active_version"],
        "per_status": data["outbox"]["per_status"],
        "newest": [
            {"id": a.id, "kind": a.kind, "customer": a.customer_external_id, "status": a.status}
            for a in data["outbox"]["newest"]
        ],
    }
    data["events"] = [
        {
            "entity": e.entity,
            "external_id": e.external_id,
            "operation": e.operation,
            "received_at": e.received_at.isoformat(),
            "rejected_reason": e.rejected_reason,
        }
        for e in data["events"]
    ]
    return jsonify(data)


@bp.post("/orgs/<int:org_id>/sync")
@web.read_only
def sync_now(org_id: int) -> Response:
    org = web.current_org(org_id, need="admin")
    if org.status != OrgStatus.CONNECTED:
        flash(f"{org.name} is not connected; reconnect it first.", "warning")
    else:
        request_sync(web.job_context(), org.id)
        flash(f"A sync of {org.name} has been queued.", "success")
    return redirect(url_for("admin.home"))


def _stuck(org: Organization) -> bool:
    if org.last_sync_error:
        return False  # it failed and said why; RQ retries it
    try:
        return sync_is_stuck(web.redis(), org, utcnow())
    except RedisError:
        return False


def _local_label(org: Organization, instant: datetime | None) -> str:
    if instant is None:
        return "never"
    return instant.astimezone(ZoneInfo(org.timezone or "UTC")).strftime("%Y-%m-%d %H:%M %Z")


def summary(org: Organization) -> dict[str, Any]:
    db = web.db()
    status, detail = org.status, org.status_detail
    if status == OrgStatus.CONNECTED and org.is_syncing:
        status = "syncing"
        if _stuck(org):
            status = "stuck"
            detail = (
                f"The sync that started {_local_label(org, org.sync_started_at)} stopped without "
                "finishing (its worker may have died). Dunwell re-runs it by itself; if this "
                "stays, check that a worker is running (rq worker) and press Sync now."
            )
    return {
        "org": org,
        "id": org.id,
        "name": org.name,
        "provider": org.provider,
        "provider_label": DISPLAY_NAMES.get(org.provider, org.provider),
        "status": status,
        "status_detail": detail,
        "timezone": org.timezone,
        "currency": org.currency,
        "last_synced_at": org.last_synced_at.isoformat() if org.last_synced_at else None,
        "last_synced_label": _local_label(org, org.last_synced_at),
        "last_sync_error": org.last_sync_error,
        "counts": reports.counts(db, org.id),
        "aging": reports.aging(db, org),
        "events": reports.recent_events(db, org.id),
        "outbox": reports.outbox(db, org.id),
    }
