"""Activity: the outbox as a filterable, paged list (kind, status, customer, dates decided),
each action opening its exact message, the provider's reference once written, its history and
why it was decided, in words; approve, reject, retry and cancel for collectors (outbox.approval).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any
from typing import Protocol

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import confirm
from connector import pages
from connector import team
from connector import web
from connector.activity_why import explain
from core.models import Customer
from core.models import Organization
from outbox import approval
from outbox import jobs as outbox_jobs
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from outbox.rendering import rendered

bp = Blueprint("activity", __name__, url_prefix="/orgs/<int:org_id>/activity")

KINDS = (
    "reminder",
    "send_invoice",
    "note",
    "task",
    "credit_hold",
    "release_hold",
    "settle_discount",
)
RETRYABLE = (S.FAILED, S.DEAD, S.NEEDS_RECONNECT)
CANCELLABLE = (S.PLANNED, S.AWAITING_APPROVAL, S.FAILED, S.DEAD, S.NEEDS_RECONNECT)


@dataclass(frozen=True)
class Filters:
    kind: str
    status: str
    customer: str
    since: date | None
    until: date | None

    @classmethod
    def from_args(cls) -> Filters:
        args = request.args
        return cls(
            kind=args.get("kind", "") if args.get("kind", "") in KINDS else "",
            status=args.get("status", "") if args.get("status", "") in set(S) else "",
            customer=args.get("customer", "").strip(),
            since=_day(args.get("since")),
            until=_day(args.get("until")),
        )

    def apply(self, query: Select, org_id: int) -> Select:
        if self.kind:
            query = query.where(Action.kind == self.kind)
        if self.status:
            query = query.where(Action.status == self.status)
        if self.customer:
            named = select(Customer.external_id).where(
                Customer.organization_id == org_id,
                func.lower(Customer.name).contains(self.customer.lower(), autoescape=True),
            )
            query = query.where(Action.customer_external_id.in_(named))
        if self.since:
            query = query.where(Action.decided_on >= self.since)
        if self.until:
            query = query.where(Action.decided_on <= self.until)
        return query


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(
            400, f"“{text[:20]}” is not a date: use YYYY-MM-DD (the date fields do this for you)."
        )


class _ForCustomer(Protocol):
    @property
    def customer_external_id(self) -> str: ...


def names(org_id: int, rows: Iterable[_ForCustomer]) -> dict[str, str]:
    """The display name of the customer of each of `rows` (actions, tasks), by external id."""
    ids = {r.customer_external_id for r in rows}
    if not ids:
        return {}
    found = web.db().execute(
        select(Customer.external_id, Customer.name).where(
            Customer.organization_id == org_id, Customer.external_id.in_(ids)
        )
    )
    return {ext: name or ext for ext, name in found}


@bp.get("")
def listing(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    wanted = Filters.from_args()
    query = wanted.apply(select(Action).where(Action.organization_id == org_id), org_id)
    total = web.db().scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = pages.pager(int(total))
    rows = list(
        web.db().scalars(
            query.order_by(Action.updated_at.desc(), Action.id.desc())
            .limit(pager.size)
            .offset(pager.offset)
        )
    )
    return pages.render(
        "activity.html",
        org,
        "activity",
        rows=rows,
        names=names(org_id, rows),
        pager=pager,
        wanted=wanted,
        kinds=KINDS,
        statuses=list(S),
        waiting=len(approval.waiting(web.db(), org_id)),
    )


@bp.get("/<int:action_id>")
def detail(org_id: int, action_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    action = _action(org, action_id)
    events = web.db().scalars(
        select(ActionEvent).where(ActionEvent.action_id == action.id).order_by(ActionEvent.id)
    )
    return pages.render(
        "activity_action.html",
        org,
        "activity",
        action=action,
        message=rendered(web.db(), action),
        events=list(events),
        names=names(org_id, [action]),
        why=explain(action, lambda iso: _local_iso(org, iso)),
        can_retry=action.status in RETRYABLE,
        can_cancel=action.status in CANCELLABLE,
        waiting=action.status == S.AWAITING_APPROVAL,
    )


def _action(org: Organization, action_id: int) -> Action:
    action = web.db().get(Action, action_id)
    if action is None or action.organization_id != org.id:
        abort(404, f"{org.name} has no action {action_id}. The Activity page lists them all.")
    return action


def _local_iso(org: Organization, iso: str) -> str:
    try:
        return pages.local(datetime.fromisoformat(iso), org)
    except (TypeError, ValueError):
        return str(iso)


@bp.post("/<int:action_id>/approve")
def approve(org_id: int, action_id: int) -> Response:
    return change(org_id, action_id, "approve")


@bp.post("/<int:action_id>/reject")
def reject(org_id: int, action_id: int) -> Response:
    return change(org_id, action_id, "reject")


@bp.post("/<int:action_id>/retry")
def retry(org_id: int, action_id: int) -> Response:
    return change(org_id, action_id, "retry")


@bp.post("/<int:action_id>/cancel")
def cancel(org_id: int, action_id: int) -> Any:
    if not confirm.confirmed():
        org = web.current_org(org_id, need="collector")
        action = _action(org, action_id)
        who = names(org_id, [action]).get(action.customer_external_id)
        return confirm.ask(
            f"Cancel this {pages.words(action.kind)} for "
            f"{who or action.customer_external_id}? It will not be written.",
            "Yes, cancel it",
            url_for("activity.detail", org_id=org_id, action_id=action_id),
        )
    return change(org_id, action_id, "cancel")


def change(org_id: int, action_id: int, change: str) -> Response:
    org = web.current_org(org_id, need="collector")
    db, actor = web.db(), team.actor()
    try:
        if change == "approve":
            approval.decide(db, org_id, [action_id], None, actor)
        elif change == "reject":
            approval.decide(db, org_id, None, [action_id], actor)
        elif change == "retry":
            approval.retry(db, org_id, action_id, actor)
        else:
            approval.cancel(db, org_id, action_id, actor)
    except approval.NotFoundInOrganization as exc:
        abort(
            409, f"{str(exc).capitalize()}. Reload the page: someone may have changed it already."
        )
    db.commit()
    if change in ("approve", "retry"):
        outbox_jobs.request_delivery(web.job_context(), org_id)
    done = {"approve": "approved", "reject": "rejected", "retry": "retrying", "cancel": "cancelled"}
    flash(f"Action {action_id} {done[change]} by {actor}.", "success")
    return redirect(url_for("activity.detail", org_id=org.id, action_id=action_id), 303)


@bp.post("/approve-all")
def approve_all(org_id: int) -> Any:
    org = web.current_org(org_id, need="collector")
    db, actor = web.db(), team.actor()
    waiting = approval.all_waiting(db, org_id)
    if not confirm.confirmed():
        return confirm.ask(
            f"Approve all {len(waiting)} actions waiting for approval? They go out now.",
            f"Yes, approve all {len(waiting)}",
            url_for("activity.listing", org_id=org_id),
        )
    result = approval.decide(db, org_id, waiting, None, actor)
    db.commit()
    if result["approved"]:
        outbox_jobs.request_delivery(web.job_context(), org_id)
    flash(f"{len(result['approved'])} actions approved by {actor}; they go out now.", "success")
    return redirect(url_for("activity.listing", org_id=org.id), 303)
