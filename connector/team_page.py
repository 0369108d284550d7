"""The team of one organization (admins only), and joining it from an invitation.

GET  /orgs/<id>/team                                 members, pending invitations, invite form
POST /orgs/<id>/team/invitations                     invite by email with a role (sent by SMTP)
POST /orgs/<id>/team/invitations/<id>/cancel
POST /orgs/<id>/team/members/<user id>/role          change a member's role
POST /orgs/<id>/team/members/<user id>/remove        remove a member: their sessions end at once
GET  /invitations/<token>                            the invitation: sign in, or join with email
POST /invitations/<token>                            join (once)
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import confirm
from connector import web
from connector.signin import org_home
from core.accounts import Invitation
from core.accounts import User
from core.db import utcnow
from core.models import Organization
from outbox.email.settings import EmailNotConfigured
from outbox.email.smtp import FAILURES
from outbox.email.smtp import send
from providers import DISPLAY_NAMES
from team import invitations
from team import mail
from team import members
from team.roles import ADMIN
from team.roles import MAY
from team.roles import ROLES
from team.roles import a
from team.schemas import InviteIn
from team.schemas import RoleIn

bp = Blueprint("team", __name__)
GONE = (
    "This invitation has expired, was replaced by a newer one, or was already used. "
    "Ask whoever invited you for a new one."
)


@bp.get("/orgs/<int:org_id>/team")
def page(org_id: int) -> str:
    return _render(web.current_org(org_id, need=ADMIN))


@bp.post("/orgs/<int:org_id>/team/invitations")
def invite(org_id: int) -> Any:
    org = web.current_org(org_id, need=ADMIN)
    values = {"email": request.form.get("email", "").strip(), "role": request.form.get("role")}
    try:
        data = InviteIn().load(values)
    except ValidationError as exc:
        return _render(org, _errors(exc), values), 422
    db, now, settings = web.db(), utcnow(), web.settings()
    try:
        setup = mail.for_organization(db, settings, org)
        row, token = invitations.invite(db, org.id, data["email"], data["role"], _me(), now)
    except EmailNotConfigured as exc:
        return _render(org, {"email": f"No invitation sent: {exc}"}, values), 422
    except invitations.InvitationError as exc:
        return _render(org, {exc.field: str(exc)}, values), 422
    link = invitations.url(settings.public_url, token)
    message = mail.invitation(
        setup, row.email, org.name, row.role, web.actor(), link, row.expires_at, now
    )
    invitation_id = row.id
    db.commit()
    web.done_reading()  # no database lock while the mail server answers
    try:
        send(setup.smtp, message)
    except FAILURES as exc:
        invitations.cancel(web.db(), org_id, invitation_id)
        web.db().commit()
        problem = f"The invitation was not sent. The mail server said: {exc}"
        return _render(org, {"email": problem}, values), 422
    flash(f"Invitation sent to {data['email']} as {a(data['role'])}.", "success")
    return redirect(url_for("team.page", org_id=org_id))


@bp.post("/orgs/<int:org_id>/team/invitations/<int:invitation_id>/cancel")
def cancel(org_id: int, invitation_id: int) -> Response:
    web.current_org(org_id, need=ADMIN)
    if not invitations.cancel(web.db(), org_id, invitation_id):
        abort(404, "No such invitation: it may have been used or cancelled already.")
    web.db().commit()
    flash("Invitation cancelled: its link no longer works.", "success")
    return redirect(url_for("team.page", org_id=org_id))


@bp.post("/orgs/<int:org_id>/team/members/<int:user_id>/role")
def change_role(org_id: int, user_id: int) -> Any:
    org = web.current_org(org_id, need=ADMIN)
    try:
        role = RoleIn().load({"role": request.form.get("role")})["role"]
        members.change_role(web.db(), org_id, user_id, role)
    except ValidationError as exc:
        return _render(org, _errors(exc)), 422
    except members.MembershipError as exc:
        return _render(org, {"members": str(exc)}), 409
    web.db().commit()
    flash(f"{_email(user_id)} is now {a(role)}.", "success")
    return redirect(url_for("team.page", org_id=org_id))


@bp.post("/orgs/<int:org_id>/team/members/<int:user_id>/remove")
def remove(org_id: int, user_id: int) -> Any:
    org = web.current_org(org_id, need=ADMIN)
    email = _email(user_id)
    if not confirm.confirmed():
        return confirm.ask(
            f"Remove {email} from {org.name}? They are signed out everywhere at once.",
            f"Yes, remove {email}",
            url_for("team.page", org_id=org_id),
        )
    try:
        members.remove(web.db(), org_id, user_id, utcnow())
    except members.MembershipError as exc:
        return _render(org, {"members": str(exc)}), 409
    web.db().commit()
    if user_id == _me():
        web.sign_out()
        return redirect(url_for("admin.home"))
    flash(f"Removed {email} from {org.name}; they were signed out everywhere.", "success")
    return redirect(url_for("team.page", org_id=org_id))


@bp.get("/invitations/<token>")
def invitation(token: str) -> Any:
    row = invitations.find(web.db(), token, utcnow())
    if row is None:
        abort(410, GONE)
    org = web.db().get(Organization, row.organization_id)
    inviter = web.db().get(User, row.invited_by_id) if row.invited_by_id else None
    return render_template(
        "invitation.html",
        invitation=row,
        org=org,
        inviter=inviter.label if inviter else "An admin",
        may=MAY[row.role],
        role=a(row.role),
        token=token,
        providers=DISPLAY_NAMES,
    )


@bp.post("/invitations/<token>")
def accept(token: str) -> Response:
    db = web.db()
    row = invitations.find(db, token, utcnow())
    if row is None:
        abort(410, GONE)
    org_id, user = row.organization_id, web.current_user()
    signing_in = user is None
    if user is None:
        user = _user_with_email(row)
    role = invitations.accept(db, row, user.id)
    if signing_in:
        web.sign_in(user.id)
    else:
        db.commit()
        web.grant([org_id])
    org = db.get(Organization, org_id)
    flash(f"You joined {org.name if org else 'the organization'} as {a(role)}.", "success")
    return redirect(org_home(org_id))


def _user_with_email(row: Invitation) -> User:
    """The invited address's user (made now if new): the link proves the address."""
    db = web.db()
    user = db.scalar(select(User).where(User.email == row.email))
    if user is None:
        user = User(email=row.email)
        db.add(user)
        db.flush()
    return user


def _render(
    org: Organization, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> str:
    db = web.db()
    return render_template(
        "team.html",
        org=org,
        members=members.members(db, org.id),
        invitations=invitations.pending(db, org.id, utcnow()),
        roles=ROLES,
        may=MAY,
        me=_me(),
        errors=errors or {},
        values=values or {"role": "viewer"},
    )


def _errors(exc: ValidationError) -> dict[str, str]:
    messages = exc.normalized_messages()
    return {field: " ".join(map(str, problems)) for field, problems in messages.items()}


def _me() -> int | None:
    user = web.current_user()
    return user.id if user is not None else None


def _email(user_id: int) -> str:
    user = web.db().get(User, user_id)
    return user.email if user is not None else "That person"
