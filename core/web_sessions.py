"""Browser sessions, kept on the server: the cookie holds only a random token.

A `WebSession` row is found by the SHA-256 of that token (a leaked database does not hand out
live cookies) and carries the session's small data (the CSRF token, flashed messages, the OAuth
state) and, once someone signed in, their user id (core.accounts). The organizations a session
may see are rows of `WebSessionOrg` beside it: signing in adds the user's memberships, connecting
an organization or joining one adds it; purging an organization, a disconnect and signing out
delete them, for every browser at once. What the user may do there is their membership's role,
read on every request, so a role change counts at once; removing a member ends their sessions.

Lifetime: 12 hours from sign-in at most, and 2 hours without a request ends it sooner.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from core import accounts  # noqa: F401  (app_user, which web_session refers to)
from core.db import Base
from core.db import UTCDateTime
from core.db import affected
from core.db import utcnow

ABSOLUTE_LIFETIME = timedelta(hours=12)
IDLE_LIFETIME = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)


class WebSession(Base):
    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSessionOrg(Base):
    """Session `session_id` may see organization `organization_id`."""

    __tablename__ = "web_session_org"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("web_session.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def live(row: WebSession, now: datetime) -> bool:
    """Not revoked, not past its absolute lifetime and not idle for IDLE_LIFETIME."""
    return (
        row.revoked_at is None and row.expires_at > now and now - row.last_seen_at < IDLE_LIFETIME
    )


def find(db: Session, token: str, now: datetime) -> WebSession | None:
    """The live session that `token` names, or None (unknown, expired, idle or revoked)."""
    row = db.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    return row if row is not None and live(row, now) else None


def create(
    db: Session, token: str, data: dict[str, Any], now: datetime, user_id: int | None = None
) -> WebSession:
    """A new session for `token` (signed in as `user_id`, if given); also forgets sessions that
    ended more than a day ago."""
    db.execute(delete(WebSession).where(WebSession.expires_at < now - timedelta(days=1)))
    row = WebSession(
        token_hash=hash_token(token),
        user_id=user_id,
        data=data,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_LIFETIME,
    )
    db.add(row)
    db.flush()
    return row


def save(db: Session, session_id: int, data: dict[str, Any] | None, now: datetime) -> None:
    """Record a request: the session's data when it changed, and when it was last seen."""
    values: dict[str, Any] = {"last_seen_at": now}
    if data is not None:
        values["data"] = data
    db.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(**values)
    )


def org_ids(db: Session, session_id: int) -> list[int]:
    """The organizations this browser session may see."""
    rows = db.scalars(
        select(WebSessionOrg.organization_id)
        .where(WebSessionOrg.session_id == session_id)
        .order_by(WebSessionOrg.organization_id)
    )
    return list(rows)


def grant(db: Session, session_id: int, organization_ids: Iterable[int], now: datetime) -> None:
    """Let the session see `organization_ids` too (those it has already are left as they are)."""
    have = set(org_ids(db, session_id))
    for org_id in sorted(set(organization_ids) - have):
        db.add(WebSessionOrg(session_id=session_id, organization_id=org_id, granted_at=now))
    db.flush()


def rotate(
    db: Session,
    old_id: int | None,
    token: str,
    data: dict[str, Any],
    user_id: int,
    organization_ids: Iterable[int],
) -> WebSession:
    """Sign in: a new session (new token) for `user_id` that may see `organization_ids` (their
    memberships); the browser's old session ends.

    Done at every sign-in, so a token planted in a browser before it signed in is worthless.
    """
    now = utcnow()
    row = create(db, token, data, now, user_id)
    grant(db, row.id, organization_ids, now)
    if old_id is not None:
        end(db, old_id, now)
    return row


def end_for_user(db: Session, user_id: int, now: datetime) -> None:
    """Every session of `user_id` ends, wherever its cookie is (removed from a team)."""
    ids = list(db.scalars(select(WebSession.id).where(WebSession.user_id == user_id)))
    for session_id in ids:
        end(db, session_id, now)


def end(db: Session, session_id: int, now: datetime) -> None:
    """Sign out: the session and every copy of its cookie stop working."""
    db.execute(delete(WebSessionOrg).where(WebSessionOrg.session_id == session_id))
    db.execute(update(WebSession).where(WebSession.id == session_id).values(revoked_at=now))


def revoke_org(db: Session, organization_id: int, keep_session_id: int | None = None) -> int:
    """No session (but `keep_session_id`, if given) may see the organization any more."""
    stmt = delete(WebSessionOrg).where(WebSessionOrg.organization_id == organization_id)
    if keep_session_id is not None:
        stmt = stmt.where(WebSessionOrg.session_id != keep_session_id)
    return affected(db, stmt)
