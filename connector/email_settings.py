"""The email settings page of one organization: its mail server, From and Reply-To.

The password is write-only: the page says whether one is stored, never shows it, and a blank
password field keeps the stored one. "Send a test email" goes through the same `send` as the
reminders, with the saved settings, and shows the server's own answer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from marshmallow import ValidationError

from connector import web
from core.db import utcnow
from core.models import Organization
from core.settings import SMTP_DEFAULT_PORTS
from core.tokens import TokenCipher
from outbox.email import settings as email_settings
from outbox.email.message import build_test
from outbox.email.schemas import EmailSettingsIn
from outbox.email.schemas import SendTestIn
from outbox.email.smtp import FAILURES
from outbox.email.smtp import send

bp = Blueprint("email_settings", __name__)

FIELDS = ("host", "port", "security", "username", "from_name", "from_address", "reply_to")


@bp.get("/orgs/<int:org_id>/email")
def page(org_id: int) -> str:
    return _render(web.current_org(org_id, need="admin"), _stored(org_id))


@bp.post("/orgs/<int:org_id>/email")
def save(org_id: int) -> Any:
    org = web.current_org(org_id, need="admin")
    submitted = _submitted(FIELDS + ("password",))
    try:
        data = EmailSettingsIn().load(submitted)
    except ValidationError as exc:
        return _render(org, submitted, errors=_messages(exc)), 422
    cipher = TokenCipher(web.settings().token_encryption_keys)
    email_settings.save(web.db(), org_id, data, cipher, updated_by=web.actor())
    web.db().commit()
    flash("Email settings saved.", "success")
    return redirect(url_for("email_settings.page", org_id=org_id))


@bp.post("/orgs/<int:org_id>/email/test")
def send_test(org_id: int) -> Any:
    org = web.current_org(org_id, need="admin")
    try:
        to = SendTestIn().load(_submitted(("to",)))["to"]
    except ValidationError as exc:
        errors = _messages(exc, "test_")
        return _render(org, _stored(org_id), errors, request.form.get("to", "")), 422
    try:
        setup = email_settings.effective(web.db(), org, web.settings())
        message = build_test(sender=setup.sender, to=to, business=org.name, now=utcnow())
        reference = send(setup.smtp, message)
    except email_settings.EmailNotConfigured as exc:
        flash(f"No test email sent: {exc}", "warning")
    except FAILURES as exc:
        flash(f"The test email was not sent. The mail server said: {exc}", "warning")
    else:
        flash(f"Test email sent to {to} (server reference: {reference}).", "success")
    return redirect(url_for("email_settings.page", org_id=org_id))


def _stored(org_id: int) -> dict[str, Any]:
    row = email_settings.load(web.db(), org_id)
    return {f: getattr(row, f) for f in FIELDS} if row else {"security": "starttls"}


def _submitted(names: tuple[str, ...]) -> dict[str, str]:
    """The non-blank fields of the form; the password is taken as typed, everything else
    trimmed."""
    values = {}
    for name in names:
        raw = request.form.get(name, "")
        value = raw if name == "password" else raw.strip()
        if value:
            values[name] = value
    return values


def _messages(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    errors = exc.normalized_messages()
    return {f"{prefix}{field}": " ".join(map(str, problems)) for field, problems in errors.items()}


def _render(
    org: Organization, values: dict[str, Any], errors: dict[str, str] | None = None, to: str = ""
) -> str:
    settings = web.settings()
    row = email_settings.load(web.db(), org.id)
    return render_template(
        "email_settings.html",
        org=org,
        values=values,
        errors=errors or {},
        has_password=email_settings.has_password(row),
        updated=row,
        platform_server=settings.smtp is not None,
        platform_from=settings.mail_from,
        default_ports=SMTP_DEFAULT_PORTS,
        test_to=to,
    )
