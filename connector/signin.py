"""Signing in: "Sign in with Intuit" and "Sign in with Xero" (OpenID Connect), one-time links by
email for a teammate with neither login, and the marketplace launch URLs.

POST /sign-in/<provider>    to the provider's sign-in (state and nonce kept in the session); it
                            comes back to the provider's OAuth callback (connector.oauth), which
                            hands over to `finish`
GET  /launch/<provider>     what QuickBooks' and Xero's app stores open: signs in (if need be)
                            and lands on the organization (`realmId` / `tenantId` pick one);
                            with none of that provider yet, goes on to connect one
POST /sign-in/email         emails a one-time link to a user with that address (the answer is
                            the same whether there is one, so nobody learns who uses Dunwell)
GET  /sign-in/link/<token>  a button that uses the link (a scanner's GET leaves it unused)
POST /sign-in/link/<token>  signs in, once
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import oauth
from connector import oidc
from connector import web
from core.accounts import User
from core.db import utcnow
from outbox.email.settings import EmailNotConfigured
from outbox.email.smtp import FAILURES
from outbox.email.smtp import send
from providers import DISPLAY_NAMES
from team import identities
from team import links
from team import mail
from team.schemas import EmailIn

log = logging.getLogger(__name__)
bp = Blueprint("signin", __name__)
LAUNCH_HINTS = {"quickbooks": "realmId", "xero": "tenantId"}


@bp.get("/sign-in")
def page() -> str:
    return render_template("sign_in.html", next=safe_next(request.args.get("next")))


@bp.post("/sign-in/<provider>")
def start(provider: str) -> Response:
    return _start(provider, "sign_in", next_url=safe_next(request.form.get("next")))


@bp.get("/launch/<provider>")
def launch(provider: str) -> Response:
    oauth.configured(provider)
    hint = request.args.get(LAUNCH_HINTS[provider], "")
    user = web.current_user()
    if user is not None:
        return _land(provider, hint)
    return _start(provider, "launch", hint=hint)


def _start(provider: str, purpose: str, next_url: str = "", hint: str = "") -> Response:
    config = oauth.configured(provider)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    try:
        url = oidc.authorization_url(provider, config.redirect_uri, state, nonce)
    except oidc.SignInFailed as exc:
        abort(502, str(exc))
    session["oauth"] = {
        "provider": provider,
        "state": state,
        "nonce": nonce,
        "purpose": purpose,
        "next": next_url,
        "hint": hint,
    }
    return redirect(url)


def finish(provider: str, pending: dict[str, Any]) -> Response:
    """The provider's callback for a sign-in or a launch (its state already checked)."""
    code = request.args.get("code")
    if not code:
        abort(400, "The provider sent no authorization code. Sign in again.")
    redirect_uri = web.settings().provider(provider).redirect_uri
    try:
        token = oidc.exchange(provider, redirect_uri, code)
        claims = oidc.verify(provider, token, str(pending.get("nonce", "")))
        identity = oidc.identity(provider, token, claims)
        user = identities.user_for(web.db(), identity, utcnow())
    except oidc.SignInFailed as exc:
        abort(400, str(exc))
    except identities.SignInRefused as exc:
        abort(403, str(exc))
    web.sign_in(user.id)
    if pending.get("purpose") == "launch":
        return _land(provider, str(pending.get("hint", "")))
    flash(f"Signed in as {user.email}.", "success")
    return redirect(safe_next(pending.get("next")) or url_for("admin.home"))


def _land(provider: str, hint: str) -> Response:
    """The signed-in user's organization at `provider` (the one `hint` names, if theirs), or on
    to connecting one."""
    orgs = [org for org in web.signed_in_orgs() if org.provider == provider]
    if not orgs:
        flash(f"Connect your {DISPLAY_NAMES[provider]} company to start.", "success")
        return oauth.start_connect(provider)
    chosen = next((org for org in orgs if org.external_id == hint), orgs[0])
    return redirect(org_home(chosen.id))


def org_home(org_id: int) -> str:
    """Where an organization's people land."""
    return url_for("admin.home", _anchor=f"org-{org_id}")


def safe_next(value: Any) -> str:
    """`value` if it is a path on this site, else ""."""
    text = str(value or "")
    return text if text.startswith("/") and not text.startswith(("//", "/\\")) else ""


@bp.post("/sign-in/email")
def email_link() -> Any:
    try:
        email = EmailIn().load({"email": request.form.get("email", "").strip()})["email"]
    except ValidationError:
        message = "Enter the email address you were invited with."
        return render_template("sign_in.html", email_error=message, next=""), 422
    db, now = web.db(), utcnow()
    user = db.scalar(select(User).where(User.email == email))
    if user is not None:
        _send_link(user, now)
    minutes = int(links.LIFETIME.total_seconds() // 60)
    flash(
        f"If {email} belongs to someone on a Dunwell team, a sign-in link is on its way. "
        f"It works once, for {minutes} minutes.",
        "success",
    )
    return redirect(url_for("signin.page"))


def _send_link(user: User, now: Any) -> None:
    db, settings = web.db(), web.settings()
    try:
        setup = mail.for_user(db, settings, user.id)
    except EmailNotConfigured:
        log.warning("no mail server for a sign-in link to user %s", user.id)
        return
    token = links.issue(db, user.id, now)
    message = mail.sign_in_link(setup, user.email, links.url(settings.public_url, token), now)
    db.commit()
    web.done_reading()  # no database lock while the mail server answers
    try:
        send(setup.smtp, message)
    except FAILURES as exc:
        log.warning("the sign-in link to user %s was not sent: %s", user.id, exc)


@bp.get("/sign-in/link/<token>")
def link_page(token: str) -> Any:
    user = links.user_for(web.db(), token, utcnow())
    if user is None:
        return _link_gone()
    return render_template("sign_in_link.html", token=token, email=user.email)


@bp.post("/sign-in/link/<token>")
def use_link(token: str) -> Any:
    user = links.redeem(web.db(), token, utcnow())
    if user is None:
        web.db().rollback()
        return _link_gone()
    web.sign_in(user.id)
    flash(f"Signed in as {user.email}.", "success")
    return redirect(url_for("admin.home"))


def _link_gone() -> Any:
    minutes = int(links.LIFETIME.total_seconds() // 60)
    message = (
        f"This sign-in link was already used or is older than {minutes} minutes. "
        "Ask for a new one below."
    )
    return render_template("sign_in.html", link_error=message, next=""), 410
