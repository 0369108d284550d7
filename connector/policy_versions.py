"""Versions of the rules: the list (author, note, date, active), a readable diff between any
two, activating any one (rolling back is activating an older one), and the written collection
policy of a version as a page and a PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from connector import confirm
from connector import pages
from connector import web
from policy import drafts
from policy import written as written_policy
from policy.diff import diff
from policy.pdf import pdf_from_html
from rules.ruleset import store

bp = Blueprint("policy_versions", __name__, url_prefix="/orgs/<int:org_id>/rules")


def _version(org_id: int, number: int) -> Any:
    try:
        return store.get_version(web.db(), org_id, number)
    except store.NoSuchVersion:
        abort(404, f"There is no version {number} of the rules.")


def _number(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/versions")
def listing(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    rows = drafts.versions(web.db(), org_id)
    active = next((r.number for r in rows if r.active), None)
    a, b = _number("a"), _number("b")
    if b is not None and a is None:
        a = active if active != b else None
    changes = None
    if a is not None and b is not None:
        changes = diff(_version(org_id, a).document, _version(org_id, b).document)
    return pages.render(
        "policy/versions.html",
        org,
        "rules",
        rows=rows,
        active=active,
        a=a,
        b=b,
        changes=changes,
        can_edit=web.role_in(org.id) == "admin",
    )


@bp.post("/versions/<int:number>/activate")
def activate(org_id: int, number: int) -> Any:
    web.current_org(org_id, need="admin")
    version = _version(org_id, number)
    if not confirm.confirmed():
        draft = "draft " if version.rule_set.active_number != number else ""
        return confirm.ask(
            f"Activate {draft}version {number}? The next run uses it.",
            f"Yes, activate version {number}",
            url_for("policy_versions.listing", org_id=org_id),
        )
    store.activate_version(web.db(), org_id, number)
    web.db().commit()
    flash(f"Version {number} is active: the next run uses it.", "success")
    return redirect(url_for("policy_versions.listing", org_id=org_id))


def _written_version(org_id: int) -> Any:
    number = _number("version")
    if number is not None:
        return _version(org_id, number)
    active = store.active_version(web.db(), org_id)
    if active is None:
        abort(404, "No rule set is active yet, so there is no written policy to show.")
    return active


@bp.get("/written")
def written(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    version = _written_version(org_id)
    return pages.render(
        "policy/written.html",
        org,
        "rules",
        version=version,
        active=version.rule_set.active_number == version.number,
        sections=written_policy.sections(version.document),
    )


@bp.get("/written.pdf")
def written_pdf(org_id: int) -> Response:
    org = web.current_org(org_id, need="viewer")
    version = _written_version(org_id)
    html = render_template(
        "policy/written_pdf.html",
        org=org,
        version=version,
        active=version.rule_set.active_number == version.number,
        sections=written_policy.sections(version.document),
        today=pages.today(org),
    )
    name = f"collection-policy-v{version.number}.pdf"
    web.done_reading()
    return Response(
        pdf_from_html(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
