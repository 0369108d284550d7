"""Per-request plumbing: the settings, a database session, Redis, the signed-in user and what
they may do.

A person signs in with Intuit or Xero (connector.signin), with a one-time link by email, or by
connecting an organization; their user id sits on the browser's server-side session
(core.web_sessions), beside the organizations the session may see. Every organization-scoped
route goes through `current_org(org_id, need=...)`: 404 for an organization this session may not
see (exactly as for one that does not exist), 403 with the reason when the user's role there
(core.accounts.Membership, read on every request) is below `need` (team.roles).

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
from core.accounts import Membership
from core.accounts import User
from core.context import JobContext
from core.db import make_engine
from core.db import make_session_factory
from core.db import utcnow
from core.deadline import Deadline
from core.models import Organization
from core.settings import Settings
from core.web_sessions import WebSessionOrg
from team import members
from team import roles

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
    app.context_processor(lambda: {"current_user": current_user(), "role_in": role_in})


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


def request_writes() -> bool:
    """Whether this request's transaction is a writing one (see the module doc)."""
    return _request_writes()


def read_only(view: View) -> View:
    """This POST only reads: its transaction takes no write lock."""
    view.dunwell_writes = False  # type: ignore[attr-defined]  # read by _request_writes
    return view


def writes(view: View) -> View:
    """This GET writes: its transaction takes the write lock up front."""
    view.dunwell_writes = True  # type: ignore[attr-defined]  # read by _request_writes
    return view


def read_only_request() -> None:
    """From here on, this request only reads (call before its first query)."""
    if "db" in g:
        raise RuntimeError("read_only_request() must come before the request's first query")
    g.writes = False


def done_reading() -> None:
    """End the request's transaction now, before long work on what it read. What it loaded is
    detached: a page rendered afterwards reads the organization again (`current_org`), and the
    signed-in user is read again on first use."""
    _close_session(None)
    g.pop("user", None)


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


def sign_in(user_id: int) -> None:
    """This browser is now `user_id`'s, seeing their organizations; it gets a fresh token and
    its old session (anyone's, or anonymous) ends."""
    browser = _browser()
    token = web_sessions.new_token()
    org_ids = list(members.roles_of(db(), user_id))
    row = web_sessions.rotate(db(), browser.record_id, token, dict(browser), user_id, org_ids)
    db().commit()
    browser.record_id, browser.token, browser.expires_at = row.id, token, row.expires_at
    browser.last_seen_at, browser.user_id = row.last_seen_at, user_id
    browser.modified = True
    g.pop("user", None)


def grant(org_ids: list[int]) -> None:
    """The signed-in browser may now see `org_ids` too (just connected or joined)."""
    if session_id() is None:
        raise RuntimeError("grant() needs a signed-in session")
    web_sessions.grant(db(), session_id() or 0, org_ids, utcnow())
    db().commit()


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


def current_user() -> User | None:
    """The signed-in user, or None."""
    if "user" not in g:
        user_id = _browser().user_id if isinstance(session, ServerSession) else None
        g.user = db().get(User, user_id) if user_id is not None else None
    return g.user


def actor() -> str:
    """Who is acting, for the records that name one: the signed-in user's email."""
    user = current_user()
    return user.email if user is not None else "nobody signed in"


def _visible() -> Any:
    """This session's organizations where its user is a member, with the user's role."""
    return (
        select(Organization, Membership.role)
        .join(
            WebSessionOrg,
            (WebSessionOrg.organization_id == Organization.id)
            & (WebSessionOrg.session_id == (session_id() or 0)),
        )
        .join(
            Membership,
            (Membership.organization_id == Organization.id)
            & (Membership.user_id == (_browser().user_id or 0)),
        )
    )


def signed_in_orgs() -> list[Organization]:
    if session_id() is None or _browser().user_id is None:
        return []
    rows = db().execute(_visible().order_by(Organization.id)).all()
    g.roles = {org.id: role for org, role in rows}
    return [org for org, _ in rows]


def role_in(org_id: int) -> str | None:
    """The signed-in user's role in `org_id` (an organization this request has looked at)."""
    return g.get("roles", {}).get(org_id)


def current_org(org_id: int, need: str = roles.VIEWER) -> Organization:
    """The organization `org_id`, if this browser's session may see it, and its user's role
    there is at least `need` ("viewer", "collector" or "admin").

    The one gate for every organization-scoped route: an organization that exists but is
    another's gets 404, the same answer as one that does not exist, so nothing leaks; one the
    user belongs to with too low a role gets 403 with the reason and whom to ask.
    """
    found = None
    if session_id() is not None and _browser().user_id is not None:
        found = db().execute(_visible().where(Organization.id == org_id)).first()
    if found is None:
        abort(404, NOT_HERE)
    org, role = found
    g.roles = {**g.get("roles", {}), org.id: role}
    if not roles.allows(role, need):
        abort(403, roles.refusal(org.name, role, need, members.admin_emails(db(), org.id)))
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
