"""Memberships: who belongs to an organization, with which role.

An organization always keeps an admin: the last one can be neither removed nor demoted.
Removing a member ends every session of theirs at once (core.web_sessions.end_for_user), so a
browser they left signed in cannot act for the organization any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import web_sessions
from core.accounts import Membership
from core.accounts import User
from team.roles import ADMIN
from team.roles import ROLES


class MembershipError(ValueError):
    """A change that would leave the team in a bad state; the message says why."""


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    name: str
    role: str
    since: datetime


def roles_of(db: Session, user_id: int) -> dict[int, str]:
    """{organization id: role} for every organization `user_id` belongs to."""
    rows = db.execute(
        select(Membership.organization_id, Membership.role).where(Membership.user_id == user_id)
    )
    return {org_id: role for org_id, role in rows}


def members(db: Session, org_id: int) -> list[Member]:
    rows = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org_id)
        .order_by(User.email)
    )
    return [Member(u.id, u.email, u.name, m.role, m.created_at) for u, m in rows]


def admin_emails(db: Session, org_id: int) -> list[str]:
    return [m.email for m in members(db, org_id) if m.role == ADMIN]


def join(db: Session, org_id: int, user_id: int, role: str, *, promote_only: bool = False) -> str:
    """Make `user_id` a member with `role`; an existing member's role changes, or with
    `promote_only` only rises. Returns the role they now have."""
    if role not in ROLES:
        raise MembershipError(f"role must be one of {', '.join(ROLES)}")
    row = _membership(db, org_id, user_id)
    if row is None:
        db.add(Membership(organization_id=org_id, user_id=user_id, role=role))
        db.flush()
        return role
    if not promote_only or ROLES.index(role) > ROLES.index(row.role):
        row.role = role
    db.flush()
    return row.role


def change_role(db: Session, org_id: int, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise MembershipError(f"role must be one of {', '.join(ROLES)}")
    row = _membership(db, org_id, user_id)
    if row is None:
        raise MembershipError("That person is not a member of this organization.")
    if row.role == ADMIN and role != ADMIN:
        _keep_an_admin(db, org_id)
    row.role = role
    db.flush()


def remove(db: Session, org_id: int, user_id: int, now: datetime) -> None:
    """Take `user_id` off the team; every session of theirs ends."""
    row = _membership(db, org_id, user_id)
    if row is None:
        raise MembershipError("That person is not a member of this organization.")
    if row.role == ADMIN:
        _keep_an_admin(db, org_id)
    db.execute(delete(Membership).where(Membership.id == row.id))
    web_sessions.end_for_user(db, user_id, now)
    db.flush()


def _membership(db: Session, org_id: int, user_id: int) -> Membership | None:
    return db.scalar(
        select(Membership).where(
            Membership.organization_id == org_id, Membership.user_id == user_id
        )
    )


def _keep_an_admin(db: Session, org_id: int) -> None:
    admins = db.scalar(
        select(func.count(Membership.id)).where(
            Membership.organization_id == org_id, Membership.role == ADMIN
        )
    )
    if (admins or 0) <= 1:
        raise MembershipError(
            "This is the organization's only admin: make someone else an admin first."
        )
