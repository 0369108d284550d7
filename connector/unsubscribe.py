"""`/unsubscribe/<token>`: a reminder's recipient asks the business to stop.

GET shows a one-button confirmation; POST records the wish as the customer's do-not-contact,
through the same code path as the API (rules.pauses.store.update_profile). Mail clients that
offer "unsubscribe" themselves send the RFC 8058 one-click POST, which carries no CSRF token:
this blueprint is exempt from CSRF because the signed token is its authority. A link that was
altered or cut short gets a page that says so (400), one whose organization is gone a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import make_response
from flask import render_template
from flask import request
from sqlalchemy import select

from connector import web
from core.db import utcnow
from core.models import Customer
from core.models import Organization
from outbox.email.unsubscribe import InvalidToken
from outbox.email.unsubscribe import read_token
from rules.engine.timing import local_date
from rules.models import CustomerProfile
from rules.pauses.store import update_profile

bp = Blueprint("unsubscribe", __name__)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    try:
        org_id, customer = read_token(web.settings().secret_key, token)
    except InvalidToken:
        return _page("invalid", 400)
    db = web.db()
    org = db.get(Organization, org_id)
    if org is None:
        return _page("unknown", 404)
    stopped = _stopped(org_id, customer)
    if request.method == "POST" and not stopped:
        day = local_date(utcnow(), org.timezone).isoformat()
        reason = f"asked to stop by email on {day}"
        update_profile(
            db, org_id, customer, {"do_not_contact": True, "do_not_contact_reason": reason}
        )
        db.commit()
        stopped = True
    state = "done" if stopped else "confirm"
    return _page(state, 200, business=org.name, customer=_name(org_id, customer), token=token)


def _stopped(org_id: int, external_id: str) -> bool:
    query = select(CustomerProfile.do_not_contact).where(
        CustomerProfile.organization_id == org_id,
        CustomerProfile.customer_external_id == external_id,
    )
    return bool(web.db().scalar(query))


def _name(org_id: int, external_id: str) -> str:
    query = select(Customer.name).where(
        Customer.organization_id == org_id, Customer.external_id == external_id
    )
    return web.db().scalar(query) or ""


def _page(state: str, status: int, **context: Any) -> Any:
    response = make_response(render_template("unsubscribe.html", state=state, **context))
    response.status_code = status
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
