"""The outbox page: what is waiting for approval, what needs attention (failed, dead letters,
waiting for a reconnect), what went out recently, and each action's message and history.
"Run now" evaluates the organization at once instead of at its next local morning."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import confirm
from connector import pages
from connector import web
from connector.api_input import ROW_ID
from core.models import Customer
from core.models import Organization
from core.models import OrgStatus
from outbox import approval
from outbox import jobs as outbox_jobs
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from outbox.rendering import rendered
from rules.jobs import request_run

bp = Blueprint("outbox_page", __name__)

RECENT_ROWS = 50
ATTENTION = (S.FAILED, S.DEAD, S.NEEDS_RECONNECT)


@bp.get("/orgs/<int:org_id>/outbox")
def page(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    db = web.db()
    held = approval.waiting(db, org_id)
    attention = list(
        db.scalars(
            select(Action)
            .where(Action.organization_id == org_id, Action.status.in_(ATTENTION))
            .order_by(Action.updated_at.desc())
        )
    )
    recent = list(
        db.scalars(
            select(Action)
            .where(Action.organization_id == org_id)
            .order_by(Action.updated_at.desc(), Action.id.desc())
            .limit(RECENT_ROWS)
        )
    )
    names = _names(org_id, held + attention + recent)
    groups: dict[str, list[tuple[Action, Any]]] = {}
    for action in held:
        name = names.get(action.customer_external_id, action.customer_external_id)
        groups.setdefault(name, []).append((action, rendered(db, action)))
    return render_template(
        "outbox.html",
        org=org,
        held=held,
        held_by_customer=sorted(groups.items()),
        attention=attention,
        recent=recent,
        names=names,
        local=lambda instant: _local(org, instant),
    )


@bp.get(f"/orgs/<int:org_id>/outbox/<{ROW_ID}:action_id>")
def detail(org_id: int, action_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    db = web.db()
    action = _action(org, action_id)
    events = db.scalars(
        select(ActionEvent).where(ActionEvent.action_id == action_id).order_by(ActionEvent.id)
    )
    return render_template(
        "outbox_action.html",
        org=org,
        action=action,
        message=rendered(db, action),
        events=list(events),
        names=_names(org_id, [action]),
        local=lambda instant: _local(org, instant),
    )


@bp.post("/orgs/<int:org_id>/outbox/approvals")
def decide(org_id: int) -> Response:
    org = web.current_org(org_id, need="collector")
    db = web.db()
    chosen = [int(v) for v in request.form.getlist("action") if v.isdigit()]
    decision = request.form.get("decision", "")
    if decision == "approve-all":
        approve, reject = approval.all_waiting(db, org_id), None
    elif decision == "approve":
        approve, reject = chosen, None
    elif decision == "reject":
        approve, reject = None, chosen
    else:
        abort(400, "Choose Approve selected, Approve all or Reject selected.")
    if decision != "approve-all" and not chosen:
        flash("Tick the actions to approve or reject first.", "warning")
        return redirect(url_for("outbox_page.page", org_id=org_id))
    try:
        result = approval.decide(db, org_id, approve, reject, web.actor())
    except approval.NotFoundInOrganization as exc:
        abort(409, f"{exc}. Reload the page: someone may have decided them already.")
    db.commit()
    if result["approved"]:
        outbox_jobs.request_delivery(web.job_context(), org_id)
    flash(
        f"{len(result['approved'])} approved and on their way, "
        f"{len(result['rejected'])} rejected, for {org.name}.",
        "success",
    )
    return redirect(url_for("outbox_page.page", org_id=org_id))


@bp.post(f"/orgs/<int:org_id>/outbox/<{ROW_ID}:action_id>/retry")
def retry(org_id: int, action_id: int) -> Response:
    return _change(org_id, action_id, "retry")


@bp.post(f"/orgs/<int:org_id>/outbox/<{ROW_ID}:action_id>/cancel")
def cancel(org_id: int, action_id: int) -> Any:
    if not confirm.confirmed():
        org = web.current_org(org_id, need="collector")
        action = _action(org, action_id)
        who = _names(org_id, [action]).get(action.customer_external_id)
        return confirm.ask(
            f"Cancel this {pages.words(action.kind)} for "
            f"{who or action.customer_external_id}? It will not be written.",
            "Yes, cancel it",
            url_for("outbox_page.detail", org_id=org_id, action_id=action_id),
        )
    return _change(org_id, action_id, "cancel")


def _action(org: Organization, action_id: int) -> Action:
    action = web.db().get(Action, action_id)
    if action is None or action.organization_id != org.id:
        abort(404, f"There is no action {action_id} in {org.name}.")
    return action


def _change(org_id: int, action_id: int, change: str) -> Response:
    web.current_org(org_id, need="collector")
    db = web.db()
    try:
        if change == "retry":
            approval.retry(db, org_id, action_id, web.actor())
        else:
            approval.cancel(db, org_id, action_id, web.actor())
    except approval.NotFoundInOrganization as exc:
        abort(409, f"{exc}. Reload the page to see where it stands.")
    db.commit()
    if change == "retry":
        outbox_jobs.request_delivery(web.job_context(), org_id)
    flash(f"Action {action_id}: {'retrying' if change == 'retry' else 'cancelled'}.", "success")
    return redirect(url_for("outbox_page.detail", org_id=org_id, action_id=action_id))


@bp.post("/orgs/<int:org_id>/run-now")
def run_now(org_id: int) -> Response:
    org = web.current_org(org_id, need="collector")
    if org.status != OrgStatus.CONNECTED:
        flash(f"{org.name} is not connected; reconnect it first.", "warning")
    else:
        request_run(web.redis(), org_id)
        flash(
            f"{org.name} is being evaluated now; new actions appear here in a few seconds.",
            "success",
        )
    return redirect(url_for("outbox_page.page", org_id=org_id))


def _names(org_id: int, actions: list[Action]) -> dict[str, str]:
    ids = {a.customer_external_id for a in actions}
    if not ids:
        return {}
    rows = web.db().execute(
        select(Customer.external_id, Customer.name).where(
            Customer.organization_id == org_id, Customer.external_id.in_(ids)
        )
    )
    return {ext: name or ext for ext, name in rows}


def _local(org: Organization, instant: datetime | None) -> str:
    if instant is None:
        return ""
    return instant.astimezone(ZoneInfo(org.timezone or "UTC")).strftime("%Y-%m-%d %H:%M %Z")
