"""The rules page: where the rules stand (the active version, the drafts), the way into the
editor's forms (connector.policy_page), and, as "advanced", the rule set as a JSON document.

In the JSON view: check it, preview what it would do today, and save it as a new version
(optionally active). Every problem is shown against the field it concerns; nothing is saved
unless it is valid.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import web
from core.db import utcnow
from core.deadline import TimeLimitExceeded
from core.models import Customer
from policy import drafts
from rules.analysis.preview import preview
from rules.engine.timing import local_date
from rules.ruleset import store
from rules.ruleset.defaults import starter
from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document

bp = Blueprint("rules_page", __name__)

PREVIEW_ROWS = 25


@bp.get("/orgs/<int:org_id>/rules")
def page(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    shown = request.args.get("version", type=int)
    if shown is not None:
        try:
            document = store.get_version(web.db(), org_id, shown).document
        except store.NoSuchVersion:
            abort(404, f"There is no version {shown} of the rules.")
    else:
        active = store.active_version(web.db(), org_id)
        document = active.document if active is not None else starter()
    return _render(org, _pretty(document))


@bp.post("/orgs/<int:org_id>/rules")
def submit(org_id: int) -> Any:
    action = request.form.get("action", "check")
    if action != "save":
        web.read_only_request()
    org = web.current_org(org_id, need="admin")
    text = request.form.get("document", "")
    try:
        document = _parse(text)
        if action == "save":
            return _save(org_id, document)
        if action == "preview":
            return _render(org, text, result=_preview(org, document))
        validate_document(document)
    except RuleSetInvalid as exc:
        return _render(org, text, errors=exc.errors), 422
    except TimeLimitExceeded as exc:
        return _render(org, text, errors={"preview": str(exc)}), 422
    flash("The rule set is valid.", "success")
    return _render(org, text)


def _parse(text: str) -> Any:
    try:
        return store.unwrap(json.loads(text))
    except json.JSONDecodeError as exc:
        raise RuleSetInvalid(
            {"document": f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"}
        ) from None


def _save(org_id: int, document: Any) -> Response:
    activate = request.form.get("activate") == "on"
    note = request.form.get("note", "")[:2000]
    version = store.save_version(
        web.db(), org_id, document, activate=activate, note=note, created_by=web.actor()
    )
    web.db().commit()
    state = "saved and active" if activate else "saved (not active yet)"
    flash(f"Version {version.number} {state}.", "success")
    return redirect(url_for("rules_page.page", org_id=org_id))


def _preview(org: Any, document: Any) -> dict[str, Any]:
    book = store.draft_book(document)
    owner = store.rule_set(web.db(), org.id)
    since = None
    if owner is not None and owner.first_activated_at is not None:
        since = local_date(owner.first_activated_at, org.timezone)
    return preview(web.db(), org, book, utcnow(), since, deadline=web.deadline("preview"))


def _customer_names(org_id: int, result: Any) -> dict[str, str]:
    if not result:
        return {}
    ids = {d["customer"] for d in result["decisions"][:PREVIEW_ROWS]}
    ids |= {q["customer"] for q in result.get("queued", [])[:PREVIEW_ROWS]}
    rows = web.db().execute(
        select(Customer.external_id, Customer.name).where(
            Customer.organization_id == org_id, Customer.external_id.in_(ids)
        )
    )
    return dict(rows.all())


def _render(org: Any, text: str, errors: dict[str, str] | None = None, result: Any = None) -> str:
    owner = store.rule_set(web.db(), org.id)
    return render_template(
        "rules.html",
        org=org,
        document=text,
        errors=sorted((errors or {}).items()),
        versions=drafts.versions(web.db(), org.id),
        active=owner.active_number if owner else None,
        result=result,
        names=_customer_names(org.id, result),
        preview_rows=PREVIEW_ROWS,
    )


def _pretty(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)
