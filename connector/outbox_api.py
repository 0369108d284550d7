"""The outbox's JSON API, under /api/orgs/<org_id>/: approvals, retry and cancel of one action,
and an action's history. ("Run now" is the rules API's `POST .../evaluate`.)

Like the rules API: scoped through current_org(), POSTs need the CSRF token in X-CSRFToken, and
bad input answers 4xx with a message naming the field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import jsonify
from sqlalchemy import select

from connector import web
from connector.api_input import MAX_ROW_ID
from connector.api_input import ROW_ID
from connector.api_input import json_object
from core.invalid import InputInvalid
from outbox import approval
from outbox import jobs as outbox_jobs
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.rendering import rendered
from rules.serialize import action_json

bp = Blueprint("outbox_api", __name__, url_prefix="/api/orgs/<int:org_id>")


@bp.errorhandler(approval.NotFoundInOrganization)
def _not_found(exc: approval.NotFoundInOrganization):
    return web.error_response(404, str(exc))


def _ids(org_id: int, data: dict[str, Any], field: str) -> list[int] | None:
    """A list of action ids, "all", or the field left out; anything else (null included) is a
    422 naming the field."""
    if field not in data:
        return None
    value = data[field]
    if value == "all":
        return approval.all_waiting(web.db(), org_id)
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_ROW_ID for v in value
    ):
        raise _Invalid(field, 'a list of action ids, or "all"')
    return value


def _Invalid(field: str, expected: str) -> InputInvalid:  # noqa: N802 - raised like a class
    return InputInvalid({field: f"expected {expected}"})


@bp.errorhandler(InputInvalid)
def _invalid(exc: InputInvalid):
    return jsonify(error="The input is not valid.", errors=exc.errors, status=422), 422


@bp.get("/approvals")
def waiting(org_id: int):
    web.current_org(org_id, need="viewer")
    db = web.db()
    out = []
    for action in approval.waiting(db, org_id):
        item = action_json(action, full=True)
        message = rendered(db, action)
        if message is not None:
            item["message"] = vars(message)
        out.append(item)
    return jsonify(actions=out)


@bp.post("/approvals")
def decide(org_id: int):
    web.current_org(org_id, need="collector")
    data = json_object()
    approve, reject = _ids(org_id, data, "approve"), _ids(org_id, data, "reject")
    if approve is None and reject is None:
        raise _Invalid("approve", 'a list of action ids or "all" (or "reject")')
    try:
        result = approval.decide(web.db(), org_id, approve, reject, web.actor())
    except ValueError as exc:
        if isinstance(exc, approval.NotFoundInOrganization):
            raise
        raise _Invalid("reject", str(exc)) from exc
    web.db().commit()
    if result["approved"]:
        outbox_jobs.request_delivery(web.job_context(), org_id)
    return jsonify(result)


@bp.post(f"/actions/<{ROW_ID}:action_id>/retry")
def retry(org_id: int, action_id: int):
    web.current_org(org_id, need="collector")
    action = approval.retry(web.db(), org_id, action_id, web.actor())
    web.db().commit()
    outbox_jobs.request_delivery(web.job_context(), org_id)
    return jsonify(action_json(action, full=False))


@bp.post(f"/actions/<{ROW_ID}:action_id>/cancel")
def cancel(org_id: int, action_id: int):
    web.current_org(org_id, need="collector")
    action = approval.cancel(web.db(), org_id, action_id, web.actor())
    web.db().commit()
    return jsonify(action_json(action, full=False))


@bp.get(f"/actions/<{ROW_ID}:action_id>/history")
def history(org_id: int, action_id: int):
    web.current_org(org_id, need="viewer")
    db = web.db()
    action = db.get(Action, action_id)
    if action is None or action.organization_id != org_id:
        return web.error_response(404, f"no action {action_id} in this organization")
    events = db.scalars(
        select(ActionEvent).where(ActionEvent.action_id == action_id).order_by(ActionEvent.id)
    )
    return jsonify(
        action=action_json(action, full=True),
        history=[
            {
                "at": e.at.isoformat(),
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in events
        ],
    )
