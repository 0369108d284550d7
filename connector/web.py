"""Per-request plumbing: the settings, a database session, Redis, and the signed-in organizations.

A browser signs in by connecting an organization through OAuth; the organizations it may see are
rows beside its server-side session (core.web_sessions). Every organization-scoped route and
query goes through `current_org()`, which answers 404 for any organization this session may not
see, exactly as for one that does not exist.

The request's database session reads without a write lock on GET and HEAD, and takes the write
lock up front on other methods (see core.db). A POST that only reads says so with
`@read_only` (or `read_only_request()` before its first query); a GET that writes, with `@writes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import TypeVar

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

from connector.sessions import ServerSession
from connector.sessions import ServerSessionInterface
from core import web_sessions
from core.context import JobContext
from core.db import make_engine
from core.db import make_session_factory
from core.db import utcnow
from core.deadline import Deadline
from core.models import Organization
from core.settings import Settings
from core.web_sessions import WebSessionOrg

View = TypeVar("View", bound=Callable[..., Any])
NOT_HERE = "No such organization here. Connect it first from the Dunwell home page."
_READ_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    writes = make_session_factory(engine)
    reads = make_session_factory(engine, read_only=True)
    app.extensions["dunwell"] = {
        "settings": settings,
        "engine": engine,
        "sessions": writes,
        "read_sessions": reads,
        "redis": Redis.from_url(settings.redis_url),
    }
    app.session_interface = ServerSessionInterface(
        reads, writes, secure=settings.public_url.startswith("https://")
    )
    # Registered first, so it runs last of the after-request hooks, before the session is saved:
    # the view's transaction (and on SQLite its lock) must be over by then.
    app.after_request(_end_transaction)
    app.teardown_appcontext(_close_session)


def job_context() -> JobContext:
    ext = current_app.extensions["dunwell"]
    return JobContext(settings=ext["settings"], sessions=ext["sessions"], redis=ext["redis"])


def settings() -> Settings:
    return current_app.extensions["dunwell"]["settings"]


def redis() -> Redis:
    return current_app.extensions["dunwell"]["redis"]


def db() -> Session:
    """The request's database session: read-only or writing, as the module doc says."""
    if "db" not in g:
        ext = current_app.extensions["dunwell"]
        g.db = ext["sessions"]() if _request_writes() else ext["read_sessions"]()
    return g.db


def _request_writes() -> bool:
    if "writes" in g:
        return bool(g.writes)
    view = current_app.view_functions.get(request.endpoint or "")
    declared = getattr(view, "dunwell_writes", None)
    return declared if declared is not None else request.method not in _READ_METHODS


def read_only(view: View) -> View:
    """This POST only reads: its transaction takes no write lock."""
    view.dunwell_writes = False  # type: ignore[attr-defined]
    return view


def writes(view: View) -> View:
    """This GET writes: its transaction takes the write lock up front."""
    view.dunwell_writes = True  # type: ignore[attr-defined]
    return view


def read_only_request() -> None:
    """From here on, this request only reads (call before its first query)."""
    if "db" in g:
        raise RuntimeError("read_only_request() must come before the request's first query")
    g.writes = False


def done_reading() -> None:
    """End the request's transaction now, before long work on what it read."""
    _close_session(None)


def deadline(doing: str) -> Deadline:
    """The time limit of long work inside a request (the preview, the backtest)."""
    return Deadline(settings().work_time_limit_seconds, doing)


def _end_transaction(response: Any) -> Any:
    _close_session(None)
    return response


def _close_session(exc: BaseException | None) -> None:
    session_ = g.pop("db", None)
    if session_ is not None:
        session_.rollback()
        session_.close()


def _browser() -> ServerSession:
    assert isinstance(session, ServerSession), "connector.sessions is not installed"
    return session


def sign_in(org_ids: list[int]) -> None:
    """This browser may now see `org_ids` too; its session gets a fresh token."""
    browser = _browser()
    token = web_sessions.new_token()
    row = web_sessions.rotate(db(), browser.record_id, token, dict(browser))
    web_sessions.grant(db(), row.id, org_ids, utcnow())
    db().commit()
    browser.record_id, browser.token, browser.expires_at = row.id, token, row.expires_at
    browser.last_seen_at = row.last_seen_at
    browser.modified = True


def sign_out() -> None:
    """End this browser's session, for every copy of its cookie."""
    browser = _browser()
    if browser.record_id is not None:
        web_sessions.end(db(), browser.record_id, utcnow())
        db().commit()
    browser.clear()
    browser.ended = True


def session_id() -> int | None:
    return _browser().record_id


def _visible() -> Any:
    """Organizations this browser's session may see (none without a session)."""
    return select(Organization).join(
        WebSessionOrg,
        (WebSessionOrg.organization_id == Organization.id)
        & (WebSessionOrg.session_id == (session_id() or 0)),
    )


def signed_in_orgs() -> list[Organization]:
    if session_id() is None:
        return []
    return list(db().scalars(_visible().order_by(Organization.id)))


ROLES = ("viewer", "collector", "admin")


def current_org(org_id: int, need: str = "viewer") -> Organization:
    """The organization `org_id`, if this browser's session may see it; 404 otherwise.

    The one gate for every organization-scoped route: an organization that exists but is
    another's gets the same answer as one that does not exist, so nothing leaks.

    `need` is the least role the route asks of the signed-in person in that organization:
    "viewer" for reads, "collector" for the collector's controls (disputes, promises, plans,
    holds, tasks, approvals), "admin" for rules, connections and settings. Roles arrive with
    users and memberships; until then every session that may see the organization passes.
    """
    if need not in ROLES:
        raise ValueError(f"unknown role {need!r}; one of {', '.join(ROLES)}")
    org = None
    if session_id() is not None:
        org = db().scalar(_visible().where(Organization.id == org_id))
    if org is None:
        abort(404, NOT_HERE)
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
