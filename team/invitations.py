"""Invitations to join an organization: made by an admin, sent by email, used once.

The link carries a random token; only its SHA-256 is stored. An invitation lasts seven days,
one per address and organization (inviting again replaces it, and the older link stops
working). Accepting it makes the person who opened the link a member and deletes it.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Invitation
from core.accounts import Membership
from core.accounts import User
from core.db import affected
from core.web_sessions import hash_token
from core.web_sessions import new_token
from team import members

LIFETIME = timedelta(days=7)
PATH = "/invitations/"


class InvitationError(ValueError):
    """The invitation cannot be made; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def invite(
    db: Session, org_id: int, email: str, role: str, by_user_id: int | None, now: datetime
) -> tuple[Invitation, str]:
    """A new invitation (replacing a pending one to the same address) and its secret token."""
    if _is_member(db, org_id, email):
        raise InvitationError("email", f"{email} is already a member: change their role instead.")
    cancel_to(db, org_id, email)
    token = new_token()
    row = Invitation(
        organization_id=org_id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by_id=by_user_id,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    db.add(row)
    db.flush()
    return row, token


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{token}"


def pending(db: Session, org_id: int, now: datetime) -> list[Invitation]:
    query = select(Invitation).where(
        Invitation.organization_id == org_id, Invitation.expires_at > now
    )
    return list(db.scalars(query.order_by(Invitation.created_at)))


def find(db: Session, token: str, now: datetime) -> Invitation | None:
    """The live invitation `token` opens, or None (unknown, used, replaced or expired)."""
    row = db.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    return row if row is not None and row.expires_at > now else None


def accept(db: Session, invitation: Invitation, user_id: int) -> str:
    """`user_id` joins with the invitation's role (a member already keeps a higher role); the
    invitation is used up. Returns the role they now have."""
    role = members.join(db, invitation.organization_id, user_id, invitation.role, promote_only=True)
    db.execute(delete(Invitation).where(Invitation.id == invitation.id))
    db.flush()
    return role


def cancel(db: Session, org_id: int, invitation_id: int) -> bool:
    return bool(
        affected(
            db,
            delete(Invitation).where(
                Invitation.id == invitation_id, Invitation.organization_id == org_id
            ),
        )
    )


def cancel_to(db: Session, org_id: int, email: str) -> None:
    db.execute(
        delete(Invitation).where(Invitation.organization_id == org_id, Invitation.email == email)
    )


def _is_member(db: Session, org_id: int, email: str) -> bool:
    found = db.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == org_id, User.email == email)
    )
    return found is not None
