"""Flask's session, kept on the server (core.web_sessions): the cookie carries a random token.

Reading a session takes no write lock. Writing happens after the view has returned and its
database session is closed, in a short transaction of its own: when the data changed (a flash,
the CSRF token, the OAuth state), when the session is new, or at most once a minute to note the
browser is still active (the 2-hour idle limit). Signing in replaces the token (`rotate`), and
signing out ends the session for every copy of the cookie (`end`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask import Request
from flask import Response
from flask.sessions import SessionInterface
from flask.sessions import SessionMixin
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.datastructures import CallbackDict

from core import web_sessions
from core.db import session_scope
from core.db import utcnow

COOKIE_NAME = "dunwell_session"


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The session's data, plus the row it lives in (None until first saved) and the user
    signed in with it (None for a browser that has not signed in)."""

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        record_id: int | None = None,
        token: str | None = None,
        last_seen_at: datetime | None = None,
        expires_at: datetime | None = None,
        user_id: int | None = None,
    ):
        def on_update(_self: Any) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.record_id = record_id
        self.token = token
        self.last_seen_at = last_seen_at
        self.expires_at = expires_at
        self.user_id = user_id
        self.modified = False
        self.ended = False

    @property
    def new(self) -> bool:  # type: ignore[override]  # Flask's is a plain attribute
        return self.record_id is None


class ServerSessionInterface(SessionInterface):
    def __init__(
        self, reads: sessionmaker[Session], writes: sessionmaker[Session], secure: bool
    ) -> None:
        self.reads = reads
        self.writes = writes
        self.secure = secure

    def get_cookie_name(self, app: Flask) -> str:
        return COOKIE_NAME

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(COOKIE_NAME)
        if not token:
            return ServerSession()
        with session_scope(self.reads) as db:
            row = web_sessions.find(db, token, utcnow())
            if row is None:
                return ServerSession(token="")  # a stale cookie: cleared on the way out
            return ServerSession(
                dict(row.data or {}), row.id, token, row.last_seen_at, row.expires_at, row.user_id
            )

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.ended or (session.new and not session):
            if session.token is not None:
                self._clear_cookie(response)
            return
        now = utcnow()
        if session.new:
            self._create(session, now)
        elif session.modified or _due_for_touch(session, now):
            data = dict(session) if session.modified else None
            with session_scope(self.writes) as db:
                web_sessions.save(db, session.record_id or 0, data, now)
        else:
            return
        response.vary.add("Cookie")
        response.set_cookie(
            COOKIE_NAME,
            session.token or "",
            expires=session.expires_at,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
            path="/",
        )

    def _create(self, session: ServerSession, now: datetime) -> None:
        session.token = web_sessions.new_token()
        with session_scope(self.writes) as db:
            row = web_sessions.create(db, session.token, dict(session), now)
            session.record_id, session.expires_at = row.id, row.expires_at

    def _clear_cookie(self, response: Response) -> None:
        response.vary.add("Cookie")
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, secure=self.secure)


def _due_for_touch(session: ServerSession, now: datetime) -> bool:
    seen = session.last_seen_at
    return seen is None or now - seen >= web_sessions.TOUCH_EVERY
