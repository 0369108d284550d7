"""The rules JSON API, under /api/orgs/<org_id>/: rule sets (versions, validate, import, export,
preview, backtest), the outbox, pauses and customer state.

Every route is scoped through current_org(); POSTs need the CSRF token in X-CSRFToken (fetch it
from GET .../rules/csrf). Input is read through connector.api_input; invalid input answers 422
with `errors` mapping each field path to its problem. GET /api/openapi.json describes it all.
"""

from __future__ import annotations

import hashlib
from datetime import date
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import abort
from flask import jsonify
from flask import request
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from connector import web
from connector.api_input import ROW_ID
from connector.api_input import ActionsQuery
from connector.api_input import ExportQuery
from connector.api_input import customer_id
from connector.api_input import date_field
from connector.api_input import json_object
from connector.api_input import query
from connector.api_input import version_number
from core import queues
from core.db import utcnow
from core.invalid import InputInvalid
from core.models import Organization
from outbox.models import Action
from rules.analysis.backtest import load_history
from rules.analysis.backtest import replay
from rules.analysis.preview import preview
from rules.engine.timing import local_date
from rules.jobs import request_run
from rules.pauses import schemas as shapes
from rules.pauses import store as pauses_store
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PromiseToPay
from rules.ruleset import store
from rules.ruleset.book import RuleBook
from rules.ruleset.defaults import starter
from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document
from rules.serialize import action_json
from rules.serialize import dispute_json
from rules.serialize import profile_json
from rules.serialize import version_head

bp = Blueprint("rules_api", __name__, url_prefix="/api/orgs/<int:org_id>")

MAX_BACKTEST_MONTHS = 36


@bp.errorhandler(InputInvalid)
def _invalid(exc: InputInvalid):
    return jsonify(error="The input is not valid.", errors=exc.errors, status=422), 422


@bp.errorhandler(store.NoSuchVersion)
def _no_version(exc: store.NoSuchVersion):
    return web.error_response(404, str(exc))


def _today(org: Organization) -> date:
    return local_date(utcnow(), org.timezone)


def _reevaluate(org_id: int, customer: str) -> None:
    """A pause or state changed: evaluate that customer again soon."""
    queues.enqueue_once(
        web.redis(),
        queues.RULES,
        "rules.jobs.evaluate_customers",
        org_id,
        [customer],
        job_id=f"rules-customer-{org_id}-{hashlib.sha1(customer.encode()).hexdigest()[:16]}",
    )


# ---------------------------------------------------------------- rule sets


@bp.get("/rules/csrf")
def csrf_token(org_id: int):
    web.current_org(org_id, need="viewer")
    return jsonify(csrf_token=generate_csrf())


@bp.get("/rules")
def rule_set(org_id: int):
    web.current_org(org_id, need="viewer")
    owner = store.rule_set(web.db(), org_id)
    if owner is None:
        return jsonify(active=None, versions=[], first_activated_at=None)
    return jsonify(
        active=owner.active_number,
        name=owner.name,
        first_activated_at=owner.first_activated_at.isoformat()
        if owner.first_activated_at
        else None,
        versions=[version_head(v) for v in owner.versions],
    )


@bp.get("/rules/starter")
def starter_document(org_id: int):
    web.current_org(org_id, need="viewer")
    return jsonify(starter())


@bp.post("/rules/validate")
@web.read_only
def validate(org_id: int):
    web.current_org(org_id, need="admin")
    data = json_object()
    document = validate_document(store.unwrap(data.get("document", data)))
    return jsonify(valid=True, document=document)


@bp.post("/rules/versions")
def save(org_id: int):
    web.current_org(org_id, need="admin")
    data = json_object()
    if "document" not in data:
        raise RuleSetInvalid({"document": "is required"})
    activate, note = data.get("activate", False), data.get("note", "")
    if not isinstance(activate, bool):
        raise InputInvalid({"activate": "must be true or false"})
    if not isinstance(note, str) or len(note) > 2000:
        raise InputInvalid({"note": "must be text of at most 2,000 characters"})
    version = store.save_version(
        web.db(),
        org_id,
        data["document"],
        activate=activate,
        note=note,
        created_by=web.actor(),
    )
    web.db().commit()
    return jsonify({**version_head(version), "document": version.document}), 201


@bp.get(f"/rules/versions/<{ROW_ID}:number>")
def version(org_id: int, number: int):
    web.current_org(org_id, need="viewer")
    found = store.get_version(web.db(), org_id, number)
    return jsonify({**version_head(found), "document": found.document})


@bp.post(f"/rules/versions/<{ROW_ID}:number>/activate")
def activate(org_id: int, number: int):
    web.current_org(org_id, need="admin")
    found = store.activate_version(web.db(), org_id, number)
    web.db().commit()
    return jsonify({**version_head(found), "active": number})


@bp.get("/rules/export")
def export(org_id: int):
    web.current_org(org_id, need="viewer")
    number = query(ExportQuery()).get("version")
    found = (
        store.get_version(web.db(), org_id, number)
        if number is not None
        else store.active_version(web.db(), org_id)
    )
    if found is None:
        return web.error_response(404, "No active rule set to export; name a version.")
    return jsonify(store.export_version(found))


@bp.post("/rules/import")
def import_rules(org_id: int):
    web.current_org(org_id, need="admin")
    flag = request.args.get("activate", "0")
    if flag not in ("0", "1", "true", "yes"):
        raise InputInvalid({"activate": 'must be "1", "true" or "yes" (or "0", the default)'})
    activate_now = flag != "0"
    found = store.import_document(
        web.db(), org_id, json_object(), activate=activate_now, created_by=web.actor()
    )
    web.db().commit()
    return jsonify({**version_head(found), "document": found.document}), 201


def _book(org_id: int, data: dict[str, Any]) -> RuleBook:
    """The draft in the body, a named version, or the active rule set."""
    if data.get("document") is not None:
        return store.draft_book(store.unwrap(data["document"]))
    if data.get("version") is not None:
        number = version_number(data["version"])
        return store.book_for(store.get_version(web.db(), org_id, number))
    active = store.active_book(web.db(), org_id)
    if active is None:
        raise RuleSetInvalid(
            {"version": "there is no active rule set: send a document or a version"}
        )
    return active[0]


@bp.post("/rules/preview")
@web.read_only
def preview_rules(org_id: int):
    org = web.current_org(org_id, need="admin")
    data = json_object()
    book = _book(org_id, data)
    as_of = date_field(data, "as_of", _today(org))
    result = preview(
        web.db(),
        org,
        book,
        utcnow(),
        store.rules_since(web.db(), org),
        as_of,
        web.deadline("preview"),
    )
    return jsonify(result)


@bp.post("/rules/backtest")
@web.read_only
def backtest_rules(org_id: int):
    org = web.current_org(org_id, need="admin")
    data = json_object()
    book = _book(org_id, data)
    months = data.get("months", 3)
    if isinstance(months, bool) or not isinstance(months, int):
        months = 0
    if not 1 <= months <= MAX_BACKTEST_MONTHS:
        raise InputInvalid({"months": f"must be a whole number from 1 to {MAX_BACKTEST_MONTHS}"})
    end = date_field(data, "end", _today(org))
    start = end - timedelta(days=30 * months)
    history = load_history(web.db(), org, start)
    web.done_reading()
    return jsonify(replay(history, book, start, end, web.deadline("backtest")))


# ---------------------------------------------------------------- the outbox


@bp.get("/actions")
def actions(org_id: int):
    web.current_org(org_id, need="viewer")
    args = query(ActionsQuery())
    listing = select(Action).where(Action.organization_id == org_id)
    for arg, column in (
        ("status", Action.status),
        ("customer", Action.customer_external_id),
        ("kind", Action.kind),
    ):
        if args.get(arg):
            listing = listing.where(column == args[arg])
    if args.get("before"):
        listing = listing.where(Action.id < args["before"])
    rows = web.db().scalars(listing.order_by(Action.id.desc()).limit(args["limit"])).all()
    return jsonify(actions=[action_json(a, full=False) for a in rows])


@bp.get(f"/actions/<{ROW_ID}:action_id>")
def action(org_id: int, action_id: int):
    web.current_org(org_id, need="viewer")
    found = web.db().get(Action, action_id)
    if found is None or found.organization_id != org_id:
        return web.error_response(404, "No such action.")
    return jsonify(action_json(found, full=True))


@bp.post("/evaluate")
def evaluate_now(org_id: int):
    web.current_org(org_id, need="admin")
    return jsonify(queued=request_run(web.redis(), org_id)), 202


# ---------------------------------------------------------------- pauses and customer state


@bp.post("/disputes")
def open_dispute(org_id: int):
    org = web.current_org(org_id, need="collector")
    data = shapes.load(shapes.DisputeIn(), json_object())
    dispute = pauses_store.open_dispute(web.db(), org_id, data, _today(org))
    web.db().commit()
    _reevaluate(org_id, dispute.customer_external_id)
    return jsonify(dispute_json(dispute)), 201


@bp.post(f"/disputes/<{ROW_ID}:dispute_id>/close")
def close_dispute(org_id: int, dispute_id: int):
    org = web.current_org(org_id, need="collector")
    dispute = _owned(Dispute, dispute_id, org_id)
    pauses_store.close_dispute(
        dispute, shapes.load(shapes.DisputeClose(), json_object()), _today(org)
    )
    web.db().commit()
    _reevaluate(org_id, dispute.customer_external_id)
    return jsonify(dispute_json(dispute))


@bp.get("/disputes")
def disputes(org_id: int):
    web.current_org(org_id, need="viewer")
    query = select(Dispute).where(Dispute.organization_id == org_id)
    if request.args.get("open") in ("1", "true"):
        query = query.where(Dispute.closed_on.is_(None))
    return jsonify(disputes=[dispute_json(d) for d in web.db().scalars(query.order_by(Dispute.id))])


def _owned(model: Any, row_id: int, org_id: int) -> Any:
    row = web.db().get(model, row_id)
    if row is None or row.organization_id != org_id:
        abort(404, f"No such {model.__tablename__.replace('_', ' ')}.")
    return row


@bp.post("/promises")
def add_promise(org_id: int):
    org = web.current_org(org_id, need="collector")
    data = shapes.load(shapes.PromiseIn(), json_object())
    promise = pauses_store.add_promise(web.db(), org_id, data, _today(org))
    web.db().commit()
    _reevaluate(org_id, promise.customer_external_id)
    return jsonify(
        id=promise.id, until=promise.until.isoformat(), balance=str(promise.balance_at_promise)
    ), 201


@bp.post(f"/promises/<{ROW_ID}:promise_id>/cancel")
def cancel_promise(org_id: int, promise_id: int):
    return _cancel(PromiseToPay, promise_id, org_id)


@bp.post("/payment-plans")
def add_plan(org_id: int):
    org = web.current_org(org_id, need="collector")
    data = shapes.load(shapes.PlanIn(), json_object())
    plan = pauses_store.add_plan(web.db(), org_id, data, _today(org))
    web.db().commit()
    _reevaluate(org_id, plan.customer_external_id)
    return jsonify(
        id=plan.id, start_balance=str(plan.start_balance), instalments=len(plan.instalments)
    ), 201


@bp.post(f"/payment-plans/<{ROW_ID}:plan_id>/cancel")
def cancel_plan(org_id: int, plan_id: int):
    return _cancel(PaymentPlan, plan_id, org_id)


def _cancel(model: Any, row_id: int, org_id: int):
    """Cancel a promise or a plan (idempotent) and let dunning look at the customer again."""
    org = web.current_org(org_id, need="collector")
    row = _owned(model, row_id, org_id)
    row.cancelled_on = row.cancelled_on or _today(org)
    web.db().commit()
    _reevaluate(org_id, row.customer_external_id)
    return jsonify(id=row.id, cancelled_on=row.cancelled_on.isoformat())


@bp.put("/customers/<customer>/profile")
def put_profile(org_id: int, customer: str):
    web.current_org(org_id, need="collector")
    data = shapes.load(shapes.ProfileIn(), json_object())
    row = pauses_store.update_profile(web.db(), org_id, customer_id(customer), data)
    web.db().commit()
    _reevaluate(org_id, customer)
    return jsonify(profile_json(row))


@bp.get("/customers/<customer>/profile")
def get_profile(org_id: int, customer: str):
    web.current_org(org_id, need="viewer")
    return jsonify(profile_json(pauses_store.profile(web.db(), org_id, customer_id(customer))))
