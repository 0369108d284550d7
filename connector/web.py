"""Per-request plumbing: the settings, a database session, Redis, and the signed-in organizations.

A browser signs in by connecting an organization through OAuth; the organizations it connected
are kept in its (signed) session cookie. Every query the admin page and the API make is scoped
to one of those organizations through `current_org()`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import abort
from flask import current_app
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask import session
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import JobContext
from core.db import make_engine
from core.db import make_session_factory
from core.models import Organization
from core.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    app.extensions["dunwell"] = {
        "settings": settings,
        "engine": engine,
        "sessions": make_session_factory(engine),
        "redis": Redis.from_url(settings.redis_url),
    }
    app.teardown_appcontext(_close_session)


def job_context() -> JobContext:
    ext = current_app.extensions["dunwell"]
    return JobContext(settings=ext["settings"], sessions=ext["sessions"], redis=ext["redis"])


def settings() -> Settings:
    return current_app.extensions["dunwell"]["settings"]


def redis() -> Redis:
    return current_app.extensions["dunwell"]["redis"]


def db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["dunwell"]["sessions"]()
    return g.db


def _close_session(exc: BaseException | None) -> None:
    session_ = g.pop("db", None)
    if session_ is not None:
        if exc is not None:
            session_.rollback()
        session_.close()


def signed_in_org_ids() -> list[int]:
    return [int(i) for i in session.get("org_ids", [])]


def sign_in(org_ids: list[int]) -> None:
    session["org_ids"] = sorted(set(signed_in_org_ids()) | set(org_ids))
    session.permanent = True


def sign_out(org_id: int) -> None:
    session["org_ids"] = [i for i in signed_in_org_ids() if i != org_id]


def signed_in_orgs() -> list[Organization]:
    ids = signed_in_org_ids()
    if not ids:
        return []
    rows = db().scalars(
        select(Organization).where(Organization.id.in_(ids)).order_by(Organization.id)
    )
    return list(rows)


def current_org(org_id: int) -> Organization:
    """The organization `org_id`, if this browser signed in to it; 404 otherwise (no leak)."""
    if org_id not in signed_in_org_ids():
        abort(404, "No such organization here. Connect it first from the Dunwell home page.")
    org = db().get(Organization, org_id)
    if org is None:
        abort(404, "No such organization here. Connect it first from the Dunwell home page.")
    return org


def wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path.startswith("/webhooks/")
        or (request.accept_mimetypes.best == "application/json")
    )


def error_response(status: int, message: str) -> Any:
    if wants_json():
        return jsonify(error=message, status=status), status
    return render_template("error.html", status=status, message=message), status
