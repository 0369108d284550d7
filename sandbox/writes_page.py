"""`/_sandbox/writes`: the writes the sandbox received, as JSON and as a page.

GET    /_sandbox/writes?provider=quickbooks|xero&tenant=<id>&since=<seq>   {"writes": [...]}
DELETE /_sandbox/writes                                                   forget them all
GET    /_sandbox/writes/page?provider=&tenant=                           the same, for people
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from sandbox.quickbooks.state import EXTENSION as QBO_EXTENSION
from sandbox.writes import EXTENSION
from sandbox.writes import WriteLog
from sandbox.xero import get_sandbox

bp = Blueprint("sandbox_writes", __name__, template_folder="templates")
PROVIDERS = ("quickbooks", "xero")


def _log() -> WriteLog:
    return current_app.extensions[EXTENSION]


def _filters() -> tuple[str | None, str | None, int] | str:
    """(provider, tenant, since) from the query string, or the problem with it."""
    provider = request.args.get("provider") or None
    if provider is not None and provider not in PROVIDERS:
        return f"provider must be one of {PROVIDERS}"
    since = request.args.get("since", "0")
    if not since.isdigit():
        return "since must be a write's seq (a whole number)"
    return provider, request.args.get("tenant") or None, int(since)


@bp.get("/_sandbox/writes")
def writes() -> tuple[Response, int]:
    filters = _filters()
    if isinstance(filters, str):
        return jsonify(error=filters), 400
    return jsonify(writes=_log().entries(*filters)), 200


@bp.delete("/_sandbox/writes")
def forget() -> Response:
    _log().clear()
    return jsonify(writes=[])


@bp.get("/_sandbox/writes/page")
def page() -> tuple[str, int]:
    filters = _filters()
    if isinstance(filters, str):
        return render_template("sandbox_writes.html", rows=[], problem=filters, names={}), 400
    rows = list(reversed(_log().entries(*filters)))
    for row in rows:
        row["body_text"] = _pretty(row["body"])
    return render_template("sandbox_writes.html", rows=rows, problem=None, names=_names()), 200


def _pretty(body: Any) -> str:
    if body is None:
        return ""
    return body if isinstance(body, str) else json.dumps(body, indent=2, default=str)


def _names() -> dict[str, str]:
    """Organization names by tenant id (lower case), for people reading the page."""
    names = {
        realm.lower(): company.name
        for realm, company in current_app.extensions[QBO_EXTENSION].store.companies.items()
    }
    xero = get_sandbox(current_app).store(current_app.config.get("SANDBOX_TODAY")).ledgers
    names.update({tenant.lower(): ledger.org.name for tenant, ledger in xero.items()})
    return names
