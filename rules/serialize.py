"""JSON shapes of the rules package's rows, for the API and the CLI."""

from __future__ import annotations

from typing import Any

from outbox.models import Action
from rules.pauses.models import Dispute


def version_head(v: Any) -> dict[str, Any]:
    return {
        "number": v.number,
        "name": v.document.get("name", ""),
        "note": v.note,
        "created_by": v.created_by,
        "created_at": v.created_at.isoformat(),
        "activated_at": v.activated_at.isoformat() if v.activated_at else None,
    }


def action_json(a: Action, full: bool) -> dict[str, Any]:
    out = {
        "id": a.id,
        "kind": a.kind,
        "rule": a.rule,
        "step": a.step,
        "target": a.target,
        "period": a.period,
        "customer": a.customer_external_id,
        "status": a.status,
        "reason": a.reason,
        "rule_version": a.rule_version,
        "decided_on": a.decided_on.isoformat(),
        "scheduled_for": a.scheduled_for.isoformat(),
        "performed_at": a.performed_at.isoformat() if a.performed_at else None,
        "attempts": a.attempts,
        "key": a.key,
    }
    if full:
        out.update(
            payload=a.payload,
            explanation=a.explanation,
            subject=a.rendered_subject,
            body=a.rendered_body,
            command=a.command,
        )
    return out


def dispute_json(d: Dispute) -> dict[str, Any]:
    return {
        "id": d.id,
        "invoice": d.invoice_external_id,
        "customer": d.customer_external_id,
        "reason": d.reason,
        "note": d.note,
        "opened_on": d.opened_on.isoformat(),
        "closed_on": d.closed_on.isoformat() if d.closed_on else None,
        "resolution": d.resolution,
    }


def profile_json(row: Any) -> dict[str, Any]:
    return {
        "customer": row.customer_external_id,
        "tags": list(row.tags or []),
        "do_not_contact": bool(row.do_not_contact),
        "do_not_contact_reason": row.do_not_contact_reason or "",
        "credit_hold": bool(row.credit_hold),
        "credit_hold_reason": row.credit_hold_reason or "",
        "credit_hold_source": row.credit_hold_source or "manual",
        "owner": row.owner or "",
    }
