"""Who signed in with Intuit or Xero, as a Dunwell user.

A user is found by their provider id (Intuit's `sub`, Xero's `xero_userid`); failing that, by a
verified email, to which the provider id is then linked (someone invited by email who later
signs in with Intuit stays the same user); failing that, a new user is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import User
from providers import DISPLAY_NAMES

SUBJECT_COLUMNS = {"quickbooks": User.intuit_sub, "xero": User.xero_user_id}
LOGIN_NAMES = {"quickbooks": "Intuit", "xero": "Xero"}


class SignInRefused(Exception):
    """The provider's answer cannot make a Dunwell user; the message says what to do."""


@dataclass(frozen=True)
class Identity:
    provider: str  # "quickbooks" | "xero"
    subject: str
    email: str
    email_verified: bool
    name: str = ""


def user_for(db: Session, identity: Identity, now: datetime) -> User:
    """The user `identity` signs in as (found, linked or made); flushed, not committed."""
    if not identity.subject:
        raise SignInRefused(f"{_login(identity)} did not say who signed in. Try again.")
    user = db.scalar(select(User).where(SUBJECT_COLUMNS[identity.provider] == identity.subject))
    if user is None:
        user = _by_email(db, identity) or _new_user(db, identity)
        setattr(user, SUBJECT_COLUMNS[identity.provider].key, identity.subject)
    user.name = user.name or identity.name
    user.last_sign_in_at = now
    db.flush()
    return user


def _by_email(db: Session, identity: Identity) -> User | None:
    email = identity.email.strip().lower()
    user = db.scalar(select(User).where(User.email == email)) if email else None
    if user is None:
        return None
    if not identity.email_verified:
        raise SignInRefused(
            f"{email} is a Dunwell user, but {_login(identity)} has not verified that address. "
            f"Verify it with {_login(identity)}, or sign in with an emailed link."
        )
    if getattr(user, SUBJECT_COLUMNS[identity.provider].key) is not None:
        raise SignInRefused(
            f"{email} already signs in with another {_login(identity)} login. "
            "Use that one, or sign in with an emailed link."
        )
    return user


def _new_user(db: Session, identity: Identity) -> User:
    email = identity.email.strip().lower()
    if not email:
        raise SignInRefused(
            f"{_login(identity)} did not share an email address. Allow Dunwell to see your "
            "email on the consent page and try again."
        )
    user = User(email=email, name=identity.name)
    db.add(user)
    return user


def _login(identity: Identity) -> str:
    return LOGIN_NAMES.get(identity.provider, DISPLAY_NAMES.get(identity.provider, "The provider"))
