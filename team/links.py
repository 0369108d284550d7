"""One-time sign-in links, for a teammate without an Intuit or Xero login.

A link signs its user in once, within 15 minutes; only the token's SHA-256 is stored. Opening
the link shows a button (a GET only reads), so a mail scanner that fetches links does not use
it up; pressing it redeems the link, in one UPDATE that only one request can win.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.accounts import SignInLink
from core.accounts import User
from core.db import affected
from core.web_sessions import hash_token
from core.web_sessions import new_token

LIFETIME = timedelta(minutes=15)
PATH = "/sign-in/link/"


def issue(db: Session, user_id: int, now: datetime) -> str:
    """A new link's token for `user_id`; links that ended a day ago are forgotten."""
    db.execute(delete(SignInLink).where(SignInLink.expires_at < now - timedelta(days=1)))
    token = new_token()
    db.add(
        SignInLink(
            user_id=user_id, token_hash=hash_token(token), created_at=now, expires_at=now + LIFETIME
        )
    )
    db.flush()
    return token


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{token}"


def user_for(db: Session, token: str, now: datetime) -> User | None:
    """The user an unused, unexpired link would sign in (without using it)."""
    link = _live(db, token, now)
    return db.get(User, link.user_id) if link is not None else None


def redeem(db: Session, token: str, now: datetime) -> User | None:
    """Use the link: its user, or None when it is unknown, used or expired."""
    link = _live(db, token, now)
    if link is None:
        return None
    used = affected(
        db,
        update(SignInLink)
        .where(SignInLink.id == link.id, SignInLink.used_at.is_(None))
        .values(used_at=now),
    )
    return db.get(User, link.user_id) if used == 1 else None


def _live(db: Session, token: str, now: datetime) -> SignInLink | None:
    return db.scalar(
        select(SignInLink).where(
            SignInLink.token_hash == hash_token(token),
            SignInLink.used_at.is_(None),
            SignInLink.expires_at > now,
        )
    )
